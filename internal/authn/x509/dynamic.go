package x509

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"

	"github.com/sekisho/sekisho/internal/pki"
)

// DynamicPool is a CA bundle that can be replaced while the server runs;
// each replacement bumps the generation, which invalidates cached
// verifications.
type DynamicPool struct {
	mu    sync.RWMutex
	pool  *x509.CertPool
	certs []*x509.Certificate
	gen   atomic.Uint64
}

// Load replaces the pool from a PEM bundle of CA certificates. It is a
// reload.Loader.
func (p *DynamicPool) Load(data []byte, exists bool) error {
	if !exists {
		return errors.New("the CA bundle does not exist")
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if !c.IsCA {
			return fmt.Errorf("%q is not a CA certificate", c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	p.mu.Lock()
	p.pool, p.certs = pool, certs
	p.mu.Unlock()
	p.gen.Add(1)
	return nil
}

// Pool implements CAPool.
func (p *DynamicPool) Pool() (*x509.CertPool, uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.pool, p.gen.Load()
}

// Certificates returns the CA certificates currently trusted.
func (p *DynamicPool) Certificates() []*x509.Certificate {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.certs
}

// Revocations tells whether a certificate has been revoked.
type Revocations interface {
	Revoked(c *x509.Certificate) (revoked bool, reason string)
}

// CRL holds the revoked serial numbers of PEM certificate revocation lists,
// each of which must be signed by a trusted client CA.
type CRL struct {
	// CAs returns the CAs a CRL may be signed by.
	CAs func() []*x509.Certificate

	mu      sync.RWMutex
	revoked map[string]string // issuer DER + serial bytes → reason
}

func crlKey(rawIssuer []byte, serial *big.Int) string {
	return string(rawIssuer) + "\x00" + string(serial.Bytes())
}

// Load replaces the revoked set from a PEM file of CRLs. A missing file
// revokes nothing. It is a reload.Loader.
func (c *CRL) Load(data []byte, exists bool) error {
	revoked := map[string]string{}
	if exists {
		rest := data
		n := 0
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "X509 CRL" {
				return fmt.Errorf("unexpected PEM block %q, want \"X509 CRL\"", block.Type)
			}
			crl, err := x509.ParseRevocationList(block.Bytes)
			if err != nil {
				return fmt.Errorf("invalid CRL: %w", err)
			}
			if err := c.verify(crl); err != nil {
				return err
			}
			for _, e := range crl.RevokedCertificateEntries {
				revoked[crlKey(crl.RawIssuer, e.SerialNumber)] = pki.RevocationReasonName(e.ReasonCode)
			}
			n++
		}
		if n == 0 && len(data) > 0 {
			return errors.New("no PEM CRL found")
		}
	}
	c.mu.Lock()
	c.revoked = revoked
	c.mu.Unlock()
	return nil
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
