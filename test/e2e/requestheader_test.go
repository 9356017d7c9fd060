package e2e

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestHeaderProxy checks the authenticating proxy: identity headers
// count only behind a front-proxy certificate with an allowed CN.
func TestRequestHeaderProxy(t *testing.T) {
	requireTools(t, "openssl", "kubectl")
	s := startServer(t)
	proxyCert, err := tls.LoadX509KeyPair(filepath.Join(s.dir, "pki/front-proxy-client.crt"), filepath.Join(s.dir, "pki/front-proxy-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	whoami := func(c *http.Client, headers map[string]string) (int, string) {
		req := mustRequest(t, "POST", s.url("/apis/authentication.k8s.io/v1/selfsubjectreviews"), strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Add(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	headers := map[string]string{
		"X-Remote-User": "alice", "X-Remote-Group": "system:masters", "X-Remote-Uid": "a-1",
		"X-Remote-Extra-Acme.com%2Fproject": "p1",
	}
	code, body := whoami(clientWithCert(t, s, proxyCert), headers)
	for _, want := range []string{`"username":"alice"`, `"uid":"a-1"`, `"groups":["system:masters","system:authenticated"]`, `"acme.com/project":["p1"]`} {
		if code != 201 || !strings.Contains(body, want) {
			t.Errorf("through the proxy, lacks %s: %d %s", want, code, body)
		}
	}
	// A Go client that picks its certificate by the CAs the server asks
	// for, as a Go front proxy does: the handshake must list the
	// front-proxy CA too, as kube-apiserver's does, or the proxy sends no
	// certificate. Here it holds a cluster-CA certificate as well, which it
	// must not choose for headers.
	var offered [][]byte
	picker := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: s.caPool(t), MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			offered = cri.AcceptableCAs
			if cri.SupportsCertificate(&proxyCert) == nil {
				return &proxyCert, nil
			}
			return &tls.Certificate{}, nil
		},
	}}}
	code, body = whoami(picker, headers)
	if code != 201 || !strings.Contains(body, `"username":"alice"`) {
		t.Errorf("a client choosing by the acceptable CAs: %d %s", code, body)
	}
	names := map[string]bool{}
	for _, raw := range offered {
		var name pkix.RDNSequence
		if _, err := asn1.Unmarshal(raw, &name); err == nil {
			var n pkix.Name
			n.FillFromRDNSequence(&name)
			names[n.CommonName] = true
		}
	}
	if !names["kubernetes-ca"] || !names["kubernetes-front-proxy-ca"] {
		t.Errorf("acceptable CAs in the handshake: %v, want the cluster CA and the front-proxy CA", names)
	}

	// A client certificate of the cluster CA: the headers are ignored.
	code, body = whoami(s.client(true), headers)
	if code != 201 || !strings.Contains(body, `"username":"kubernetes-super-admin"`) {
		t.Errorf("headers from a client certificate were honoured: %d %s", code, body)
	}
	// No certificate at all: the headers are ignored, so 401.
	if code, _ := whoami(s.anonClient(), headers); code != 401 {
		t.Errorf("headers without a certificate: %d", code)
	}
	// A front-proxy certificate with a CN not on the allowed list.
	dir := t.TempDir()
	key, csr, crt, ext := filepath.Join(dir, "k"), filepath.Join(dir, "csr"), filepath.Join(dir, "crt"), filepath.Join(dir, "ext")
	os.WriteFile(ext, []byte("extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"), 0o600)
	must(t, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc", "-keyout", key, "-out", csr, "-subj", "/CN=rogue-proxy")
	must(t, "openssl", "x509", "-req", "-in", csr, "-CA", filepath.Join(s.dir, "pki/front-proxy-ca.crt"), "-CAkey", filepath.Join(s.dir, "pki/front-proxy-ca.key"),
		"-set_serial", "0x77", "-days", "1", "-extfile", ext, "-out", crt)
	rogue, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := whoami(clientWithCert(t, s, rogue), headers); code != 401 {
		t.Errorf("proxy with a CN not allowed: %d %s", code, body)
	}
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), `proxy certificate CN \"rogue-proxy\" is not in --requestheader-allowed-names`)
	}) {
		t.Error("the log does not explain the refused proxy")
	}

	// The settings are published for aggregated API servers.
	cm := s.mustKubectl("-n", "kube-system", "get", "cm", "extension-apiserver-authentication", "-o", "jsonpath={.data}")
	for _, want := range []string{`"requestheader-allowed-names":"[\"front-proxy-client\"]"`, `"requestheader-username-headers":"[\"X-Remote-User\"]"`,
		`"requestheader-extra-headers-prefix":"[\"X-Remote-Extra-\"]"`, `requestheader-client-ca-file`, `client-ca-file`} {
		if !strings.Contains(cm, want) {
			t.Errorf("extension-apiserver-authentication lacks %s: %s", want, cm)
		}
	}

	// A CA added to the front-proxy bundle is published once it reloads.
	extraKey, extraCA := filepath.Join(dir, "extra-ca.key"), filepath.Join(dir, "extra-ca.crt")
	must(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc", "-keyout", extraKey, "-out", extraCA,
		"-subj", "/CN=second-front-proxy-ca", "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
	bundle, _ := os.ReadFile(filepath.Join(s.dir, "pki/front-proxy-ca.crt"))
	extra, _ := os.ReadFile(extraCA)
	if err := os.WriteFile(filepath.Join(s.dir, "pki/front-proxy-ca.crt"), append(bundle, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool {
		published := s.mustKubectl("-n", "kube-system", "get", "cm", "extension-apiserver-authentication", "-o", "jsonpath={.data.requestheader-client-ca-file}")
		return strings.Count(published, "BEGIN CERTIFICATE") == 2
	}) {
		t.Error("the reloaded front-proxy CA bundle was not republished")
	}

	// A front-proxy bundle that contains the client CA is refused at start:
	// any client certificate could then assert identities.
	shared := t.TempDir()
	r := sekisho(t, "up", "--data-dir", shared, "--secure-port", "1", "--requestheader-client-ca-file", filepath.Join(shared, "pki/ca.crt"),
		"--requestheader-allowed-names", "front-proxy-client", "--requestheader-username-headers", "X-Remote-User")
	if r.code == 0 || !strings.Contains(r.stderr, `--requestheader-client-ca-file: the CA "CN=kubernetes-ca" is also in --client-ca-file`) {
		t.Errorf("a front-proxy bundle with the client CA was accepted: %+v", r)
	}

	// An empty allowed-names list must be asked for explicitly.
	r = sekisho(t, "up", "--data-dir", t.TempDir(), "--secure-port", "1", "--requestheader-allowed-names", "")
	if r.code == 0 || !strings.Contains(r.stderr, "--requestheader-allowed-names must not be empty") {
		t.Errorf("empty allowed names: %+v", r)
	}
}
