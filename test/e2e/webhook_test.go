package e2e

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// webhookKubeconfig writes a kubeconfig pointing at an httptest TLS server.
func webhookKubeconfig(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(caFile, ca, 0o644)
	path := filepath.Join(t.TempDir(), "webhook.conf")
	for _, args := range [][]string{
		{"config", "set-cluster", "webhook", "--server", srv.URL, "--certificate-authority", caFile, "--embed-certs"},
		{"config", "set-credentials", "apiserver"},
		{"config", "set-context", "webhook", "--cluster", "webhook", "--user", "apiserver"},
		{"config", "use-context", "webhook"},
	} {
		must(t, "kubectl", append([]string{"--kubeconfig", path}, args...)...)
	}
	return path
}

// TestTokenWebhook authenticates tokens through a real HTTPS TokenReview
// webhook, caches its answers, and refuses tokens when it fails.
func TestTokenWebhook(t *testing.T) {
	requireTools(t, "kubectl")
	var calls atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var review struct {
			APIVersion string
			Kind       string
			Spec       struct{ Token string }
		}
		json.NewDecoder(r.Body).Decode(&review)
		if review.APIVersion != "authentication.k8s.io/v1" || review.Kind != "TokenReview" {
			http.Error(w, "bad review", 400)
			return
		}
		switch review.Spec.Token {
		case "webhook-good":
			w.Write([]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":true,
				"user":{"username":"hook-user","uid":"h-1","groups":["system:masters","hooked"],"extra":{"idp":["corp"]}}}}`))
		case "webhook-configmap":
			// The attack run's answer: another kind with the same fields.
			w.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap","status":{"authenticated":true,"user":{"username":"evil","groups":["system:masters"]}}}`))
		case "webhook-v1beta1":
			w.Write([]byte(`{"apiVersion":"authentication.k8s.io/v1beta1","kind":"TokenReview","status":{"authenticated":true,"user":{"username":"evil","groups":["system:masters"]}}}`))
		case "webhook-broken":
			http.Error(w, "boom", 500)
		case "webhook-slow":
			time.Sleep(8 * time.Second)
		default:
			w.Write([]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":false}}`))
		}
	}))
	defer srv.Close()
	s := startServer(t, "--authentication-token-webhook-config-file", webhookKubeconfig(t, srv))
	tokenKC := tokenKubeconfig(t, s)

	out := s.kubectlAs(tokenKC, "--token", "webhook-good", "auth", "whoami")
	for _, want := range []string{"hook-user", "h-1", "hooked", "idp"} {
		if out.code != 0 || !strings.Contains(out.stdout, want) {
			t.Errorf("whoami through the webhook lacks %s: %+v", want, out)
		}
	}
	before := calls.Load()
	for range 3 {
		s.kubectlAs(tokenKC, "--token", "webhook-good", "get", "ns")
	}
	if calls.Load() != before {
		t.Errorf("cached answers were not used: %d more webhook calls", calls.Load()-before)
	}
	if r := s.kubectlAs(tokenKC, "--token", "webhook-unknown", "get", "ns"); r.code == 0 || !strings.Contains(r.stderr, "Unauthorized") {
		t.Errorf("token the webhook rejects: %+v", r)
	}
	// An answer that is not the TokenReview asked for authenticates nobody.
	for _, tok := range []string{"webhook-configmap", "webhook-v1beta1"} {
		if r := s.kubectlAs(tokenKC, "--token", tok, "auth", "whoami"); r.code == 0 || !strings.Contains(r.stderr, "Unauthorized") {
			t.Errorf("%s: an answer of the wrong type authenticated: %+v", tok, r)
		}
	}
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), `the answer is apiVersion \"v1\" kind \"ConfigMap\", not authentication.k8s.io/v1 TokenReview`)
	}) {
		t.Errorf("the log does not explain the wrong answer:\n%s", s.logs.String())
	}
	before = calls.Load()
	start := time.Now()
	if r := s.kubectlAs(tokenKC, "--token", "webhook-broken", "get", "ns"); r.code == 0 || !strings.Contains(r.stderr, "Unauthorized") {
		t.Errorf("webhook failure let a token through: %+v", r)
	}
	if n := calls.Load() - before; n < 3 {
		t.Errorf("a failing webhook was asked %d times, want retries", n)
	}
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "answered 500") }) {
		t.Error("the log does not explain the webhook failure")
	}
	if r := s.kubectlAs(tokenKC, "--token", "webhook-slow", "--request-timeout", "60s", "get", "ns"); r.code == 0 {
		t.Errorf("a timed-out webhook let a token through: %+v", r)
	}
	t.Logf("failure handling took %s", time.Since(start).Round(time.Millisecond))
}
