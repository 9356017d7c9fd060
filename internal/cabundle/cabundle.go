// Package cabundle keeps a bundle of CA certificates, read from a file,
// in force without a restart, for clients that verify servers against
// it: each connection gets a tls.Config with the bundle in force (a
// shared tls.Config's RootCAs cannot change under connections using it).
// A file that holds no certificate is refused, with a log line naming it,
// and the last good bundle kept.
package cabundle

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/reload"
)

// Bundle is a watched CA bundle.
type Bundle struct {
	File string
	Log  *slog.Logger
	// Interval is how often the file is checked; a second when 0.
	Interval time.Duration

	pool atomic.Pointer[x509.CertPool]
}

// Start loads the bundle, failing if it does not load, then watches the
// file until ctx ends.
func (b *Bundle) Start(ctx context.Context) error {
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	return (&reload.File{Path: b.File, Log: b.Log, Interval: b.Interval, Load: b.load}).Start(ctx)
}

func (b *Bundle) load(data []byte, exists bool) error {
	if !exists {
		return fmt.Errorf("%s does not exist", b.File)
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return fmt.Errorf("%s: %w", b.File, err)
	}
	if len(certs) == 0 {
		return fmt.Errorf("%s: no certificate in it", b.File)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	if b.pool.Swap(pool) != nil {
		b.Log.Info("CA bundle reloaded", "file", b.File, "certificates", len(certs))
	}
	return nil
}

// Pool is the bundle in force.
func (b *Bundle) Pool() *x509.CertPool { return b.pool.Load() }

// ClientConfig is base for one connection to host: verifying the server
// against the bundle in force, by the standard verification, chain and
// name (an IP address included, which tls.ConnectionState.ServerName
// leaves empty, so a VerifyConnection could not check it).
func (b *Bundle) ClientConfig(base *tls.Config, host string) *tls.Config {
	c := base.Clone()
	c.RootCAs = b.pool.Load()
	c.ServerName = host
	c.InsecureSkipVerify = false
	return c
}
