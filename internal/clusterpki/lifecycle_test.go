package clusterpki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	return readChain(t, path)[0]
}

func kubeconfigCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	kc, err := kubeconfig.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificates(kc.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func TestExternalCAMode(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	// Take the Kubernetes CA key off the machine: everything it signed is
	// still present and valid, so init succeeds and generates no CA.
	caKey := filepath.Join(dir, "pki/ca.key")
	caKeyPEM, _ := os.ReadFile(caKey)
	os.Remove(caKey)
	before := snapshot(t, dir)
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatalf("external CA with all leaves present: %v", err)
	}
	sameSnapshot(t, before, snapshot(t, dir))

	// A missing leaf under the external CA cannot be made.
	os.Remove(filepath.Join(dir, "pki/apiserver.crt"))
	os.Remove(filepath.Join(dir, "pki/apiserver.key"))
	_, err := Init(testOptions(dir))
	if err == nil || !strings.Contains(err.Error(), "apiserver.crt is missing and CA \"ca\" is external") || !strings.Contains(err.Error(), "generate-csr") {
		t.Fatalf("missing leaf under external CA: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki/ca.key")); err == nil {
		t.Fatal("init generated a CA key in external mode")
	}
	// Renewal is refused with a clear message.
	if _, err := Renew(RenewOptions{Dir: dir, Names: []string{"apiserver-kubelet-client"}, Validity: time.Hour, Now: testNow}); err == nil ||
		!strings.Contains(err.Error(), "externally managed") {
		t.Fatalf("renew under external CA: %v", err)
	}

	// The offline workflow: generate CSRs, sign them with the CA elsewhere,
	// place the certificates, and init validates and assembles.
	os.Remove(filepath.Join(dir, "admin.conf"))
	rep, err := GenerateCSRs(testOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.Written, "pki/apiserver.csr") || !slices.Contains(rep.Written, "admin.conf.csr") {
		t.Fatalf("generate-csr wrote %v", rep.Written)
	}
	if slices.Contains(rep.Written, "pki/front-proxy-client.csr") {
		t.Errorf("generate-csr wrote a CSR for a certificate that exists")
	}
	caKeyParsed, err := pki.ParsePrivateKey(caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ca := &pki.CA{Cert: readCert(t, filepath.Join(dir, "pki/ca.crt")), Key: caKeyParsed}
	for _, base := range []string{"pki/apiserver", "admin.conf"} {
		signCSRLikeAnOfflineCA(t, ca, filepath.Join(dir, base+".csr"), filepath.Join(dir, base+".crt"))
	}
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatalf("init after signing the CSRs: %v", err)
	}
	if got := kubeconfigCert(t, filepath.Join(dir, "admin.conf")).Subject.Organization; !slices.Equal(got, []string{"kubeadm:cluster-admins"}) {
		t.Errorf("assembled admin.conf has O=%v", got)
	}
	rep2, err := CheckExpiration(dir, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep2.Certificates {
		if want := e.CAName == pki.CAKubernetes; e.ExternallyManaged != want {
			t.Errorf("%s: externally managed = %v, want %v", e.Name, e.ExternallyManaged, want)
		}
	}
}

// signCSRLikeAnOfflineCA issues a certificate for a CSR, copying the subject,
// SANs and requested usages as `openssl x509 -req -copy_extensions copyall` does.
func signCSRLikeAnOfflineCA(t *testing.T, ca *pki.CA, csrPath, certPath string) {
	t.Helper()
	data, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(data)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := pki.NewSerial()
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         csr.Subject,
		NotBefore:       testNow,
		NotAfter:        testNow.Add(365 * 24 * time.Hour),
		ExtraExtensions: csr.Extensions,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	writeFile(t, certPath, string(pki.EncodeCertificates(c)))
}

func TestRenew(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	oldAPI := readCert(t, filepath.Join(dir, "pki/apiserver.crt"))
	oldAdmin := kubeconfigCert(t, filepath.Join(dir, "admin.conf"))
	oldKey, _ := os.ReadFile(filepath.Join(dir, "pki/apiserver.key"))
	caKey, _ := os.ReadFile(filepath.Join(dir, "pki/ca.key"))

	later := testNow.Add(200 * 24 * time.Hour)
	rep, err := Renew(RenewOptions{Dir: dir, Names: []string{"all"}, Validity: 8760 * time.Hour, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 7*2+5 {
		t.Errorf("renew all wrote %d files: %v", len(rep.Written), rep.Written)
	}
	newAPI := readCert(t, filepath.Join(dir, "pki/apiserver.crt"))
	if newAPI.SerialNumber.Cmp(oldAPI.SerialNumber) == 0 {
		t.Error("serial unchanged")
	}
	if newAPI.Subject.String() != oldAPI.Subject.String() || !slices.Equal(newAPI.DNSNames, oldAPI.DNSNames) ||
		len(newAPI.IPAddresses) != len(oldAPI.IPAddresses) || pki.KindOf(newAPI) != pki.KindOf(oldAPI) {
		t.Error("renewal changed subject, SANs or usages")
	}
	if !newAPI.NotAfter.Equal(later.Add(8760 * time.Hour)) {
		t.Errorf("NotAfter = %s", newAPI.NotAfter)
	}
	newKey, _ := os.ReadFile(filepath.Join(dir, "pki/apiserver.key"))
	if bytes.Equal(oldKey, newKey) {
		t.Error("key not rotated")
	}
	newAdmin := kubeconfigCert(t, filepath.Join(dir, "admin.conf"))
	if newAdmin.SerialNumber.Cmp(oldAdmin.SerialNumber) == 0 || newAdmin.Subject.String() != oldAdmin.Subject.String() {
		t.Error("admin.conf not renewed with the same subject")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "pki/ca.key")); !bytes.Equal(caKey, after) {
		t.Error("CA key changed")
	}
	// The renewed PKI is still valid as a whole.
	o := testOptions(dir)
	o.Now = later
	if _, err := Init(o); err != nil {
		t.Fatalf("init after renew: %v", err)
	}

	// --reuse-key keeps the key.
	if _, err := Renew(RenewOptions{Dir: dir, Names: []string{"apiserver"}, Validity: time.Hour, ReuseKey: true, Now: later}); err != nil {
		t.Fatal(err)
	}
	if kept, _ := os.ReadFile(filepath.Join(dir, "pki/apiserver.key")); !bytes.Equal(kept, newKey) {
		t.Error("--reuse-key replaced the key")
	}

	// Bad input: unknown name, negative validity, a validity past the CA.
	for _, o := range []RenewOptions{
		{Dir: dir, Names: []string{"bogus"}, Validity: time.Hour, Now: later},
		{Dir: dir, Names: []string{"apiserver"}, Validity: -time.Hour, Now: later},
		{Dir: dir, Names: []string{"apiserver"}, Validity: 20 * 8760 * time.Hour, Now: later},
	} {
		before := snapshot(t, dir)
		if _, err := Renew(o); err == nil {
			t.Errorf("renew %+v succeeded", o)
		}
		sameSnapshot(t, before, snapshot(t, dir))
	}
}

func TestCheckExpiration(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "scheduler.conf"))
	rep, err := CheckExpiration(dir, testNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Certificates) != 12 || len(rep.CertificateAuthorities) != 3 {
		t.Fatalf("got %d certificates and %d CAs", len(rep.Certificates), len(rep.CertificateAuthorities))
	}
	names := []string{}
	for _, e := range rep.Certificates {
		names = append(names, e.Name)
		switch e.Name {
		case "scheduler.conf":
			if !e.Missing {
				t.Error("scheduler.conf not reported missing")
			}
		case "etcd-peer":
			if e.CAName != "etcd-ca" || e.ResidualTime != 8760*time.Hour-24*time.Hour {
				t.Errorf("etcd-peer row %+v", e)
			}
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("rows not sorted: %v", names)
	}
	if got := rep.ExpiringWithin(720 * time.Hour); len(got) != 1 || got[0].Name != "scheduler.conf" {
		t.Errorf("ExpiringWithin(720h) = %v, want only the missing file", got)
	}
	if got := rep.ExpiringWithin(9000 * time.Hour); len(got) != 12 {
		t.Errorf("ExpiringWithin(9000h) = %d rows, want all 12 leaves", len(got))
	}
	out, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(out), `"residualTime":`) || !strings.Contains(string(out), `"certificateAuthorities":`) {
		t.Errorf("json: %s %v", out, err)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                   "<invalid>",
		30 * time.Second:               "30s",
		5 * time.Minute:                "5m",
		3*time.Hour + 15*time.Minute:   "3h15m",
		47 * time.Hour:                 "47h",
		364 * 24 * time.Hour:           "364d",
		9*365*24*time.Hour + time.Hour: "9y",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestUserKubeconfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	base := UserOptions{Dir: dir, ClientName: "user01", Orgs: []string{"dev"}, Validity: 24 * time.Hour, KeyType: pki.ECDSAP256, Now: testNow}
	data, err := UserKubeconfig(base)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeconfig.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if kc.Server != "https://192.0.2.10:6443" || kc.UserName != "user01" {
		t.Errorf("kubeconfig %+v", kc)
	}
	certs, _ := pki.ParseCertificates(kc.CertPEM)
	if certs[0].Subject.CommonName != "user01" || !slices.Equal(certs[0].Subject.Organization, []string{"dev"}) ||
		!certs[0].NotAfter.Equal(testNow.Add(24*time.Hour)) || pki.KindOf(certs[0]) != pki.KindClient {
		t.Errorf("certificate %v until %s", certs[0].Subject, certs[0].NotAfter)
	}

	masters := base
	masters.Orgs = []string{"system:masters"}
	if _, err := UserKubeconfig(masters); err == nil || !strings.Contains(err.Error(), "--allow-system-masters") {
		t.Errorf("system:masters without the flag: %v", err)
	}
	masters.AllowSystemMasters = true
	if _, err := UserKubeconfig(masters); err != nil {
		t.Errorf("system:masters with the flag: %v", err)
	}
	for _, bad := range []func(o *UserOptions){
		func(o *UserOptions) { o.ClientName = "" },
		func(o *UserOptions) { o.Validity = -time.Hour },
		func(o *UserOptions) { o.Validity = 20 * 8760 * time.Hour },
		func(o *UserOptions) { o.Server = "http://insecure" },
		func(o *UserOptions) { o.Dir = t.TempDir() },
	} {
		o := base
		bad(&o)
		if _, err := UserKubeconfig(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}
