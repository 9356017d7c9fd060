package e2e

import (
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sekisho/sekisho/internal/pki"
)

// oidcProvider is a real HTTPS OpenID provider that signs ID tokens.
type oidcProvider struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newOIDCProvider(t *testing.T) *oidcProvider {
	t.Helper()
	k, err := pki.RSA2048.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p := &oidcProvider{key: k.(*rsa.PrivateKey)}
	mux := http.NewServeMux()
	p.srv = httptest.NewTLSServer(mux)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	t.Cleanup(p.srv.Close)
	return p
}

func (p *oidcProvider) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{"iss": p.srv.URL, "aud": "kubernetes", "sub": "u-42", "email": "kim@example.com", "email_verified": true,
		"groups": []string{"system:masters", "eng"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.key, KeyID: "k1"}}, nil)
	payload, _ := json.Marshal(c)
	jws, _ := s.Sign(payload)
	out, _ := jws.CompactSerialize()
	return out
}

func (p *oidcProvider) config(prefix string) string {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	return fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: %s
    audiences: [kubernetes]
    certificateAuthority: |
      %s
  claimMappings:
    username:
      claim: email
      prefix: %q
    groups:
      claim: groups
      prefix: ""
`, p.srv.URL, strings.ReplaceAll(string(ca), "\n", "\n      "), prefix)
}

// TestOIDC authenticates kubectl --token with ID tokens from a real HTTPS
// issuer configured by an AuthenticationConfiguration, reloads that file,
// and refuses bad tokens.
func TestOIDC(t *testing.T) {
	requireTools(t, "kubectl")
	p := newOIDCProvider(t)
	cfg := filepath.Join(t.TempDir(), "authn.yaml")
	os.WriteFile(cfg, []byte(p.config("corp:")), 0o600)
	s := startServer(t, "--authentication-config", cfg)
	kc := tokenKubeconfig(t, s)

	out := s.kubectlAs(kc, "--token", p.token(t, nil), "auth", "whoami")
	if out.code != 0 || !strings.Contains(out.stdout, "corp:kim@example.com") || !strings.Contains(out.stdout, "eng") {
		t.Fatalf("whoami with an ID token: %+v", out)
	}
	// Reload: a new prefix applies without a restart; a broken file is refused.
	os.WriteFile(cfg, []byte(p.config("sso:")), 0o600)
	if !waitFor(func() bool {
		return strings.Contains(s.kubectlAs(kc, "--token", p.token(t, nil), "auth", "whoami").stdout, "sso:kim@example.com")
	}) {
		t.Error("the authentication configuration was not reloaded")
	}
	os.WriteFile(cfg, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer: {url: http://bad}\n"), 0o600)
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "jwt[0].issuer.url") }) {
		t.Error("a broken configuration was not reported")
	}
	if r := s.kubectlAs(kc, "--token", p.token(t, nil), "get", "ns"); r.code != 0 {
		t.Errorf("a broken reload dropped the last good configuration: %+v", r)
	}

	for name, tok := range map[string]string{
		"expired":        p.token(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
		"wrong audience": p.token(t, map[string]any{"aud": "other-app"}),
		"nbf in future":  p.token(t, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}),
	} {
		if r := s.kubectlAs(kc, "--token", tok, "get", "ns"); r.code == 0 || !strings.Contains(r.stderr, "Unauthorized") {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), "audience [other-app] does not include any of [kubernetes]")
	}) {
		t.Error("the log does not explain the audience mismatch")
	}
}
