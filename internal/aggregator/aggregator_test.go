package aggregator

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// extension is an aggregated API server for tests: it serves
// widgets.example.com/v1 over TLS with a certificate for
// widgets.default.svc, requires a client certificate of the front-proxy
// CA, and records what each request carried.
type extension struct {
	srv      *httptest.Server
	caPEM    []byte
	mu       sync.Mutex
	requests []*http.Request
	certs    []string // the client certificate's CN, per request
	// indexURL is where its OpenAPI index says its document is;
	// openAPIFailing makes the document answer 503.
	indexURL       string
	openAPIFailing bool
}

func newExtension(t *testing.T, frontProxyCA *pki.CA) *extension {
	t.Helper()
	ca := newCA(t, "extension-ca")
	key, _ := pki.ECDSAP256.GenerateKey()
	leaf, err := ca.Issue(pki.Template{CommonName: "widgets", Kind: pki.KindServer, DNSNames: []string{"widgets.default.svc"}}.ValidFor(time.Now(), 30*time.Minute), key.Public())
	if err != nil {
		t.Fatal(err)
	}
	e := &extension{caPEM: pki.EncodeCertificates(ca.Cert), indexURL: "/openapi/v3/apis/widgets.example.com/v1?hash=ABC"}
	pool := x509.NewCertPool()
	pool.AddCert(frontProxyCA.Cert)
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Clone(context.Background()))
		e.certs = append(e.certs, r.TLS.PeerCertificates[0].Subject.CommonName)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/widgets.example.com/v1":
			json.NewEncoder(w).Encode(metav1.APIResourceList{
				TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
				GroupVersion: "widgets.example.com/v1",
				APIResources: []metav1.APIResource{
					{Name: "widgets", SingularName: "widget", Namespaced: true, Kind: "Widget", Verbs: []string{"get", "list"}},
					{Name: "widgets/status", Namespaced: true, Kind: "Widget", Verbs: []string{"get"}},
				},
			})
		case "/openapi/v3":
			e.mu.Lock()
			index := e.indexURL
			e.mu.Unlock()
			fmt.Fprintf(w, `{"paths":{"apis/widgets.example.com/v1":{"serverRelativeURL":%q}}}`, index)
		case "/openapi/v3/apis/widgets.example.com/v1":
			e.mu.Lock()
			failing := e.openAPIFailing
			e.mu.Unlock()
			if failing {
				http.Error(w, "down for a moment", http.StatusServiceUnavailable)
				return
			}
			if r.Header.Get("If-None-Match") == `"doc-1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"doc-1"`)
			io.WriteString(w, `{"openapi":"3.0.0","info":{"title":"widgets"}}`)
		case "/apis/broken.example.com/v1":
			http.Error(w, "broken", http.StatusInternalServerError)
		case "/apis/widgets.example.com/v1/redirect":
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		default:
			io.WriteString(w, `{"kind":"WidgetList","apiVersion":"widgets.example.com/v1","items":[]}`)
		}
	}))
	e.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *extension) port() int32 {
	_, p, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return int32(n)
}

func (e *extension) all() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

func (e *extension) last() (*http.Request, string, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.requests) == 0 {
		return nil, "", 0
	}
	return e.requests[len(e.requests)-1], e.certs[len(e.certs)-1], len(e.requests)
}

func newCA(t *testing.T, cn string) *pki.CA {
	t.Helper()
	key, err := pki.ECDSAP256.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewSelfSignedCA(cn, key, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// clientCert issues the front-proxy client certificate.
func clientCert(t *testing.T, ca *pki.CA) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	t.Helper()
	key, _ := pki.ECDSAP256.GenerateKey()
	cert, err := ca.Issue(pki.Template{CommonName: "front-proxy-client", Kind: pki.KindClient}.ValidFor(time.Now(), 30*time.Minute), key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pair := &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: crypto.Signer(key), Leaf: cert}
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return pair, nil }
}

type fixture struct {
	t                                    *testing.T
	w                                    *store.Writer
	cat                                  *catalog.Catalog
	apiServices, services, endpointSlice *catalog.Resource
	agg                                  *Aggregator
	ctx                                  context.Context
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	st := store.NewStore(kv)
	w, err := store.NewWriter(st, admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Builtin()
	w.Resources = cat.Lookup
	f := &fixture{t: t, w: w, cat: cat, ctx: authn.AsAPIServer(t.Context())}
	f.apiServices, _ = cat.Lookup(apiregistrationv1.SchemeGroupVersion.WithResource("apiservices"))
	f.services, _ = cat.Lookup(corev1.SchemeGroupVersion.WithResource("services"))
	f.endpointSlice, _ = cat.Lookup(discoveryv1.SchemeGroupVersion.WithResource("endpointslices"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.APIServices = informer.New(st, f.apiServices, log)
	cfg.Services = informer.New(st, f.services, log)
	cfg.EndpointSlices = informer.New(st, f.endpointSlice, log)
	cfg.Writer, cfg.Resource, cfg.Log = w, f.apiServices, log
	cfg.Local = cat.ServesGroupVersion
	for _, i := range []*informer.Informer{cfg.APIServices, cfg.Services, cfg.EndpointSlices} {
		go i.Run(t.Context())
		i.WaitForSync(t.Context())
	}
	f.agg = New(cfg)
	return f
}

func (f *fixture) create(res *catalog.Resource, obj catalog.Object) {
	f.t.Helper()
	if _, err := f.w.Create(f.ctx, res, obj, store.Options{}); err != nil {
		f.t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

// sync waits for the informers to see what was written, then checks
// every APIService and returns the condition of name.
func (f *fixture) sync(name string) apiregistrationv1.APIServiceCondition {
	f.t.Helper()
	time.Sleep(200 * time.Millisecond)
	if err := f.agg.Sync(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	var got apiregistrationv1.APIServiceCondition
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if o, ok := f.agg.cfg.APIServices.Get("", name); ok {
			if c := availableCondition(o.(*apiregistrationv1.APIService)); c != nil {
				got = *c
				return got
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("%s has no Available condition", name)
	return got
}

func apiService(group, version string, ref *apiregistrationv1.ServiceReference, caBundle []byte) *apiregistrationv1.APIService {
	return &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: version + "." + group},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: group, Version: version, Service: ref, CABundle: caBundle,
			GroupPriorityMinimum: 1000, VersionPriority: 15,
		},
	}
}

func ref(name string, port int32) *apiregistrationv1.ServiceReference {
	return &apiregistrationv1.ServiceReference{Namespace: "default", Name: name, Port: &port}
}

func externalService(name, host string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: host},
	}
}

func TestProxiesAsTheUserWithTheFrontProxyCertificate(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	ext := newExtension(t, frontProxy)
	f := newFixture(t, Config{ClientCertificate: clientCert(t, frontProxy)})
	f.create(f.services, externalService("widgets", "127.0.0.1"))
	f.create(f.apiServices, apiService("widgets.example.com", "v1", ref("widgets", ext.port()), ext.caPEM))
	if c := f.sync("v1.widgets.example.com"); c.Status != apiregistrationv1.ConditionTrue || c.Reason != "Passed" {
		t.Fatalf("condition = %+v, want True/Passed", c)
	}
	for _, r := range ext.all() {
		user, groups := r.Header.Get("X-Remote-User"), r.Header.Values("X-Remote-Group")
		switch {
		case r.URL.Path == "/apis/widgets.example.com/v1" && (user != "system:kube-aggregator" || strings.Join(groups, ",") != "system:masters"):
			t.Errorf("discovery check sent as %q %q, want system:kube-aggregator in system:masters", user, groups)
		case strings.HasPrefix(r.URL.Path, "/openapi/") && (user != "system:aggregator" || len(groups) != 0):
			t.Errorf("OpenAPI read as %q %q, want system:aggregator in no group", user, groups)
		}
	}
	gen, versions := f.agg.Versions()
	if gen == 0 || len(versions) != 1 || !versions[0].Available || versions[0].Resources == nil || len(versions[0].Resources.APIResources) != 2 {
		t.Fatalf("versions = %d %+v", gen, versions)
	}

	h := f.agg.Handler("widgets.example.com", "v1")
	if h == nil {
		t.Fatal("no handler for widgets.example.com/v1")
	}
	if f.agg.Handler("widgets.example.com", "v2") != nil || f.agg.Handler("apps", "v1") != nil {
		t.Fatal("a handler for a version no APIService hands to a service")
	}
	req := httptest.NewRequest("GET", "/apis/widgets.example.com/v1/namespaces/default/widgets/a%2Fb?limit=5&b=1", nil)
	req.Header.Set("Authorization", "Bearer the-users-token")
	req.Header.Set("Impersonate-User", "root")
	req.Header.Set("X-Remote-User", "mallory")
	req.Header.Add("X-Remote-Group", "system:masters")
	req = req.WithContext(authn.WithUser(req.Context(), &authn.User{
		Name: "alice", UID: "uid-1", Groups: []string{"devs", "system:authenticated"},
		Extra: map[string][]string{"example.org/team%": {"blue"}},
	}))
	rec := httptest.NewRecorder()
	rec.Header().Set("Audit-Id", "audit-1") // as the API server's filters set it
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "WidgetList") {
		t.Fatalf("proxied request: %d %s", rec.Code, rec.Body)
	}
	got, cn, _ := ext.last()
	if cn != "front-proxy-client" {
		t.Errorf("client certificate CN = %q", cn)
	}
	for k, want := range map[string][]string{
		"X-Remote-User":                        {"alice"},
		"X-Remote-Uid":                         {"uid-1"},
		"X-Remote-Group":                       {"devs", "system:authenticated"},
		"X-Remote-Extra-Example.org%2fteam%25": {"blue"},
		"Authorization":                        nil,
		"Impersonate-User":                     nil,
	} {
		if g := got.Header.Values(k); strings.Join(g, ",") != strings.Join(want, ",") {
			t.Errorf("backend saw %s = %q, want %q", k, g, want)
		}
	}
	// The path and query as authorized: decoded, the query encoded anew.
	if got.URL.Path != "/apis/widgets.example.com/v1/namespaces/default/widgets/a/b" || got.URL.RawPath != "" || got.URL.RawQuery != "b=1&limit=5" {
		t.Errorf("backend saw %s (raw %q) ? %s", got.URL.Path, got.URL.RawPath, got.URL.RawQuery)
	}
	// One audit ID for the request, in both servers.
	if got.Header.Get("Audit-Id") != "audit-1" || len(rec.Header().Values("Audit-Id")) != 1 {
		t.Errorf("audit ID: backend saw %q, client got %q", got.Header.Get("Audit-Id"), rec.Header().Values("Audit-Id"))
	}

	// A redirect is not passed on: the client would follow it with its
	// credentials.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/apis/widgets.example.com/v1/redirect", nil)
	h.ServeHTTP(rec, req.WithContext(authn.WithUser(req.Context(), &authn.User{Name: "alice"})))
	if rec.Code != http.StatusBadGateway || rec.Header().Get("Location") != "" {
		t.Errorf("redirect: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// Nor on an upgrade the backend refuses with a redirect.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/apis/widgets.example.com/v1/redirect", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	h.ServeHTTP(rec, req.WithContext(authn.WithUser(req.Context(), &authn.User{Name: "alice"})))
	if rec.Code != http.StatusBadGateway || rec.Header().Get("Location") != "" {
		t.Errorf("redirect of an upgrade: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestAvailableCondition(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	ext := newExtension(t, frontProxy)
	wrongCA := pki.EncodeCertificates(newCA(t, "someone-else").Cert)
	port := ext.port()
	f := newFixture(t, Config{ClientCertificate: clientCert(t, frontProxy)})
	clusterIP := func(name string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0." + strconv.Itoa(10+len(name)), ClusterIPs: []string{"10.96.0." + strconv.Itoa(10+len(name))}, Ports: ports},
		}
	}
	f.create(f.services, clusterIP("noport", corev1.ServicePort{Name: "https", Port: 8443, Protocol: corev1.ProtocolTCP}))
	f.create(f.services, clusterIP("noslices", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}))
	f.create(f.services, clusterIP("notready", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}))
	notReady := false
	portName, slicePort := "https", int32(443)
	f.create(f.endpointSlice, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "notready-1", Labels: map[string]string{discoveryv1.LabelServiceName: "notready"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &slicePort}},
	})
	f.create(f.services, externalService("widgets", "127.0.0.1"))
	for _, tc := range []struct {
		svc            *apiregistrationv1.APIService
		status         apiregistrationv1.ConditionStatus
		reason, detail string
	}{
		{apiService("local.example.com", "v1", nil, nil), apiregistrationv1.ConditionTrue, "Local", ""},
		{apiService("apps", "v1", ref("widgets", port), ext.caPEM), apiregistrationv1.ConditionFalse, "ServedLocally", "apps/v1"},
		{apiService("missing.example.com", "v1", ref("missing", 443), nil), apiregistrationv1.ConditionFalse, "ServiceNotFound", `service/missing in "default" is not present`},
		{apiService("noport.example.com", "v1", ref("noport", 443), nil), apiregistrationv1.ConditionFalse, "ServicePortError", "not listening on port 443"},
		{apiService("noslices.example.com", "v1", ref("noslices", 443), nil), apiregistrationv1.ConditionFalse, "EndpointsNotFound", "cannot find endpointslices"},
		{apiService("notready.example.com", "v1", ref("notready", 443), nil), apiregistrationv1.ConditionFalse, "MissingEndpoints", `no addresses with port name "https"`},
		{apiService("wrongca.example.com", "v1", ref("widgets", port), wrongCA), apiregistrationv1.ConditionFalse, "FailedDiscoveryCheck", "certificate signed by unknown authority"},
		{apiService("broken.example.com", "v1", ref("widgets", port), ext.caPEM), apiregistrationv1.ConditionFalse, "FailedDiscoveryCheck", "bad status from https://127.0.0.1:" + strconv.Itoa(int(port)) + "/apis/broken.example.com/v1: 500"},
		{apiService("widgets.example.com", "v1", ref("widgets", port), []byte("not PEM")), apiregistrationv1.ConditionFalse, "FailedDiscoveryCheck", "spec.caBundle: no PEM certificate"},
	} {
		f.create(f.apiServices, tc.svc)
		c := f.sync(tc.svc.Name)
		if c.Status != tc.status || c.Reason != tc.reason || !strings.Contains(c.Message, tc.detail) {
			t.Errorf("%s: condition %s/%s %q, want %s/%s containing %q", tc.svc.Name, c.Status, c.Reason, c.Message, tc.status, tc.reason, tc.detail)
		}
	}
	// An unavailable version answers 503, and the backend, which would
	// answer, is not asked.
	_, _, before := ext.last()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/apis/broken.example.com/v1/things", nil)
	f.agg.Handler("broken.example.com", "v1").ServeHTTP(rec, req.WithContext(authn.WithUser(req.Context(), &authn.User{Name: "alice"})))
	if _, _, after := ext.last(); rec.Code != http.StatusServiceUnavailable || after != before {
		t.Errorf("unavailable version: %d %s; backend requests %d -> %d", rec.Code, rec.Body, before, after)
	}
	if f.agg.Handler("apps", "v1") != nil {
		t.Error("a built-in version is handed to a service")
	}
}

func TestEndpointRouting(t *testing.T) {
	f := newFixture(t, Config{EndpointRouting: true})
	portName, port := "https", int32(6443)
	ready := true
	f.create(f.services, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "metrics"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.99", ClusterIPs: []string{"10.96.0.99"},
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}},
	})
	f.create(f.endpointSlice, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "metrics-1", Labels: map[string]string{discoveryv1.LabelServiceName: "metrics"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
	})
	f.create(f.services, externalService("outside", "ext.example.com"))
	time.Sleep(200 * time.Millisecond)
	loc, err := f.agg.location(*ref("metrics", 443))
	if err != nil || loc.Host != "10.1.0.7:6443" {
		t.Errorf("endpoint routing: %v %v, want 10.1.0.7:6443", loc, err)
	}
	if _, err := f.agg.location(*ref("outside", 443)); err == nil {
		t.Error("endpoint routing reached an ExternalName service")
	}
	f.agg.cfg.EndpointRouting = false
	if loc, err := f.agg.location(*ref("metrics", 443)); err != nil || loc.Host != "10.96.0.99:443" {
		t.Errorf("cluster IP routing: %v %v", loc, err)
	}
	if loc, err := f.agg.location(*ref("outside", 443)); err != nil || loc.Host != "ext.example.com:443" {
		t.Errorf("external name: %v %v", loc, err)
	}
}

func TestEscapeExtraKey(t *testing.T) {
	for in, want := range map[string]string{
		"scopes":                "scopes",
		"example.org/team":      "example.org%2Fteam",
		"100%":                  "100%25",
		"a b":                   "a%20b",
		"authentication.k8s.io": "authentication.k8s.io",
	} {
		if got := escapeExtraKey(in); got != want {
			t.Errorf("escapeExtraKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenAPIDocumentsRead checks that a backend's OpenAPI document is
// read, where the backend's index says, with the first check, not again
// within a minute, and then conditionally on its ETag.
func TestOpenAPIDocumentsRead(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	ext := newExtension(t, frontProxy)
	f := newFixture(t, Config{ClientCertificate: clientCert(t, frontProxy)})
	f.create(f.services, externalService("widgets", "127.0.0.1"))
	f.create(f.apiServices, apiService("widgets.example.com", "v1", ref("widgets", ext.port()), ext.caPEM))
	f.sync("v1.widgets.example.com")
	openAPIReads := func() (n int, conditional int) {
		ext.mu.Lock()
		defer ext.mu.Unlock()
		for _, r := range ext.requests {
			if r.URL.Path == "/openapi/v3/apis/widgets.example.com/v1" {
				if r.URL.RawQuery != "hash=ABC" {
					t.Errorf("the document was read at %s, not where the backend's index says", r.URL)
				}
				n++
				if r.Header.Get("If-None-Match") != "" {
					conditional++
				}
			}
		}
		return n, conditional
	}
	gen, docs := f.agg.OpenAPIV3()
	if string(docs["apis/widgets.example.com/v1"]) != `{"openapi":"3.0.0","info":{"title":"widgets"}}` {
		t.Fatalf("documents = %q", docs)
	}
	f.sync("v1.widgets.example.com")
	if n, _ := openAPIReads(); n != 1 {
		t.Errorf("%d reads of the OpenAPI document within a minute, want 1", n)
	}
	f.agg.mu.Lock()
	f.agg.openAPI["v1.widgets.example.com"].read = time.Now().Add(-2 * time.Minute)
	f.agg.mu.Unlock()
	f.sync("v1.widgets.example.com")
	if n, conditional := openAPIReads(); n != 2 || conditional != 1 {
		t.Errorf("after a minute: %d reads, %d conditional; want 2, 1", n, conditional)
	}
	if gen2, docs2 := f.agg.OpenAPIV3(); gen2 != gen || len(docs2) != 1 {
		t.Errorf("an unchanged document changed the generation (%d -> %d) or went (%d)", gen, gen2, len(docs2))
	}

	// A failure to read it keeps the document.
	due := func() {
		f.agg.mu.Lock()
		f.agg.openAPI["v1.widgets.example.com"].read = time.Now().Add(-2 * time.Minute)
		f.agg.mu.Unlock()
	}
	ext.mu.Lock()
	ext.openAPIFailing = true
	ext.mu.Unlock()
	due()
	f.sync("v1.widgets.example.com")
	if _, docs := f.agg.OpenAPIV3(); len(docs) != 1 {
		t.Error("a failed read dropped the document")
	}

	// An index that points elsewhere moves nothing: the document is read
	// at its own path, without the index's query.
	ext.mu.Lock()
	ext.openAPIFailing = false
	ext.indexURL = "/openapi/v3/../../api/v1/namespaces/kube-system/secrets?hash=EVIL"
	ext.requests, ext.certs = nil, nil
	ext.mu.Unlock()
	due()
	f.sync("v1.widgets.example.com")
	for _, r := range ext.all() {
		if strings.HasPrefix(r.URL.Path, "/openapi/") && r.URL.Path != "/openapi/v3" && (r.URL.Path != "/openapi/v3/apis/widgets.example.com/v1" || r.URL.RawQuery != "") {
			t.Errorf("the index moved the read to %s", r.URL)
		}
		if strings.Contains(r.URL.Path, "secrets") {
			t.Errorf("the aggregator read %s", r.URL)
		}
	}
}

// TestRenewClientsPresentsTheNewCertificate checks that after the
// front-proxy certificate changes and RenewClients, the next request,
// though the backend keeps connections alive, presents the new one.
func TestRenewClientsPresentsTheNewCertificate(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	ext := newExtension(t, frontProxy)
	var current atomic.Pointer[tls.Certificate]
	first, _ := clientCert(t, frontProxy)(nil)
	current.Store(first)
	f := newFixture(t, Config{ClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return current.Load(), nil }})
	f.create(f.services, externalService("widgets", "127.0.0.1"))
	f.create(f.apiServices, apiService("widgets.example.com", "v1", ref("widgets", ext.port()), ext.caPEM))
	f.sync("v1.widgets.example.com")
	serialOfLast := func() string {
		req := httptest.NewRequest("GET", "/apis/widgets.example.com/v1/namespaces/default/widgets", nil)
		rec := httptest.NewRecorder()
		f.agg.Handler("widgets.example.com", "v1").ServeHTTP(rec, req.WithContext(authn.WithUser(req.Context(), &authn.User{Name: "alice"})))
		if rec.Code != http.StatusOK {
			t.Fatalf("proxied request: %d %s", rec.Code, rec.Body)
		}
		ext.mu.Lock()
		defer ext.mu.Unlock()
		return ext.requests[len(ext.requests)-1].TLS.PeerCertificates[0].SerialNumber.String()
	}
	before := serialOfLast()
	if again := serialOfLast(); again != before {
		t.Fatalf("serial changed without a renewal: %s -> %s", before, again)
	}
	second, _ := clientCert(t, frontProxy)(nil)
	current.Store(second)
	f.agg.RenewClients()
	if after := serialOfLast(); after == before || after != second.Leaf.SerialNumber.String() {
		t.Errorf("after RenewClients the backend saw serial %s, want the new %s", after, second.Leaf.SerialNumber)
	}
}
