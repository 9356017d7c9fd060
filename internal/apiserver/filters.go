package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

type auditIDKey struct{}

func auditID(ctx context.Context) string {
	id, _ := ctx.Value(auditIDKey{}).(string)
	return id
}

// buildChain assembles the filters, outermost first:
// reset streams (HTTP/2 rapid reset) → panic recovery → request info (with Audit-Id) → in-flight limits and
// timeouts → health and version (public) → authentication →
// audit → impersonation → authorization → routing.
func (s *Server) buildChain() http.Handler {
	var h http.Handler = http.HandlerFunc(s.route)
	h = s.withAuthorization(h)
	// As in kube-apiserver, only authenticated requests take an in-flight
	// slot, so anonymous floods cannot starve users; the deadline covers
	// the whole request, authentication included.
	h = s.withInFlightLimit(h)
	h = s.withImpersonation(h)
	if s.cfg.Auditor != nil {
		h = s.withAudit(h)
	}
	h = s.withAuthentication(h)
	h = s.withPublicPaths(h)
	h = s.withDeadline(h)
	h = s.withRequestInfo(h)
	h = s.withRecovery(h)
	h = s.withResetGuard(h)
	return h
}

func (s *Server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", append(logAttrs(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))...)
				writeStatus(w, apierrors.NewInternalError(genericServerError).ErrStatus)
			}
		}()
		if r.ProtoMajor >= 2 { // HTTP/1.1 reuses the connection's goroutine
			growStack()
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Audit-ID")
		if id == "" || len(id) > 64 {
			id = string(uuid.NewUUID())
		}
		w.Header().Set("Audit-Id", id)
		w.Header().Set("Cache-Control", "no-cache, private")
		ctx := context.WithValue(r.Context(), auditIDKey{}, id)
		ctx = withRequestInfo(ctx, ParseRequestInfo(r))
		ctx, _ = audit.WithAnnotations(ctx) // what serving the request records for the audit log
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isLongRunning reports requests exempt from the request timeout and the
// in-flight limit: watches, and the connect subresources that stream
// (logs, exec, attach, port-forward, proxies), as kube-apiserver exempts
// them.
func isLongRunning(ri *RequestInfo) bool {
	if ri.Verb == "watch" {
		return true
	}
	switch ri.Subresource {
	case "log", "exec", "attach", "portforward", "proxy":
		return ri.IsResourceRequest
	}
	return false
}

func isMutating(ri *RequestInfo) bool {
	switch ri.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// withInFlightLimit bounds concurrent requests, read-only and mutating
// separately (429 beyond the limit). Watches and other long-running
// requests are not counted, and neither is system:masters, as in
// kube-apiserver: a flood can never lock the administrators out. A request
// whose client has gone (a reset HTTP/2 stream) gives its slot back at
// once, without waiting for its handler to notice.
func (s *Server) withInFlightLimit(next http.Handler) http.Handler {
	readOnly := make(chan struct{}, s.cfg.MaxRequestsInFlight)
	mutating := make(chan struct{}, s.cfg.MaxMutatingRequestsInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := RequestInfoFrom(r.Context())
		if isLongRunning(ri) || authn.UserFrom(r.Context()).InGroup(authn.GroupMasters) {
			next.ServeHTTP(w, r)
			return
		}
		sem := readOnly
		if isMutating(ri) {
			sem = mutating
		}
		if r.Context().Err() != nil {
			return // the client is gone: no slot, no work
		}
		select {
		case sem <- struct{}{}:
			var once sync.Once
			release := func() { once.Do(func() { <-sem }) }
			stop := context.AfterFunc(r.Context(), release)
			defer func() {
				stop()
				release()
			}()
		default:
			w.Header().Set("Retry-After", "1")
			writeStatus(w, apierrors.NewTooManyRequests("Too many requests, please try again later.", 1).ErrStatus)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withDeadline gives non-watch requests a deadline: --request-timeout, or
// the request's shorter ?timeout=.
func (s *Server) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := RequestInfoFrom(r.Context())
		if isLongRunning(ri) || isHealthPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		timeout := s.cfg.RequestTimeout
		if v := r.URL.Query().Get("timeout"); v != "" {
			if d, err := time.ParseDuration(v); err == nil && d > 0 && d < timeout {
				timeout = d
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withPublicPaths serves the health endpoints and /version without credentials.
func (s *Server) withPublicPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case isHealthPath(r.URL.Path):
			s.serveHealth(w, r)
		case r.URL.Path == "/version" && r.Method == http.MethodGet:
			s.serveVersion(w, r)
		case strings.HasPrefix(r.URL.Path, DiagnosisPathPrefix):
			s.serveDiagnosis(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := s.cfg.Authenticator.Authenticate(r)
		if err != nil || !ok {
			// The client learns nothing; the log says why, without secrets.
			cause := "no credentials"
			if err != nil {
				cause = err.Error()
			}
			s.log.Info("authentication failed", append(logAttrs(r), "cause", cause)...)
			if err != nil {
				s.failures.record(auditID(r.Context()), r, err, s.now())
			}
			s.auditUnauthenticated(r, unauthorized())
			writeStatus(w, unauthorized())
			return
		}
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(authn.WithUser(r.Context(), u)))
	})
}

// Attributes turns a request into authorization attributes. A list or
// watch narrowed to one object by a metadata.name field selector is
// authorized as a request for that name, as kube-apiserver does, so that
// resourceNames rules can allow watching a single object.
func Attributes(u *authn.User, ri *RequestInfo) authz.Attributes {
	a := authz.Attributes{
		User: u, Verb: ri.Verb, Group: ri.APIGroup, Version: ri.APIVersion, Resource: ri.Resource,
		Subresource: ri.Subresource, Namespace: ri.Namespace, Name: ri.Name, Path: ri.Path,
		ResourceRequest: ri.IsResourceRequest, FieldSelector: ri.FieldSelector, LabelSelector: ri.LabelSelector,
	}
	if a.Name == "" && (a.Verb == "list" || a.Verb == "watch") && ri.FieldSelector != "" {
		if sel, err := fields.ParseSelector(ri.FieldSelector); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok {
				a.Name = name
			}
		}
	}
	return a
}

func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := RequestInfoFrom(r.Context())
		u := authn.UserFrom(r.Context())
		a := Attributes(u, ri)
		if !ri.IsResourceRequest {
			a.Verb = nonResourceVerb(r.Method)
		}
		decision, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
		auditAuthorization(r.Context(), decision == authz.Allow && err == nil, reason)
		if decision == authz.Allow && err == nil {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Info("forbidden", append(logAttrs(r), "user", u.Name, "verb", a.Verb, "resource", a.Resource,
			"namespace", a.Namespace, "name", a.Name, "reason", reason, "err", err)...)
		st := forbidden(a, reason)
		writeStatus(w, st)
	})
}

// forbidden is the Status of a denied request: Kubernetes' message, with
// the authorizers' reason after a colon when they gave one (a node learns
// "no relationship found between node ...").
func forbidden(a authz.Attributes, reason string) metav1.Status {
	msg := authz.ForbiddenMessage(a)
	if reason != "" {
		msg += ": " + reason
	}
	if !a.ResourceRequest {
		return apierrors.NewForbidden(schema.GroupResource{}, "", errors.New(msg)).ErrStatus
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.Group, Resource: a.Resource}, a.Name, errors.New(msg)).ErrStatus
}

// nonResourceVerb maps an HTTP method to the verb RBAC uses for a path.
func nonResourceVerb(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPost:
		return "post"
	case http.MethodPut:
		return "put"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}
