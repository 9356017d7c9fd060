package clusterpki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// verifies reports whether the certificate file at rel (a leaf and the
// certificates after it) verifies against roots alone.
func verifies(t *testing.T, dir, rel string, usage x509.ExtKeyUsage, roots ...*x509.Certificate) bool {
	t.Helper()
	certs := readChain(t, filepath.Join(dir, rel))
	return verifyChain(certs, usage, roots...)
}

func readChain(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func verifyChain(certs []*x509.Certificate, usage x509.ExtKeyUsage, roots ...*x509.Certificate) bool {
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: testNow.Add(time.Hour)})
	return err == nil
}

func TestRotateCAStepByStep(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	old := readChain(t, filepath.Join(dir, CertFile("ca")))[0]
	revoke := func(serial string) {
		t.Helper()
		if _, err := Revoke(RevokeOptions{Dir: dir, Serial: serial, Reason: "keyCompromise", Now: testNow.Add(time.Minute)}); err != nil {
			t.Fatalf("revoke %s: %v", serial, err)
		}
	}
	crls := func() []*x509.RevocationList {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, CRLFile))
		if err != nil {
			t.Fatal(err)
		}
		lists, err := pki.ParseCRLs(data)
		if err != nil {
			t.Fatal(err)
		}
		return lists
	}
	revoke("0a") // a list of the old CA before the rotation
	o := RotateCAOptions{Dir: dir, CA: pki.CAKubernetes, Now: testNow.Add(time.Minute)}
	r, err := StartCARotation(o)
	if err != nil || r.Phase != PhaseGenerated || r.New == nil || !r.Old.Equal(old) {
		t.Fatalf("start: %+v %v", r, err)
	}
	next := r.New
	// Run again, a step is not done twice.
	if r2, err := StartCARotation(o); err != nil || !r2.New.Equal(next) {
		t.Fatalf("start again made another CA: %v", err)
	}

	// up runs init at each start: a server restarted mid-rotation
	// starts on the directory as the rotation left it.
	initAgain := func(when string) {
		t.Helper()
		if _, err := Init(testOptions(dir)); err != nil {
			t.Fatalf("init %s: %v", when, err)
		}
	}
	initAgain("after the new CA is made")
	if err := TrustBothCAs(o); err != nil {
		t.Fatal(err)
	}
	initAgain("while both CAs are trusted")
	if bundle := readChain(t, filepath.Join(dir, CertFile("ca"))); len(bundle) != 2 || !bundle[0].Equal(old) || !bundle[1].Equal(next) {
		t.Fatalf("ca.crt while trusting both: %d certificates", len(bundle))
	}
	kc, err := kubeconfig.LoadFile(filepath.Join(dir, "admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if cas, _ := pki.ParseCertificates(kc.CAPEM); len(cas) != 2 {
		t.Errorf("admin.conf trusts %d CAs while trusting both", len(cas))
	}
	// The old CA still signs.
	if ca, err := (Layout{Dir: dir}).loadCA(mustSpec(t, pki.CAKubernetes)); err != nil || !ca.Cert.Equal(old) {
		t.Fatalf("signing CA while trusting both: %v", err)
	}

	names, err := ReissueFromNewCA(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 4 {
		t.Errorf("re-issued %v", names)
	}
	initAgain("after the new CA re-issued")
	// During the overlap a serial is revoked under both CAs.
	revoke("0b")
	if lists := crls(); len(lists) != 2 || lists[0].CheckSignatureFrom(old) != nil || lists[1].CheckSignatureFrom(next) != nil {
		t.Fatalf("CRLs during the rotation: %d lists", len(lists))
	}
	// The new serving certificate verifies for a client trusting only the
	// old CA (through the cross-signed certificate) and for one trusting
	// only the new one.
	if !verifies(t, dir, CertFile("apiserver"), x509.ExtKeyUsageServerAuth, old) || !verifies(t, dir, CertFile("apiserver"), x509.ExtKeyUsageServerAuth, next) {
		t.Error("the re-issued serving certificate does not verify against both CAs alone")
	}
	kc, _ = kubeconfig.LoadFile(filepath.Join(dir, "admin.conf"))
	adminCerts, _ := pki.ParseCertificates(kc.CertPEM)
	if pki.SignedBy(adminCerts[0], next) != nil || !verifyChain(adminCerts, x509.ExtKeyUsageClientAuth, old) {
		t.Error("admin.conf's client certificate is not from the new CA, verifiable against the old")
	}
	if cas, _ := pki.ParseCertificates(kc.CAPEM); len(cas) != 2 {
		t.Errorf("admin.conf trusts %d CAs after re-issue", len(cas))
	}
	// A renewal now comes from the new CA, with the cross-signed certificate.
	if _, err := Renew(RenewOptions{Dir: dir, Names: []string{"apiserver"}, Validity: time.Hour, Now: testNow.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if !verifies(t, dir, CertFile("apiserver"), x509.ExtKeyUsageServerAuth, old) {
		t.Error("a renewal during the rotation lacks the cross-signed certificate")
	}

	if _, err := FinishCARotation(o); err != nil {
		t.Fatal(err)
	}
	if bundle := readChain(t, filepath.Join(dir, CertFile("ca"))); len(bundle) != 1 || !bundle[0].Equal(next) {
		t.Fatalf("ca.crt after the rotation: %d certificates", len(bundle))
	}
	// The old CA's list goes with it: a server would not load a list it
	// cannot verify.
	if lists := crls(); len(lists) != 1 || lists[0].CheckSignatureFrom(next) != nil || len(lists[0].RevokedCertificateEntries) != 1 {
		t.Errorf("CRLs after the rotation: %d lists", len(lists))
	}
	if chain := readChain(t, filepath.Join(dir, CertFile("apiserver"))); len(chain) != 1 || !verifyChain(chain, x509.ExtKeyUsageServerAuth, next) {
		t.Errorf("the serving certificate after the rotation: %d certificates", len(chain))
	}
	if _, err := os.Stat(filepath.Join(dir, RotationDir(pki.CAKubernetes))); !os.IsNotExist(err) {
		t.Errorf("the rotation's files remain: %v", err)
	}
	if st, err := CARotationStatus(dir, pki.CAKubernetes); err != nil || st.Phase != PhaseNone {
		t.Errorf("status after: %+v %v", st, err)
	}
	// The directory is whole: init keeps it, and the front-proxy CA was not touched.
	if _, err := Init(testOptions(dir)); err != nil {
		t.Errorf("init after the rotation: %v", err)
	}
}

func mustSpec(t *testing.T, name string) pki.CASpec {
	t.Helper()
	spec, ok := pki.CASpecByName(name)
	if !ok {
		t.Fatal(name)
	}
	return spec
}
