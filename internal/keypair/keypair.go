// Package keypair keeps a certificate and its private key, read from two
// files, in force without a restart: reloaded when either file changes,
// and swapped whole, so a TLS handshake gets the old pair or the new one,
// never half of each. A pair that would not work is refused and the last
// good one kept, with a log line naming the file: unreadable PEM, a key
// that does not match its certificate, a certificate that has expired or
// is not valid yet, or a key file that others may read (mode wider than
// 0600).
package keypair

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sekisho/sekisho/internal/reload"
)

// Load reads and checks a pair at now.
func Load(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	info, err := os.Stat(keyFile)
	if err != nil {
		return nil, err
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the private key; want 0600", keyFile, mode)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("%s: the certificate expired at %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("%s: the certificate is not valid before %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	pair.Leaf = leaf
	return &pair, nil
}

// Pair is a watched certificate and key.
type Pair struct {
	CertFile, KeyFile string
	Log               *slog.Logger
	// Interval is how often the files are checked; a second when 0.
	Interval time.Duration
	// Now is the clock expiry is checked against; time.Now when nil.
	Now func() time.Time
	// OnChange, when set, is called after a new pair is put in force (not
	// after the first load): a client closes its idle connections, so
	// that the next request presents the new certificate.
	OnChange func()

	mu  sync.Mutex // one load at a time: both files' watchers call it
	cur atomic.Pointer[tls.Certificate]
}

func (p *Pair) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Start loads the pair, failing if it does not load, then watches both
// files until ctx ends.
func (p *Pair) Start(ctx context.Context) error {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if err := p.load(); err != nil {
		return err
	}
	for _, path := range []string{p.CertFile, p.KeyFile} {
		f := &reload.File{Path: path, Log: p.Log, Interval: p.Interval, Load: func([]byte, bool) error { return p.load() }}
		if err := f.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// load reads both files again; a pair that is not new is left alone.
func (p *Pair) load() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := Load(p.CertFile, p.KeyFile, p.now())
	if err != nil {
		return err
	}
	prev := p.cur.Load()
	if prev != nil && string(prev.Certificate[0]) == string(next.Certificate[0]) {
		return nil
	}
	p.cur.Store(next)
	if prev != nil {
		p.Log.Info("certificate reloaded", "file", p.CertFile, "subject", next.Leaf.Subject.String(),
			"serial", next.Leaf.SerialNumber.Text(16), "notAfter", next.Leaf.NotAfter.UTC().Format(time.RFC3339))
		if p.OnChange != nil {
			p.OnChange()
		}
	}
	return nil
}

// Current is the pair in force.
func (p *Pair) Current() *tls.Certificate { return p.cur.Load() }

// GetCertificate serves the pair in force, for tls.Config.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.cur.Load(), nil
}

// GetClientCertificate presents the pair in force, for tls.Config.
func (p *Pair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return p.cur.Load(), nil
}
