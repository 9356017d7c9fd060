package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

// extensionServer is an aggregated API server, as metrics-server or an
// operator's API server is one: it serves widgets.example.com/v1 over TLS
// as widgets.default.svc, and trusts the identity headers only from a
// client certificate of the front-proxy CA, as such servers are told to
// by extension-apiserver-authentication.
type extensionServer struct {
	srv   *httptest.Server
	caPEM []byte

	mu      sync.Mutex
	seen    []http.Header
	serials []string // the front-proxy client certificate's serial, per request
}

func startExtensionServer(t *testing.T, frontProxyCA []byte) *extensionServer {
	t.Helper()
	key, err := pki.ECDSAP256.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewSelfSignedCA("widgets-ca", key, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _ := pki.ECDSAP256.GenerateKey()
	leaf, err := ca.Issue(pki.Template{CommonName: "widgets", Kind: pki.KindServer, DNSNames: []string{"widgets.default.svc"}}.ValidFor(time.Now(), 30*time.Minute), leafKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(frontProxyCA) {
		t.Fatal("no front-proxy CA")
	}
	e := &extensionServer{caPEM: pki.EncodeCertificates(ca.Cert)}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := r.TLS.PeerCertificates[0]
		if peer.Subject.CommonName != "front-proxy-client" {
			http.Error(w, "not the front proxy", http.StatusUnauthorized)
			return
		}
		e.mu.Lock()
		e.seen = append(e.seen, r.Header.Clone())
		e.serials = append(e.serials, peer.SerialNumber.String())
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/widgets.example.com/v1":
			fmt.Fprint(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"widgets.example.com/v1","resources":[`+
				`{"name":"widgets","singularName":"widget","namespaced":true,"kind":"Widget","verbs":["get","list"],"shortNames":["wd"]}]}`)
		case "/openapi/v3/apis/widgets.example.com/v1":
			fmt.Fprint(w, `{"openapi":"3.0.0","info":{"title":"widgets","version":"v1"},"paths":{"/apis/widgets.example.com/v1/namespaces/{namespace}/widgets/{name}":{"get":{`+
				`"x-kubernetes-group-version-kind":{"group":"widgets.example.com","version":"v1","kind":"Widget"},"responses":{"200":{"description":"OK"}}}}},`+
				`"components":{"schemas":{"com.example.widgets.v1.Widget":{`+
				`"type":"object","description":"A Widget is what the extension serves.","properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},`+
				`"spec":{"type":"object","properties":{"size":{"type":"integer","description":"How big the widget is."}}}},`+
				`"x-kubernetes-group-version-kind":[{"group":"widgets.example.com","version":"v1","kind":"Widget"}]}}}}`)
		case "/apis/widgets.example.com/v1/namespaces/default/widgets":
			// One widget, named after the user the API server vouched for.
			fmt.Fprintf(w, `{"kind":"WidgetList","apiVersion":"widgets.example.com/v1","metadata":{"resourceVersion":"1"},"items":[`+
				`{"kind":"Widget","apiVersion":"widgets.example.com/v1","metadata":{"name":%q,"namespace":"default"}}]}`, r.Header.Get("X-Remote-User"))
		default:
			http.NotFound(w, r)
		}
	}))
	e.srv.Config.SetKeepAlivesEnabled(false)           // each request shows the certificate in force
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the wrong-caBundle step fails handshakes on purpose
	e.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12,
	}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *extensionServer) port() string {
	_, p, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	return p
}

func (e *extensionServer) requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

func (e *extensionServer) last() (http.Header, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		return nil, ""
	}
	return e.seen[len(e.seen)-1], e.serials[len(e.serials)-1]
}

// TestAggregatedAPI registers an extension API server with an APIService
// and uses it through sekisho with kubectl: discovery lists its
// resources, a read reaches it as the user sekisho authenticated (with
// no credential of the client's), a user RBAC refuses never reaches it,
// a renewed front-proxy client certificate is presented without a
// restart, and a caBundle that does not verify the server makes the
// APIService unavailable, saying why.
func TestAggregatedAPI(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	frontProxyCA, err := os.ReadFile(filepath.Join(s.dir, "pki", "front-proxy-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ext := startExtensionServer(t, frontProxyCA)
	manifest := func(caBundle []byte) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: widgets, namespace: default}
spec: {type: ExternalName, externalName: 127.0.0.1}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.widgets.example.com}
spec:
  group: widgets.example.com
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service: {namespace: default, name: widgets, port: %s}
  caBundle: %s
`, ext.port(), base64.StdEncoding.EncodeToString(caBundle))
	}
	file := filepath.Join(t.TempDir(), "widgets.yaml")
	apply := func(caBundle []byte) {
		if err := os.WriteFile(file, []byte(manifest(caBundle)), 0o600); err != nil {
			t.Fatal(err)
		}
		s.mustKubectl("apply", "-f", file)
	}
	available := func() string {
		return s.mustKubectl("get", "apiservice", "v1.widgets.example.com", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}/{.status.conditions[?(@.type=="Available")].reason}: {.status.conditions[?(@.type=="Available")].message}`)
	}
	apply(ext.caPEM)
	if !waitFor(func() bool { return strings.HasPrefix(available(), "True/Passed") }) {
		t.Fatalf("the APIService did not become available: %s\n%s", available(), s.logs.String())
	}
	if out := s.mustKubectl("get", "apiservice", "v1.widgets.example.com"); !strings.Contains(out, "default/widgets") || !strings.Contains(out, "True") {
		t.Errorf("kubectl get apiservice:\n%s", out)
	}

	// Discovery: kubectl finds the resource, by name and short name.
	if out := s.mustKubectl("api-resources", "--api-group", "widgets.example.com", "-o", "name"); strings.TrimSpace(out) != "widgets.widgets.example.com" {
		t.Errorf("api-resources --api-group widgets.example.com = %q", out)
	}
	var group struct {
		PreferredVersion struct{ GroupVersion string } `json:"preferredVersion"`
	}
	if err := json.Unmarshal([]byte(s.mustKubectl("get", "--raw", "/apis/widgets.example.com")), &group); err != nil || group.PreferredVersion.GroupVersion != "widgets.example.com/v1" {
		t.Errorf("/apis/widgets.example.com: %+v %v", group, err)
	}

	// kubectl explain reads the extension's OpenAPI document through
	// sekisho's /openapi/v3.
	if !waitFor(func() bool {
		r := s.kubectl("explain", "widgets.spec.size")
		return r.code == 0 && strings.Contains(r.stdout, "How big the widget is.")
	}) {
		r := s.kubectl("explain", "widgets.spec.size")
		t.Errorf("kubectl explain widgets.spec.size: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A read reaches the extension as the authenticated user.
	user := strings.TrimSpace(s.mustKubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"))
	if got := s.mustKubectl("get", "wd", "-o", "jsonpath={.items[*].metadata.name}"); got != user {
		t.Errorf("the extension saw user %q, want %q", got, user)
	}
	headers, firstSerial := ext.last()
	if headers.Get("Authorization") != "" || !strings.Contains(strings.Join(headers.Values("X-Remote-Group"), ","), "system:masters") {
		t.Errorf("the extension saw Authorization %q, groups %q", headers.Get("Authorization"), headers.Values("X-Remote-Group"))
	}

	// A user RBAC refuses is refused by sekisho; the extension never
	// hears of it.
	before := ext.requests()
	if r := s.kubectl("--as", "mallory", "get", "widgets"); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("mallory: %d %s", r.code, r.stderr)
	}
	// Nor does a path that is not a resource request to sekisho (an
	// empty segment, the old watch prefix): discovery is everyone's, but
	// only /apis/<group>/<version> itself is discovery.
	for _, path := range []string{
		"/apis/widgets.example.com/v1//namespaces/default/widgets",
		"/apis/widgets.example.com/v1/watch/namespaces/default/widgets",
		"/apis/widgets.example.com/v1/namespaces/default/widgets/",
	} {
		if r := s.kubectl("--as", "mallory", "get", "--raw", path); r.code == 0 {
			t.Errorf("mallory read %s: %s", path, r.stdout)
		}
	}
	if after := ext.requests(); after != before {
		t.Errorf("a refused request reached the extension (%d -> %d requests)", before, after)
	}

	// A renewed front-proxy client certificate is presented from the next
	// connection on.
	mustSekisho(t, "certs", "renew", "front-proxy-client", "--dir", s.dir)
	if !waitFor(func() bool {
		s.mustKubectl("get", "widgets")
		_, serial := ext.last()
		return serial != firstSerial
	}) {
		t.Error("the renewed front-proxy client certificate was not presented")
	}

	// A broken front-proxy client certificate file is refused, named in
	// the log, and the renewed one stays in force.
	certFile := filepath.Join(s.dir, "pki", "front-proxy-client.crt")
	good, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	_, renewedSerial := ext.last()
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), "reload failed") && strings.Contains(s.logs.String(), certFile)
	}) {
		t.Errorf("a broken %s was not reported:\n%s", certFile, s.logs.String())
	}
	s.mustKubectl("get", "widgets")
	if _, serial := ext.last(); serial != renewedSerial {
		t.Errorf("with a broken file sekisho presented serial %s, want the last good %s", serial, renewedSerial)
	}
	if err := os.WriteFile(certFile, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// A caBundle that does not verify the extension: unavailable, with
	// the reason on the APIService, and reads answer 503.
	other, _ := pki.ECDSAP256.GenerateKey()
	wrong, err := pki.NewSelfSignedCA("someone-else", other, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	apply(pki.EncodeCertificates(wrong.Cert))
	if !waitFor(func() bool { return strings.HasPrefix(available(), "False/FailedDiscoveryCheck") }) {
		t.Fatalf("a wrong caBundle left the APIService %s", available())
	}
	if got := available(); !strings.Contains(got, "certificate signed by unknown authority") {
		t.Errorf("the condition does not say why: %s", got)
	}
	if r := s.kubectl("get", "--raw", "/apis/widgets.example.com/v1/namespaces/default/widgets"); r.code == 0 || !strings.Contains(r.stderr, "ServiceUnavailable") {
		t.Errorf("read of an unavailable API: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(s.logs.String(), "BEGIN") {
		t.Error("the log carries PEM")
	}
}

// TestLocalAPIServicesRegisteredAtStart checks the Local APIServices
// the server registers for its own versions, as kube-apiserver does: they
// are there and available, and at the next start an automanaged one
// takes the server's priorities again and one for a version it no longer
// serves goes; an APIService of the user's stays.
func TestLocalAPIServicesRegisteredAtStart(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	if out := s.mustKubectl("get", "apiservice", "v1.apps", "-o", `jsonpath={.spec.groupPriorityMinimum}/{.status.conditions[?(@.type=="Available")].reason}`); out != "17800/Local" {
		t.Errorf("v1.apps: %s, want 17800/Local", out)
	}
	s.mustKubectl("patch", "apiservice", "v1.apps", "--type=merge", "-p", `{"spec":{"groupPriorityMinimum":5}}`)
	file := filepath.Join(t.TempDir(), "gone.yaml")
	os.WriteFile(file, []byte(`apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.gone.example.com, labels: {kube-aggregator.kubernetes.io/automanaged: onstart}}
spec: {group: gone.example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 1}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.mine.example.com}
spec: {group: mine.example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 1}
`), 0o600)
	s.mustKubectl("apply", "-f", file)
	s.stop()
	s.start()
	if out := s.mustKubectl("get", "apiservice", "v1.apps", "-o", "jsonpath={.spec.groupPriorityMinimum}"); out != "17800" {
		t.Errorf("after a restart v1.apps has priority %s, want 17800 again", out)
	}
	if r := s.kubectl("get", "apiservice", "v1.gone.example.com"); r.code == 0 {
		t.Error("an automanaged APIService for a version not served survived the restart")
	}
	s.mustKubectl("get", "apiservice", "v1.mine.example.com")
}
