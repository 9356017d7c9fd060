package x509

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/pki"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type fixture struct {
	ca, other *pki.CA
	pool      *x509.CertPool
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	mk := func(cn string) *pki.CA {
		key, _ := pki.ECDSAP256.GenerateKey()
		ca, err := pki.NewSelfSignedCA(cn, key, now, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	f := fixture{ca: mk("client-ca"), other: mk("other-ca")}
	f.pool = x509.NewCertPool()
	f.pool.AddCert(f.ca.Cert)
	return f
}

func issue(t testing.TB, ca *pki.CA, cn string, orgs []string, kind pki.Kind, validity time.Duration) *x509.Certificate {
	t.Helper()
	key, _ := pki.ECDSAP256.GenerateKey()
	c, err := ca.Issue(pki.Template{CommonName: cn, Organizations: orgs, Kind: kind}.ValidFor(now, validity), key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func authenticate(a *Authenticator, certs ...*x509.Certificate) (string, []string, bool, error) {
	r := httptest.NewRequest("GET", "/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: certs}
	u, ok, err := a.Authenticate(r)
	if u == nil {
		return "", nil, ok, err
	}
	return u.Name, u.Groups, ok, err
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	a := New(StaticPool{P: f.pool})
	a.Now = func() time.Time { return now }

	alice := issue(t, f.ca, "alice", []string{"dev", "ops"}, pki.KindClient, time.Hour)
	name, groups, ok, err := authenticate(a, alice)
	if !ok || err != nil || name != "alice" || !slices.Equal(groups, []string{"dev", "ops", "system:authenticated"}) {
		t.Fatalf("valid certificate: %s %v %v %v", name, groups, ok, err)
	}
	// The credential is named by the certificate's SHA-256, as in
	// Kubernetes (CSRs and audit events record it).
	r := httptest.NewRequest("GET", "/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}
	u, _, _ := a.Authenticate(r)
	if got, want := u.Extra[authn.ExtraCredentialID], fmt.Sprintf("X509SHA256=%x", sha256.Sum256(alice.Raw)); len(got) != 1 || got[0] != want {
		t.Errorf("credential id %v, want %s", got, want)
	}
	if _, _, ok, err := authenticate(a); ok || err != nil {
		t.Fatalf("no certificate must be 'not mine': %v %v", ok, err)
	}
	cases := map[string]struct {
		cert *x509.Certificate
		want string
	}{
		"unknown CA":        {issue(t, f.other, "mallory", nil, pki.KindClient, time.Hour), `signed by unknown authority (issuer CN="other-ca")`},
		"server usage":      {issue(t, f.ca, "svc", nil, pki.KindServer, time.Hour), "lacks the clientAuth extended key usage"},
		"expired":           {issue(t, f.ca, "old", nil, pki.KindClient, time.Minute), "expired at"},
		"empty common name": {issue(t, f.ca, "", nil, pki.KindClient, time.Hour), "empty CN"},
	}
	a.Now = func() time.Time { return now.Add(30 * time.Minute) }
	for name, c := range cases {
		_, _, ok, err := authenticate(a, c.cert)
		if ok || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ok=%v err=%v, want an error containing %q", name, ok, err, c.want)
		}
	}
}

// rotatingPool changes generation on demand.
type rotatingPool struct {
	p   *x509.CertPool
	gen uint64
}

func (r *rotatingPool) Pool() (*x509.CertPool, uint64) { return r.p, r.gen }

func TestCacheIsInvalidatedByExpiryAndPoolChange(t *testing.T) {
	f := newFixture(t)
	pool := &rotatingPool{p: f.pool, gen: 1}
	a := New(pool)
	clock := now
	a.Now = func() time.Time { return clock }
	cert := issue(t, f.ca, "bob", nil, pki.KindClient, time.Hour)
	if _, _, ok, _ := authenticate(a, cert); !ok {
		t.Fatal("first use failed")
	}
	clock = now.Add(2 * time.Hour)
	if _, _, ok, _ := authenticate(a, cert); ok {
		t.Fatal("a cached verification outlived the certificate")
	}
	clock = now
	if _, _, ok, _ := authenticate(a, cert); !ok {
		t.Fatal("re-verification failed")
	}
	// The CA is removed from the pool: the cached result must not be used.
	pool.p, pool.gen = x509.NewCertPool(), 2
	if _, _, ok, _ := authenticate(a, cert); ok {
		t.Fatal("a cached verification survived a CA pool change")
	}
}

// BenchmarkAuthenticate measures the per-request cost after the first
// verification of a certificate (the cached path) and of a full chain
// verification, for comparison.
func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b)
	cert := issue(b, f.ca, "alice", []string{"dev"}, pki.KindClient, time.Hour)
	r := httptest.NewRequest("GET", "/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	b.Run("cached", func(b *testing.B) {
		a := New(StaticPool{P: f.pool})
		a.Now = func() time.Time { return now }
		for b.Loop() {
			if _, ok, err := a.Authenticate(r); !ok || err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-with-CRL", func(b *testing.B) {
		crl := &CRL{CAs: func() []*x509.Certificate { return []*x509.Certificate{f.ca.Cert} }}
		other := issue(b, f.ca, "revoked", nil, pki.KindClient, time.Hour)
		pemCRL, _ := f.ca.Revoke(nil, other.SerialNumber, 1, now, now.Add(time.Hour))
		if err := crl.Load(pemCRL, true); err != nil {
			b.Fatal(err)
		}
		a := New(StaticPool{P: f.pool})
		a.Revocations = crl
		a.Now = func() time.Time { return now }
		for b.Loop() {
			if _, ok, err := a.Authenticate(r); !ok || err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full-verify", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := verify(cert, nil, f.pool, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestRevocation(t *testing.T) {
	f := newFixture(t)
	crl := &CRL{CAs: func() []*x509.Certificate { return []*x509.Certificate{f.ca.Cert} }}
	if err := crl.Load(nil, false); err != nil {
		t.Fatal(err)
	}
	a := New(StaticPool{P: f.pool})
	a.Revocations = crl
	a.Now = func() time.Time { return now }
	good := issue(t, f.ca, "good", nil, pki.KindClient, time.Hour)
	bad := issue(t, f.ca, "bad", nil, pki.KindClient, time.Hour)
	for _, c := range []*x509.Certificate{good, bad} {
		if _, _, ok, err := authenticate(a, c); !ok {
			t.Fatalf("before revocation: %v", err)
		}
	}
	pemCRL, err := f.ca.Revoke(nil, bad.SerialNumber, 1, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.Load(pemCRL, true); err != nil {
		t.Fatal(err)
	}
	// The verification of bad is cached; revocation must still apply.
	if _, _, ok, err := authenticate(a, bad); ok || err == nil || !strings.Contains(err.Error(), "is revoked (keyCompromise)") {
		t.Fatalf("revoked certificate: ok=%v err=%v", ok, err)
	}
	if _, _, ok, _ := authenticate(a, good); !ok {
		t.Fatal("a certificate that was not revoked stopped working")
	}
	// A CRL signed by another CA is refused, and the last good set stays.
	foreign, _ := f.other.Revoke(nil, good.SerialNumber, 0, now, now.Add(time.Hour))
	if err := crl.Load(foreign, true); err == nil || !strings.Contains(err.Error(), "not signed by a trusted client CA") {
		t.Fatalf("foreign CRL: %v", err)
	}
	if _, _, ok, _ := authenticate(a, bad); ok {
		t.Fatal("a rejected CRL reload un-revoked a certificate")
	}
	if err := crl.Load([]byte("garbage"), true); err == nil {
		t.Fatal("garbage CRL accepted")
	}
	// A second revocation extends the list.
	prev, _ := pki.ParseCRL(pemCRL)
	next, err := f.ca.Revoke(prev, good.SerialNumber, 4, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ca.Revoke(prev, bad.SerialNumber, 1, now, now.Add(time.Hour)); err == nil {
		t.Fatal("revoking a serial twice succeeded")
	}
	crl.Load(next, true)
	if crl.Len() != 2 {
		t.Fatalf("%d revoked, want 2", crl.Len())
	}
}
