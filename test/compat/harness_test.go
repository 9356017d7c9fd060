// Package compat runs Kubernetes' own components against sekisho, and
// compares sekisho with a real kube-apiserver (the oracle) started on the
// same PKI over a real etcd. It is its own module so that the heavy
// dependencies of the oracle (etcd's server) never enter the product's.
//
// The Kubernetes binaries come from build-kube.sh, cached in
// ~/.cache/sekisho/kube-VERSION (or $KUBE_BIN_DIR), and helm from
// build-helm.sh, cached beside them in helm-VERSION; TestMain builds them
// when they are missing, which takes about ten minutes the first time.
package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeVersion is the Kubernetes release sekisho is compared with.
const kubeVersion = "v1.37.2"

// helmVersion is the helm the suite installs a chart with.
const helmVersion = "v4.3.1"

const metricsServerVersion = "v0.8.0"

var (
	sekishoBin string
	kubeBinDir string
	helmBin    string
	// metricsServerBin is metrics-server, a real aggregated API server.
	metricsServerBin string
)

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "sekisho-compat-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	sekishoBin = filepath.Join(dir, "sekisho")
	build := exec.Command("go", "build", "-o", sekishoBin, "github.com/sekisho/sekisho/cmd/sekisho")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("building sekisho: %w", err)
	}
	kubeBinDir = os.Getenv("KUBE_BIN_DIR")
	if kubeBinDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return 0, err
		}
		kubeBinDir = filepath.Join(cache, "sekisho", "kube-"+kubeVersion)
	}
	// KUBE_COMPONENTS narrows the build to what a local run needs.
	kube := exec.Command("./build-kube.sh", append([]string{kubeVersion, kubeBinDir}, strings.Fields(os.Getenv("KUBE_COMPONENTS"))...)...)
	kube.Stdout, kube.Stderr = os.Stderr, os.Stderr
	if err := kube.Run(); err != nil {
		return 0, fmt.Errorf("building Kubernetes %s: %w", kubeVersion, err)
	}
	helmDir := filepath.Join(filepath.Dir(kubeBinDir), "helm-"+helmVersion)
	helm := exec.Command("./build-helm.sh", helmVersion, helmDir)
	helm.Stdout, helm.Stderr = os.Stderr, os.Stderr
	if err := helm.Run(); err != nil {
		return 0, fmt.Errorf("building helm %s: %w", helmVersion, err)
	}
	helmBin = filepath.Join(helmDir, "helm")
	msDir := filepath.Join(filepath.Dir(kubeBinDir), "metrics-server-"+metricsServerVersion)
	ms := exec.Command("./build-metrics-server.sh", metricsServerVersion, msDir)
	ms.Stdout, ms.Stderr = os.Stderr, os.Stderr
	if err := ms.Run(); err != nil {
		return 0, fmt.Errorf("building metrics-server %s: %w", metricsServerVersion, err)
	}
	metricsServerBin = filepath.Join(msDir, "metrics-server")
	return m.Run(), nil
}

// handedOut holds every port freePort has returned in this process: a
// port is only free until its server binds it, and in the meantime another
// freePort (a kube-apiserver's, an etcd member's) must not return it again.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a TCP port nothing listens on at the moment, and that
// no earlier call in this process returned.
func freePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	// Below Linux's ephemeral range (32768-60999): a port the kernel hands
	// out for :0 is one it may hand again to any outgoing connection in
	// the moment before the server binds it.
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			l.Close()
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no free port between 20000 and 32000")
	return 0
}

// cluster is one PKI, written by sekisho certs init, shared by a sekisho
// and (when started) a kube-apiserver with kubeadm's flags over etcd.
type cluster struct {
	t   testing.TB
	dir string
	// procs are the processes started, by name, for their resource use.
	procs map[string]*os.Process
	// sekishoPort is the port the kubeconfig files name.
	sekishoPort int
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	dir, port := t.TempDir(), freePort(t)
	cmd := exec.Command(sekishoBin, "certs", "init", "--dir", dir, "--apiserver-advertise-address", "127.0.0.1",
		"--apiserver-bind-port", strconv.Itoa(port), "--apiserver-cert-extra-sans", "localhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	// Both servers take the admission configuration sekisho up writes
	// into its data directory when there is none (cmd/sekisho/up.go): up
	// finds this one there and keeps it.
	if err := os.WriteFile(filepath.Join(dir, "admission.yaml"), []byte(upAdmissionConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, dir: dir, sekishoPort: port, procs: map[string]*os.Process{}}
}

// upAdmissionConfig is a copy of the AdmissionConfiguration sekisho up
// writes: PodSecurity enforcing baseline, warning and auditing
// restricted, kube-system exempt.
const upAdmissionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      enforce-version: latest
      audit: restricted
      audit-version: latest
      warn: restricted
      warn-version: latest
    exemptions:
      usernames: []
      runtimeClasses: []
      namespaces: [kube-system]
- name: EventRateLimit
  configuration:
    apiVersion: eventratelimit.admission.k8s.io/v1alpha1
    kind: Configuration
    limits:
    - {type: Server, qps: 5000, burst: 20000}
    - {type: Namespace, qps: 50, burst: 100, cacheSize: 2000}
`

func (c *cluster) pki(name string) string { return filepath.Join(c.dir, "pki", name) }

// server is a running API server and a client of it as kubernetes-super-admin (system:masters: kube-apiserver has no kubeadm RBAC objects).
type server struct {
	name   string
	url    string
	client *http.Client
}

// run starts a binary that lives until the test ends, and returns a channel
// closed when it exits. Its output is logged if the test fails.
func (c *cluster) run(name, bin string, args ...string) <-chan struct{} {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	log := &bytes.Buffer{}
	var out io.Writer = log
	// COMPAT_LOG_DIR keeps every process's whole log, for debugging.
	if dir := os.Getenv("COMPAT_LOG_DIR"); dir != "" {
		f, err := os.Create(filepath.Join(dir, t.Name()+"-"+filepath.Base(name)+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		out = io.MultiWriter(log, f)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	c.procs[name] = cmd.Process
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("%s log (last 8 KiB):\n%s", name, tail(log.String(), 8192))
		}
	})
	return exited
}

// startComponent runs a Kubernetes component binary until the test ends.
func (c *cluster) startComponent(name string, args ...string) {
	c.run(name, filepath.Join(kubeBinDir, name), args...)
}

// startProcess runs a server binary until the test ends and waits for its
// /readyz to answer ok.
func (c *cluster) startProcess(name, bin string, port int, args ...string) *server {
	t := c.t
	t.Helper()
	exited := c.run(name, bin, args...)
	s := &server{name: name, url: "https://127.0.0.1:" + strconv.Itoa(port)}
	cfg, err := clientcmd.BuildConfigFromFlags(s.url, filepath.Join(c.dir, "super-admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSClientConfig.ServerName = "kubernetes"
	if s.client, err = rest.HTTPClientFor(cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited", name)
		default:
		}
		resp, err := s.client.Get(s.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startSekisho serves the cluster's API with sekisho up.
func (c *cluster) startSekisho(extra ...string) *server {
	args := []string{"up", "--data-dir", c.dir, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.sekishoPort)}
	// up denies external IPs and limits Event writes beyond
	// kube-apiserver's defaults; beside a kube-apiserver with its
	// defaults, neither runs, unless a test names the plugin.
	var off []string
	for _, plugin := range []string{"DenyServiceExternalIPs", "EventRateLimit"} {
		if !strings.Contains(strings.Join(extra, " "), plugin) {
			off = append(off, plugin)
		}
	}
	if len(off) > 0 {
		args = append(args, "--disable-admission-plugins="+strings.Join(off, ","))
	}
	// Nor does up's audit log, which kube-apiserver does not keep
	// unless told to.
	if !strings.Contains(strings.Join(extra, " "), "--audit-") {
		args = append(args, "--audit-policy-file=")
	}
	// Nor does it encrypt Secrets at rest, as up does by default.
	if !strings.Contains(strings.Join(extra, " "), "--encryption-") {
		args = append(args, "--encryption-provider-config=")
	}
	return c.startProcess("sekisho", sekishoBin, c.sekishoPort, append(args, extra...)...)
}

// startKubeAPIServer starts etcd over mutual TLS and a kube-apiserver with
// the flags kubeadm gives it.
func (c *cluster) startKubeAPIServer(extra ...string) *server {
	c.t.Helper()
	return c.startKubeAPIServerOn(freePort(c.t), c.startEtcd(), extra...)
}

// startKubeAPIServerOn starts kube-apiserver with kubeadm's flags on port,
// over the etcd at etcdURL.
func (c *cluster) startKubeAPIServerOn(port int, etcdURL string, extra ...string) *server {
	c.t.Helper()
	return c.startProcess("kube-apiserver", filepath.Join(kubeBinDir, "kube-apiserver"), port, append([]string{
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback address, and nothing
		// here reaches the API through the kubernetes Service.
		"--endpoint-reconciler-type=none",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--allow-privileged=true",
		"--authorization-mode=Node,RBAC",
		"--client-ca-file=" + c.pki("ca.crt"),
		"--enable-admission-plugins=NodeRestriction",
		"--admission-control-config-file=" + filepath.Join(c.dir, "admission.yaml"),
		"--enable-bootstrap-token-auth=true",
		"--etcd-cafile=" + c.pki("etcd/ca.crt"),
		"--etcd-certfile=" + c.pki("apiserver-etcd-client.crt"),
		"--etcd-keyfile=" + c.pki("apiserver-etcd-client.key"),
		"--etcd-servers=" + etcdURL,
		"--kubelet-client-certificate=" + c.pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + c.pki("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		"--proxy-client-cert-file=" + c.pki("front-proxy-client.crt"),
		"--proxy-client-key-file=" + c.pki("front-proxy-client.key"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-client-ca-file=" + c.pki("front-proxy-ca.crt"),
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki("sa.pub"),
		"--service-account-signing-key-file=" + c.pki("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/12",
		"--tls-cert-file=" + c.pki("apiserver.crt"),
		"--tls-private-key-file=" + c.pki("apiserver.key"),
	}, extra...)...)
}

// startEtcd runs an embedded etcd member serving clients over mutual TLS
// with the cluster's etcd certificates, and returns its client URL.
func (c *cluster) startEtcd() string {
	t := c.t
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(c.dir, "etcd-data")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client, _ := url.Parse("https://127.0.0.1:" + strconv.Itoa(freePort(t)))
	peer, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(freePort(t)))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.ClientTLSInfo.CertFile = c.pki("etcd/server.crt")
	cfg.ClientTLSInfo.KeyFile = c.pki("etcd/server.key")
	cfg.ClientTLSInfo.TrustedCAFile = c.pki("etcd/ca.crt")
	cfg.ClientTLSInfo.ClientCertAuth = true
	cfg.CipherSuites = nil
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready")
	}
	return client.String()
}

// get fetches a path with the given Accept header and decodes JSON into out.
func (s *server) get(t *testing.T, path, accept string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s GET %s: %v", s.name, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s GET %s: %v\n%s", s.name, path, err, body)
		}
	}
	return resp.StatusCode
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestUpAdmissionConfigCopyIsCurrent keeps upAdmissionConfig the same as
// the configuration sekisho up writes (its source's constant, past the
// comment line), so that kube-apiserver is compared under up's rules.
func TestUpAdmissionConfigCopyIsCurrent(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "cmd", "sekisho", "up.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "const upAdmissionConfig = `")
	up, _, closed := strings.Cut(rest, "`")
	if !ok || !closed {
		t.Fatal("cmd/sekisho/up.go has no upAdmissionConfig constant")
	}
	if _, body, _ := strings.Cut(up, "\n"); strings.HasPrefix(up, "#") {
		up = body
	}
	if up != upAdmissionConfig {
		t.Errorf("up writes:\n%s\nthe harness gives both servers:\n%s", up, upAdmissionConfig)
	}
}
