package compat

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/util/exec"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// testKubelet is a kubelet's streaming endpoints in Go: /containerLogs,
// /exec, /attach and /portForward with the kubelet's own server code
// (k8s.io/cri-streaming), over TLS, answering only the API server's
// kubelet client certificate. Its "containers" run two commands: echo and
// cat; "exit N" fails with code N; container "refuse" refuses every
// upgrade.
type testKubelet struct {
	addr   string
	caFile string

	mu       sync.Mutex
	requests []string // "METHOD path" of every request that reached a handler
}

func (k *testKubelet) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.requests...)
}

// startTestKubelet serves on 127.0.0.1 with a certificate from its own CA
// (written to caFile for --kubelet-certificate-authority), trusting client
// certificates of the cluster CA with the API server's kubelet client name.
// testServingCert issues, from a new CA, a serving certificate for the
// names and addresses given; it returns the CA in PEM.
func testServingCert(t testing.TB, caName, cn string, dnsNames []string, ips []net.IP) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, DNSNames: dnsNames, IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (c *cluster) startTestKubelet() *testKubelet {
	t := c.t
	caPEM, serving := testServingCert(t, "test-kubelet-ca", "test-kubelet", nil, []net.IP{net.ParseIP("127.0.0.1")})
	caFile := filepath.Join(c.dir, "test-kubelet-ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	clusterCA, err := os.ReadFile(c.pki("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	clients.AppendCertsFromPEM(clusterCA)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serving},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clients,
		NextProtos:   []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	k := &testKubelet{addr: ln.Addr().String(), caFile: caFile}
	srv := &http.Server{Handler: k, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

func (k *testKubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Only the API server, with its kubelet client certificate.
	if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "kube-apiserver-kubelet-client" {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	k.mu.Lock()
	k.requests = append(k.requests, r.Method+" "+r.URL.Path)
	k.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	const idle, creation = 30 * time.Second, 10 * time.Second
	switch {
	case len(parts) == 4 && parts[0] == "containerLogs":
		lines := []string{"first line of " + parts[3], "last line of " + parts[3]}
		if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n < len(lines) {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprint(w, strings.Join(lines, "\n")+"\n")
	case len(parts) == 4 && parts[3] == "refuse":
		http.Error(w, "this container takes no streams", http.StatusBadRequest)
	case len(parts) == 4 && parts[0] == "exec":
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeExec(w, r, runner{}, parts[2], "", parts[3], r.URL.Query()["command"], opts, idle, creation, remotecommand.SupportedStreamingProtocols)
	case len(parts) == 4 && parts[0] == "attach":
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeAttach(w, r, runner{}, parts[2], "", parts[3], opts, idle, creation, remotecommand.SupportedStreamingProtocols)
	case len(parts) == 3 && parts[0] == "portForward":
		opts, err := portforward.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		portforward.ServePortForward(w, r, runner{}, parts[2], "", opts, idle, creation, portforward.SupportedProtocols)
	default:
		http.NotFound(w, r)
	}
}

// runner is the test kubelet's container runtime.
type runner struct{}

func (runner) ExecInContainer(_ context.Context, _, _, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if len(cmd) == 0 {
		return errors.New("no command")
	}
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(out, strings.Join(cmd[1:], " "))
	case "cat":
		if in != nil {
			io.Copy(out, in)
		}
	case "exit":
		code, _ := strconv.Atoi(cmd[1])
		fmt.Fprintln(errw, "exiting with", code)
		return exec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	default:
		return fmt.Errorf("%s: command not found in %s", cmd[0], container)
	}
	return nil
}

func (runner) AttachContainer(_ context.Context, _, _, container string, in io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize) error {
	fmt.Fprintln(out, "attached to "+container)
	if in != nil {
		io.Copy(out, in)
	}
	return nil
}

// PortForward answers every connection to any port with what it reads,
// after "port N: ".
func (runner) PortForward(_ context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	br := bufio.NewReader(stream)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			fmt.Fprintf(stream, "port %d: %s", port, line)
		}
		if err != nil {
			return nil
		}
	}
}
