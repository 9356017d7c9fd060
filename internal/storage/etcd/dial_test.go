package etcd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/storage/etcd/etcdtest"
)

func testPKI(t *testing.T) string {
	dir := t.TempDir()
	_, err := clusterpki.Init(clusterpki.InitOptions{
		Dir: dir,
		Cluster: pki.ClusterConfig{NodeName: "node", AdvertiseAddress: net.ParseIP("127.0.0.1"), BindPort: 6443,
			ServiceCIDR: "10.96.0.0/12", DNSDomain: "cluster.local", ExtraSANs: []string{"localhost", "127.0.0.1"}},
		KeyType: pki.ECDSAP256, CertValidity: time.Hour, CAValidity: 24 * time.Hour, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "pki")
}

// TestDialReloadsTheClientCertificate: etcd over mutual TLS with the
// PKI's certificates; after apiserver-etcd-client is renewed on disk, the
// client presents the new certificate, with no new Dial, and still
// reaches etcd.
func TestDialReloadsTheClientCertificate(t *testing.T) {
	dir := testPKI(t)
	endpoint := etcdtest.Start(t, &transport.TLSInfo{
		CertFile: filepath.Join(dir, "etcd/server.crt"), KeyFile: filepath.Join(dir, "etcd/server.key"),
		TrustedCAFile: filepath.Join(dir, "etcd/ca.crt"),
	})
	o := DialOptions{Endpoints: []string{endpoint}, CAFile: filepath.Join(dir, "etcd/ca.crt"),
		CertFile: filepath.Join(dir, "apiserver-etcd-client.crt"), KeyFile: filepath.Join(dir, "apiserver-etcd-client.key")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := reloadEvery
	reloadEvery = 50 * time.Millisecond
	defer func() { reloadEvery = old }()
	cfg, err := newReloadingTLS(ctx, o, discard())
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, _ := cfg.GetClientCertificate(nil)
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		return leaf.SerialNumber.String()
	}
	before := serial()
	c, err := Dial(ctx, o, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := New(Options{Client: c})
	if _, err := s.Create(ctx, "/registry/things/a", []byte("1")); err != nil {
		t.Fatal(err)
	}

	if _, err := clusterpki.Renew(clusterpki.RenewOptions{Dir: filepath.Dir(dir), Names: []string{"apiserver-etcd-client"}, Validity: time.Hour, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for serial() == before {
		if time.Now().After(deadline) {
			t.Fatal("the renewed client certificate was not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Get(ctx, "/registry/things/a"); err != nil {
		t.Errorf("etcd after the renewal: %v", err)
	}

	// A server certificate from another CA is refused.
	o.CAFile = filepath.Join(dir, "ca.crt")
	bad, err := Dial(ctx, o, discard())
	if err == nil {
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
		defer tcancel()
		_, err = New(Options{Client: bad}).Rev(tctx)
		bad.Close()
	}
	if err == nil {
		t.Error("etcd whose certificate the CA did not sign was reached")
	} else if !strings.Contains(err.Error(), "deadline") && !strings.Contains(err.Error(), "certificate") {
		t.Logf("refused with: %v", err)
	}
}

// An etcd certificate from the right CA but for another name is refused:
// the endpoint's IP address is checked against the certificate's, as the
// standard verification does.
func TestDialChecksTheServerName(t *testing.T) {
	dir := testPKI(t)
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	ca, err := pki.CAFromPEM("etcd/ca.crt", read("etcd/ca.crt"), "etcd/ca.key", read("etcd/ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := ca.Issue(pki.Template{CommonName: "elsewhere", Kind: pki.KindServerClient, DNSNames: []string{"etcd.invalid"}}.ValidFor(time.Now(), time.Hour), key.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := pki.EncodePrivateKey(key)
	os.WriteFile(filepath.Join(dir, "elsewhere.crt"), pki.EncodeCertificates(cert), 0o644)
	os.WriteFile(filepath.Join(dir, "elsewhere.key"), keyPEM, 0o600)
	endpoint := etcdtest.Start(t, &transport.TLSInfo{
		CertFile: filepath.Join(dir, "elsewhere.crt"), KeyFile: filepath.Join(dir, "elsewhere.key"),
		TrustedCAFile: filepath.Join(dir, "etcd/ca.crt"), SkipClientSANVerify: true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, DialOptions{Endpoints: []string{endpoint}, CAFile: filepath.Join(dir, "etcd/ca.crt"),
		CertFile: filepath.Join(dir, "apiserver-etcd-client.crt"), KeyFile: filepath.Join(dir, "apiserver-etcd-client.key")}, discard())
	if err == nil {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		_, err = New(Options{Client: c}).Rev(rctx)
		c.Close()
	}
	if err == nil {
		t.Fatalf("etcd at %s, whose certificate names only etcd.invalid, was reached", endpoint)
	}
}

// TestConformanceOnThreeMembersOverMutualTLS runs the storage suite,
// unchanged, against a 3-member etcd whose clients and peers use the
// cluster PKI's etcd certificates, reached with apiserver-etcd-client,
// writes routed to the leader as the server routes them.
func TestConformanceOnThreeMembersOverMutualTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, leader, _ := threeMembers(t, ctx)
	runConformance(t, c, leader)
}

// threeMembers starts a 3-member etcd over mutual TLS with the PKI's
// certificates and dials it as the server does; it returns the members'
// client URLs too.
func threeMembers(t *testing.T, ctx context.Context) (*clientv3.Client, *LeaderWrites, []string) {
	dir := testPKI(t)
	ca := filepath.Join(dir, "etcd/ca.crt")
	urls := etcdtest.StartCluster(t, 3,
		transport.TLSInfo{CertFile: filepath.Join(dir, "etcd/server.crt"), KeyFile: filepath.Join(dir, "etcd/server.key"), TrustedCAFile: ca},
		transport.TLSInfo{CertFile: filepath.Join(dir, "etcd/peer.crt"), KeyFile: filepath.Join(dir, "etcd/peer.key"), TrustedCAFile: ca})
	c, leader, err := DialLeaderWrites(ctx, DialOptions{Endpoints: urls, CAFile: ca,
		CertFile: filepath.Join(dir, "apiserver-etcd-client.crt"), KeyFile: filepath.Join(dir, "apiserver-etcd-client.key")}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if leader == nil {
		t.Fatal("three endpoints, and no leader routing")
	}
	t.Cleanup(func() { c.Close() })
	t.Cleanup(leader.Close) // first: the leader's connection before the client
	return c, leader, urls
}
