package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sekisho/sekisho/internal/storage/etcd"
	"github.com/sekisho/sekisho/internal/storage/etcd/etcdtest"
)

// TestServesFromEtcdOverMutualTLS runs the API server on a real etcd
// reached with kubeadm's apiserver-etcd-client certificate: objects are
// stored under kube-apiserver's keys and encodings, Secrets sealed; and
// etcd in the clear off loopback is refused.
func TestServesFromEtcdOverMutualTLS(t *testing.T) {
	requireTools(t, "kubectl")
	s, pki, endpoint := stoppedServerAndEtcd(t)
	s.extra = etcdFlags(pki, endpoint)
	s.start()
	s.mustKubectl("create", "configmap", "in-etcd", "--from-literal=k=visible")
	s.mustKubectl("create", "secret", "generic", "sealed", "--from-literal=k=Hidden-In-Etcd")
	if got := s.mustKubectl("get", "configmap", "in-etcd", "-o", "jsonpath={.data.k}"); got != "visible" {
		t.Errorf("the ConfigMap reads back as %q", got)
	}
	if out := s.mustKubectl("get", "componentstatuses", "-o", "name"); !strings.Contains(out, "etcd-0") {
		t.Errorf("componentstatuses: %s", out)
	}

	tlsInfo := transport.TLSInfo{CertFile: filepath.Join(pki, "apiserver-etcd-client.crt"), KeyFile: filepath.Join(pki, "apiserver-etcd-client.key"), TrustedCAFile: filepath.Join(pki, "etcd/ca.crt")}
	tlsConfig, err := tlsInfo.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsConfig, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm, err := c.Get(ctx, "/registry/configmaps/default/in-etcd")
	if err != nil || len(cm.Kvs) != 1 || !bytes.HasPrefix(cm.Kvs[0].Value, []byte("k8s\x00")) {
		t.Errorf("the ConfigMap in etcd: %v %v", cm, err)
	}
	sec, err := c.Get(ctx, "/registry/secrets/default/sealed")
	if err != nil || len(sec.Kvs) != 1 || !bytes.HasPrefix(sec.Kvs[0].Value, []byte("k8s:enc:aesgcm:v1:")) || bytes.Contains(sec.Kvs[0].Value, []byte("Hidden-In-Etcd")) {
		t.Errorf("the Secret in etcd is not sealed: %v", err)
	}
	s.stop()

	r := sekisho(t, "up", "--data-dir", s.dir, "--secure-port", strconv.Itoa(s.port), "--etcd-servers", "http://10.0.0.1:2379")
	if r.code == 0 || !strings.Contains(r.stderr, "plain http to a host that is not loopback") {
		t.Errorf("etcd in the clear off loopback: exit %d, %s", r.code, r.stderr)
	}
	r = sekisho(t, "up", "--data-dir", s.dir, "--secure-port", strconv.Itoa(s.port), "--etcd-servers", endpoint)
	if r.code == 0 || !strings.Contains(r.stderr, "need --etcd-cafile, --etcd-certfile and --etcd-keyfile") {
		t.Errorf("https etcd without a client certificate: exit %d, %s", r.code, r.stderr)
	}
}

// TestSekishoEtcdMember runs `sekisho etcd` as its own process with the
// PKI's etcd certificates, and the API server on it.
func TestSekishoEtcdMember(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t) // writes the PKI
	s.stop()
	pki := filepath.Join(s.dir, "pki")
	client := "https://127.0.0.1:" + strconv.Itoa(freePort(t))
	member := exec.Command(sekishoBin, "etcd", "--pki-dir", pki, "--data-dir", filepath.Join(t.TempDir(), "member"),
		"--listen-client-urls", client, "--listen-peer-urls", "https://127.0.0.1:"+strconv.Itoa(freePort(t)))
	logs := &syncBuffer{}
	member.Stdout, member.Stderr = logs, logs
	if err := member.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { member.Process.Signal(syscall.SIGTERM); member.Wait() })
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "etcd member serving"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sekisho etcd did not serve:\n%s", logs.String())
		}
	}
	s.extra = etcdFlags(pki, client)
	s.start()
	s.mustKubectl("create", "configmap", "on-member", "--from-literal=k=v")
	if got := s.mustKubectl("get", "configmap", "on-member", "-o", "jsonpath={.data.k}"); got != "v" {
		t.Errorf("the ConfigMap reads back as %q", got)
	}

	r := sekisho(t, "etcd", "--pki-dir", pki, "--data-dir", t.TempDir(), "--listen-client-urls", "http://0.0.0.0:2379")
	if r.code == 0 || !strings.Contains(r.stderr, "plain http on an address that is not loopback") {
		t.Errorf("etcd in the clear on every address: exit %d, %s", r.code, r.stderr)
	}
}

// etcdFlags reach etcd at endpoint with kubeadm's apiserver-etcd-client
// certificate.
func etcdFlags(pki, endpoint string) []string {
	return []string{"--etcd-servers", endpoint,
		"--etcd-cafile", filepath.Join(pki, "etcd/ca.crt"),
		"--etcd-certfile", filepath.Join(pki, "apiserver-etcd-client.crt"),
		"--etcd-keyfile", filepath.Join(pki, "apiserver-etcd-client.key")}
}

// TestUpWithItsOwnEtcd: `up --etcd` runs an etcd member in the process,
// on the PKI's certificates, and the objects outlive a restart in it.
func TestUpWithItsOwnEtcd(t *testing.T) {
	requireTools(t, "kubectl")
	port := freePortPair(t)
	s := startServer(t, "--etcd", "--etcd-servers", "https://127.0.0.1:"+strconv.Itoa(port))
	s.mustKubectl("create", "configmap", "kept", "--from-literal=k=v")
	if out := s.mustKubectl("get", "componentstatuses", "-o", "name"); !strings.Contains(out, "etcd-0") {
		t.Errorf("componentstatuses: %s", out)
	}
	s.stop()
	if _, err := os.Stat(filepath.Join(s.dir, "etcd", "member")); err != nil {
		t.Errorf("no etcd member data in the data directory: %v", err)
	}
	s.start()
	if got := s.mustKubectl("get", "configmap", "kept", "-o", "jsonpath={.data.k}"); got != "v" {
		t.Errorf("after a restart the ConfigMap reads %q", got)
	}
}

// freePortPair is a free port whose next port is free too (an etcd
// member's client and peer ports), below the kernel's ephemeral range.
func freePortPair(t *testing.T) int {
	for range 100 {
		p := unsharedPort(t)
		handedOut.Lock()
		taken := handedOut.ports[p+1]
		handedOut.ports[p+1] = true
		handedOut.Unlock()
		if taken {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no two free ports in a row")
	return 0
}

// handedOut holds every port unsharedPort has returned in this process:
// a port is only free until its server binds it, and in the meantime
// another call must not return it again.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// unsharedPort is a free port below the kernel's ephemeral range
// (32768 and up), so that no outgoing connection (etcd members dial each
// other all the time) takes it between now and the server's bind, and one
// no earlier call in this process returned.
func unsharedPort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		if handedOut.ports[p] {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			handedOut.ports[p] = true
			return p
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// etcdMember is a `sekisho etcd` process.
type etcdMember struct {
	t                           *testing.T
	name, ip, client, peer, out string
	args                        []string
	cmd                         *exec.Cmd
	logs                        *syncBuffer
}

// start runs the member (again, on its data directory) and waits until
// it serves; wait=false returns at once, for members that need their
// peers to serve.
func (m *etcdMember) start(wait bool) {
	m.t.Helper()
	m.cmd = exec.Command(sekishoBin, m.args...)
	m.logs = &syncBuffer{}
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	if wait {
		m.wait()
	}
}

func (m *etcdMember) wait() {
	m.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(m.logs.String(), "etcd member serving"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			m.t.Fatalf("member %s did not serve:\n%s", m.name, m.logs.String())
		}
	}
}

func (m *etcdMember) kill() {
	m.cmd.Process.Kill()
	m.cmd.Wait()
}

// startEtcdMembers forms an n-member etcd cluster of `sekisho etcd`
// processes on 127.0.0.1, .2, ... standing in for n machines, each with
// its own certificates from `sekisho certs etcd-member` on the PKI in
// dataDir. It returns the members and their client URLs, joined by commas.
func startEtcdMembers(t *testing.T, dataDir string, n int) ([]*etcdMember, string) {
	t.Helper()
	var members []*etcdMember
	var cluster, clients []string
	for i := 1; i <= n; i++ {
		m := &etcdMember{t: t, name: "m" + strconv.Itoa(i), ip: "127.0.0." + strconv.Itoa(i), out: t.TempDir()}
		port := freePortPair(t)
		m.client, m.peer = fmt.Sprintf("https://%s:%d", m.ip, port), fmt.Sprintf("https://%s:%d", m.ip, port+1)
		mustSekisho(t, "certs", "etcd-member", "--dir", dataDir, "--etcd-member", m.name, "--etcd-address", m.ip, "--out", m.out)
		members = append(members, m)
		cluster = append(cluster, m.name+"="+m.peer)
		clients = append(clients, m.client)
	}
	for _, m := range members {
		m.args = []string{"etcd", "--name", m.name, "--pki-dir", filepath.Join(m.out, "pki"),
			"--data-dir", filepath.Join(m.out, "data"), "--listen-client-urls", m.client, "--listen-peer-urls", m.peer,
			"--initial-cluster", strings.Join(cluster, ",")}
		m.start(false)
		t.Cleanup(m.kill)
	}
	for _, m := range members {
		m.wait()
	}
	return members, strings.Join(clients, ",")
}

// TestThreeMemberEtcdOnLoopback forms a 3-member etcd cluster of `sekisho
// etcd` processes on 127.0.0.1, .2 and .3 standing in for three machines,
// each with its own certificates from `sekisho certs etcd-member`; the API
// server spreads its reads over the three and sends its writes to the
// leader, and goes on writing when the leader is killed.
func TestThreeMemberEtcdOnLoopback(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t) // writes the PKI and its etcd CA
	s.stop()
	members, clients := startEtcdMembers(t, s.dir, 3)
	s.extra = etcdFlags(filepath.Join(s.dir, "pki"), clients)
	s.start()
	s.mustKubectl("create", "configmap", "before", "--from-literal=k=v")
	leader := etcdLeader(t, filepath.Join(s.dir, "pki"), members)
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), `msg="etcd: writes go to the leader" endpoint=`+leader.client)
	}) {
		t.Fatalf("the server does not say it writes to the leader, %s:\n%s", leader.client, s.logs.String())
	}

	// kill -9 the leader: two of three keep the quorum, elect another,
	// and the server's writes find it.
	leader.kill()
	for i := range 5 {
		s.mustKubectl("create", "configmap", fmt.Sprintf("after-%d", i), "--from-literal=k=v")
	}
	if out := s.mustKubectl("get", "configmaps", "-o", "name"); !strings.Contains(out, "configmap/before") || !strings.Contains(out, "configmap/after-4") {
		t.Errorf("after losing a member: %s", out)
	}
}

// etcdLeader returns the member that leads, asked with the API server's
// etcd client certificate.
func etcdLeader(t *testing.T, pki string, members []*etcdMember) *etcdMember {
	t.Helper()
	var eps []string
	for _, m := range members {
		eps = append(eps, m.client)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := etcd.Dial(ctx, etcd.DialOptions{Endpoints: eps, CAFile: filepath.Join(pki, "etcd/ca.crt"),
		CertFile: filepath.Join(pki, "apiserver-etcd-client.crt"), KeyFile: filepath.Join(pki, "apiserver-etcd-client.key")},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range members {
		st, err := c.Status(ctx, m.client)
		if err != nil {
			t.Fatalf("status of %s: %v", m.name, err)
		}
		if st.Leader != 0 && st.Header.MemberId == st.Leader {
			return m
		}
	}
	t.Fatal("no member leads")
	return nil
}

// stoppedServerAndEtcd makes a data directory with `up` (stopped again)
// and starts an etcd member serving with its PKI's etcd certificates,
// requiring client certificates; it returns the server, its PKI and the
// member's client URL.
func stoppedServerAndEtcd(t *testing.T) (*server, string, string) {
	t.Helper()
	s := startServer(t)
	s.stop()
	pki := filepath.Join(s.dir, "pki")
	endpoint := etcdtest.Start(t, &transport.TLSInfo{
		CertFile: filepath.Join(pki, "etcd/server.crt"), KeyFile: filepath.Join(pki, "etcd/server.key"),
		TrustedCAFile: filepath.Join(pki, "etcd/ca.crt"),
	})
	return s, pki, endpoint
}
