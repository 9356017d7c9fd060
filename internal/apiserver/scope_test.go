package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// catalogueServer serves every built-in resource over real TLS from a bolt
// store, to a caller who is system:masters and allowed everything, so
// that only the routing decides. reached counts calls into the handlers
// of the virtual resources and actions.
type catalogueServer struct {
	reg     *catalog.Catalog
	store   *store.Writer
	ts      *httptest.Server
	reached atomic.Int64
}

func newCatalogueServer(t *testing.T) *catalogueServer {
	t.Helper()
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	cs := &catalogueServer{store: allowAll(t, store.NewStore(kv))}
	reached := func() { cs.reached.Add(1) }
	cs.reg = catalog.Builtin()
	reviews := map[schema.GroupVersionResource]catalog.ReviewFunc{}
	actions := map[catalog.ActionKey]catalog.ActionFunc{}
	computed := map[schema.GroupVersionResource]catalog.Computer{}
	for _, res := range cs.reg.Resources() {
		if res.Computed {
			computed[res.GroupVersionResource()] = countingComputer{reached}
		}
		if res.Answered() {
			reviews[res.GroupVersionResource()] = func(_ context.Context, in catalog.Object) (catalog.Object, error) {
				reached()
				return in, nil
			}
		}
		for _, sub := range res.Subresources {
			if sub.Answered() {
				actions[catalog.ActionKey{Resource: res.GroupVersionResource(), Subresource: sub.Name}] = func(_ context.Context, _, in catalog.Object) (runtime.Object, error) {
					reached()
					return in, nil
				}
			}
		}
	}
	admin := authn.AuthenticatorFunc(func(*http.Request) (*authn.User, bool, error) {
		return &authn.User{Name: "admin", Groups: []string{"system:masters", authn.GroupAuthenticated}}, true, nil
	})
	allow := authz.AuthorizerFunc(func(context.Context, authz.Attributes) (authz.Decision, string, error) {
		return authz.Allow, "", nil
	})
	s, err := New(Config{
		Catalog: cs.reg, Writer: cs.store, Authenticator: admin, Authorizer: allow, Reviews: reviews, Actions: actions,
		Computed: computed, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cs.ts = httptest.NewUnstartedServer(s.Handler())
	cs.ts.EnableHTTP2 = true
	cs.ts.StartTLS()
	t.Cleanup(cs.ts.Close)
	return cs
}

// countingComputer computes nothing and counts the requests that reach it.
type countingComputer struct{ reached func() }

func (c countingComputer) Get(context.Context, string) (catalog.Object, error) {
	c.reached()
	return nil, errors.New("not computed in this test")
}

func (c countingComputer) List(context.Context) ([]catalog.Object, error) {
	c.reached()
	return nil, nil
}

// do sends one request and returns the status code and the decoded Status
// (empty when the body is not a Status).
func (cs *catalogueServer) do(t *testing.T, method, path, contentType, body string) (int, metav1.Status) {
	t.Helper()
	req, err := http.NewRequest(method, cs.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// A wrongly served watch would stream forever: the deadline turns it
	// into a failure.
	c := *cs.ts.Client()
	c.Timeout = 5 * time.Second
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	if json.Unmarshal(data, &st) != nil || st.Kind != "Status" {
		st = metav1.Status{}
	}
	return resp.StatusCode, st
}

func basePath(res *catalog.Resource) string {
	if res.GroupVersion.Group == "" {
		return "/api/" + res.GroupVersion.Version
	}
	return "/apis/" + res.GroupVersion.String()
}

// TestClusterScopedThroughNamespacePath requests every cluster-scoped
// resource of the catalogue, with every verb and every subresource, through
// a /namespaces/{ns}/ path. kube-apiserver has no such routes, so each
// answer must be the generic 404, and nothing may be read, written or
// reached, even for a caller allowed everything. Objects named "x" exist
// in the store, so that a route that wrongly served them could not hide
// behind an object's own NotFound. The test is generated from the
// catalogue: a new cluster-scoped resource is covered without an edit.
func TestClusterScopedThroughNamespacePath(t *testing.T) {
	cs := newCatalogueServer(t)
	ctx := authn.AsAPIServer(context.Background())
	namespaces, _ := cs.reg.Lookup(corev1.SchemeGroupVersion.WithResource("namespaces"))
	for _, ns := range []string{"scope-a", "x"} {
		obj := namespaces.New()
		obj.SetName(ns)
		if _, err := cs.store.Create(ctx, namespaces, obj, store.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	var clusterScoped []*catalog.Resource
	for _, res := range cs.reg.Resources() {
		if res.Namespaced {
			continue
		}
		clusterScoped = append(clusterScoped, res)
		if res.Virtual || res.Computed {
			continue // nothing is stored
		}
		if _, err := cs.store.GetObject(ctx, res, "", "x"); err == nil {
			continue
		}
		// Seeded under the store's key, past validation: only the
		// object's presence matters here.
		obj := res.New()
		obj.SetName("x")
		obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		data, _ := json.Marshal(obj)
		if _, err := cs.store.KV.Create(ctx, store.Key(res, "", "x"), data); err != nil {
			t.Fatalf("seeding %s/x: %v", res.Name, err)
		}
	}
	if len(clusterScoped) < 5 {
		t.Fatalf("the catalogue lists only %d cluster-scoped resources", len(clusterScoped))
	}
	before, err := cs.store.KV.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}

	type call struct{ method, suffix, contentType, body string }
	for _, res := range clusterScoped {
		body := `{"apiVersion":"` + res.GroupVersion.String() + `","kind":"` + res.Kind + `","metadata":{"name":"x"}}`
		calls := []call{
			{"GET", "", "", ""},         // list
			{"GET", "?watch=1", "", ""}, // watch
			{"POST", "", "application/json", body},
			{"DELETE", "", "", ""}, // deletecollection
			{"GET", "/x", "", ""},  // get
			{"PUT", "/x", "application/json", body},
			{"PATCH", "/x", "application/merge-patch+json", `{"metadata":{"labels":{"a":"b"}}}`},
			{"DELETE", "/x", "", ""},
		}
		for _, sub := range res.Subresources {
			calls = append(calls,
				call{"GET", "/x/" + sub.Name, "", ""},
				call{"POST", "/x/" + sub.Name, "application/json", body},
				call{"PUT", "/x/" + sub.Name, "application/json", body},
				call{"PATCH", "/x/" + sub.Name, "application/merge-patch+json", `{"metadata":{"labels":{"a":"b"}}}`},
			)
		}
		for _, prefix := range []string{"/namespaces/scope-a/", "/watch/namespaces/scope-a/"} {
			for _, c := range calls {
				if strings.HasPrefix(prefix, "/watch/") && c.method != "GET" {
					continue
				}
				path := basePath(res) + prefix + res.Name + c.suffix
				code, st := cs.do(t, c.method, path, c.contentType, c.body)
				if code != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound || st.Message != "the server could not find the requested resource" {
					t.Errorf("%s %s: %d %q %q, want the generic 404", c.method, path, code, st.Reason, st.Message)
				}
			}
		}
	}
	after, err := cs.store.KV.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the store changed: revision %d -> %d", before, after)
	}
	if n := cs.reached.Load(); n != 0 {
		t.Errorf("%d requests reached a virtual resource or action", n)
	}
}

// TestNamespacedOutsideNamespace: kube-apiserver serves a namespaced
// resource outside a namespace only for list and watch; other methods
// there are 405, and create-only resources have no such route (404).
func TestNamespacedOutsideNamespace(t *testing.T) {
	cs := newCatalogueServer(t)
	ctx := context.Background()
	before, _ := cs.store.KV.Rev(ctx)
	for _, res := range cs.reg.Resources() {
		if !res.Namespaced {
			continue
		}
		path := basePath(res) + "/" + res.Name
		body := `{"apiVersion":"` + res.GroupVersion.String() + `","kind":"` + res.Kind + `","metadata":{"name":"x","namespace":"default"}}`
		if res.Virtual {
			if code, st := cs.do(t, "POST", path, "application/json", body); code != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound {
				t.Errorf("POST %s: %d %q, want 404", path, code, st.Reason)
			}
			continue
		}
		if code, _ := cs.do(t, "GET", path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, code)
		}
		for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			code, st := cs.do(t, method, path, "application/json", body)
			if code != http.StatusMethodNotAllowed || st.Reason != metav1.StatusReasonMethodNotAllowed {
				t.Errorf("%s %s: %d %q, want 405 MethodNotAllowed", method, path, code, st.Reason)
			}
		}
		// A name outside a namespace has no route at all.
		if code, _ := cs.do(t, "GET", path+"/x", "", ""); code != http.StatusNotFound {
			t.Errorf("GET %s/x: %d, want 404", path, code)
		}
	}
	if after, _ := cs.store.KV.Rev(ctx); after != before {
		t.Errorf("the store changed: revision %d -> %d", before, after)
	}
	if n := cs.reached.Load(); n != 0 {
		t.Errorf("%d requests reached a virtual resource", n)
	}
}

// allowAll is a writer of s that admits every write.
func allowAll(t *testing.T, s *store.Store) *store.Writer {
	t.Helper()
	w, err := store.NewWriter(s, admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A server cannot be built without a writer, and a writer not without
// an admission chain: admission fails closed, and a test that wants none
// says so with admission.AllowAll.
func TestNewRequiresAdmission(t *testing.T) {
	cs := newCatalogueServer(t)
	allow := authz.AuthorizerFunc(func(context.Context, authz.Attributes) (authz.Decision, string, error) { return authz.Allow, "", nil })
	nobody := authn.AuthenticatorFunc(func(*http.Request) (*authn.User, bool, error) { return nil, false, nil })
	if _, err := New(Config{Catalog: cs.reg, Authenticator: nobody, Authorizer: allow}); err == nil || !strings.Contains(err.Error(), "admission chain") {
		t.Errorf("New without a writer: %v", err)
	}
	if _, err := store.NewWriter(cs.store.Store, nil); err == nil || !strings.Contains(err.Error(), "needs an admission chain") {
		t.Errorf("writer without admission: %v", err)
	}
}

// Every virtual resource and action the catalog describes must have an
// answer, and no answer may be given for anything else.
func TestNewRequiresEveryAnswer(t *testing.T) {
	cs := newCatalogueServer(t)
	allow := authz.AuthorizerFunc(func(context.Context, authz.Attributes) (authz.Decision, string, error) { return authz.Allow, "", nil })
	nobody := authn.AuthenticatorFunc(func(*http.Request) (*authn.User, bool, error) { return nil, false, nil })
	tokenReviews := authenticationv1.SchemeGroupVersion.WithResource("tokenreviews")
	_, err := New(Config{Catalog: cs.reg, Writer: cs.store, Authenticator: nobody, Authorizer: allow})
	if err == nil || !strings.Contains(err.Error(), "nothing answers") && !strings.Contains(err.Error(), "nothing computes") {
		t.Errorf("New without answers: %v", err)
	}
	empty, _ := catalog.New()
	_, err = New(Config{Catalog: empty, Writer: cs.store, Authenticator: nobody, Authorizer: allow,
		Reviews: map[schema.GroupVersionResource]catalog.ReviewFunc{tokenReviews: func(context.Context, catalog.Object) (catalog.Object, error) { return nil, nil }}})
	if err == nil || !strings.Contains(err.Error(), "does not describe") {
		t.Errorf("New with an answer for nothing: %v", err)
	}
}
