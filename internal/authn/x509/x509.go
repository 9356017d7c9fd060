// Package x509 authenticates requests by their TLS client certificate: the
// certificate must chain to a trusted client CA and carry the clientAuth
// usage. The subject's CN is the user name and each O a group.
package x509

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/authn"
)

// CAPool supplies the trusted client CAs. Generation changes whenever the
// pool does, which invalidates cached verifications.
type CAPool interface {
	Pool() (pool *x509.CertPool, generation uint64)
}

// StaticPool is a CAPool that never changes.
type StaticPool struct{ P *x509.CertPool }

// Pool implements CAPool.
func (s StaticPool) Pool() (*x509.CertPool, uint64) { return s.P, 1 }

// Authenticator verifies client certificates. Verifying a chain costs tens
// of microseconds, so a successful verification is cached, keyed by the
// certificate's full DER bytes, until the certificate (or its chain) expires
// or the CA pool changes.
type Authenticator struct {
	CAs CAPool
	// Revocations, when set, is consulted on every request, cached or not,
	// so a revoked certificate stops working on connections already open.
	Revocations Revocations
	// Usage, when set, records which CA issued each accepted certificate.
	Usage *IssuerUsage
	Now   func() time.Time

	mu    sync.RWMutex
	cache map[string]cached
}

type cached struct {
	user       *authn.User
	generation uint64
	notAfter   time.Time
	chainKey   string // the intermediates presented, which must not change
}

const maxCache = 4096

var _ authn.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator trusting the CAs from pool.
func New(pool CAPool) *Authenticator {
	return &Authenticator{CAs: pool, Now: time.Now, cache: map[string]cached{}}
}

// Authenticate implements authn.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*authn.User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	chain := r.TLS.PeerCertificates[1:]
	now := a.Now()
	pool, gen := a.CAs.Pool()

	if err := a.checkRevoked(r.TLS.PeerCertificates); err != nil {
		return nil, false, err
	}
	a.mu.RLock()
	c, hit := a.cache[string(leaf.Raw)]
	a.mu.RUnlock()
	if hit && c.generation == gen && now.Before(c.notAfter) && c.chainKey == chainKey(chain) {
		a.Usage.record(leaf, c.user.Name, now)
		return c.user, true, nil
	}

	user, notAfter, err := verify(leaf, chain, pool, now)
	if err != nil {
		return nil, false, err
	}
	a.mu.Lock()
	if len(a.cache) >= maxCache {
		clear(a.cache)
	}
	a.cache[string(leaf.Raw)] = cached{user: user, generation: gen, notAfter: notAfter, chainKey: chainKey(chain)}
	a.mu.Unlock()
	a.Usage.record(leaf, user.Name, now)
	return user, true, nil
}

func (a *Authenticator) checkRevoked(certs []*x509.Certificate) error {
	if a.Revocations == nil {
		return nil
	}
	for _, c := range certs {
		if revoked, reason := a.Revocations.Revoked(c); revoked {
			return fail(authn.ReasonCertificateRevoked, "certificate CN=%q serial %X is revoked (%s)", c.Subject.CommonName, c.SerialNumber, reason)
		}
	}
	return nil
}

func chainKey(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return ""
	}
	n := 0
	for _, c := range chain {
		n += len(c.Raw)
	}
	b := make([]byte, 0, n)
	for _, c := range chain {
		b = append(b, c.Raw...)
	}
	return string(b)
}

// verify checks leaf and returns its user and the time the verification
// stops being valid: the earliest NotAfter along the verified chain.
func verify(leaf *x509.Certificate, intermediates []*x509.Certificate, pool *x509.CertPool, now time.Time) (*authn.User, time.Time, error) {
	subject := fmt.Sprintf("CN=%q", leaf.Subject.CommonName)
	if pool == nil {
		return nil, time.Time{}, fail(authn.ReasonClientCertificatesOff, "no client CA configured; cannot verify certificate %s", subject)
	}
	if now.After(leaf.NotAfter) {
		return nil, time.Time{}, fail(authn.ReasonCertificateExpired, "certificate %s expired at %s", subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, time.Time{}, fail(authn.ReasonCertificateNotYetValid, "certificate %s is not valid until %s", subject, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return nil, time.Time{}, fail(authn.ReasonCertificateUsage, "certificate %s lacks the clientAuth extended key usage", subject)
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		if _, ok := err.(x509.UnknownAuthorityError); ok {
			return nil, time.Time{}, fail(authn.ReasonCertificateUnknownCA, "certificate %s signed by unknown authority (issuer CN=%q)", subject, leaf.Issuer.CommonName)
		}
		return nil, time.Time{}, fail(authn.ReasonCertificateInvalid, "certificate %s: %v", subject, err)
	}
	notAfter := leaf.NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	if leaf.Subject.CommonName == "" {
		return nil, time.Time{}, authn.Fail(authn.ReasonCertificateEmptyCN, "the certificate's CN, which is the user name, is empty: it was made without -subj",
			errors.New("x509: certificate has an empty CN; no user name"))
	}
	fingerprint := sha256.Sum256(leaf.Raw)
	return &authn.User{
		Name:          leaf.Subject.CommonName,
		Groups:        append(slices.Clone(leaf.Subject.Organization), authn.GroupAuthenticated),
		Extra:         map[string][]string{authn.ExtraCredentialID: {"X509SHA256=" + hex.EncodeToString(fingerprint[:])}},
		Authenticator: "x509",
	}, notAfter, nil
}

// fail is a Failure whose message, for the certificate's holder, is the
// log's cause without the authenticator's prefix.
func fail(reason authn.FailureReason, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return authn.Fail(reason, msg, errors.New("x509: "+msg))
}
