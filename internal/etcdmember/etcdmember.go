// Package etcdmember runs a real etcd member, go.etcd.io/etcd/server's own
// code embedded, configured with etcd's flag names and, by default, the
// cluster PKI's etcd certificates: what `sekisho etcd` runs.
package etcdmember

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Options are etcd's own flags, by their names.
type Options struct {
	Name                     string
	DataDir                  string
	ListenClientURLs         []string
	AdvertiseClientURLs      []string
	ListenPeerURLs           []string
	InitialAdvertisePeerURLs []string
	InitialCluster           string
	InitialClusterState      string
	InitialClusterToken      string

	CertFile, KeyFile, TrustedCAFile             string
	ClientCertAuth                               bool
	PeerCertFile, PeerKeyFile, PeerTrustedCAFile string
	PeerClientCertAuth                           bool
}

// Defaults are a single member on loopback with the PKI in pkiDir
// (kubeadm's etcd/server, etcd/peer and etcd/ca), requiring client and
// peer certificates.
func Defaults(pkiDir, dataDir string) Options {
	return Options{
		Name:                     "default",
		DataDir:                  dataDir,
		ListenClientURLs:         []string{"https://127.0.0.1:2379"},
		ListenPeerURLs:           []string{"https://127.0.0.1:2380"},
		InitialClusterState:      "new",
		InitialClusterToken:      "sekisho-etcd",
		CertFile:                 filepath.Join(pkiDir, "etcd/server.crt"),
		KeyFile:                  filepath.Join(pkiDir, "etcd/server.key"),
		TrustedCAFile:            filepath.Join(pkiDir, "etcd/ca.crt"),
		ClientCertAuth:           true,
		PeerCertFile:             filepath.Join(pkiDir, "etcd/peer.crt"),
		PeerKeyFile:              filepath.Join(pkiDir, "etcd/peer.key"),
		PeerTrustedCAFile:        filepath.Join(pkiDir, "etcd/ca.crt"),
		PeerClientCertAuth:       true,
		AdvertiseClientURLs:      nil, // the listen URLs
		InitialAdvertisePeerURLs: nil, // the listen URLs
	}
}

func parseURLs(flag string, in []string, tls bool) ([]url.URL, error) {
	var out []url.URL
	for _, s := range in {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--%s: %q is not a URL", flag, s)
		}
		switch u.Scheme {
		case "https":
			if !tls {
				return nil, fmt.Errorf("--%s: %s is https, but no certificate and key are given", flag, s)
			}
		case "http":
			if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("--%s: %s is plain http on an address that is not loopback: whoever reaches etcd owns the cluster; use https", flag, s)
			}
		default:
			return nil, fmt.Errorf("--%s: %q: want https:// (or http:// on loopback)", flag, s)
		}
		out = append(out, *u)
	}
	return out, nil
}

// Config checks the options and makes etcd's configuration of them.
func (o Options) Config() (*embed.Config, error) {
	if o.DataDir == "" {
		return nil, errors.New("--data-dir is required")
	}
	if len(o.AdvertiseClientURLs) == 0 {
		o.AdvertiseClientURLs = o.ListenClientURLs
	}
	if len(o.InitialAdvertisePeerURLs) == 0 {
		o.InitialAdvertisePeerURLs = o.ListenPeerURLs
	}
	clientTLS := o.CertFile != "" && o.KeyFile != ""
	peerTLS := o.PeerCertFile != "" && o.PeerKeyFile != ""
	var errs []error
	url := func(flag string, in []string, tls bool) []url.URL {
		u, err := parseURLs(flag, in, tls)
		if err != nil {
			errs = append(errs, err)
		}
		return u
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = o.Name, o.DataDir
	cfg.ListenClientUrls = url("listen-client-urls", o.ListenClientURLs, clientTLS)
	cfg.AdvertiseClientUrls = url("advertise-client-urls", o.AdvertiseClientURLs, clientTLS)
	cfg.ListenPeerUrls = url("listen-peer-urls", o.ListenPeerURLs, peerTLS)
	cfg.AdvertisePeerUrls = url("initial-advertise-peer-urls", o.InitialAdvertisePeerURLs, peerTLS)
	if o.ClientCertAuth && o.TrustedCAFile == "" {
		errs = append(errs, errors.New("--client-cert-auth needs --trusted-ca-file"))
	}
	if o.PeerClientCertAuth && o.PeerTrustedCAFile == "" {
		errs = append(errs, errors.New("--peer-client-cert-auth needs --peer-trusted-ca-file"))
	}
	switch o.InitialClusterState {
	case "new", "existing":
	default:
		errs = append(errs, fmt.Errorf("--initial-cluster-state %q: want new or existing", o.InitialClusterState))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg.InitialCluster = o.InitialCluster
	if cfg.InitialCluster == "" {
		var peers []string
		for _, u := range cfg.AdvertisePeerUrls {
			peers = append(peers, o.Name+"="+u.String())
		}
		cfg.InitialCluster = strings.Join(peers, ",")
	}
	cfg.ClusterState = o.InitialClusterState
	cfg.InitialClusterToken = o.InitialClusterToken
	cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = o.CertFile, o.KeyFile
	cfg.ClientTLSInfo.TrustedCAFile, cfg.ClientTLSInfo.ClientCertAuth = o.TrustedCAFile, o.ClientCertAuth
	cfg.PeerTLSInfo.CertFile, cfg.PeerTLSInfo.KeyFile = o.PeerCertFile, o.PeerKeyFile
	cfg.PeerTLSInfo.TrustedCAFile, cfg.PeerTLSInfo.ClientCertAuth = o.PeerTrustedCAFile, o.PeerClientCertAuth
	cfg.TlsMinVersion = "TLS1.2"
	return cfg, nil
}

// Member is a running etcd member.
type Member struct {
	e *embed.Etcd
	// ClientURLs are the URLs clients reach it at.
	ClientURLs []string
}

// Start starts the member and returns once it serves.
func Start(ctx context.Context, o Options) (*Member, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(5 * time.Minute):
		e.Close()
		return nil, errors.New("etcd: not ready after 5 minutes: is a quorum of the initial cluster up?")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	m := &Member{e: e}
	for _, u := range cfg.AdvertiseClientUrls {
		m.ClientURLs = append(m.ClientURLs, u.String())
	}
	return m, nil
}

// Err reports the member's failure.
func (m *Member) Err() <-chan error { return m.e.Err() }

// Close stops the member.
func (m *Member) Close() { m.e.Close() }

// Run runs the member until ctx ends.
func Run(ctx context.Context, o Options, log *slog.Logger) error {
	m, err := Start(ctx, o)
	if err != nil {
		return err
	}
	defer m.Close()
	log.Info("etcd member serving", "name", o.Name, "clients", strings.Join(m.ClientURLs, ","), "dataDir", o.DataDir)
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.Err():
		return fmt.Errorf("etcd: %w", err)
	}
}
