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
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

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
	cfg, err := dialConfig(ctx, o, log)
	if err != nil {
		return nil, err
	}
	return clientv3.New(cfg)
}

// DialLeaderWrites connects as Dial does, and when there are several
// endpoints also routes writes to the leader (LeaderWrites, following it
// until ctx ends; nil with one endpoint): give both to New, and close
// the LeaderWrites before the client.
func DialLeaderWrites(ctx context.Context, o DialOptions, log *slog.Logger) (*clientv3.Client, *LeaderWrites, error) {
	cfg, err := dialConfig(ctx, o, log)
	if err != nil {
		return nil, nil, err
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	l := newLeaderWrites(c, cfg, log)
	if l != nil {
		var lctx context.Context
		lctx, l.cancel = context.WithCancel(ctx)
		go l.run(lctx)
	}
	return c, l, nil
}

// dialConfig is the client configuration Dial connects with; its TLS
// files are followed until ctx ends, for every client made from it.
func dialConfig(ctx context.Context, o DialOptions, log *slog.Logger) (clientv3.Config, error) {
	if err := o.CheckEndpoints(); err != nil {
		return clientv3.Config{}, err
	}
	// The client's own logs are JSON on stderr; its failures reach
	// the server log as the errors of the requests they fail.
	cfg := clientv3.Config{Endpoints: o.Endpoints, DialTimeout: 10 * time.Second, DialKeepAliveTime: 30 * time.Second, Logger: zap.NewNop()}
	if o.CAFile != "" {
		t, err := newReloadingTLS(ctx, o, log)
		if err != nil {
			return clientv3.Config{}, err
		}
		cfg.TLS = t.Config
		// Each connection's handshake takes the CA bundle and the client
		// pair in force (a shared tls.Config's RootCAs cannot change),
		// and verifies etcd's certificate by the standard verification,
		// its name or IP address included. Given last, these credentials
		// replace the ones clientv3 makes from cfg.TLS.
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithTransportCredentials(&reloadingCreds{base: t.Config, roots: t.roots}))
	}
	return cfg, nil
}

// reloadEvery is how often the TLS files are checked for a change.
var reloadEvery = time.Second

// tlsFiles holds what the files said last.
type tlsFiles struct {
	roots atomic.Pointer[x509.CertPool]
	cert  atomic.Pointer[tls.Certificate]
}

func newReloadingTLS(ctx context.Context, o DialOptions, log *slog.Logger) (*tlsConfig, error) {
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
	return &tlsConfig{Config: &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return f.cert.Load(), nil
		},
	}, roots: &f.roots}, nil
}

// tlsConfig is the client's TLS settings with the CA bundle in force.
type tlsConfig struct {
	*tls.Config
	roots *atomic.Pointer[x509.CertPool]
}

// reloadingCreds is gRPC transport security whose every handshake uses
// the CA bundle in force and verifies the server's chain and name by the
// standard verification. (A VerifyConnection on a shared config cannot
// check an IP address: the connection state leaves the name empty.)
type reloadingCreds struct {
	base  *tls.Config
	roots *atomic.Pointer[x509.CertPool]
}

func (c *reloadingCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	host, _, err := net.SplitHostPort(authority)
	if err != nil {
		host = authority
	}
	cfg := c.base.Clone()
	cfg.RootCAs = c.roots.Load()
	cfg.ServerName = host
	cfg.NextProtos = []string{"h2"}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, credentials.TLSInfo{State: conn.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
}

func (c *reloadingCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("etcd client credentials do not serve")
}

func (c *reloadingCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2"}
}

func (c *reloadingCreds) Clone() credentials.TransportCredentials {
	return &reloadingCreds{base: c.base, roots: c.roots}
}

func (c *reloadingCreds) OverrideServerName(string) error { return nil }

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
