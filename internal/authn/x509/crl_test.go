package x509

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

// crlPEM signs a CRL of ca with the given number (nil for none) revoking
// serials.
func crlPEM(t *testing.T, ca *pki.CA, number *big.Int, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now, ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: number, ThisUpdate: now, NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// crlWithoutNumber signs a CRL of ca with no extensions at all, which Go
// refuses to create: the list is assembled and signed by hand.
func crlWithoutNumber(t *testing.T, ca *pki.CA) []byte {
	t.Helper()
	tbs := struct {
		Version    int
		Signature  pkix.AlgorithmIdentifier
		Issuer     asn1.RawValue
		ThisUpdate time.Time
		NextUpdate time.Time
	}{
		Version:    1,
		Signature:  pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, // ecdsa-with-SHA256
		Issuer:     asn1.RawValue{FullBytes: ca.Cert.RawSubject},
		ThisUpdate: now.UTC(),
		NextUpdate: now.Add(time.Hour).UTC(),
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(tbsDER)
	sig, err := ca.Key.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbsDER}, tbs.Signature, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseRevocationList(der); err != nil {
		t.Fatalf("the hand-made CRL does not parse: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// memStore is a RevocationStore in memory, merging on save as a shared
// store does.
type memStore struct {
	mu    sync.Mutex
	state RevocationState
	fail  error
	saves int
}

func (m *memStore) Load(context.Context) (RevocationState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.clone(), nil
}

func (m *memStore) Save(_ context.Context, s RevocationState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.saves++
	m.state.Merge(s)
	return nil
}

// TestCRLReplay: putting an older CRL back is refused and changes nothing;
// a newer CRL that leaves a serial out does not un-revoke it; both hold
// across a restart through the store.
func TestCRLReplay(t *testing.T) {
	f := newFixture(t)
	cas := func() []*x509.Certificate { return []*x509.Certificate{f.ca.Cert} }
	a := New(StaticPool{P: f.pool})
	a.Now = func() time.Time { return now }
	first := issue(t, f.ca, "first", nil, pki.KindClient, time.Hour)
	revokee := issue(t, f.ca, "revokee", nil, pki.KindClient, time.Hour)
	store := &memStore{}
	crl := &CRL{CAs: cas, Store: store}
	if err := crl.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Revocations = crl
	revoked := func(c *x509.Certificate) bool {
		_, _, ok, err := authenticate(a, c)
		if !ok && (err == nil || !strings.Contains(err.Error(), "is revoked")) {
			t.Fatalf("%s refused for another reason: %v", c.Subject.CommonName, err)
		}
		return !ok
	}

	old := crlPEM(t, f.ca, big.NewInt(5), first.SerialNumber)
	if err := crl.Load(old, true); err != nil {
		t.Fatal(err)
	}
	if err := crl.Load(crlPEM(t, f.ca, big.NewInt(6), first.SerialNumber, revokee.SerialNumber), true); err != nil {
		t.Fatal(err)
	}
	if !revoked(revokee) || !revoked(first) {
		t.Fatal("CRL 6 did not revoke both")
	}

	// The reported attack: the saved older CRL is put back.
	err := crl.Load(old, true)
	if !errors.Is(err, ErrStaleCRL) || !strings.Contains(err.Error(), "has number 5, below 6, the last accepted") {
		t.Fatalf("replayed CRL: %v", err)
	}
	if !revoked(revokee) {
		t.Fatal("replaying an older CRL un-revoked a certificate")
	}
	// The same list again (a touched file) is fine.
	if err := crl.Load(crlPEM(t, f.ca, big.NewInt(6), first.SerialNumber, revokee.SerialNumber), true); err != nil {
		t.Fatalf("reloading number 6: %v", err)
	}
	// A newer list that leaves a serial out does not un-revoke it.
	if err := crl.Load(crlPEM(t, f.ca, big.NewInt(7), first.SerialNumber), true); err != nil {
		t.Fatal(err)
	}
	if !revoked(revokee) {
		t.Fatal("a serial missing from a newer CRL was un-revoked")
	}
	// A deleted file (reload keeps contents) or an absent one at start
	// revokes nothing new and forgets nothing.
	if err := crl.Load(nil, false); err != nil || !revoked(revokee) {
		t.Fatalf("absent file: %v", err)
	}
	// A CRL without a number cannot be ordered: refused.
	if err := crl.Load(crlWithoutNumber(t, f.ca), true); err == nil || !strings.Contains(err.Error(), "has no CRL number") {
		t.Fatalf("CRL without a number: %v", err)
	}

	// After a restart, the persisted state is back before any file is read,
	// and the old CRL is still refused.
	restarted := &CRL{CAs: cas, Store: store}
	if err := restarted.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Revocations = restarted
	if !revoked(revokee) || !revoked(first) {
		t.Fatal("a restart forgot revocations")
	}
	if err := restarted.Load(old, true); !errors.Is(err, ErrStaleCRL) {
		t.Fatalf("replayed CRL after a restart: %v", err)
	}
	if revoked(issue(t, f.ca, "fresh", nil, pki.KindClient, time.Hour)) {
		t.Fatal("a certificate nobody revoked is refused")
	}
}

// TestCRLPersistFailure: when the state cannot be saved, the new CRL is
// still in force (revoking more is always safe) and the failure is not
// silent.
func TestCRLPersistFailure(t *testing.T) {
	f := newFixture(t)
	store := &memStore{fail: errors.New("disk full")}
	var logs strings.Builder
	crl := &CRL{CAs: func() []*x509.Certificate { return []*x509.Certificate{f.ca.Cert} }, Store: store, Log: testLogger(&logs)}
	c := issue(t, f.ca, "x", nil, pki.KindClient, time.Hour)
	if err := crl.Load(crlPEM(t, f.ca, big.NewInt(1), c.SerialNumber), true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := crl.Revoked(c); !ok {
		t.Fatal("the CRL is not in force")
	}
	if !strings.Contains(logs.String(), "could not be persisted") || !strings.Contains(logs.String(), "disk full") {
		t.Errorf("log: %s", logs.String())
	}
}

// TestRevocationStateMerge: merging keeps the higher number and the union
// of serials, whichever side has them.
func TestRevocationStateMerge(t *testing.T) {
	a := RevocationState{Issuers: map[string]*IssuerRevocations{"k": {Issuer: "ca", Number: "9", Revoked: map[string]string{"1": "keyCompromise"}}}}
	b := RevocationState{Issuers: map[string]*IssuerRevocations{
		"k": {Issuer: "ca", Number: "4", Revoked: map[string]string{"2": "superseded"}},
		"j": {Issuer: "other", Number: "12345678901234567890123", Revoked: map[string]string{"ff": "unspecified"}},
	}}
	a.Merge(b)
	if got := a.Issuers["k"]; got.Number != "9" || len(got.Revoked) != 2 {
		t.Errorf("k: %+v", got)
	}
	if got := a.Issuers["j"]; got.Number != "12345678901234567890123" || got.Revoked["ff"] != "unspecified" {
		t.Errorf("j: %+v", got)
	}
	b.Merge(a)
	if got := b.Issuers["k"]; got.Number != "9" || len(got.Revoked) != 2 {
		t.Errorf("merge back: %+v", got)
	}
}

func testLogger(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
