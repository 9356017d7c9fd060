// Package etcdtest runs a real etcd member (go.etcd.io/etcd/server's
// embed) for tests.
package etcdtest

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Start runs a one-member etcd on loopback until the test ends and
// returns its client URL: https with clientTLS (client certificates
// required when it names a CA), else http.
func Start(t testing.TB, clientTLS *transport.TLSInfo) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "etcdtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	scheme := "http"
	if clientTLS != nil {
		scheme = "https"
		cfg.ClientTLSInfo = *clientTLS
		cfg.ClientTLSInfo.ClientCertAuth = clientTLS.TrustedCAFile != ""
	}
	client, _ := url.Parse(scheme + "://127.0.0.1:" + strconv.Itoa(freePort(t)))
	peer, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(freePort(t)))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready in 60 s")
	}
	return client.String()
}

// StartCluster runs an n-member etcd on loopback until the test ends,
// clients and peers over TLS with the given certificates (client and
// peer certificates required when a CA is named), and returns the
// members' client URLs.
func StartCluster(t testing.TB, n int, clientTLS, peerTLS transport.TLSInfo) []string {
	t.Helper()
	type member struct {
		cfg    *embed.Config
		client string
	}
	var members []member
	var initial []string
	for i := range n {
		dir, err := os.MkdirTemp("", "etcdtest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		cfg := embed.NewConfig()
		cfg.Name = "m" + strconv.Itoa(i)
		cfg.Dir = dir
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		client, _ := url.Parse("https://127.0.0.1:" + strconv.Itoa(freePort(t)))
		peer, _ := url.Parse("https://127.0.0.1:" + strconv.Itoa(freePort(t)))
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
		cfg.ClientTLSInfo, cfg.PeerTLSInfo = clientTLS, peerTLS
		cfg.ClientTLSInfo.ClientCertAuth = clientTLS.TrustedCAFile != ""
		cfg.PeerTLSInfo.ClientCertAuth = peerTLS.TrustedCAFile != ""
		members = append(members, member{cfg, client.String()})
		initial = append(initial, cfg.Name+"="+peer.String())
	}
	var urls []string
	started := make(chan *embed.Etcd, n)
	errs := make(chan error, n)
	for _, m := range members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		urls = append(urls, m.client)
		go func() {
			e, err := embed.StartEtcd(m.cfg)
			if err != nil {
				errs <- err
				return
			}
			started <- e
		}()
	}
	for range n {
		select {
		case e := <-started:
			t.Cleanup(e.Close)
			select {
			case <-e.Server.ReadyNotify():
			case <-time.After(60 * time.Second):
				t.Fatal("etcd member not ready in 60 s")
			}
		case err := <-errs:
			t.Fatalf("starting etcd: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("etcd members did not start in 60 s")
		}
	}
	return urls
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
