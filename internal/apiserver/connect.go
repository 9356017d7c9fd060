package apiserver

import (
	"strings"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/catalog"
)

// streamsNeedCreate are the pod subresources whose GET (a WebSocket
// upgrade) opens a stream into a container: kube-apiserver authorizes it
// as create too (AuthorizePodWebsocketUpgradeCreatePermission), so that
// "get" on pods/exec never meant a shell.
var streamsNeedCreate = map[string]bool{"exec": true, "attach": true, "portforward": true}

// connect serves a connect subresource through the ConnectFunc the
// server was given for it.
func (s *Server) connect(req *request) error {
	key := catalog.ActionKey{Resource: req.res.GroupVersionResource(), Subresource: req.sub.Name}
	fn := s.cfg.Connects[key]
	if fn == nil {
		return errNotFoundPath()
	}
	verbOK := false
	for _, v := range req.sub.Verbs {
		if v == req.ri.Verb {
			verbOK = true
		}
	}
	if !verbOK {
		return errMethodNotAllowed()
	}
	if req.res.GroupVersion.Group == "" && req.res.Name == "pods" && streamsNeedCreate[req.sub.Name] && req.ri.Verb != "create" {
		u := authn.UserFrom(req.ctx)
		a := Attributes(u, req.ri)
		a.Verb = "create"
		if decision, reason, err := s.cfg.Authorizer.Authorize(req.ctx, a); decision != authz.Allow || err != nil {
			s.log.Info("forbidden", append(logAttrs(req.r), "user", u.Name, "verb", a.Verb, "resource", a.Resource,
				"subresource", a.Subresource, "namespace", a.Namespace, "name", a.Name, "reason", reason, "err", err)...)
			st := forbidden(a, reason)
			writeStatus(req.w, st)
			return nil
		}
	}
	var path string
	if len(req.ri.Parts) > 3 {
		path = "/" + strings.Join(req.ri.Parts[3:], "/")
		if strings.HasSuffix(req.r.URL.Path, "/") {
			path += "/"
		}
	}
	return fn(req.w, req.r, catalog.ConnectTarget{Namespace: req.ri.Namespace, Name: req.ri.Name, Path: path})
}
