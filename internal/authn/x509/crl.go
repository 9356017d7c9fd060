package x509

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

// Revocations tells whether a certificate has been revoked.
type Revocations interface {
	Revoked(c *x509.Certificate) (revoked bool, reason string)
}

// RevocationState is everything CRLs have revoked, by issuer. It only
// grows: a CRL number never goes down and a revoked serial is never
// forgotten, whatever a later CRL says.
type RevocationState struct {
	// Issuers is keyed by the issuer's DER-encoded name, in base64.
	Issuers map[string]*IssuerRevocations `json:"issuers"`
}

// IssuerRevocations is what one CA's CRLs have revoked.
type IssuerRevocations struct {
	// Issuer is the CA's name, for a person reading the stored state.
	Issuer string `json:"issuer"`
	// Number is the highest cRLNumber accepted, in decimal.
	Number string `json:"crlNumber"`
	// Revoked maps each serial number (hexadecimal) to its reason.
	Revoked map[string]string `json:"revoked"`
}

func (r *IssuerRevocations) number() *big.Int {
	n, ok := new(big.Int).SetString(r.Number, 10)
	if !ok {
		return new(big.Int)
	}
	return n
}

// Merge adds o to s: the higher CRL number, and every serial of both.
func (s *RevocationState) Merge(o RevocationState) {
	if s.Issuers == nil {
		s.Issuers = map[string]*IssuerRevocations{}
	}
	for key, theirs := range o.Issuers {
		ours := s.Issuers[key]
		if ours == nil {
			ours = &IssuerRevocations{Issuer: theirs.Issuer, Number: "0", Revoked: map[string]string{}}
			s.Issuers[key] = ours
		}
		if theirs.number().Cmp(ours.number()) > 0 {
			ours.Number = theirs.number().String()
		}
		for serial, reason := range theirs.Revoked {
			if _, ok := ours.Revoked[serial]; !ok {
				ours.Revoked[serial] = reason
			}
		}
	}
}

func (s RevocationState) clone() RevocationState {
	out := RevocationState{Issuers: make(map[string]*IssuerRevocations, len(s.Issuers))}
	for k, v := range s.Issuers {
		out.Issuers[k] = &IssuerRevocations{Issuer: v.Issuer, Number: v.Number, Revoked: maps.Clone(v.Revoked)}
	}
	return out
}

// RevocationStore keeps the revocation state across restarts. Save merges
// into what is stored, so that several servers sharing a store only ever
// add to it.
type RevocationStore interface {
	Load(ctx context.Context) (RevocationState, error)
	Save(ctx context.Context, s RevocationState) error
}

// CRL answers from PEM certificate revocation lists, each signed by a
// trusted client CA and carrying a CRL number. A list whose number is below
// the highest one accepted from its issuer is refused, so putting back an
// older CRL cannot un-revoke a certificate; and every serial ever revoked
// stays revoked, even when a newer list leaves it out. With a Store, both
// survive a restart.
type CRL struct {
	// CAs returns the CAs a CRL may be signed by.
	CAs func() []*x509.Certificate
	// Store persists the state; nil keeps it in memory only.
	Store RevocationStore
	Log   *slog.Logger

	mu      sync.RWMutex
	state   RevocationState
	revoked map[string]string // issuer DER + serial → reason
}

// ErrStaleCRL marks a CRL older than one already accepted.
var ErrStaleCRL = errors.New("an older CRL than the last accepted one")

const saveTimeout = 10 * time.Second

func crlKey(rawIssuer []byte, serial *big.Int) string {
	return string(rawIssuer) + "\x00" + serial.Text(16)
}

func (c *CRL) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Log
}

// Restore loads the persisted state; call it before the first Load.
func (c *CRL) Restore(ctx context.Context) error {
	if c.Store == nil {
		return nil
	}
	st, err := c.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("reading the persisted revocations: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.state.clone()
	next.Merge(st)
	return c.applyLocked(next)
}

// fileCRL is what one file says about one issuer.
type fileCRL struct {
	rawIssuer []byte
	issuer    string
	number    *big.Int
	revoked   map[string]string
}

// Load applies a PEM file of CRLs: every serial in it is revoked, on top of
// everything revoked before. A missing file revokes nothing new. It is a
// reload.Loader: an error leaves the state as it was.
func (c *CRL) Load(data []byte, exists bool) error {
	var lists []*fileCRL
	if exists {
		var err error
		if lists, err = c.parse(data); err != nil {
			return err
		}
	}
	c.mu.Lock()
	next := c.state.clone()
	if next.Issuers == nil {
		next.Issuers = map[string]*IssuerRevocations{}
	}
	for _, l := range lists {
		key := base64.StdEncoding.EncodeToString(l.rawIssuer)
		prev := next.Issuers[key]
		if prev != nil && l.number.Cmp(prev.number()) < 0 {
			c.mu.Unlock()
			return fmt.Errorf("the CRL of issuer %q has number %s, below %s, the last accepted: %w; every certificate revoked so far stays revoked",
				l.issuer, l.number, prev.Number, ErrStaleCRL)
		}
		if prev == nil {
			prev = &IssuerRevocations{Issuer: l.issuer, Revoked: map[string]string{}}
			next.Issuers[key] = prev
		}
		var kept []string
		for serial := range prev.Revoked {
			if _, ok := l.revoked[serial]; !ok {
				kept = append(kept, serial)
			}
		}
		if len(kept) > 0 {
			sort.Strings(kept)
			c.log().Warn("serials revoked by an earlier CRL are missing from the new one; they stay revoked",
				"issuer", l.issuer, "crlNumber", l.number.String(), "serials", kept)
		}
		prev.Number = l.number.String()
		for serial, reason := range l.revoked {
			prev.Revoked[serial] = reason
		}
	}
	err := c.applyLocked(next)
	c.mu.Unlock()
	if err != nil || c.Store == nil || len(lists) == 0 {
		return err
	}
	// The new state is in force already; persisting it is what keeps it
	// after a restart, so a failure is worth an operator's attention.
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	if err := c.Store.Save(ctx, next); err != nil {
		c.log().Error("the revocations could not be persisted: an older CRL could be put back after a restart", "err", err)
	}
	return nil
}

// parse reads and checks every CRL in a PEM file; several lists of one
// issuer count as one, with the highest number.
func (c *CRL) parse(data []byte) ([]*fileCRL, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil // an empty file revokes nothing new
	}
	crls, err := pki.ParseCRLs(data)
	if err != nil {
		return nil, err
	}
	byIssuer := map[string]*fileCRL{}
	var order []string
	for _, crl := range crls {
		if err := c.verify(crl); err != nil {
			return nil, err
		}
		if crl.Number == nil {
			return nil, fmt.Errorf("the CRL of issuer %q has no CRL number (RFC 5280 requires one): without it an older list cannot be told from a newer one", crl.Issuer.CommonName)
		}
		l := byIssuer[string(crl.RawIssuer)]
		if l == nil {
			l = &fileCRL{rawIssuer: crl.RawIssuer, issuer: crl.Issuer.String(), number: crl.Number, revoked: map[string]string{}}
			byIssuer[string(crl.RawIssuer)] = l
			order = append(order, string(crl.RawIssuer))
		}
		if crl.Number.Cmp(l.number) > 0 {
			l.number = crl.Number
		}
		for _, e := range crl.RevokedCertificateEntries {
			l.revoked[e.SerialNumber.Text(16)] = pki.RevocationReasonName(e.ReasonCode)
		}
	}
	out := make([]*fileCRL, 0, len(order))
	for _, k := range order {
		out = append(out, byIssuer[k])
	}
	return out, nil
}

func (c *CRL) verify(crl *x509.RevocationList) error {
	if c.CAs != nil {
		for _, ca := range c.CAs() {
			if string(ca.RawSubject) == string(crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("the CRL of issuer %q is not signed by a trusted client CA", crl.Issuer.CommonName)
}

// applyLocked puts next in force.
func (c *CRL) applyLocked(next RevocationState) error {
	revoked := map[string]string{}
	for key, iss := range next.Issuers {
		raw, err := base64.StdEncoding.DecodeString(key)
		if err != nil {
			return fmt.Errorf("revocation state: issuer key %q: %w", key, err)
		}
		for serial, reason := range iss.Revoked {
			n, ok := new(big.Int).SetString(serial, 16)
			if !ok {
				return fmt.Errorf("revocation state: serial %q of issuer %q is not hexadecimal", serial, iss.Issuer)
			}
			revoked[crlKey(raw, n)] = reason
		}
	}
	c.state, c.revoked = next, revoked
	return nil
}

// Revoked implements Revocations.
func (c *CRL) Revoked(cert *x509.Certificate) (bool, string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	reason, ok := c.revoked[crlKey(cert.RawIssuer, cert.SerialNumber)]
	return ok, reason
}

// Len reports how many certificates are revoked.
func (c *CRL) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.revoked)
}
