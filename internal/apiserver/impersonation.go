package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

const (
	headerImpersonateUser        = "Impersonate-User"
	headerImpersonateGroup       = "Impersonate-Group"
	headerImpersonateUID         = "Impersonate-Uid"
	headerImpersonateExtraPrefix = "Impersonate-Extra-"
)

// impersonationRequest is what the Impersonate-* headers ask for.
type impersonationRequest struct {
	user   string
	groups []string
	uid    string
	extra  map[string][]string
}

func readImpersonation(h http.Header) (*impersonationRequest, error) {
	req := &impersonationRequest{
		user:   h.Get(headerImpersonateUser),
		groups: h.Values(headerImpersonateGroup),
		uid:    h.Get(headerImpersonateUID),
	}
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		if !strings.HasPrefix(canon, headerImpersonateExtraPrefix) {
			continue
		}
		key, err := url.PathUnescape(strings.ToLower(name[len(headerImpersonateExtraPrefix):]))
		if err != nil {
			return nil, fmt.Errorf("malformed impersonation extra key %q: %v", name, err)
		}
		if req.extra == nil {
			req.extra = map[string][]string{}
		}
		req.extra[key] = append(req.extra[key], values...)
	}
	if req.user == "" && len(req.groups) == 0 && req.uid == "" && len(req.extra) == 0 {
		return nil, nil
	}
	if req.user == "" {
		return nil, errors.New("requested impersonation of groups, uid or extra without impersonating a user")
	}
	if err := (&authn.User{Name: req.user, UID: req.uid, Groups: req.groups, Extra: req.extra}).CheckText(); err != nil {
		return nil, fmt.Errorf("impersonation: %w", err)
	}
	return req, nil
}

// withImpersonation applies Impersonate-* headers. Each part (the user or
// service account, every group, the uid, every extra value) must be
// authorized with the verb "impersonate"; if any is denied, nothing is
// applied and the request is refused.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readImpersonation(r.Header)
		if err != nil {
			writeStatus(w, apierrors.NewBadRequest(err.Error()).ErrStatus)
			return
		}
		if req == nil {
			next.ServeHTTP(w, r)
			return
		}
		requester := authn.UserFrom(r.Context())
		checks := []authz.Attributes{}
		add := func(group, resource, sub, namespace, name string) {
			checks = append(checks, authz.Attributes{User: requester, Verb: "impersonate", Group: group, Version: "*",
				Resource: resource, Subresource: sub, Namespace: namespace, Name: name, ResourceRequest: true})
		}
		target := &authn.User{Name: req.user, UID: req.uid, Authenticator: "impersonation"}
		if ns, name, ok := serviceAccountName(req.user); ok {
			add("", "serviceaccounts", "", ns, name)
			target.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
		} else {
			add("", "users", "", "", req.user)
		}
		for _, g := range req.groups {
			add("", "groups", "", "", g)
			if !slices.Contains(target.Groups, g) {
				target.Groups = append(target.Groups, g)
			}
		}
		if req.uid != "" {
			add(authenticationv1.GroupName, "uids", "", "", req.uid)
		}
		for key, values := range req.extra {
			for _, v := range values {
				add(authenticationv1.GroupName, "userextras", key, "", v)
			}
		}
		for _, a := range checks {
			decision, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
			if decision == authz.Allow && err == nil {
				continue
			}
			s.log.Info("impersonation refused", append(logAttrs(r), "user", requester.Name, "resource", a.Resource,
				"name", a.Name, "reason", reason, "err", err)...)
			writeStatus(w, forbidden(a, reason))
			return
		}
		switch {
		case req.user == authn.UserAnonymous:
			target.Groups = append(target.Groups, authn.GroupUnauthenticated)
		case !slices.Contains(target.Groups, authn.GroupAuthenticated):
			target.Groups = append(target.Groups, authn.GroupAuthenticated)
		}
		target.Extra = req.extra
		for name := range r.Header {
			if strings.HasPrefix(http.CanonicalHeaderKey(name), "Impersonate-") {
				r.Header.Del(name)
			}
		}
		s.log.Debug("impersonating", append(logAttrs(r), "requester", requester.Name, "as", target.Name)...)
		auditImpersonation(r.Context(), target)
		next.ServeHTTP(w, r.WithContext(authn.WithUser(r.Context(), target)))
	})
}

// serviceAccountName splits system:serviceaccount:NS:NAME.
func serviceAccountName(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != ""
}
