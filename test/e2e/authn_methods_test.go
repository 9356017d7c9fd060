package e2e

import (
	"crypto/tls"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// userKubeconfig issues a client certificate kubeconfig for name with sekisho itself.
func (s *server) userKubeconfig(t *testing.T, name string, orgs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".conf")
	args := []string{"kubeconfig", "user", "--dir", s.dir, "--client-name", name, "--out", path}
	for _, o := range orgs {
		args = append(args, "--org", o)
		if o == "system:masters" {
			args = append(args, "--allow-system-masters")
		}
	}
	mustSekisho(t, args...)
	return path
}

// TestCertificateRevocation revokes a certificate whose connection is
// open and checks that its next request is refused within 2 seconds.
func TestCertificateRevocation(t *testing.T) {
	s := startServer(t)
	kc := s.userKubeconfig(t, "alice", "system:masters")
	cert := clientCertOf(t, kc)
	c := clientWithCert(t, s, cert)
	if code, body := s.doWith(c, "GET", "/api/v1/namespaces", "", nil); code != 200 {
		t.Fatalf("before revocation: %d %s", code, body)
	}
	out := mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", kc, "--reason", "keyCompromise")
	if !strings.Contains(out, "revoked serial") {
		t.Fatalf("revoke: %s", out)
	}
	revokedAt := time.Now()
	for {
		code, _ := s.doWith(c, "GET", "/api/v1/namespaces", "", nil) // same keep-alive connection
		if code == 401 {
			break
		}
		if time.Since(revokedAt) > 2*time.Second {
			t.Fatalf("revoked certificate still accepted after %s", time.Since(revokedAt))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revocation took effect after %s", time.Since(revokedAt).Round(time.Millisecond))
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "is revoked (keyCompromise)") }) {
		t.Error("the log does not say the certificate was revoked")
	}
	// Other certificates keep working; revoking twice is refused.
	if code, _ := s.do("GET", "/api/v1/namespaces", "", nil); code != 200 {
		t.Errorf("super-admin refused after revoking alice: %d", code)
	}
	if r := sekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", kc); r.code == 0 || !strings.Contains(r.stderr, "already revoked") {
		t.Errorf("second revocation: %+v", r)
	}
	if r := sekisho(t, "certs", "revoke", "--dir", s.dir, "--serial", "not-hex"); r.code == 0 || !strings.Contains(r.stderr, "--serial") {
		t.Errorf("bad serial: %+v", r)
	}
}

// TestClientCAReload adds a CA to --client-ca-file while the server runs.
func TestClientCAReload(t *testing.T) {
	other := startServer(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "client-ca.crt")
	first := startServer(t)
	caPEM, _ := os.ReadFile(filepath.Join(first.dir, "pki/ca.crt"))
	os.WriteFile(bundle, caPEM, 0o644)
	first.stop()

	s := &server{t: t, dir: first.dir, port: first.port, cache: t.TempDir(), extra: []string{"--client-ca-file", bundle}}
	s.start()
	t.Cleanup(s.stop)
	foreign := clientWithCert(t, s, other.clientCert("super-admin"))
	if code, _ := s.doWith(foreign, "GET", "/api/v1/namespaces", "", nil); code != 401 {
		t.Fatalf("certificate of an untrusted CA: %d", code)
	}
	otherCA, _ := os.ReadFile(filepath.Join(other.dir, "pki/ca.crt"))
	os.WriteFile(bundle, append(caPEM, otherCA...), 0o644)
	if !waitFor(func() bool {
		code, _ := s.doWith(clientWithCert(t, s, other.clientCert("super-admin")), "GET", "/api/v1/namespaces", "", nil)
		return code == 200
	}) {
		t.Fatal("a CA added to --client-ca-file was not picked up")
	}
	// A broken bundle is refused and the last good one stays.
	os.WriteFile(bundle, []byte("not a certificate"), 0o644)
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "reload failed; keeping the last good contents") }) {
		t.Error("a broken bundle was not reported")
	}
	if code, _ := s.do("GET", "/api/v1/namespaces", "", nil); code != 200 {
		t.Errorf("a broken bundle locked out the original CA: %d", code)
	}
}

// TestStaticTokenFile authenticates kubectl --token against
// --token-auth-file, reloads it, and refuses a bad file at start.
func TestStaticTokenFile(t *testing.T) {
	requireTools(t, "kubectl")
	file := filepath.Join(t.TempDir(), "tokens.csv")
	os.WriteFile(file, []byte("first-token-0123456789,ops,1001,\"system:masters,ops\"\n"), 0o600)
	s := startServer(t, "--token-auth-file", file)
	tokenKC := tokenKubeconfig(t, s)
	if r := s.kubectlAs(tokenKC, "--token", "first-token-0123456789", "get", "ns", "-o", "name"); r.code != 0 || !strings.Contains(r.stdout, "namespace/default") {
		t.Fatalf("kubectl --token: %+v", r)
	}
	if r := s.kubectlAs(tokenKC, "--token", "wrong-token", "get", "ns"); r.code == 0 || !strings.Contains(r.stderr, "Unauthorized") {
		t.Errorf("wrong token: %+v", r)
	}
	// Replace the token: the old one stops, the new one works, without a restart.
	os.WriteFile(file, []byte("second-token-987654321,ops,1001,system:masters\n"), 0o600)
	if !waitFor(func() bool {
		return s.kubectlAs(tokenKC, "--token", "second-token-987654321", "get", "ns").code == 0 &&
			s.kubectlAs(tokenKC, "--token", "first-token-0123456789", "get", "ns").code != 0
	}) {
		t.Fatal("the token file was not reloaded")
	}
	// A bad reload keeps the last good tokens and says why.
	os.WriteFile(file, []byte("a,b\n"), 0o600)
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "line 1: want at least 3 columns") }) {
		t.Error("a bad token file was not reported")
	}
	if r := s.kubectlAs(tokenKC, "--token", "second-token-987654321", "get", "ns"); r.code != 0 {
		t.Errorf("a bad reload dropped the good tokens: %+v", r)
	}
	// A bad file at start stops the server, naming the line.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("ok,user,1\ndup,a,1\ndup,b,2\n"), 0o600)
	r := sekisho(t, "up", "--data-dir", t.TempDir(), "--secure-port", "1", "--token-auth-file", bad)
	if r.code == 0 || !strings.Contains(r.stderr, "line 3: duplicate token, first seen on line 2") {
		t.Errorf("bad token file at start: %+v", r)
	}
}

// tokenKubeconfig is a kubeconfig with the cluster and no user credentials.
func tokenKubeconfig(t *testing.T, s *server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token.conf")
	ca := filepath.Join(s.dir, "pki/ca.crt")
	for _, args := range [][]string{
		{"config", "set-cluster", "c", "--server", s.url(""), "--certificate-authority", ca, "--embed-certs"},
		{"config", "set-credentials", "u"},
		{"config", "set-context", "ctx", "--cluster", "c", "--user", "u"},
		{"config", "use-context", "ctx"},
	} {
		must(t, "kubectl", append([]string{"--kubeconfig", path}, args...)...)
	}
	return path
}

// TestAnonymous checks --anonymous-auth: no credentials become
// system:anonymous (and are then forbidden), invalid credentials stay 401.
func TestAnonymous(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.csv")
	os.WriteFile(file, []byte("known,bob,1\n"), 0o600)
	s := startServer(t, "--anonymous-auth", "--token-auth-file", file)
	anon := s.anonClient()
	code, body := s.doWith(anon, "GET", "/api/v1/namespaces", "", nil)
	if code != 403 || !strings.Contains(body, `User \"system:anonymous\" cannot list resource \"namespaces\"`) {
		t.Errorf("anonymous: %d %s", code, body)
	}
	req := mustRequest(t, "GET", s.url("/api/v1/namespaces"), nil)
	req.Header.Set("Authorization", "Bearer unknown-token")
	resp, err := anon.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("invalid token with anonymous on: %d", resp.StatusCode)
	}
	if code, _ := s.doWith(anon, "GET", "/readyz", "", nil); code != 200 {
		t.Errorf("readyz: %d", code)
	}

	// The anonymous user is in system:unauthenticated (and not in
	// system:authenticated): a role bound to that group applies to it.
	whoami := func() (int, string) {
		return s.doWith(anon, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
			strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	}
	if code, body := whoami(); code != 403 || !strings.Contains(body, `User \"system:anonymous\" cannot create resource \"selfsubjectreviews\"`) {
		t.Errorf("anonymous SelfSubjectReview before any binding: %d %s", code, body)
	}
	for _, o := range []struct{ path, obj string }{
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"whoami"},
			"rules":[{"apiGroups":["authentication.k8s.io"],"resources":["selfsubjectreviews"],"verbs":["create"]}]}`},
		{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"whoami-unauthenticated"},
			"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"whoami"},
			"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"system:unauthenticated"}]}`},
	} {
		if code, body := s.do("POST", o.path, "application/json", strings.NewReader(o.obj)); code != 201 {
			t.Fatalf("POST %s: %d %s", o.path, code, body)
		}
	}
	if !waitFor(func() bool { code, body = whoami(); return code == 201 }) {
		t.Fatalf("anonymous SelfSubjectReview allowed to system:unauthenticated: %d %s", code, body)
	}
	if !strings.Contains(body, `"userInfo":{"username":"system:anonymous","groups":["system:unauthenticated"]}`) {
		t.Errorf("anonymous identity: %s", body)
	}
}

func clientCertOf(t *testing.T, kubeconfigPath string) tls.Certificate {
	t.Helper()
	kc, err := kubeconfig.LoadFile(kubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(kc.CertPEM, kc.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
