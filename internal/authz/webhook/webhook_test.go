package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/kubeconfig"
)

const testToken = "s3cret-apiserver-token"

// fakeWebhook is a SubjectAccessReview endpoint: it records what it was
// sent and answers with status (or with respond, if set).
type fakeWebhook struct {
	srv   *httptest.Server
	calls atomic.Int64

	mu      sync.Mutex
	status  authorizationv1.SubjectAccessReviewStatus
	respond func(w http.ResponseWriter, body []byte) // overrides status
	bodies  [][]byte
	auth    []string
}

func newFakeWebhook(t *testing.T) *fakeWebhook {
	t.Helper()
	f := &fakeWebhook{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWebhook) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	respond, status := f.respond, f.status
	f.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	if respond != nil {
		respond(w, body)
		return
	}
	var review authorizationv1.SubjectAccessReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	review.Status = status
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

func (f *fakeWebhook) set(status authorizationv1.SubjectAccessReviewStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.respond = status, nil
}

func (f *fakeWebhook) setRespond(fn func(w http.ResponseWriter, body []byte)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.respond = fn
}

func (f *fakeWebhook) lastBody(t *testing.T) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		t.Fatal("the webhook was not called")
	}
	return f.bodies[len(f.bodies)-1]
}

// caPEM is the PEM of the certificate httptest's TLS servers present.
func caPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

// writeKubeconfig writes a webhook kubeconfig for server, trusting ca.
func writeKubeconfig(t *testing.T, server string, ca []byte) string {
	t.Helper()
	data, err := kubeconfig.Render(kubeconfig.Spec{
		ClusterName: "authz-webhook",
		UserName:    "apiserver",
		Server:      server,
		CAPEM:       ca,
		Token:       testToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "webhook.kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newAuthorizer builds an Authorizer from a kubeconfig for server,
// with a fast retry backoff.
func newAuthorizer(t *testing.T, server string, ca []byte, opts Options) *Authorizer {
	t.Helper()
	z, err := NewFromFile(writeKubeconfig(t, server, ca), opts)
	if err != nil {
		t.Fatal(err)
	}
	z.client.Backoff = time.Millisecond
	return z
}

func setup(t *testing.T, opts Options) (*fakeWebhook, *Authorizer, *fakeClock) {
	t.Helper()
	f := newFakeWebhook(t)
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	return f, newAuthorizer(t, f.srv.URL, caPEM(f.srv), opts), clock
}

var jane = &authn.User{
	Name:   "jane",
	UID:    "uid-1",
	Groups: []string{"dev", "system:authenticated"},
	Extra:  map[string][]string{"scopes.example.com": {"a", "b"}},
}

func podsList() authz.Attributes {
	return authz.Attributes{
		User: jane, Verb: "list", Version: "v1", Resource: "pods",
		Namespace: "team", ResourceRequest: true, Path: "/api/v1/namespaces/team/pods",
	}
}

func TestDecisions(t *testing.T) {
	cases := []struct {
		name   string
		status authorizationv1.SubjectAccessReviewStatus
		want   authz.Decision
		reason string
	}{
		{"allow", authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "team member"}, authz.Allow, "team member"},
		{"deny", authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "frozen"}, authz.Deny, "frozen"},
		{"no opinion", authorizationv1.SubjectAccessReviewStatus{Reason: "not mine"}, authz.NoOpinion, "not mine"},
		{"no opinion, evaluation error", authorizationv1.SubjectAccessReviewStatus{Reason: "r", EvaluationError: "policy broken"},
			authz.NoOpinion, "r; evaluation error: policy broken"},
		{"allowed and denied denies", authorizationv1.SubjectAccessReviewStatus{Allowed: true, Denied: true, Reason: "confused"},
			authz.Deny, "webhook answered both allowed and denied; confused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, z, _ := setup(t, Options{})
			f.set(tc.status)
			d, reason, err := z.Authorize(context.Background(), podsList())
			if err != nil || d != tc.want || reason != tc.reason {
				t.Fatalf("Authorize = %v, %q, %v; want %v, %q, nil", d, reason, err, tc.want, tc.reason)
			}
			// The API server authenticates with the kubeconfig's token.
			f.mu.Lock()
			got := f.auth[0]
			f.mu.Unlock()
			if got != "Bearer "+testToken {
				t.Errorf("Authorization header = %q", got)
			}
		})
	}
}

func TestResourceRequestJSON(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	a := authz.Attributes{
		User: jane, Verb: "watch", Group: "apps", Version: "v1", Resource: "deployments",
		Subresource: "status", Namespace: "team", Name: "web", ResourceRequest: true,
		FieldSelector: "spec.nodeName=node-1,status.phase!=Failed",
		LabelSelector: "app in (web,api),tier,!legacy,version=2",
	}
	if d, _, err := z.Authorize(context.Background(), a); err != nil || d != authz.Allow {
		t.Fatalf("Authorize = %v, %v", d, err)
	}
	var got map[string]any
	if err := json.Unmarshal(f.lastBody(t), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SubjectAccessReview",
		"user":       "jane",
		"uid":        "uid-1",
		"groups":     []any{"dev", "system:authenticated"},
		"extra":      map[string]any{"scopes.example.com": []any{"a", "b"}},
		"resourceAttributes": map[string]any{
			"namespace": "team", "verb": "watch", "group": "apps", "version": "v1",
			"resource": "deployments", "subresource": "status", "name": "web",
			"fieldSelector": map[string]any{"requirements": []any{
				map[string]any{"key": "spec.nodeName", "operator": "In", "values": []any{"node-1"}},
				map[string]any{"key": "status.phase", "operator": "NotIn", "values": []any{"Failed"}},
			}},
			"labelSelector": map[string]any{"requirements": []any{
				map[string]any{"key": "app", "operator": "In", "values": []any{"api", "web"}},
				map[string]any{"key": "legacy", "operator": "DoesNotExist"},
				map[string]any{"key": "tier", "operator": "Exists"},
				map[string]any{"key": "version", "operator": "In", "values": []any{"2"}},
			}},
		},
	}
	spec, _ := got["spec"].(map[string]any)
	flat := map[string]any{"apiVersion": got["apiVersion"], "kind": got["kind"]}
	for k, v := range spec {
		flat[k] = v
	}
	if !reflect.DeepEqual(flat, want) {
		g, _ := json.MarshalIndent(flat, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("webhook received\n%s\nwant\n%s", g, w)
	}
}

func TestNonResourceRequestJSON(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	a := authz.Attributes{User: &authn.User{Name: "bob", Groups: []string{"ops"}}, Verb: "get", Path: "/healthz/etcd"}
	if d, _, err := z.Authorize(context.Background(), a); err != nil || d != authz.Allow {
		t.Fatalf("Authorize = %v, %v", d, err)
	}
	var got struct {
		APIVersion string                                     `json:"apiVersion"`
		Kind       string                                     `json:"kind"`
		Spec       map[string]json.RawMessage                 `json:"spec"`
		Status     *authorizationv1.SubjectAccessReviewStatus `json:"status"`
	}
	if err := json.Unmarshal(f.lastBody(t), &got); err != nil {
		t.Fatal(err)
	}
	if got.APIVersion != "authorization.k8s.io/v1" || got.Kind != "SubjectAccessReview" {
		t.Errorf("apiVersion, kind = %q, %q", got.APIVersion, got.Kind)
	}
	if _, ok := got.Spec["resourceAttributes"]; ok {
		t.Errorf("a non-resource request sent resourceAttributes: %s", got.Spec["resourceAttributes"])
	}
	if s := string(got.Spec["nonResourceAttributes"]); s != `{"path":"/healthz/etcd","verb":"get"}` {
		t.Errorf("nonResourceAttributes = %s", s)
	}
	if s := string(got.Spec["user"]); s != `"bob"` {
		t.Errorf("user = %s", s)
	}
	if s := string(got.Spec["groups"]); s != `["ops"]` {
		t.Errorf("groups = %s", s)
	}
	if _, ok := got.Spec["extra"]; ok {
		t.Errorf("extra sent for a user without any")
	}
}

func TestSelectorsThatCannotNarrowAreLeftOut(t *testing.T) {
	a := podsList()
	a.FieldSelector = "spec.nodeName=a=b=c,,"
	a.LabelSelector = "x in (unterminated"
	ra := Review(a).Spec.ResourceAttributes
	if ra.FieldSelector != nil || ra.LabelSelector != nil {
		t.Fatalf("unparseable selectors sent: %+v %+v", ra.FieldSelector, ra.LabelSelector)
	}
	a.LabelSelector = "n>3" // no SubjectAccessReview operator for gt
	if ra := Review(a).Spec.ResourceAttributes; ra.LabelSelector != nil {
		t.Fatalf("gt requirement sent: %+v", ra.LabelSelector)
	}
}

// assertFailure checks that a failed call has no opinion, carries an
// error, and is not cached: the next call asks the webhook again.
func assertFailure(t *testing.T, f *fakeWebhook, z *Authorizer) {
	t.Helper()
	before := f.calls.Load()
	d, reason, err := z.Authorize(context.Background(), podsList())
	if err == nil || d != authz.NoOpinion || reason != "" {
		t.Fatalf("Authorize = %v, %q, %v; want no opinion with an error", d, reason, err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("error reveals the token: %v", err)
	}
	if z.cached() != 0 {
		t.Fatalf("a failure was cached")
	}
	// The webhook recovers: the next request asks it and is allowed.
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	if d, _, err := z.Authorize(context.Background(), podsList()); err != nil || d != authz.Allow {
		t.Fatalf("after recovery Authorize = %v, %v", d, err)
	}
	if f.calls.Load() <= before+1 {
		t.Fatalf("the webhook was not asked again after a failure")
	}
}

func TestServerErrorIsNoOpinion(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.setRespond(func(w http.ResponseWriter, _ []byte) {
		// Even an "allowed" body is not believed from a failing server.
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"status":{"allowed":true}}`)
	})
	assertFailure(t, f, z)
}

func TestForbiddenStatusIsNoOpinion(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.setRespond(func(w http.ResponseWriter, _ []byte) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"status":{"allowed":true}}`)
	})
	assertFailure(t, f, z)
}

func TestGarbageBodyIsNoOpinion(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.setRespond(func(w http.ResponseWriter, _ []byte) {
		_, _ = io.WriteString(w, `{"status":{"allowed":tru`)
	})
	assertFailure(t, f, z)
}

// TestAnswerOfAnotherTypeIsNoOpinion: only a SubjectAccessReview of the
// version asked is believed. A ConfigMap that happens to carry
// status.allowed (the attack run's answer) is an error, not an allow, and
// is not cached.
func TestAnswerOfAnotherTypeIsNoOpinion(t *testing.T) {
	for _, body := range []string{
		`{"apiVersion":"v1","kind":"ConfigMap","status":{"allowed":true}}`,
		`{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","status":{"allowed":true}}`,
		`{"kind":"SubjectAccessReview","status":{"allowed":true}}`,
		`{"status":{"allowed":true}}`,
	} {
		f, z, _ := setup(t, Options{})
		f.setRespond(func(w http.ResponseWriter, _ []byte) { _, _ = io.WriteString(w, body) })
		d, _, err := z.Authorize(context.Background(), podsList())
		if d != authz.NoOpinion || err == nil || !strings.Contains(err.Error(), "not authorization.k8s.io/v1 SubjectAccessReview") {
			t.Errorf("%s: %v %v", body, d, err)
		}
		if z.cached() != 0 {
			t.Errorf("%s: cached", body)
		}
	}
}

func TestTimeoutIsNoOpinion(t *testing.T) {
	f, z, _ := setup(t, Options{Timeout: 200 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.setRespond(func(w http.ResponseWriter, body []byte) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	start := time.Now()
	assertFailure(t, f, z)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a timed-out webhook held the request for %v", took)
	}
}

func TestCanceledContextIsNoOpinion(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, _, err := z.Authorize(ctx, podsList())
	if err == nil || d != authz.NoOpinion {
		t.Fatalf("Authorize = %v, %v; want no opinion with an error", d, err)
	}
}

func TestConnectionRefusedIsNoOpinion(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newFakeWebhook(t) // only for its CA
	z := newAuthorizer(t, "https://"+addr, caPEM(f.srv), Options{})
	d, reason, err := z.Authorize(context.Background(), podsList())
	if err == nil || d != authz.NoOpinion || reason != "" {
		t.Fatalf("Authorize = %v, %q, %v; want no opinion with an error", d, reason, err)
	}
	if z.cached() != 0 {
		t.Fatal("a failure was cached")
	}
}

// selfSignedServer is a TLS server whose certificate (valid for
// 127.0.0.1) is not the one httptest servers share.
func selfSignedServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "rogue"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestUntrustedServerCertificateIsNoOpinion(t *testing.T) {
	var calls atomic.Int64
	rogue := selfSignedServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","status":{"allowed":true}}`)
	}))
	trusted := newFakeWebhook(t)
	// The kubeconfig trusts httptest's CA, but the server at its URL
	// presents another certificate.
	z := newAuthorizer(t, rogue.URL, caPEM(trusted.srv), Options{})
	d, _, err := z.Authorize(context.Background(), podsList())
	if err == nil || d != authz.NoOpinion {
		t.Fatalf("Authorize = %v, %v; want no opinion with an error", d, err)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error does not mention the certificate: %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the untrusted server was sent %d requests", n)
	}
	// The same server is believed when the kubeconfig trusts it.
	ok := newAuthorizer(t, rogue.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rogue.TLS.Certificates[0].Certificate[0]}), Options{})
	if d, _, err := ok.Authorize(context.Background(), podsList()); err != nil || d != authz.Allow {
		t.Fatalf("with its CA trusted, Authorize = %v, %v", d, err)
	}
}

func TestCacheTTLs(t *testing.T) {
	cases := []struct {
		name   string
		status authorizationv1.SubjectAccessReviewStatus
		ttl    time.Duration
	}{
		{"allowed", authorizationv1.SubjectAccessReviewStatus{Allowed: true}, DefaultAuthorizedTTL},
		{"denied", authorizationv1.SubjectAccessReviewStatus{Denied: true}, DefaultUnauthorizedTTL},
		{"no opinion", authorizationv1.SubjectAccessReviewStatus{}, DefaultUnauthorizedTTL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, z, clock := setup(t, Options{})
			f.set(tc.status)
			want, _, _ := decide(tc.status)
			ask := func() {
				t.Helper()
				if d, _, err := z.Authorize(context.Background(), podsList()); err != nil || d != want {
					t.Fatalf("Authorize = %v, %v; want %v", d, err, want)
				}
			}
			ask()
			clock.Step(tc.ttl - time.Second)
			ask()
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("within the TTL the webhook was called %d times, want 1", n)
			}
			clock.Step(2 * time.Second)
			ask()
			if n := f.calls.Load(); n != 2 {
				t.Fatalf("after the TTL the webhook was called %d times, want 2", n)
			}
		})
	}
}

func TestCustomTTLs(t *testing.T) {
	f, z, clock := setup(t, Options{AuthorizedTTL: time.Minute, UnauthorizedTTL: -1})
	f.set(authorizationv1.SubjectAccessReviewStatus{Denied: true})
	z.Authorize(context.Background(), podsList())
	z.Authorize(context.Background(), podsList())
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("with unauthorized caching off, the webhook was called %d times, want 2", n)
	}
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	z.Authorize(context.Background(), podsList())
	clock.Step(59 * time.Second)
	z.Authorize(context.Background(), podsList())
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
	clock.Step(2 * time.Second)
	z.Authorize(context.Background(), podsList())
	if n := f.calls.Load(); n != 4 {
		t.Fatalf("after a minute, calls = %d, want 4", n)
	}
}

func TestCacheKeyDistinguishesRequests(t *testing.T) {
	f, z, _ := setup(t, Options{})
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	base := podsList()
	variants := map[string]func(a *authz.Attributes){
		"base": func(*authz.Attributes) {},
		"user": func(a *authz.Attributes) {
			a.User = &authn.User{Name: "john", UID: jane.UID, Groups: jane.Groups, Extra: jane.Extra}
		},
		"uid":         func(a *authz.Attributes) { u := *jane; u.UID = "uid-2"; a.User = &u },
		"groups":      func(a *authz.Attributes) { u := *jane; u.Groups = []string{"dev", "admins"}; a.User = &u },
		"group order": func(a *authz.Attributes) { u := *jane; u.Groups = []string{"system:authenticated", "dev"}; a.User = &u },
		"extra value": func(a *authz.Attributes) {
			u := *jane
			u.Extra = map[string][]string{"scopes.example.com": {"a"}}
			a.User = &u
		},
		"extra key":      func(a *authz.Attributes) { u := *jane; u.Extra = map[string][]string{"other": {"a", "b"}}; a.User = &u },
		"no user":        func(a *authz.Attributes) { a.User = nil },
		"verb":           func(a *authz.Attributes) { a.Verb = "watch" },
		"group":          func(a *authz.Attributes) { a.Group = "apps" },
		"version":        func(a *authz.Attributes) { a.Version = "v2" },
		"resource":       func(a *authz.Attributes) { a.Resource = "secrets" },
		"subresource":    func(a *authz.Attributes) { a.Subresource = "log" },
		"namespace":      func(a *authz.Attributes) { a.Namespace = "other" },
		"name":           func(a *authz.Attributes) { a.Name = "p" },
		"field selector": func(a *authz.Attributes) { a.FieldSelector = "spec.nodeName=n1" },
		"label selector": func(a *authz.Attributes) { a.LabelSelector = "app=web" },
		"non-resource":   func(a *authz.Attributes) { a.ResourceRequest = false },
		// Fields run together must not collide: "ab"+"c" vs "a"+"bc".
		"shifted": func(a *authz.Attributes) { a.Namespace, a.Verb = "tea", "mlist" },
	}
	for name, mutate := range variants {
		a := base
		mutate(&a)
		before := f.calls.Load()
		if _, _, err := z.Authorize(context.Background(), a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.calls.Load() != before+1 {
			t.Errorf("%s: answered from the cache of another request", name)
		}
	}
	// Every variant is now cached: asking again calls nobody.
	before := f.calls.Load()
	for name, mutate := range variants {
		a := base
		mutate(&a)
		if _, _, err := z.Authorize(context.Background(), a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if n := f.calls.Load() - before; n != 0 {
		t.Errorf("cached requests called the webhook %d times", n)
	}
	// Equal requests built separately share an entry.
	a := base
	u := *jane
	u.Groups = append([]string(nil), jane.Groups...)
	a.User = &u
	z.Authorize(context.Background(), a)
	if n := f.calls.Load() - before; n != 0 {
		t.Errorf("an equal request called the webhook")
	}
}

func TestCacheIsBounded(t *testing.T) {
	f, z, _ := setup(t, Options{CacheSize: 3})
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	named := func(i int) authz.Attributes {
		a := podsList()
		a.Name = fmt.Sprint("pod-", i)
		return a
	}
	for i := range 3 {
		z.Authorize(context.Background(), named(i))
	}
	z.Authorize(context.Background(), named(0)) // pod-0 is now the most recent
	for i := 3; i < 5; i++ {
		z.Authorize(context.Background(), named(i))
	}
	if n := z.cached(); n != 3 {
		t.Fatalf("cache holds %d entries, want 3", n)
	}
	calls := f.calls.Load()
	z.Authorize(context.Background(), named(0))
	z.Authorize(context.Background(), named(4))
	if f.calls.Load() != calls {
		t.Fatal("recently used entries were evicted")
	}
	z.Authorize(context.Background(), named(1))
	if f.calls.Load() != calls+1 {
		t.Fatal("the least recently used entry was not evicted")
	}
}

func TestConcurrentRequests(t *testing.T) {
	f, z, _ := setup(t, Options{CacheSize: 8})
	f.set(authorizationv1.SubjectAccessReviewStatus{Allowed: true})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				a := podsList()
				a.Name = fmt.Sprint("pod-", (i+j)%12)
				if d, _, err := z.Authorize(context.Background(), a); err != nil || d != authz.Allow {
					t.Errorf("Authorize = %v, %v", d, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := z.cached(); n > 8 {
		t.Fatalf("cache holds %d entries, over its bound", n)
	}
}

func TestVersion(t *testing.T) {
	f := newFakeWebhook(t)
	path := writeKubeconfig(t, f.srv.URL, caPEM(f.srv))
	for _, v := range []string{"v1beta1", "v2", "V1"} {
		if _, err := NewFromFile(path, Options{Version: v}); err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("version %q: err = %v", v, err)
		}
	}
	if _, err := NewFromFile(path, Options{Version: "v1"}); err != nil {
		t.Errorf("version v1: %v", err)
	}
	// New cannot refuse a bad version; it never allows with one instead.
	z := New(newAuthorizer(t, f.srv.URL, caPEM(f.srv), Options{}).client, Options{Version: "v1beta1"})
	if d, _, err := z.Authorize(context.Background(), podsList()); err == nil || d != authz.NoOpinion {
		t.Fatalf("Authorize with an unsupported version = %v, %v", d, err)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("the webhook was called %d times", n)
	}
}

func TestNewFromFileErrors(t *testing.T) {
	if _, err := NewFromFile(filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
		t.Error("a missing kubeconfig was accepted")
	}
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if _, err := NewFromFile(writeKubeconfig(t, plain.URL, nil), Options{}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("an http:// webhook: err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.AuthorizedTTL != 5*time.Minute || o.UnauthorizedTTL != 30*time.Second || o.Timeout != 30*time.Second ||
		o.Version != "v1" || o.CacheSize != 10000 || o.Now == nil {
		t.Fatalf("defaults = %+v", o)
	}
	f := newFakeWebhook(t)
	z, err := NewFromFile(writeKubeconfig(t, f.srv.URL, caPEM(f.srv)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if z.client.HTTP.Timeout != DefaultTimeout {
		t.Fatalf("client timeout = %v", z.client.HTTP.Timeout)
	}
}
