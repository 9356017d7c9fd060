package apiserver

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// RequestInfo is what a request asks for, parsed from its method, path
// and query. Requests outside /api and /apis are non-resource requests.
type RequestInfo struct {
	IsResourceRequest bool
	Path              string
	Verb              string

	APIPrefix   string // "api" or "apis"
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	Parts       []string
	// InNamespace is true when the path named the namespace before the
	// resource (/namespaces/{ns}/{resource}...). Only namespaced resources
	// are served there: kube-apiserver has no such route for a
	// cluster-scoped one, not even for namespaces themselves.
	InNamespace bool

	// FieldSelector and LabelSelector are the query's selectors.
	FieldSelector string
	LabelSelector string

	// audit is the request's audit record, when the policy records it:
	// kept here, in the context value every request has, rather than in
	// one more (withAudit).
	audit *auditRecord
}

type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, ri *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the request info in ctx.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return ri
}

// ParseRequestInfo reads a request the way kube-apiserver does:
//
//	/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
//	/apis/{group}/{version}/{resource}/{name}
//	/api/v1/watch/namespaces/{ns}/{resource}   (deprecated watch paths)
func ParseRequestInfo(r *http.Request) *RequestInfo {
	ri := &RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 2 || (parts[0] != "api" && parts[0] != "apis") {
		return ri
	}
	// An empty segment (//) names no group, version, namespace or
	// resource: such a path is no resource request, and no route serves
	// it. Otherwise /api/v1/namespaces//pods would list pods in "" (every
	// namespace) under a namespaced URL.
	if slices.Contains(parts, "") {
		return ri
	}
	ri.APIPrefix = parts[0]
	parts = parts[1:]
	if ri.APIPrefix == "apis" {
		if len(parts) < 2 {
			return ri // /apis or /apis/{group}: discovery
		}
		ri.APIGroup, parts = parts[0], parts[1:]
	}
	ri.APIVersion, parts = parts[0], parts[1:]
	if len(parts) == 0 {
		return ri // /api/v1: discovery
	}
	ri.IsResourceRequest = true

	watchPath := false
	if parts[0] == "watch" {
		watchPath, parts = true, parts[1:]
		if len(parts) == 0 {
			// /api/v1/watch names nothing to watch (kube-apiserver refuses
			// it as well).
			return &RequestInfo{Path: ri.Path, Verb: ri.Verb}
		}
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		// /namespaces/{ns}/status and /finalize are the namespace's own
		// subresources, not resources inside it.
		if len(parts) >= 3 && parts[2] != "status" && parts[2] != "finalize" {
			ri.Namespace, parts = parts[1], parts[2:]
			ri.InNamespace = true
		} else {
			// /namespaces/{name} is the namespace object itself.
			ri.Namespace = parts[1]
		}
	}
	ri.Parts = parts
	switch len(parts) {
	case 0:
	case 1:
		ri.Resource = parts[0]
	case 2:
		ri.Resource, ri.Name = parts[0], parts[1]
	default:
		ri.Resource, ri.Name, ri.Subresource = parts[0], parts[1], parts[2]
	}
	if ri.Resource == "namespaces" && ri.Name != "" && !ri.InNamespace {
		ri.Namespace = ri.Name
	}

	q := r.URL.Query()
	ri.FieldSelector, ri.LabelSelector = q.Get("fieldSelector"), q.Get("labelSelector")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		ri.Verb = "get"
		if ri.Name == "" {
			ri.Verb = "list"
		}
		if watchPath || isTrue(q.Get("watch")) {
			ri.Verb = "watch"
		}
	case http.MethodPost:
		ri.Verb = "create"
	case http.MethodPut:
		ri.Verb = "update"
	case http.MethodPatch:
		ri.Verb = "patch"
	case http.MethodDelete:
		ri.Verb = "delete"
		if ri.Name == "" {
			ri.Verb = "deletecollection"
		}
	}
	return ri
}

func isTrue(s string) bool { return s == "true" || s == "1" }

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
