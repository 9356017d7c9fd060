package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
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
func Dial(o DialOptions) (*clientv3.Client, error) {
	if err := o.CheckEndpoints(); err != nil {
		return nil, err
	}
	cfg := clientv3.Config{Endpoints: o.Endpoints, DialTimeout: 10 * time.Second, DialKeepAliveTime: 30 * time.Second}
	if o.CAFile != "" {
		caPEM, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("--etcd-cafile: %s holds no PEM certificate", o.CAFile)
		}
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-certfile/--etcd-keyfile: %w", err)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return clientv3.New(cfg)
}
