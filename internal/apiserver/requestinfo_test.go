package apiserver

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sekisho/sekisho/internal/audit"
)

func TestParseRequestInfo(t *testing.T) {
	cases := []struct {
		method, url string
		want        RequestInfo
	}{
		{"GET", "/api/v1/namespaces", RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "namespaces"}},
		{"GET", "/api/v1/namespaces/team-a", RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "namespaces", Name: "team-a", Namespace: "team-a"}},
		{"PUT", "/api/v1/namespaces/team-a/finalize", RequestInfo{IsResourceRequest: true, Verb: "update", APIVersion: "v1", Resource: "namespaces", Name: "team-a", Namespace: "team-a", Subresource: "finalize"}},
		{"PATCH", "/api/v1/namespaces/team-a/status", RequestInfo{IsResourceRequest: true, Verb: "patch", APIVersion: "v1", Resource: "namespaces", Name: "team-a", Namespace: "team-a", Subresource: "status"}},
		{"GET", "/api/v1/namespaces/team-a/pods", RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "team-a", Resource: "pods", InNamespace: true}},
		{"GET", "/api/v1/namespaces/team-a/pods?watch=true", RequestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "team-a", Resource: "pods", InNamespace: true}},
		{"GET", "/api/v1/watch/namespaces/team-a/pods", RequestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "team-a", Resource: "pods", InNamespace: true}},
		{"GET", "/api/v1/namespaces/team-a/pods/web/log", RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "team-a", Resource: "pods", Name: "web", Subresource: "log", InNamespace: true}},
		{"DELETE", "/api/v1/namespaces/team-a/pods", RequestInfo{IsResourceRequest: true, Verb: "deletecollection", APIVersion: "v1", Namespace: "team-a", Resource: "pods", InNamespace: true}},
		{"POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", RequestInfo{IsResourceRequest: true, Verb: "create", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1", Resource: "clusterroles"}},
		{"GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/x/roles/r", RequestInfo{IsResourceRequest: true, Verb: "get", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1", Namespace: "x", Resource: "roles", Name: "r", InNamespace: true}},
		{"GET", "/api/v1/nodes/n1/status", RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "nodes", Name: "n1", Subresource: "status"}},
		// A cluster-scoped resource behind a namespace: parsed as kube-apiserver
		// parses it, with InNamespace telling the router there is no such route.
		{"GET", "/api/v1/namespaces/scope-a/namespaces", RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "scope-a", Resource: "namespaces", InNamespace: true}},
		{"POST", "/api/v1/namespaces/scope-a/namespaces", RequestInfo{IsResourceRequest: true, Verb: "create", APIVersion: "v1", Namespace: "scope-a", Resource: "namespaces", InNamespace: true}},
		{"GET", "/api/v1/namespaces/scope-a/namespaces/b/status", RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "scope-a", Resource: "namespaces", Name: "b", Subresource: "status", InNamespace: true}},
		// Empty segments name nothing: no resource request (found by FuzzRequestInfo).
		{"GET", "/api/v1/namespaces//pods", RequestInfo{Verb: "get"}},
		{"GET", "/apis///0", RequestInfo{Verb: "get"}},
		{"GET", "/api", RequestInfo{Verb: "get"}},
		{"GET", "/apis/rbac.authorization.k8s.io", RequestInfo{Verb: "get"}},
		{"GET", "/apis/rbac.authorization.k8s.io/v1", RequestInfo{Verb: "get", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"}},
		{"GET", "/healthz", RequestInfo{Verb: "get"}},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.url, nil)
		got := ParseRequestInfo(r)
		got.Path, got.Parts, got.APIPrefix = "", nil, ""
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s %s:\n got %+v\nwant %+v", c.method, c.url, *got, c.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept string
		table  bool
		want   format
	}{
		{"", true, formatJSON},
		{"application/json", true, formatJSON},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", true, formatTable},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json", false, formatJSON},
		{"application/vnd.kubernetes.protobuf, application/json", true, formatProtobuf},
		{"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json", true, formatJSON},
		{"application/yaml", true, formatYAML},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", true, formatPartialMetadata},
		{"application/vnd.kubernetes.protobuf", true, formatProtobuf},
		{"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", true, formatPartialMetadata},
		{"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", false, 0},
		{"application/cbor", true, 0},
		{"text/html", true, 0},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", c.accept)
		got, err := negotiate(r, c.table, false)
		if c.want == 0 {
			if err == nil {
				t.Errorf("%q: accepted as %v", c.accept, got.format)
			}
			continue
		}
		if err != nil || got.format != c.want {
			t.Errorf("%q: got %v %v, want %v", c.accept, got.format, err, c.want)
		}
	}
}

// Every request carries its own audit annotations from the start, so that
// whatever serves it (admission above all) can record some.
func TestRequestsCarryAuditAnnotations(t *testing.T) {
	var seen []*audit.Annotations
	h := (&Server{}).withRequestInfo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, audit.AnnotationsFrom(r.Context()))
		audit.Annotate(r.Context(), "k", r.URL.Path)
	}))
	for _, path := range []string{"/api/v1/namespaces/a/pods", "/healthz"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if len(seen) != 2 || seen[0] == nil || seen[1] == nil || seen[0] == seen[1] {
		t.Fatalf("annotations per request: %v", seen)
	}
	if seen[0].Map()["k"] != "/api/v1/namespaces/a/pods" || seen[1].Map()["k"] != "/healthz" {
		t.Errorf("annotations: %v %v", seen[0].Map(), seen[1].Map())
	}
}
