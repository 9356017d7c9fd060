package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
)

// server is a running `sekisho up` process.
type server struct {
	t       testing.TB
	dir     string
	port    int
	cmd     *exec.Cmd
	logs    *syncBuffer
	cache   string // KUBECACHEDIR, so kubectl never reuses another server's discovery
	extra   []string
	stopped bool
	mu      sync.Mutex
	certs   map[string]tls.Certificate
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort is a port free right now, below the kernel's ephemeral range
// and never handed out before in this process (unsharedPort).
func freePort(t testing.TB) int { return unsharedPort(t) }

// withoutRootCAConfigMaps turns off the kube-root-ca.crt publisher, for
// tests that count or watch every ConfigMap of a namespace: it adds one
// to each, as kube-controller-manager does.
const withoutRootCAConfigMaps = "--controllers=*,-root-ca-certificate-publisher-controller"

// startServer runs `sekisho up` in a fresh data directory and waits until
// /readyz answers.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), port: freePort(t), cache: t.TempDir(), extra: extra}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	s.launch()
	s.waitReady()
}

// waitReady waits until a launched server's /readyz answers.
func (s *server) waitReady() {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := s.client(false).Get(s.url("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready:\n%s", s.logs.String())
		}
		if s.cmd.ProcessState != nil {
			t.Fatalf("server exited:\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launch starts `sekisho up` without waiting for it to be ready.
func (s *server) launch() {
	s.t.Helper()
	args := append([]string{"up", "--data-dir", s.dir, "--secure-port", strconv.Itoa(s.port)}, s.extra...)
	s.cmd = exec.Command(sekishoBin, args...)
	s.logs = &syncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.stopped = false
}

// stop ends the server with SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.stopped || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil && !s.t.Failed() {
			s.t.Errorf("server exited with %v:\n%s", err, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server did not stop within 30s:\n%s", s.logs.String())
	}
}

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	s.stopped = true
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

func (s *server) url(path string) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", s.port, path)
}

func (s *server) kubeconfig() string { return filepath.Join(s.dir, "super-admin.conf") }

// client returns an HTTPS client trusting the cluster CA, presenting the
// super-admin certificate when withCert is true.
func (s *server) client(withCert bool) *http.Client {
	return s.clientWith(withCert, "super-admin")
}

// anonClient trusts the cluster CA and presents no certificate.
func (s *server) anonClient() *http.Client { return s.clientWith(false, "") }

func (s *server) clientWith(withCert bool, who string) *http.Client {
	s.t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(s.dir, "pki/ca.crt"))
	if err != nil {
		return &http.Client{Timeout: time.Second}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if withCert {
		cert := s.clientCert(who)
		cfg.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

// send makes one request with c and extra headers, and returns the
// response (its body already read and closed) and the body.
func (s *server) send(t testing.TB, c *http.Client, method, path, contentType, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// caPool is the cluster CA, for clients that verify the server.
func (s *server) caPool(t testing.TB) *x509.CertPool {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(s.dir, "pki/ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("pki/ca.crt holds no certificate")
	}
	return pool
}

// clientCert extracts the certificate and key of DIR/<who>.conf.
func (s *server) clientCert(who string) tls.Certificate {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.certs[who]; ok {
		return c
	}
	kc, err := kubeconfig.LoadFile(filepath.Join(s.dir, who+".conf"))
	if err != nil {
		s.t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(kc.CertPEM, kc.KeyPEM)
	if err != nil {
		s.t.Fatal(err)
	}
	if s.certs == nil {
		s.certs = map[string]tls.Certificate{}
	}
	s.certs[who] = cert
	return cert
}

// kubectl runs kubectl against the server as super-admin.
func (s *server) kubectl(args ...string) result {
	s.t.Helper()
	return s.kubectlAs(s.kubeconfig(), args...)
}

func (s *server) kubectlAs(kubeconfig string, args ...string) result {
	s.t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+s.cache)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("kubectl: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// mustKubectl runs kubectl and fails the test if it fails.
func (s *server) mustKubectl(args ...string) string {
	s.t.Helper()
	return s.mustKubectlAs(s.kubeconfig(), args...)
}

// mustKubectlAs runs kubectl with kubeconfig and fails the test if it fails.
func (s *server) mustKubectlAs(kubeconfig string, args ...string) string {
	s.t.Helper()
	r := s.kubectlAs(kubeconfig, args...)
	if r.code != 0 {
		s.t.Fatalf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// do sends a request as super-admin and returns status and body.
func (s *server) do(method, path, contentType string, body io.Reader) (int, string) {
	s.t.Helper()
	return s.doWith(s.client(true), method, path, contentType, body)
}

func (s *server) doWith(c *http.Client, method, path, contentType string, body io.Reader) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.url(path), body)
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// lines starts reading a stream line by line into a channel.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

type httpTransport = http.Transport

func mustRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func asNetErr(err error, target *net.Error) bool { return errors.As(err, target) }
