package x509

import (
	"crypto/x509"
	"errors"
	"fmt"
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
