package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// initFlags pin the facts that shape the certificates, so the test does not
// depend on this machine's hostname or addresses.
var initFlags = []string{
	"--node-name", "cp-1",
	"--apiserver-advertise-address", "192.0.2.10",
	"--apiserver-cert-extra-sans", "api.example.com,203.0.113.7",
}

type certWant struct {
	file, subject, issuer string
	usage, ext, sans      string
}

const (
	serverEKU = "TLS Web Server Authentication"
	clientEKU = "TLS Web Client Authentication"
	bothEKU   = "TLS Web Server Authentication, TLS Web Client Authentication"
	leafKU    = "Digital Signature, Key Encipherment"
	etcdSANs  = "DNS:cp-1, DNS:localhost, IP Address:192.0.2.10, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
)

// wantCerts is the Kubernetes PKI requirements table, as openssl prints it.
var wantCerts = []certWant{
	{"ca", "CN = kubernetes-ca", "CN = kubernetes-ca", "Certificate Sign, CRL Sign", "", ""},
	{"etcd/ca", "CN = etcd-ca", "CN = etcd-ca", "Certificate Sign, CRL Sign", "", ""},
	{"front-proxy-ca", "CN = kubernetes-front-proxy-ca", "CN = kubernetes-front-proxy-ca", "Certificate Sign, CRL Sign", "", ""},
	{"etcd/server", "CN = kube-etcd", "CN = etcd-ca", leafKU, bothEKU, etcdSANs},
	{"etcd/peer", "CN = kube-etcd-peer", "CN = etcd-ca", leafKU, bothEKU, etcdSANs},
	{"etcd/healthcheck-client", "CN = kube-etcd-healthcheck-client", "CN = etcd-ca", leafKU, clientEKU, ""},
	{"apiserver-etcd-client", "O = system:masters, CN = kube-apiserver-etcd-client", "CN = etcd-ca", leafKU, clientEKU, ""},
	{"apiserver", "CN = kube-apiserver", "CN = kubernetes-ca", leafKU, serverEKU,
		"DNS:cp-1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster, " +
			"DNS:kubernetes.default.svc.cluster.local, DNS:api.example.com, IP Address:192.0.2.10, IP Address:10.96.0.1, IP Address:203.0.113.7"},
	{"apiserver-kubelet-client", "O = system:masters, CN = kube-apiserver-kubelet-client", "CN = kubernetes-ca", leafKU, clientEKU, ""},
	{"front-proxy-client", "CN = front-proxy-client", "CN = kubernetes-front-proxy-ca", leafKU, clientEKU, ""},
}

func caFileOf(w certWant) string {
	switch w.issuer {
	case "CN = etcd-ca":
		return "etcd/ca.crt"
	case "CN = kubernetes-front-proxy-ca":
		return "front-proxy-ca.crt"
	}
	return "ca.crt"
}

// checkCertWithOpenSSL verifies one certificate and its key with openssl.
func checkCertWithOpenSSL(t *testing.T, pkiDir string, w certWant, keyBits string) {
	t.Helper()
	crt, key := filepath.Join(pkiDir, w.file+".crt"), filepath.Join(pkiDir, w.file+".key")
	out := must(t, "openssl", "x509", "-in", crt, "-noout", "-subject", "-issuer",
		"-ext", "keyUsage,extendedKeyUsage,subjectAltName,basicConstraints", "-dates")
	isCA := w.ext == ""
	for _, want := range []string{"subject=" + w.subject + "\n", "issuer=" + w.issuer + "\n", w.usage} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: openssl output lacks %q:\n%s", w.file, want, out)
		}
	}
	if isCA {
		if !strings.Contains(out, "CA:TRUE") {
			t.Errorf("%s: not CA:TRUE:\n%s", w.file, out)
		}
	} else {
		if !strings.Contains(out, "CA:FALSE") || !strings.Contains(out, "Extended Key Usage: \n    "+w.ext+"\n") {
			t.Errorf("%s: want CA:FALSE and EKU %q:\n%s", w.file, w.ext, out)
		}
		if !strings.Contains(out, "Key Usage: critical\n    "+leafKU+"\n") {
			t.Errorf("%s: key usage is not exactly %q:\n%s", w.file, leafKU, out)
		}
	}
	if w.sans != "" && !strings.Contains(out, "Subject Alternative Name: \n    "+w.sans+"\n") {
		t.Errorf("%s: SANs are not %q:\n%s", w.file, w.sans, out)
	}
	if w.sans == "" && strings.Contains(out, "Subject Alternative Name") {
		t.Errorf("%s: unexpected SANs:\n%s", w.file, out)
	}
	if !isCA {
		must(t, "openssl", "verify", "-CAfile", filepath.Join(pkiDir, caFileOf(w)), crt)
		// Valid for a year: still valid in 364 days, expired in 366.
		must(t, "openssl", "x509", "-in", crt, "-noout", "-checkend", fmt.Sprint(364*86400))
		if r := run(t, "openssl", "x509", "-in", crt, "-noout", "-checkend", fmt.Sprint(366*86400)); r.code == 0 {
			t.Errorf("%s: valid for more than a year", w.file)
		}
	}
	certPub := must(t, "openssl", "x509", "-in", crt, "-noout", "-pubkey")
	keyPub := must(t, "openssl", "pkey", "-in", key, "-pubout")
	if certPub != keyPub {
		t.Errorf("%s: certificate and key differ", w.file)
	}
	if text := must(t, "openssl", "pkey", "-in", key, "-noout", "-text"); !strings.Contains(text, keyBits) {
		t.Errorf("%s: key is not %s: %s", w.file, keyBits, strings.SplitN(text, "\n", 2)[0])
	}
	checkMode(t, crt, 0o644)
	checkMode(t, key, 0o600)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, info.Mode().Perm(), want)
	}
}

type kubeconfigWant struct{ file, user, subject, server string }

var wantKubeconfigs = []kubeconfigWant{
	{"admin.conf", "kubernetes-admin", "O = kubeadm:cluster-admins, CN = kubernetes-admin", "https://192.0.2.10:6443"},
	{"super-admin.conf", "kubernetes-super-admin", "O = system:masters, CN = kubernetes-super-admin", "https://192.0.2.10:6443"},
	{"kubelet.conf", "system:node:cp-1", "O = system:nodes, CN = system:node:cp-1", "https://192.0.2.10:6443"},
	{"controller-manager.conf", "system:kube-controller-manager", "CN = system:kube-controller-manager", "https://192.0.2.10:6443"},
	{"scheduler.conf", "system:kube-scheduler", "CN = system:kube-scheduler", "https://192.0.2.10:6443"},
}

// checkKubeconfigWithKubectl reads a kubeconfig with kubectl and checks its
// embedded client certificate with openssl.
func checkKubeconfigWithKubectl(t *testing.T, path, caFile string, w kubeconfigWant) {
	t.Helper()
	checkMode(t, path, 0o600)
	raw := must(t, "kubectl", "config", "view", "--raw", "--kubeconfig", path, "-o", "json")
	var cfg struct {
		CurrentContext string `json:"current-context"`
		Clusters       []struct {
			Name    string `json:"name"`
			Cluster struct {
				Server string `json:"server"`
				CAData string `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			Name string `json:"name"`
			User struct {
				CertData string `json:"client-certificate-data"`
				KeyData  string `json:"client-key-data"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("%s: %v", w.file, err)
	}
	if len(cfg.Clusters) != 1 || len(cfg.Users) != 1 {
		t.Fatalf("%s: want one cluster and one user, got %d and %d", w.file, len(cfg.Clusters), len(cfg.Users))
	}
	c, u := cfg.Clusters[0], cfg.Users[0]
	if c.Name != "kubernetes" || c.Cluster.Server != w.server || u.Name != w.user || cfg.CurrentContext != w.user+"@kubernetes" {
		t.Errorf("%s: cluster %q server %q user %q context %q", w.file, c.Name, c.Cluster.Server, u.Name, cfg.CurrentContext)
	}
	if c.Cluster.CAData == "" || u.User.CertData == "" || u.User.KeyData == "" {
		t.Fatalf("%s: CA, certificate and key must all be embedded", w.file)
	}
	// Decode the certificate here rather than with a second kubectl call:
	// the kubectl on these machines probes the server first, which costs
	// seconds when the address is unreachable.
	certPEM, err := base64.StdEncoding.DecodeString(u.User.CertData)
	if err != nil {
		t.Fatalf("%s: client-certificate-data: %v", w.file, err)
	}
	certFile := filepath.Join(t.TempDir(), "client.crt")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	out := must(t, "openssl", "x509", "-in", certFile, "-noout", "-subject", "-ext", "extendedKeyUsage")
	if !strings.Contains(out, "subject="+w.subject+"\n") || !strings.Contains(out, clientEKU) {
		t.Errorf("%s: client certificate:\n%s", w.file, out)
	}
	must(t, "openssl", "verify", "-CAfile", caFile, certFile)
}

func TestCertsInitWithOpenSSLAndKubectl(t *testing.T) {
	requireTools(t, "openssl", "kubectl")
	for _, mode := range []struct{ keyType, bits string }{
		{"ecdsa-p256", "Private-Key: (256 bit"},
		{"rsa-2048", "Private-Key: (2048 bit"},
	} {
		t.Run(mode.keyType, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			mustSekisho(t, append([]string{"certs", "init", "--dir", dir, "--key-type", mode.keyType}, initFlags...)...)
			for _, w := range wantCerts {
				checkCertWithOpenSSL(t, filepath.Join(dir, "pki"), w, mode.bits)
			}
			for _, w := range wantKubeconfigs {
				checkKubeconfigWithKubectl(t, filepath.Join(dir, w.file), filepath.Join(dir, "pki/ca.crt"), w)
			}
			// The service-account key pair.
			saPub := must(t, "openssl", "pkey", "-in", filepath.Join(dir, "pki/sa.key"), "-pubout")
			if data, _ := os.ReadFile(filepath.Join(dir, "pki/sa.pub")); string(data) != saPub {
				t.Error("sa.pub does not match sa.key")
			}
			checkMode(t, filepath.Join(dir, "pki/sa.key"), 0o600)
			checkMode(t, filepath.Join(dir, "pki"), 0o700)
			checkMode(t, filepath.Join(dir, "pki/etcd"), 0o700)

			// Idempotent: a second run keeps every file as it is.
			out := mustSekisho(t, append([]string{"certs", "init", "--dir", dir, "--key-type", mode.keyType}, initFlags...)...)
			if strings.Contains(out, "written") || strings.Count(out, "kept") != 27 {
				t.Errorf("second run was not a no-op:\n%s", out)
			}
		})
	}
}

func TestCertsIntermediateCAs(t *testing.T) {
	requireTools(t, "openssl")
	dir := t.TempDir()
	root, rootKey := filepath.Join(dir, "root.crt"), filepath.Join(dir, "root.key")
	must(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
		"-keyout", rootKey, "-out", root, "-subj", "/CN=my-root", "-days", "7300",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	data := filepath.Join(dir, "data")
	mustSekisho(t, append([]string{"certs", "init", "--dir", data, "--root-ca-cert", root, "--root-ca-key", rootKey}, initFlags...)...)
	for _, ca := range []string{"ca", "etcd/ca", "front-proxy-ca"} {
		out := must(t, "openssl", "x509", "-in", filepath.Join(data, "pki", ca+".crt"), "-noout", "-issuer")
		if out != "issuer=CN = my-root\n" {
			t.Errorf("%s issued by %q", ca, out)
		}
		must(t, "openssl", "verify", "-CAfile", root, filepath.Join(data, "pki", ca+".crt"))
	}
	for _, w := range wantCerts[3:] {
		must(t, "openssl", "verify", "-CAfile", root, "-untrusted", filepath.Join(data, "pki", caFileOf(w)), filepath.Join(data, "pki", w.file+".crt"))
	}
	// Without the intermediate, the leaf does not verify against the root.
	if r := run(t, "openssl", "verify", "-CAfile", root, filepath.Join(data, "pki/apiserver.crt")); r.code == 0 {
		t.Error("leaf verified against the root without its intermediate")
	}

	// A 10-year root with the defaults (10-year CAs): the CAs are cut to
	// end with the root, and init says so instead of failing.
	ten, tenKey := filepath.Join(dir, "ten.crt"), filepath.Join(dir, "ten.key")
	must(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
		"-keyout", tenKey, "-out", ten, "-subj", "/CN=my-root", "-days", "3650",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	data = filepath.Join(dir, "data-ten")
	out := mustSekisho(t, "certs", "init", "--dir", data, "--root-ca-cert", ten, "--root-ca-key", tenKey)
	if !strings.Contains(out, `warning: CA "kubernetes-ca": --ca-validity 87600h0m0s would end at`) || !strings.Contains(out, "it is cut to end with the root") {
		t.Errorf("init with a 10-year root:\n%s", out)
	}
	rootEnd := must(t, "openssl", "x509", "-in", ten, "-noout", "-enddate")
	if caEnd := must(t, "openssl", "x509", "-in", filepath.Join(data, "pki/ca.crt"), "-noout", "-enddate"); caEnd != rootEnd {
		t.Errorf("the CA ends %s, the root %s", caEnd, rootEnd)
	}
}

func TestCertsExternalCAWithOpenSSLSigning(t *testing.T) {
	requireTools(t, "openssl")
	dir := t.TempDir()
	mustSekisho(t, append([]string{"certs", "init", "--dir", dir}, initFlags...)...)
	// Move the CA key off the cluster, and drop what it must sign again.
	offline := filepath.Join(t.TempDir(), "ca.key")
	if err := os.Rename(filepath.Join(dir, "pki/ca.key"), offline); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pki/apiserver.crt", "pki/apiserver.key", "admin.conf"} {
		os.Remove(filepath.Join(dir, f))
	}
	r := sekisho(t, append([]string{"certs", "init", "--dir", dir}, initFlags...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "apiserver.crt is missing and CA \"ca\" is external") {
		t.Fatalf("external CA with a missing leaf: exit %d, %s", r.code, r.stderr)
	}
	mustSekisho(t, append([]string{"certs", "generate-csr", "--dir", dir}, initFlags...)...)
	for _, base := range []string{"pki/apiserver", "admin.conf"} {
		must(t, "openssl", "req", "-in", filepath.Join(dir, base+".csr"), "-noout", "-verify")
		must(t, "openssl", "x509", "-req", "-in", filepath.Join(dir, base+".csr"),
			"-CA", filepath.Join(dir, "pki/ca.crt"), "-CAkey", offline, "-set_serial", "0x1234abcd",
			"-copy_extensions", "copyall", "-days", "365", "-out", filepath.Join(dir, base+".crt"))
	}
	out := mustSekisho(t, append([]string{"certs", "init", "--dir", dir}, initFlags...)...)
	if !strings.Contains(out, "written  admin.conf") {
		t.Errorf("admin.conf not assembled:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki/ca.key")); err == nil {
		t.Error("a CA key appeared in external mode")
	}
	checkCertWithOpenSSL(t, filepath.Join(dir, "pki"), wantCerts[7], "Private-Key: (256 bit")
	table := mustSekisho(t, "certs", "check-expiration", "--dir", dir)
	if !regexp.MustCompile(`(?m)^apiserver\s.*\sca\s+yes$`).MatchString(table) || !regexp.MustCompile(`(?m)^ca\s.*\syes$`).MatchString(table) {
		t.Errorf("check-expiration does not mark the external CA:\n%s", table)
	}
	r = sekisho(t, "certs", "renew", "apiserver", "--dir", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "externally managed") {
		t.Errorf("renew under an external CA: exit %d, %s", r.code, r.stderr)
	}
}

func TestCertsRenewAndCheckExpiration(t *testing.T) {
	requireTools(t, "openssl")
	dir := t.TempDir()
	mustSekisho(t, append([]string{"certs", "init", "--dir", dir}, initFlags...)...)
	crt := filepath.Join(dir, "pki/apiserver.crt")
	fields := func() (serial, rest string) {
		serial = must(t, "openssl", "x509", "-in", crt, "-noout", "-serial")
		rest = must(t, "openssl", "x509", "-in", crt, "-noout", "-subject", "-issuer", "-ext", "keyUsage,extendedKeyUsage,subjectAltName")
		return
	}
	serial1, rest1 := fields()
	key1, _ := os.ReadFile(filepath.Join(dir, "pki/apiserver.key"))
	out := mustSekisho(t, "certs", "renew", "all", "--dir", dir)
	if strings.Count(out, "written") != 19 {
		t.Errorf("renew all:\n%s", out)
	}
	serial2, rest2 := fields()
	key2, _ := os.ReadFile(filepath.Join(dir, "pki/apiserver.key"))
	if serial1 == serial2 || rest1 != rest2 || string(key1) == string(key2) {
		t.Errorf("renew: serial %s -> %s, key rotated %v, same subject/SANs %v", serial1, serial2, string(key1) != string(key2), rest1 == rest2)
	}
	mustSekisho(t, "certs", "renew", "apiserver", "--reuse-key", "--dir", dir)
	if key3, _ := os.ReadFile(filepath.Join(dir, "pki/apiserver.key")); string(key3) != string(key2) {
		t.Error("--reuse-key changed the key")
	}
	must(t, "openssl", "verify", "-CAfile", filepath.Join(dir, "pki/ca.crt"), crt)

	table := mustSekisho(t, "certs", "check-expiration", "--dir", dir)
	for _, want := range []string{
		"CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED",
		"CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("check-expiration lacks header %q:\n%s", want, table)
		}
	}
	for _, name := range []string{"admin.conf", "apiserver", "etcd-peer", "front-proxy-client", "super-admin.conf"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+\w{3} \d\d, \d{4} \d\d:\d\d UTC\s+36[45]d\s+\S+\s+no$`).MatchString(table) {
			t.Errorf("no row for %s:\n%s", name, table)
		}
	}
	if !regexp.MustCompile(`(?m)^etcd-ca\s.*\s9y\s+no$`).MatchString(table) {
		t.Errorf("no etcd-ca row:\n%s", table)
	}

	var rep struct {
		Kind         string `json:"kind"`
		Certificates []struct {
			Name         string `json:"name"`
			ResidualTime int64  `json:"residualTime"`
			CAName       string `json:"caName"`
		} `json:"certificates"`
		CAs []struct{ Name string } `json:"certificateAuthorities"`
	}
	if err := json.Unmarshal([]byte(mustSekisho(t, "certs", "check-expiration", "--dir", dir, "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kind != "CertificateExpirationInfo" || len(rep.Certificates) != 12 || len(rep.CAs) != 3 {
		t.Errorf("json report: %+v", rep)
	}

	mustSekisho(t, "certs", "check-expiration", "--dir", dir, "--fail-within", "720h")
	r := sekisho(t, "certs", "check-expiration", "--dir", dir, "--fail-within", "9000h")
	if r.code != 2 || !strings.Contains(r.stderr, "expiring within the window") {
		t.Errorf("--fail-within 9000h: exit %d, %s", r.code, r.stderr)
	}
}

func TestKubeconfigUser(t *testing.T) {
	requireTools(t, "openssl", "kubectl")
	dir := t.TempDir()
	mustSekisho(t, append([]string{"certs", "init", "--dir", dir}, initFlags...)...)
	out := filepath.Join(t.TempDir(), "user01.conf")
	mustSekisho(t, "kubeconfig", "user", "--dir", dir, "--client-name", "user01", "--org", "dev", "--org", "qa", "--out", out)
	checkMode(t, out, 0o600)
	// Several groups form one multi-valued RDN, in DER SET order, as kubeadm's do.
	checkKubeconfigWithKubectl(t, out, filepath.Join(dir, "pki/ca.crt"), kubeconfigWant{filepath.Base(out), "user01", "O = qa + O = dev, CN = user01", "https://192.0.2.10:6443"})

	stdout := mustSekisho(t, "kubeconfig", "user", "--dir", dir, "--client-name", "user02", "--server", "https://lb.example.com:6443", "--validity", "1h")
	if !strings.Contains(stdout, "server: https://lb.example.com:6443") || !strings.Contains(stdout, "name: user02") {
		t.Errorf("kubeconfig on stdout:\n%s", stdout)
	}
	r := sekisho(t, "kubeconfig", "user", "--dir", dir, "--client-name", "root", "--org", "system:masters")
	if r.code == 0 || !strings.Contains(r.stderr, "--allow-system-masters") || r.stdout != "" {
		t.Errorf("system:masters without the flag: exit %d, %s", r.code, r.stderr)
	}
	mustSekisho(t, "kubeconfig", "user", "--dir", dir, "--client-name", "root", "--org", "system:masters", "--allow-system-masters")
}

// TestCertsBadInput checks that each bad input exits non-zero with one line
// that names what is wrong and where, and writes nothing.
func TestCertsBadInput(t *testing.T) {
	good := t.TempDir()
	mustSekisho(t, append([]string{"certs", "init", "--dir", good}, initFlags...)...)
	file := filepath.Join(t.TempDir(), "plain-file")
	os.WriteFile(file, []byte("x"), 0o600)

	// A later --dir overrides the test's own, as pflag keeps the last value.
	cases := []struct {
		name     string
		existing bool // start from a copy of a complete PKI
		setup    func(dir string)
		args     []string
		want     string
	}{
		{"unwritable dir", false, nil, []string{"--dir", filepath.Join(file, "sub")}, "cannot create directory " + file + "/sub: not a directory"},
		{"invalid IP", false, nil, []string{"--apiserver-advertise-address", "300.1.2.3"}, `--apiserver-advertise-address "300.1.2.3": not an IP address`},
		{"invalid IP SAN", false, nil, []string{"--apiserver-cert-extra-sans", "10.0.0.256"}, `--apiserver-cert-extra-sans: "10.0.0.256" is not a valid IP address`},
		{"invalid DNS SAN", false, nil, []string{"--apiserver-cert-extra-sans", "bad_name.example.com"}, `--apiserver-cert-extra-sans: "bad_name.example.com"`},
		{"unknown key type", false, nil, []string{"--key-type", "dsa-1024"}, `--key-type: unknown key type "dsa-1024"`},
		{"negative validity", false, nil, []string{"--cert-validity", "-1h"}, "--cert-validity: must be positive"},
		{"validity longer than the CA's", false, nil, []string{"--cert-validity", "100000h"}, "--cert-validity 100000h0m0s is longer than --ca-validity"},
		{"corrupt PEM", true, func(dir string) {
			os.WriteFile(filepath.Join(dir, "pki/apiserver.crt"), []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"), 0o644)
		}, nil, "pki/apiserver.crt: no PEM certificate found"},
		{"key mismatch", true, func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "pki/front-proxy-client.key"))
			os.WriteFile(filepath.Join(dir, "pki/apiserver.key"), data, 0o600)
		}, nil, "pki/apiserver.crt: certificate does not match private key DIR/pki/apiserver.key"},
		{"external CA with missing leaves", true, func(dir string) {
			os.Remove(filepath.Join(dir, "pki/etcd/ca.key"))
			os.Remove(filepath.Join(dir, "pki/etcd/peer.crt"))
			os.Remove(filepath.Join(dir, "pki/etcd/peer.key"))
		}, nil, `pki/etcd/peer.crt is missing and CA "etcd-ca" is external`},
		{"missing SAN", true, nil, []string{"--apiserver-cert-extra-sans", "new.example.com"}, "pki/apiserver.crt: is missing SAN DNS:new.example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.existing {
				must(t, "cp", "-a", good+"/.", dir)
			}
			if c.setup != nil {
				c.setup(dir)
			}
			before := listTree(t, dir)
			args := append(append([]string{"certs", "init", "--dir", dir}, initFlags...), c.args...)
			r := sekisho(t, args...)
			want := strings.ReplaceAll(c.want, "DIR", dir)
			if r.code == 0 || !strings.HasPrefix(r.stderr, "sekisho: ") || !strings.Contains(r.stderr, want) {
				t.Fatalf("exit %d, stderr %q; want an error containing %q", r.code, r.stderr, want)
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("error is not one line: %q", r.stderr)
			}
			if after := listTree(t, dir); after != before {
				t.Errorf("files changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// listTree renders every file under dir with its size and modification time.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			fmt.Fprintf(&b, "%s:%d:%d ", strings.TrimPrefix(path, dir), info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

func TestVersion(t *testing.T) {
	out := mustSekisho(t, "version")
	if !regexp.MustCompile(`^sekisho v\S+\ncommit: \S+\ngo: go1\.\d+`).MatchString(out) {
		t.Errorf("version output:\n%s", out)
	}
}
