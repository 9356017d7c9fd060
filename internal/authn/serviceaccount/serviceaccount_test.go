package serviceaccount

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/pki"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type fakeLookup struct {
	sas, pods, nodes, secrets map[string]string
	tokens                    map[string][]byte
}

func (f *fakeLookup) ServiceAccountUID(ns, n string) (string, bool) {
	u, ok := f.sas[ns+"/"+n]
	return u, ok
}
func (f *fakeLookup) PodUID(ns, n string) (string, bool) { u, ok := f.pods[ns+"/"+n]; return u, ok }
func (f *fakeLookup) NodeUID(n string) (string, bool)    { u, ok := f.nodes[n]; return u, ok }
func (f *fakeLookup) SecretUID(ns, n string) (string, bool) {
	u, ok := f.secrets[ns+"/"+n]
	return u, ok
}
func (f *fakeLookup) SecretToken(ns, n string) ([]byte, bool) {
	t, ok := f.tokens[ns+"/"+n]
	return t, ok
}

const issuer = "https://kubernetes.default.svc.cluster.local"

func setup(t testing.TB, kt pki.KeyType) (*Signer, *Authenticator, *fakeLookup) {
	t.Helper()
	key, err := kt.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return now }
	l := &fakeLookup{
		sas:     map[string]string{"team/builder": "sa-uid"},
		pods:    map[string]string{"team/web": "pod-uid"},
		nodes:   map[string]string{"node-1": "node-uid"},
		secrets: map[string]string{"team/bound": "secret-uid"},
		tokens:  map[string][]byte{},
	}
	a := &Authenticator{Keys: []crypto.PublicKey{key.Public()}, Issuers: []string{issuer}, Audiences: []string{issuer, "vault"},
		Lookup: l, LegacyLookup: true, Legacy: true, Now: func() time.Time { return now }}
	return s, a, l
}

func request(bound *BoundObject) Request {
	return Request{Namespace: "team", ServiceAccount: "builder", ServiceAccountUID: "sa-uid", Audiences: []string{issuer},
		Expiration: time.Hour, Bound: bound}
}

func TestIssueAndAuthenticate(t *testing.T) {
	for _, kt := range []pki.KeyType{pki.ECDSAP256, pki.RSA2048} {
		s, a, _ := setup(t, kt)
		token, exp, err := s.Issue(request(&BoundObject{Kind: "Pod", Name: "web", UID: "pod-uid"}))
		if err != nil {
			t.Fatal(err)
		}
		if !exp.Equal(now.Add(time.Hour)) {
			t.Errorf("expiry %s", exp)
		}
		u, ok, err := a.AuthenticateToken(context.Background(), token)
		if !ok || err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if u.Name != "system:serviceaccount:team:builder" || u.UID != "sa-uid" ||
			!slices.Equal(u.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"}) ||
			u.Extra[ExtraPodName][0] != "web" || u.Extra[ExtraPodUID][0] != "pod-uid" || !strings.HasPrefix(u.Extra[ExtraCredentialID][0], "JTI=") {
			t.Errorf("%s: user %+v", kt, u)
		}
	}
}

func TestRejections(t *testing.T) {
	s, a, l := setup(t, pki.ECDSAP256)
	ctx := context.Background()
	good, _, _ := s.Issue(request(&BoundObject{Kind: "Pod", Name: "web", UID: "pod-uid"}))

	expect := func(name, token, want string) {
		t.Helper()
		_, ok, err := a.AuthenticateToken(ctx, token)
		if ok || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: ok=%v err=%v, want %q", name, ok, err, want)
		}
	}
	// Expiry, with the leeway.
	a.Now = func() time.Time { return now.Add(time.Hour + 30*time.Second) }
	if _, ok, _ := a.AuthenticateToken(ctx, good); !ok {
		t.Error("a token within the leeway after expiry was refused")
	}
	a.Now = func() time.Time { return now.Add(2 * time.Hour) }
	expect("expired", good, "expired at")
	a.Now = func() time.Time { return now }

	// Audience.
	r := request(nil)
	r.Audiences = []string{"someone-else"}
	wrongAud, _, _ := s.Issue(r)
	expect("wrong audience", wrongAud, "audience [someone-else] does not include")

	// Bound pod deleted, then recreated with another UID. These checks do
	// not depend on --service-account-lookup, which governs legacy tokens.
	a.LegacyLookup = false
	delete(l.pods, "team/web")
	expect("bound pod deleted", good, "bound pod web has been deleted")
	l.pods["team/web"] = "other-uid"
	expect("bound pod replaced", good, "bound pod web was replaced")
	l.pods["team/web"] = "pod-uid"
	delete(l.sas, "team/builder")
	expect("service account deleted", good, "service account no longer exists")
	l.sas["team/builder"] = "sa-uid"

	// Another key with the same issuer, an unknown kid, alg none, and HS256
	// keyed with the public key.
	otherKey, _ := pki.ECDSAP256.GenerateKey()
	other, _ := NewSigner(issuer, otherKey)
	forged, _, _ := other.Issue(request(nil))
	expect("unknown key", forged, "unknown signing key id")
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	expect("alg none", none, "malformed or unsupported JWT")
	pubDER, _ := x509.MarshalPKIXPublicKey(a.Keys[0].(*ecdsa.PublicKey))
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubDER}, nil)
	hsToken, _ := jwt.Signed(hs).Claims(jwt.Claims{Issuer: issuer, Subject: "system:serviceaccount:team:builder", Audience: jwt.Audience{issuer},
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).Serialize()
	expect("HS256 with the public key", hsToken, "malformed or unsupported JWT")

	// A token from another issuer is not ours: no error, so OIDC can try.
	foreign, _ := NewSigner("https://accounts.example.com", otherKey)
	ft, _, _ := foreign.Issue(request(nil))
	if _, ok, err := a.AuthenticateToken(ctx, ft); ok || err != nil {
		t.Errorf("foreign issuer must be not-mine: %v %v", ok, err)
	}
	if _, ok, err := a.AuthenticateToken(ctx, "not-a-jwt"); ok || err != nil {
		t.Errorf("opaque token must be not-mine: %v %v", ok, err)
	}
}

func TestLegacyTokens(t *testing.T) {
	s, a, l := setup(t, pki.ECDSAP256)
	token, err := s.IssueLegacy("team", "builder", "sa-uid", "builder-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := a.AuthenticateToken(context.Background(), token); ok || err == nil {
		t.Fatal("legacy token accepted without its Secret")
	}
	l.tokens["team/builder-token"] = []byte(token)
	if u, ok, err := a.AuthenticateToken(context.Background(), token); !ok || err != nil || u.Name != "system:serviceaccount:team:builder" {
		t.Fatalf("legacy token: %v %v", u, err)
	}
	l.tokens["team/builder-token"] = []byte("rotated")
	if _, ok, _ := a.AuthenticateToken(context.Background(), token); ok {
		t.Fatal("legacy token accepted after its Secret changed")
	}
	// --service-account-lookup=false: a legacy token is trusted on its
	// signature alone, as in Kubernetes.
	a.LegacyLookup = false
	if _, ok, err := a.AuthenticateToken(context.Background(), token); !ok || err != nil {
		t.Fatalf("legacy token refused with lookup off: %v", err)
	}
	a.Legacy = false
	if _, ok, err := a.AuthenticateToken(context.Background(), token); ok || err != nil {
		t.Fatal("legacy token not ignored with legacy tokens off")
	}
}

func BenchmarkAuthenticateToken(b *testing.B) {
	s, a, _ := setup(b, pki.ECDSAP256)
	token, _, _ := s.Issue(request(&BoundObject{Kind: "Pod", Name: "web", UID: "pod-uid"}))
	ctx := context.Background()
	b.Run("cached", func(b *testing.B) {
		a.AuthenticateToken(ctx, token)
		for b.Loop() {
			if _, ok, err := a.AuthenticateToken(ctx, token); !ok {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached-ES256", func(b *testing.B) {
		for b.Loop() {
			a.mu.Lock()
			clear(a.cache)
			a.mu.Unlock()
			if _, ok, err := a.AuthenticateToken(ctx, token); !ok {
				b.Fatal(err)
			}
		}
	})
}

// TestStaleTokenAnnotated: a token used after its warnafter works, and
// its request's audit event says so, as kube-apiserver's does.
func TestStaleTokenAnnotated(t *testing.T) {
	s, a, _ := setup(t, pki.ECDSAP256)
	r := request(&BoundObject{Kind: "Pod", Name: "web", UID: "pod-uid"})
	r.WarnAfter = time.Minute
	token, _, err := s.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after time.Duration
		want  string
	}{
		{30 * time.Second, ""},
		{3 * time.Minute, "subject: system:serviceaccount:team:builder, seconds after warning threshold: 120"},
	} {
		a.Now = func() time.Time { return now.Add(c.after) }
		ctx, ann := audit.WithAnnotations(context.Background())
		if _, ok, err := a.AuthenticateToken(ctx, token); !ok || err != nil {
			t.Fatalf("after %s: %v", c.after, err)
		}
		if got := ann.Map()[AnnotationStaleToken]; got != c.want {
			t.Errorf("after %s: %q, want %q", c.after, got, c.want)
		}
	}
}

// TestKeyRotation swaps the signing key and the verifying keys as a
// reload does: tokens of both keys verify during the overlap, a cached
// token of a removed key stops verifying at once, and new tokens carry
// the new key's id.
func TestKeyRotation(t *testing.T) {
	s, a, _ := setup(t, pki.ECDSAP256)
	ctx := context.Background()
	oldKey := s.Key()
	oldToken, _, err := s.Issue(request(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := a.AuthenticateToken(ctx, oldToken); !ok || err != nil {
		t.Fatalf("old token before rotation: %v", err)
	}

	newKey, err := pki.RSA2048.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a.SetKeys([]crypto.PublicKey{oldKey.Public(), newKey.Public()})
	if err := s.SetKey(newKey); err != nil {
		t.Fatal(err)
	}
	if s.Algorithm() != "RS256" {
		t.Errorf("algorithm after rotation: %s", s.Algorithm())
	}
	newToken, _, err := s.Issue(request(nil))
	if err != nil {
		t.Fatal(err)
	}
	newKID, _ := KeyID(newKey.Public())
	if kid := headerKeyID(t, newToken); kid != newKID {
		t.Errorf("new token's kid %q, want %q", kid, newKID)
	}
	for name, tok := range map[string]string{"old": oldToken, "new": newToken} {
		if _, ok, err := a.AuthenticateToken(ctx, tok); !ok || err != nil {
			t.Errorf("%s token during the overlap: %v", name, err)
		}
	}

	a.SetKeys([]crypto.PublicKey{newKey.Public()})
	if _, ok, err := a.AuthenticateToken(ctx, oldToken); ok || err == nil || !strings.Contains(err.Error(), "unknown signing key id") {
		t.Errorf("old token after its key was removed: ok=%v err=%v", ok, err)
	}
	if _, ok, err := a.AuthenticateToken(ctx, newToken); !ok || err != nil {
		t.Errorf("new token after the old key was removed: %v", err)
	}

	// A key the signer cannot use is refused and the one in force stays.
	if err := s.SetKey(ed25519Key(t)); err == nil {
		t.Error("an Ed25519 signing key was accepted")
	}
	if s.Key() != newKey {
		t.Error("a refused key replaced the one in force")
	}
}

func headerKeyID(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, signatureAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func ed25519Key(t *testing.T) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
