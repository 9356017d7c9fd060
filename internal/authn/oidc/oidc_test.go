package oidc

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sekisho/sekisho/internal/pki"
)

// issuer is a real HTTPS OpenID provider serving discovery and keys.
type issuer struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	jwksHits atomic.Int64
	// slow makes the key endpoint wait for release, like an issuer that
	// hangs.
	slow    atomic.Bool
	release chan struct{}
	unblock func()
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	k, err := pki.RSA2048.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: k.(*rsa.PrivateKey), kid: "key-1", release: make(chan struct{})}
	mux := http.NewServeMux()
	is.srv = httptest.NewTLSServer(mux)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		if is.slow.Load() {
			<-is.release
		}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	t.Cleanup(is.srv.Close)
	is.unblock = sync.OnceFunc(func() { close(is.release) })
	t.Cleanup(is.unblock) // runs first: frees a held handler
	return is
}

func (is *issuer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.srv.Certificate().Raw})
}

func (is *issuer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: is.key, KeyID: is.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func (is *issuer) claims(extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": is.srv.URL, "aud": "kubernetes", "sub": "user-123", "exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(), "nbf": now.Unix(), "email": "jane@example.com", "email_verified": true, "groups": []string{"dev", "ops"}}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestFlagsMode(t *testing.T) {
	is := newIssuer(t)
	ca := t.TempDir() + "/ca.crt"
	writeFile(t, ca, is.caPEM())
	issuers, err := FromFlags(Flags{IssuerURL: is.srv.URL, ClientID: "kubernetes", CAFile: ca, GroupsClaim: "groups", GroupsPrefix: "oidc:"})
	if err != nil {
		t.Fatal(err)
	}
	a := New(issuers)
	u, ok, err := a.AuthenticateToken(context.Background(), is.sign(t, is.claims(nil)))
	if !ok || err != nil {
		t.Fatal(err)
	}
	if u.Name != is.srv.URL+"#user-123" || !slices.Equal(u.Groups, []string{"oidc:dev", "oidc:ops", "system:authenticated"}) {
		t.Errorf("user %+v", u)
	}
	// The email claim: no default prefix, and email_verified must hold.
	issuers, _ = FromFlags(Flags{IssuerURL: is.srv.URL, ClientID: "kubernetes", CAFile: ca, UsernameClaim: "email"})
	a = New(issuers)
	if u, ok, _ := a.AuthenticateToken(context.Background(), is.sign(t, is.claims(nil))); !ok || u.Name != "jane@example.com" {
		t.Errorf("email user %+v", u)
	}
	if _, ok, err := a.AuthenticateToken(context.Background(), is.sign(t, is.claims(map[string]any{"email_verified": false}))); ok || !strings.Contains(fmt.Sprint(err), "email_verified") {
		t.Errorf("unverified email: %v %v", ok, err)
	}
	for _, bad := range []Flags{
		{IssuerURL: "http://insecure", ClientID: "k"},
		{IssuerURL: is.srv.URL},
		{IssuerURL: is.srv.URL, ClientID: "k", SigningAlgs: []string{"HS256"}},
		{IssuerURL: is.srv.URL, ClientID: "k", SigningAlgs: []string{"none"}},
	} {
		if _, err := FromFlags(bad); err == nil {
			t.Errorf("flags %+v accepted", bad)
		}
	}
}

func TestRejections(t *testing.T) {
	is := newIssuer(t)
	issuers, err := ParseConfig(config(is, ""))
	if err != nil {
		t.Fatal(err)
	}
	a := New(issuers)
	ctx := context.Background()
	expect := func(name, token, want string) {
		t.Helper()
		_, ok, err := a.AuthenticateToken(ctx, token)
		if ok || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: ok=%v err=%v, want %q", name, ok, err, want)
		}
	}
	now := time.Now()
	expect("wrong audience", is.sign(t, is.claims(map[string]any{"aud": "someone-else"})), "audience [someone-else]")
	expect("expired", is.sign(t, is.claims(map[string]any{"exp": now.Add(-time.Hour).Unix()})), "expired at")
	expect("no exp", is.sign(t, is.claims(map[string]any{"exp": nil})), "no exp claim")
	expect("nbf in the future", is.sign(t, is.claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), "not valid before")
	expect("iat in the future", is.sign(t, is.claims(map[string]any{"iat": now.Add(time.Hour).Unix()})), "issued in the future")
	// Within the skew, a slightly early nbf is fine.
	if _, ok, err := a.AuthenticateToken(ctx, is.sign(t, is.claims(map[string]any{"nbf": now.Add(20 * time.Second).Unix()}))); !ok {
		t.Errorf("nbf within the leeway: %v", err)
	}

	good := is.sign(t, is.claims(nil))
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	expect("alg none", none, "not accepted")
	der, _ := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: der}, nil)
	hsJWS, _ := hs.Sign([]byte(base64Decode(parts[1])))
	hsToken, _ := hsJWS.CompactSerialize()
	expect("HS256 keyed with the public key", hsToken, "not accepted")
	expect("tampered payload", parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(base64Decode(parts[1]), "user-123", "admin", 1)))+"."+parts[2], "signature does not verify")

	// Unknown key ids refetch the keys at most once per interval.
	other, _ := pki.RSA2048.GenerateKey()
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "forged"}}, nil)
	payload, _ := json.Marshal(is.claims(nil))
	before := is.jwksHits.Load()
	for range 20 {
		jws, _ := s.Sign(payload)
		tok, _ := jws.CompactSerialize()
		expect("unknown kid", tok, "unknown signing key id")
	}
	if hits := is.jwksHits.Load() - before; hits > 1 {
		t.Errorf("20 tokens with unknown key ids fetched the keys %d times", hits)
	}
	// A token from an issuer that is not configured is not ours.
	if _, ok, err := a.AuthenticateToken(ctx, strings.Replace(good, parts[1], base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://elsewhere"}`)), 1)); ok || err != nil {
		t.Errorf("foreign issuer: %v %v", ok, err)
	}
}

// TestKnownKeysDoNotWaitForAFetch: while an unknown key id has the keys
// fetched from an issuer that hangs, tokens signed with a known key are
// still answered, and other unknown key ids fail at once.
func TestKnownKeysDoNotWaitForAFetch(t *testing.T) {
	is := newIssuer(t)
	issuers, err := ParseConfig(config(is, ""))
	if err != nil {
		t.Fatal(err)
	}
	a := New(issuers)
	ctx := context.Background()
	if _, ok, err := a.AuthenticateToken(ctx, is.sign(t, is.claims(map[string]any{"jti": "1"}))); !ok {
		t.Fatal(err)
	}
	issuers[0].keys.minRefresh = 0
	is.slow.Store(true)
	other, _ := pki.RSA2048.GenerateKey()
	forge := func(kid string) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: kid}}, nil)
		payload, _ := json.Marshal(is.claims(nil))
		jws, _ := s.Sign(payload)
		tok, _ := jws.CompactSerialize()
		return tok
	}
	hits := is.jwksHits.Load()
	stuck := make(chan error, 1)
	go func() {
		_, _, err := a.AuthenticateToken(ctx, forge("rotated"))
		stuck <- err
	}()
	for is.jwksHits.Load() == hits { // the fetch has reached the issuer and hangs
		time.Sleep(time.Millisecond)
	}
	answered := make(chan error, 2)
	go func() {
		_, ok, err := a.AuthenticateToken(ctx, is.sign(t, is.claims(map[string]any{"jti": "2"})))
		if !ok && err == nil {
			err = errors.New("not authenticated")
		}
		answered <- err
		_, _, err = a.AuthenticateToken(ctx, forge("another"))
		answered <- err
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("a token with a known key: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a token with a known key waited for the hanging key fetch")
	}
	select {
	case err := <-answered:
		if err == nil || !strings.Contains(err.Error(), "being fetched") {
			t.Fatalf("a second unknown key id during the fetch: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second unknown key id waited for the hanging key fetch")
	}
	is.unblock()
	if err := <-stuck; err == nil || !strings.Contains(err.Error(), `unknown signing key id "rotated"`) {
		t.Fatalf("the token that fetched: %v", err)
	}
}

func base64Decode(s string) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return string(b)
}

// config renders an AuthenticationConfiguration for the issuer with the
// given claimMappings block (a default when empty).
func config(is *issuer, mappings string) []byte {
	if mappings == "" {
		mappings = `
    claimMappings:
      username:
        expression: '"oidc:" + claims.email'
      groups:
        expression: 'claims.groups.map(g, "oidc:" + g)'
      uid:
        claim: sub
      extra:
      - key: example.org/tenant
        valueExpression: 'has(claims.tenant) ? claims.tenant : "none"'
    claimValidationRules:
    - expression: 'claims.email_verified == true'
      message: the email must be verified
    userValidationRules:
    - expression: '!user.username.startsWith("oidc:system:")'
      message: user names may not look like system users`
	}
	ca := strings.ReplaceAll(string(is.caPEM()), "\n", "\n        ")
	return []byte(fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
  - issuer:
      url: %s
      audiences: [kubernetes, other]
      audienceMatchPolicy: MatchAny
      certificateAuthority: |
        %s
%s
`, is.srv.URL, ca, mappings))
}

func TestConfigMappingsAndRules(t *testing.T) {
	is := newIssuer(t)
	a := New(nil)
	if err := a.Load(config(is, ""), true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u, ok, err := a.AuthenticateToken(ctx, is.sign(t, is.claims(map[string]any{"tenant": "blue", "aud": []string{"other"}})))
	if !ok || err != nil {
		t.Fatal(err)
	}
	if u.Name != "oidc:jane@example.com" || u.UID != "user-123" || !slices.Equal(u.Groups, []string{"oidc:dev", "oidc:ops", "system:authenticated"}) ||
		!slices.Equal(u.Extra["example.org/tenant"], []string{"blue"}) {
		t.Errorf("user %+v", u)
	}
	if _, ok, err := a.AuthenticateToken(ctx, is.sign(t, is.claims(map[string]any{"email_verified": false}))); ok || !strings.Contains(fmt.Sprint(err), "the email must be verified") {
		t.Errorf("claim rule: %v %v", ok, err)
	}
	if _, ok, err := a.AuthenticateToken(ctx, is.sign(t, is.claims(map[string]any{"email": "system:admin"}))); ok || !strings.Contains(fmt.Sprint(err), "may not look like system users") {
		t.Errorf("user rule: %v %v", ok, err)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	is := newIssuer(t)
	cases := map[string]string{
		`
    claimMappings:
      username:
        claim: email`: "jwt[0].claimMappings.username.prefix: Required value",
		`
    claimMappings:
      username:
        expression: 'claims.email +'`: "jwt[0].claimMappings.username.expression: Invalid value",
		`
    claimMappings:
      username:
        claim: sub
        prefix: ""
      extra:
      - key: NoSlash
        valueExpression: '"x"'`: "jwt[0].claimMappings.extra[0].key",
		`
    bogusField: true`: `unknown field "jwt[0].bogusField"`,
	}
	for mappings, want := range cases {
		_, err := ParseConfig(config(is, mappings))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	if _, err := ParseConfig([]byte("apiVersion: v1\nkind: Pod\n")); err == nil {
		t.Error("wrong kind accepted")
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	is := newIssuer(b)
	issuers, _ := ParseConfig(config(is, ""))
	a := New(issuers)
	token := is.sign(b, is.claims(nil))
	ctx := context.Background()
	if _, ok, err := a.AuthenticateToken(ctx, token); !ok {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, ok, _ := a.AuthenticateToken(ctx, token); !ok {
			b.Fatal("not ok")
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
