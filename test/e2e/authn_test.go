package e2e

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuthenticationAndForbidden checks the exact 401 and 403 bodies, the
// unauthenticated health and version endpoints, and that the x509
// authenticator refuses certificates it must not accept.
func TestAuthenticationAndForbidden(t *testing.T) {
	s := startServer(t)
	const unauthorizedBody = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`

	anon := s.client(false)
	for _, p := range []string{"/healthz", "/livez", "/readyz", "/readyz/etcd", "/version"} {
		code, body := s.doWith(anon, "GET", p, "", nil)
		if code != 200 {
			t.Errorf("%s without credentials: %d %s", p, code, body)
		}
	}
	if code, body := s.doWith(anon, "GET", "/version", "", nil); !strings.Contains(body, `"major":"1"`) || !strings.Contains(body, `"gitVersion":"v1.`) {
		t.Errorf("/version: %d %s", code, body)
	}
	for _, p := range []string{"/api", "/apis", "/api/v1/namespaces", "/openapi/v3", "/metrics"} {
		code, body := s.doWith(anon, "GET", p, "", nil)
		if code != 401 || body != unauthorizedBody {
			t.Errorf("%s without credentials: %d %s", p, code, body)
		}
	}

	// A client certificate with only the serverAuth usage: the API
	// server's own serving certificate, signed by the right CA.
	serving, err := tls.LoadX509KeyPair(filepath.Join(s.dir, "pki/apiserver.crt"), filepath.Join(s.dir, "pki/apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := s.doWith(clientWithCert(t, s, serving), "GET", "/api/v1/namespaces", "", nil); code != 401 || body != unauthorizedBody {
		t.Errorf("serverAuth-only certificate: %d %s", code, body)
	}
	// A client certificate from another cluster's CA.
	other := startServer(t)
	if code, body := s.doWith(clientWithCert(t, s, other.clientCert("super-admin")), "GET", "/api/v1/namespaces", "", nil); code != 401 || body != unauthorizedBody {
		t.Errorf("certificate from an unknown CA: %d %s", code, body)
	}
	// The log reaches us through a pipe: wait for it.
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), "lacks the clientAuth extended key usage") &&
			strings.Contains(s.logs.String(), "signed by unknown authority")
	}) {
		t.Errorf("the server log does not explain the 401s:\n%s", s.logs.String())
	}

	// user01 has no binding: authenticated, then forbidden with Kubernetes'
	// exact message.
	user01 := clientWithCert(t, s, clientCertOf(t, s.userKubeconfig(t, "user01")))
	code, body := s.doWith(user01, "GET", "/api/v1/namespaces/kube-system/pods", "", nil)
	const forbidden = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"user01\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}`
	if code != 403 || body != forbidden {
		t.Errorf("403 body:\n got %d %s\nwant %s", code, body, forbidden)
	}
	code, body = s.doWith(user01, "GET", "/api/v1/namespaces/kube-system/secrets/token", "", nil)
	if code != 403 || !strings.Contains(body, `secrets \"token\" is forbidden: User \"user01\" cannot get resource \"secrets\" in API group \"\" in the namespace \"kube-system\"`) {
		t.Errorf("403 for a named object: %d %s", code, body)
	}
	code, body = s.doWith(user01, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "", nil)
	if code != 403 || !strings.Contains(body, `cannot list resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope`) {
		t.Errorf("403 at cluster scope: %d %s", code, body)
	}

	// Every response carries an Audit-Id, and the log ties it to the cause.
	resp, err := anon.Get(s.url("/api/v1/namespaces"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("Audit-Id")
	if id == "" || !waitFor(func() bool { return strings.Contains(s.logs.String(), "auditID="+id) }) {
		t.Errorf("Audit-Id %q not in the server log", id)
	}

	// Impersonation: super-admin (system:masters) may impersonate; user01
	// may not, and nothing is applied. The impersonated
	// users are put in system:masters so they may read their own identity.
	impersonate := func(c *http.Client, headers http.Header) (int, string) {
		return s.sendHeaders(t, c, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", `{}`, headers)
	}
	code, body = impersonate(s.client(true), map[string][]string{
		"Impersonate-User": {"jane"}, "Impersonate-Group": {"dev", "system:masters"}, "Impersonate-Uid": {"u-1"},
		"Impersonate-Extra-Scopes": {"view", "edit"}, "Impersonate-Extra-Acme.com%2Fproject": {"p1"},
	})
	for _, want := range []string{`"username":"jane"`, `"uid":"u-1"`, `"groups":["dev","system:masters","system:authenticated"]`, `"scopes":["view","edit"]`, `"acme.com/project":["p1"]`} {
		if code != 201 || !strings.Contains(body, want) {
			t.Errorf("impersonation by super-admin lacks %s: %d %s", want, code, body)
		}
	}
	code, body = impersonate(s.client(true), map[string][]string{"Impersonate-User": {"system:serviceaccount:kube-system:default"}, "Impersonate-Group": {"system:masters"}})
	if code != 201 || !strings.Contains(body, `"groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:masters","system:authenticated"]`) {
		t.Errorf("impersonating a service account: %d %s", code, body)
	}
	code, body = impersonate(user01, map[string][]string{"Impersonate-User": {"jane"}})
	if code != 403 || !strings.Contains(body, `users \"jane\" is forbidden: User \"user01\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope`) {
		t.Errorf("impersonation without permission: %d %s", code, body)
	}
	code, body = impersonate(s.client(true), map[string][]string{"Impersonate-Group": {"dev"}})
	if code != 400 {
		t.Errorf("groups without a user: %d %s", code, body)
	}
}

func clientWithCert(t *testing.T, s *server, cert tls.Certificate) *http.Client {
	t.Helper()
	pool := s.caPool(t)
	// Always present the certificate, even when the server's list of
	// acceptable CAs does not name its issuer: the server must refuse it.
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
	}}}
}

func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestTLSSettings checks that old TLS versions are refused and that the
// TLS flags are honoured.
func TestTLSSettings(t *testing.T) {
	s := startServer(t, "--tls-min-version", "VersionTLS13")
	pool := s.caPool(t)
	dial := func(max uint16) error {
		conn, err := tls.Dial("tcp", s.url("")[len("https://"):], &tls.Config{RootCAs: pool, MaxVersion: max, MinVersion: tls.VersionTLS10})
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(tls.VersionTLS12); err == nil {
		t.Error("TLS 1.2 accepted with --tls-min-version VersionTLS13")
	}
	if err := dial(tls.VersionTLS13); err != nil {
		t.Errorf("TLS 1.3 refused: %v", err)
	}

	// TLS 1.2 serves only AEAD suites by default; the CBC-SHA1 suites
	// that Go's own default adds come only when named.
	suite := func(s *server, id uint16) error {
		conn, err := tls.Dial("tcp", s.url("")[len("https://"):], &tls.Config{RootCAs: s.caPool(t), MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{id}})
		if err == nil {
			conn.Close()
		}
		return err
	}
	def := startServer(t)
	aead := 0
	for _, id := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305} {
		if suite(def, id) == nil { // one of each pair fits the serving key's type
			aead++
		}
	}
	if aead != 2 {
		t.Errorf("%d AEAD suites served over TLS 1.2 by default, want 2 (GCM and ChaCha20 for the key's type)", aead)
	}
	for _, id := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA} {
		if err := suite(def, id); err == nil {
			t.Errorf("the CBC-SHA1 suite %s is served by default", tls.CipherSuiteName(id))
		}
	}
	wide := startServer(t, "--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
	if suite(wide, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA) != nil && suite(wide, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA) != nil {
		t.Error("a CBC suite named in --tls-cipher-suites is not served")
	}

	for _, bad := range [][]string{
		{"--tls-min-version", "VersionTLS11"},
		{"--tls-cipher-suites", "TLS_RSA_WITH_RC4_128_SHA"},
		{"--tls-cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, // no suite HTTP/2 needs
		{"--bind-address", "nonsense"},
	} {
		r := sekisho(t, append([]string{"serve", "--tls-cert-file", filepath.Join(s.dir, "pki/apiserver.crt"),
			"--tls-private-key-file", filepath.Join(s.dir, "pki/apiserver.key"), "--storage-dir", t.TempDir()}, bad...)...)
		if r.code == 0 || !strings.Contains(r.stderr, bad[0]) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("serve %v: exit %d, %q", bad, r.code, r.stderr)
		}
	}
	if r := sekisho(t, "serve", "--storage-dir", t.TempDir()); r.code == 0 || !strings.Contains(r.stderr, "there is no insecure port") {
		t.Errorf("serve without TLS files: exit %d, %q", r.code, r.stderr)
	}
}
