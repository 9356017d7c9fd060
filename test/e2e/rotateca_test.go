package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// kubeconfigTLS reads a kubeconfig's CA bundle and client certificate, as
// a client does when it starts.
func kubeconfigTLS(t *testing.T, path string) *tls.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Error(err)
		return nil
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	user, cluster := cfg.AuthInfos[ctx.AuthInfo], cfg.Clusters[ctx.Cluster]
	cert, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData)
	if err != nil {
		t.Error(err)
		return nil
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cluster.CertificateAuthorityData)
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// loop calls try every interval until halted, and counts failures.
type loop struct {
	requests, failures atomic.Int64
	firstErr           atomic.Value
	stop               chan struct{}
	once               sync.Once
	done               sync.WaitGroup
}

func startLoop(t *testing.T, interval time.Duration, try func() error) *loop {
	l := &loop{stop: make(chan struct{})}
	t.Cleanup(l.halt) // before the test ends, also when it fails early
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(interval):
			}
			l.requests.Add(1)
			if err := try(); err != nil {
				l.failures.Add(1)
				l.firstErr.CompareAndSwap(nil, err.Error())
			}
		}
	}()
	return l
}

func (l *loop) halt() { l.once.Do(func() { close(l.stop) }); l.done.Wait() }

// startLoad sends a request on a new TLS connection every 20 ms with the
// credentials of kubeconfig read anew for each one (fresh) or once at
// the start (stale), verifying the server against roots instead of the
// kubeconfig's bundle when roots is set.
func startLoad(t *testing.T, s *server, kubeconfig string, fresh bool, roots *x509.CertPool) *loop {
	stale := kubeconfigTLS(t, kubeconfig)
	return startLoop(t, 20*time.Millisecond, func() error {
		cfg := stale
		if fresh {
			cfg = kubeconfigTLS(t, kubeconfig)
		}
		if roots != nil && cfg != nil {
			cfg = cfg.Clone()
			cfg.RootCAs = roots
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
		resp, err := client.Get(s.url("/api/v1/namespaces/default"))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

// rotateCA runs `sekisho certs rotate-ca`, killed with SIGKILL right after
// step killAfter when it is not 0.
func rotateCA(t *testing.T, dir string, killAfter int, args ...string) (out string, code int, killed bool) {
	t.Helper()
	cmd := exec.Command(sekishoBin, append([]string{"certs", "rotate-ca", "--dir", dir}, args...)...)
	if killAfter > 0 {
		cmd.Env = append(os.Environ(), "SEKISHO_ROTATE_CA_KILL_AFTER="+string(rune('0'+killAfter)))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = true
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String() + stderr.String(), code, killed
}

// `sekisho certs rotate-ca` replaces the cluster CA of a running server
// with zero failed requests: a load client opening a new TLS connection
// every 20 ms with admin.conf as it stands, and kubectl, never fail. The
// command is killed with SIGKILL after each of the first three steps and
// resumes. A certificate signed through the certificates API meanwhile
// comes from the new CA. It refuses to finish while a client still presents an old-CA
// certificate, naming it; once that client stops, it finishes, the old
// CA is trusted no more, and every published bundle holds the new CA.
func TestRotateCAWithoutDowntime(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	caFile := filepath.Join(s.dir, "pki", "ca.crt")
	oldCA, _ := os.ReadFile(caFile)

	fresh := startLoad(t, s, admin, true, nil)
	staleTLS := kubeconfigTLS(t, admin)
	stale := startLoad(t, s, admin, false, nil) // keeps the old CA's certificate
	// One that trusts only the old CA, as a kubelet whose kubeconfig was
	// written before the rotation: it verifies the new serving
	// certificate through the cross-signed one.
	oldRoots := x509.NewCertPool()
	oldRoots.AppendCertsFromPEM(oldCA)
	oldTrust := startLoad(t, s, admin, true, oldRoots)
	var kubectlRuns, kubectlFailures atomic.Int64
	stopKubectl := make(chan struct{})
	var kubectlDone sync.WaitGroup
	var stopOnce sync.Once
	t.Cleanup(func() { stopOnce.Do(func() { close(stopKubectl) }); kubectlDone.Wait() })
	kubectlDone.Add(1)
	go func() {
		defer kubectlDone.Done()
		for {
			select {
			case <-stopKubectl:
				return
			case <-time.After(300 * time.Millisecond):
			}
			r := s.kubectlAs(admin, "get", "namespace", "default", "-o", "name")
			kubectlRuns.Add(1)
			if r.code != 0 {
				kubectlFailures.Add(1)
				t.Logf("kubectl failed: %s", r.stderr)
			}
		}
	}()

	start := time.Now()
	for step := 1; step <= 3; step++ {
		out, _, killed := rotateCA(t, s.dir, step, "--unused-for", "2s")
		if !killed {
			t.Fatalf("rotate-ca was to be killed after step %d:\n%s", step, out)
		}
		if want := "[" + string(rune('0'+step)) + "/4]"; !strings.Contains(out, want) {
			t.Fatalf("killed after step %d, the output lacks %s:\n%s", step, want, out)
		}
		if step > 1 && !strings.Contains(out, "resuming the rotation") {
			t.Errorf("the run after a kill did not resume:\n%s", out)
		}
	}
	// A certificate signed through the certificates API now comes from
	// the new CA: a kubelet renewing its client certificate moves to it.
	key := filepath.Join(t.TempDir(), "user.key")
	must(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	request := must(t, "openssl", "req", "-new", "-key", key, "-subj", "/CN=rotated-user")
	s.mustKubectl("create", "-f", writeFile(t, "csr.yaml", csrManifest("rotated-user", "kubernetes.io/kube-apiserver-client", []byte(request), 0, "client auth")))
	s.mustKubectl("certificate", "approve", "rotated-user")
	var issued []byte
	if !waitFor(func() bool {
		b64 := s.mustKubectl("get", "csr", "rotated-user", "-o", "jsonpath={.status.certificate}")
		issued, _ = base64.StdEncoding.DecodeString(b64)
		return len(issued) > 0
	}) {
		t.Fatal("the CSR was not signed during the rotation")
	}
	// It comes from the new CA, and carries the cross-signed certificate
	// for peers that trust only the old one.
	newRoots := x509.NewCertPool()
	newRoots.AppendCertsFromPEM([]byte(rotatedCA(t, s.dir)))
	var chain []*x509.Certificate
	for rest := issued; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: newRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("a certificate signed during the rotation does not come from the new CA: %v", err)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: oldRoots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("a certificate signed during the rotation does not verify for a peer trusting the old CA alone: %v", err)
	}

	// check-expiration says a rotation is under way, and where.
	if table := mustSekisho(t, "certs", "check-expiration", "--dir", s.dir); !strings.Contains(table, `CA ROTATION UNDER WAY: ca, at "reissued"`) {
		t.Errorf("check-expiration during the rotation:\n%s", table)
	}

	// The stale client still presents the old CA's certificate: refused,
	// once the server has recorded for longer than --unused-for.
	time.Sleep(3 * time.Second)
	out, code, _ := rotateCA(t, s.dir, 0, "--unused-for", "2s")
	if code != 3 || !strings.Contains(out, "kubernetes-admin") || !strings.Contains(out, "not finishing") {
		t.Fatalf("with an old-CA client active, rotate-ca exited %d:\n%s", code, out)
	}
	stale.halt()
	oldTrust.halt()
	if n := oldTrust.failures.Load(); n > 0 || oldTrust.requests.Load() == 0 {
		t.Errorf("a client trusting only the old CA failed %d of %d times before the old CA was dropped: %v", n, oldTrust.requests.Load(), oldTrust.firstErr.Load())
	}
	if n := stale.failures.Load(); n > 0 {
		t.Errorf("the client holding an old-CA certificate failed %d times before the old CA was dropped: %v", n, stale.firstErr.Load())
	}
	out, code, _ = rotateCA(t, s.dir, 0, "--unused-for", "2s", "--wait", "30s")
	if code != 0 || !strings.Contains(out, "[4/4]") {
		t.Fatalf("rotate-ca did not finish (exit %d):\n%s", code, out)
	}
	t.Logf("rotation with three kills took %s", time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // the server reloads within half a second
	fresh.halt()
	stopOnce.Do(func() { close(stopKubectl) })
	kubectlDone.Wait()
	t.Logf("load: %d requests on new connections, %d failed; kubectl: %d runs, %d failed",
		fresh.requests.Load(), fresh.failures.Load(), kubectlRuns.Load(), kubectlFailures.Load())
	if n := fresh.failures.Load(); n > 0 {
		t.Errorf("%d requests failed during the rotation; first: %v", n, fresh.firstErr.Load())
	}
	if kubectlFailures.Load() > 0 {
		t.Errorf("kubectl failed %d times during the rotation", kubectlFailures.Load())
	}

	newCA, _ := os.ReadFile(caFile)
	if bytes.Equal(newCA, oldCA) || bytes.Count(newCA, []byte("BEGIN CERTIFICATE")) != 1 {
		t.Fatalf("ca.crt after the rotation:\n%s", newCA)
	}
	// The old CA's certificate is refused now (the server, verified
	// against the new CA, is not what is checked here); the new
	// credentials work.
	oldCert := &tls.Config{InsecureSkipVerify: true, Certificates: staleTLS.Certificates, MinVersion: tls.VersionTLS12}
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: oldCert}}).Get(s.url("/api/v1/namespaces/default"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an old-CA client certificate after the rotation: %s, want 401", resp.Status)
	}
	if r := s.kubectlAs(admin, "get", "namespace", "default"); r.code != 0 {
		t.Errorf("kubectl with the rotated admin.conf: %s", r.stderr)
	}
	root := strings.TrimSpace(s.mustKubectl("-n", "default", "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"))
	if root != strings.TrimSpace(string(newCA)) {
		t.Errorf("kube-root-ca.crt does not hold the new CA alone:\n%s", root)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "pki", "ca-rotation")); !os.IsNotExist(err) {
		t.Errorf("the rotation's files remain: %v", err)
	}
}

// rotatedCA is the new CA of the rotation under way, as PEM.
func rotatedCA(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "pki", "ca-rotation", "ca", "new.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// proxyTLS is the front proxy's certificate as the files hold it now,
// verifying the server against the cluster CA.
func proxyTLS(t *testing.T, dir string) *tls.Config {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", "front-proxy-client.crt"), filepath.Join(dir, "pki", "front-proxy-client.key"))
	if err != nil {
		t.Error(err)
		return nil
	}
	roots := x509.NewCertPool()
	ca, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	roots.AppendCertsFromPEM(ca)
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// asProxy asks who the server takes the request to be, as an
// authenticating proxy asserting alice.
func asProxy(s *server, cfg *tls.Config) (int, string, error) {
	req, _ := http.NewRequest("POST", s.url(selfSubjectReviewPath), strings.NewReader(selfSubjectReviewBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Remote-User", "alice")
	req.Header.Set("X-Remote-Group", "team")
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), nil
}

// startProxyLoad asserts alice through the authenticating proxy every
// 50 ms, with the proxy certificate read anew each time, or fixed.
func startProxyLoad(t *testing.T, s *server, fixed *tls.Config) *loop {
	return startLoop(t, 50*time.Millisecond, func() error {
		cfg := fixed
		if cfg == nil {
			cfg = proxyTLS(t, s.dir)
		}
		code, body, err := asProxy(s, cfg)
		if err != nil || code != 201 || !strings.Contains(body, `"username":"alice"`) {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		return nil
	})
}

// The front-proxy CA rotates the same way: a proxy reading its
// certificate files anew keeps asserting users throughout, one holding
// the old certificate keeps working until the end and is named in the
// refusal to finish, and after the rotation the old proxy certificate
// asserts no one.
func TestRotateFrontProxyCA(t *testing.T) {
	s := startServer(t)
	oldProxy := proxyTLS(t, s.dir)
	fresh := startProxyLoad(t, s, nil)
	stale := startProxyLoad(t, s, oldProxy)
	time.Sleep(3 * time.Second) // the server records for longer than --unused-for
	out, code, _ := rotateCA(t, s.dir, 0, "--ca", "front-proxy-ca", "--unused-for", "2s")
	if code != 3 || !strings.Contains(out, "front-proxy-client") || !strings.Contains(out, "[3/4]") {
		t.Fatalf("with the old proxy certificate in use, rotate-ca --ca front-proxy-ca exited %d:\n%s", code, out)
	}
	stale.halt()
	if n := stale.failures.Load(); n > 0 || stale.requests.Load() == 0 {
		t.Errorf("the proxy holding the old certificate failed %d of %d times before the end: %v", n, stale.requests.Load(), stale.firstErr.Load())
	}
	out, code, _ = rotateCA(t, s.dir, 0, "--ca", "front-proxy-ca", "--unused-for", "2s", "--wait", "30s")
	if code != 0 || !strings.Contains(out, "[4/4]") {
		t.Fatalf("rotate-ca --ca front-proxy-ca did not finish (exit %d):\n%s", code, out)
	}
	time.Sleep(time.Second) // the server reloads within half a second
	fresh.halt()
	t.Logf("proxy: %d requests, %d failed", fresh.requests.Load(), fresh.failures.Load())
	if n := fresh.failures.Load(); n > 0 {
		t.Errorf("%d proxied requests failed during the rotation; first: %v", n, fresh.firstErr.Load())
	}
	if code, body, err := asProxy(s, oldProxy); err != nil || strings.Contains(body, `"username":"alice"`) {
		t.Errorf("the old proxy certificate still asserts users: %d %s %v", code, body, err)
	}
	published := s.mustKubectl("-n", "kube-system", "get", "configmap", "extension-apiserver-authentication", "-o", "jsonpath={.data.requestheader-client-ca-file}")
	newCA, _ := os.ReadFile(filepath.Join(s.dir, "pki", "front-proxy-ca.crt"))
	if strings.TrimSpace(published) != strings.TrimSpace(string(newCA)) || strings.Count(string(newCA), "BEGIN CERTIFICATE") != 1 {
		t.Errorf("the published front-proxy CA is not the new one alone:\n%s", published)
	}
}
