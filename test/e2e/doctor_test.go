package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDoctor runs sekisho doctor against a healthy kubeconfig and against
// each kind of broken one, checking that it names the failure and its fix.
func TestDoctor(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	out := mustSekisho(t, "doctor", "--kubeconfig", s.kubeconfig())
	for _, want := range []string{"[ok] TLS", "[ok] client certificate issuer", `[ok] identity: the server knows you as "kubernetes-super-admin"`, "all checks passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("healthy kubeconfig lacks %q:\n%s", want, out)
		}
	}
	other := startServer(t)

	// A kubeconfig that reads its token from a file (tokenFile): a missing
	// file, an empty one, then a real service-account token.
	withFile := tokenKubeconfig(t, s)
	tokenPath := filepath.Join(t.TempDir(), "token")
	must(t, "kubectl", "--kubeconfig", withFile, "config", "set", "users.u.tokenFile", tokenPath)
	expectDoctor(t, withFile, "[FAIL] kubeconfig: open "+tokenPath+": no such file or directory")
	os.WriteFile(tokenPath, nil, 0o600)
	expectDoctor(t, withFile, "[FAIL] token: the token file "+tokenPath+" is empty")
	s.mustKubectl("create", "serviceaccount", "doc-reader")
	os.WriteFile(tokenPath, []byte(s.mustKubectl("create", "token", "doc-reader")), 0o600)
	out = mustSekisho(t, "doctor", "--kubeconfig", withFile)
	for _, want := range []string{`[ok] token: JWT for "system:serviceaccount:default:doc-reader"`, `[ok] identity: the server knows you as "system:serviceaccount:default:doc-reader"`} {
		if !strings.Contains(out, want) {
			t.Errorf("kubeconfig with tokenFile lacks %q:\n%s", want, out)
		}
	}

	// A kubeconfig whose CA is another cluster's.
	wrongCA := filepath.Join(t.TempDir(), "wrong-ca.conf")
	data, _ := os.ReadFile(s.kubeconfig())
	os.WriteFile(wrongCA, data, 0o600)
	must(t, "kubectl", "--kubeconfig", wrongCA, "config", "set-cluster", "kubernetes", "--certificate-authority", filepath.Join(other.dir, "pki/ca.crt"), "--embed-certs")
	expectDoctor(t, wrongCA, "[FAIL] TLS: the server's certificate (issued by \"kubernetes-ca\") is not trusted", "certificate-authority")

	// A client certificate of another cluster's CA.
	foreign := filepath.Join(t.TempDir(), "foreign.conf")
	data, _ = os.ReadFile(other.kubeconfig())
	os.WriteFile(foreign, data, 0o600)
	must(t, "kubectl", "--kubeconfig", foreign, "config", "set-cluster", "kubernetes", "--server", s.url(""), "--certificate-authority", filepath.Join(s.dir, "pki/ca.crt"), "--embed-certs")
	expectDoctor(t, foreign, "[warn] client certificate issuer", "may come from another cluster", "[FAIL] identity")

	// An expired certificate.
	short := filepath.Join(t.TempDir(), "short.conf")
	mustSekisho(t, "kubeconfig", "user", "--dir", s.dir, "--client-name", "brief", "--validity", "1s", "--out", short)
	time.Sleep(1500 * time.Millisecond)
	expectDoctor(t, short, "[FAIL] client certificate: CN=\"brief\"", "expired at")

	// A revoked certificate: everything looks fine until the server refuses it.
	revoked := s.userKubeconfig(t, "mallory")
	mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", revoked)
	waitFor(func() bool { // the server rereads the CRL every 500 ms
		return strings.Contains(sekisho(t, "doctor", "--kubeconfig", revoked).stdout, "401 Unauthorized")
	})
	expectDoctor(t, revoked, "[FAIL] identity: the server refused the credentials (401 Unauthorized)", "revoked")

	// Nothing listens.
	down := filepath.Join(t.TempDir(), "down.conf")
	data, _ = os.ReadFile(s.kubeconfig())
	os.WriteFile(down, data, 0o600)
	must(t, "kubectl", "--kubeconfig", down, "config", "set-cluster", "kubernetes", "--server", "https://127.0.0.1:1")
	expectDoctor(t, down, "[FAIL] connect:", "does not accept connections")
}

func expectDoctor(t *testing.T, kubeconfig string, wants ...string) {
	t.Helper()
	r := sekisho(t, "doctor", "--kubeconfig", kubeconfig)
	if r.code == 0 {
		t.Errorf("doctor passed with %s:\n%s", filepath.Base(kubeconfig), r.stdout)
	}
	for _, w := range wants {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("doctor output for %s lacks %q:\n%s", filepath.Base(kubeconfig), w, r.stdout)
		}
	}
}
