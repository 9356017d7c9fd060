package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sekisho/sekisho/internal/keypair"
	"github.com/sekisho/sekisho/internal/reload"
)

// DialOptions say how to reach etcd: kube-apiserver's --etcd-servers,
// --etcd-cafile, --etcd-certfile and --etcd-keyfile.
type DialOptions struct {
	Endpoints                 []string
	CAFile, CertFile, KeyFile string
}

// CheckEndpoints refuses what would reach etcd in the clear, which is as
// good as root on the cluster: an http:// endpoint must be loopback, and
// https:// endpoints need the CA and a client certificate (mutual TLS).
func (o DialOptions) CheckEndpoints() error {
	if len(o.Endpoints) == 0 {
		return errors.New("--etcd-servers: no endpoint")
	}
	tlsNeeded := false
	for _, e := range o.Endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--etcd-servers: %q is not a URL (https://host:2379)", e)
		}
		switch u.Scheme {
		case "https":
			tlsNeeded = true
		case "http":
			host := u.Hostname()
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Errorf("--etcd-servers: %s is plain http to a host that is not loopback: etcd access is root on the cluster; use https with --etcd-cafile, --etcd-certfile and --etcd-keyfile", e)
			}
		default:
			return fmt.Errorf("--etcd-servers: %q: want https:// (or http:// on loopback)", e)
		}
	}
	if tlsNeeded && (o.CAFile == "" || o.CertFile == "" || o.KeyFile == "") {
		return errors.New("--etcd-servers: https endpoints need --etcd-cafile, --etcd-certfile and --etcd-keyfile: etcd is reached with mutual TLS")
	}
	return nil
}

// Dial connects to etcd, over mutual TLS 1.2+ when the files are given.
// The client certificate, its key and the CA are read again when their
// files change (checked every reloadEvery), until ctx ends: new
// connections use them, with no restart (an expired etcd client
// certificate has taken clusters down, kubernetes/kops#12620). A pair
// that does not load, mid-rotation, leaves the last good one in use.
func Dial(ctx context.Context, o DialOptions, log *slog.Logger) (*clientv3.Client, error) {
	if err := o.CheckEndpoints(); err != nil {
		return nil, err
	}
	// The client's own logs are JSON on stderr; its failures reach
	// the server log as the errors of the requests they fail.
	cfg := clientv3.Config{Endpoints: o.Endpoints, DialTimeout: 10 * time.Second, DialKeepAliveTime: 30 * time.Second, Logger: zap.NewNop()}
	if o.CAFile != "" {
		t, err := newReloadingTLS(ctx, o, log)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	}
	return clientv3.New(cfg)
}

// reloadEvery is how often the TLS files are checked for a change.
var reloadEvery = time.Second

// tlsFiles holds what the files said last.
type tlsFiles struct {
	roots atomic.Pointer[x509.CertPool]
	cert  atomic.Pointer[tls.Certificate]
}

func newReloadingTLS(ctx context.Context, o DialOptions, log *slog.Logger) (*tls.Config, error) {
	f := &tlsFiles{}
	if err := f.loadCA(o.CAFile); err != nil {
		return nil, err
	}
	if err := f.loadPair(o.CertFile, o.KeyFile); err != nil {
		return nil, err
	}
	watch := func(path string, load func() error) *reload.File {
		return &reload.File{Path: path, Log: log, Interval: reloadEvery, Load: func([]byte, bool) error { return load() }}
	}
	pair := func() error { return f.loadPair(o.CertFile, o.KeyFile) }
	for _, w := range []*reload.File{
		watch(o.CAFile, func() error { return f.loadCA(o.CAFile) }),
		watch(o.CertFile, pair),
		watch(o.KeyFile, pair),
	} {
		if err := w.Start(ctx); err != nil {
			return nil, err
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return f.cert.Load(), nil
		},
		// The roots can change, which tls.Config.RootCAs cannot: the
		// chain and the name are verified here against the current ones,
		// as the default verification would.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("etcd presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: f.roots.Load(), Intermediates: inter, DNSName: cs.ServerName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		},
	}, nil
}

func (f *tlsFiles) loadCA(path string) error {
	caPEM, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--etcd-cafile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("--etcd-cafile: %s holds no PEM certificate", path)
	}
	f.roots.Store(pool)
	return nil
}

func (f *tlsFiles) loadPair(certFile, keyFile string) error {
	// Checked as every certificate the server reloads is (keypair): a
	// mismatched, expired or world-readable pair is refused.
	cert, err := keypair.Load(certFile, keyFile, time.Now())
	if err != nil {
		return fmt.Errorf("--etcd-certfile/--etcd-keyfile: %w", err)
	}
	f.cert.Store(cert)
	return nil
}
