package csrsigning

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/certificates"
	"github.com/sekisho/sekisho/internal/events"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// An approved request meeting an expired signing CA waits, neither signed
// nor failed, and is signed once the CA is renewed: the CA's state is not
// the request's fault.
func TestExpiredCAMakesRequestsWait(t *testing.T) {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	st := store.NewStore(kv)
	w, err := store.NewWriter(st, admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Builtin()
	csrs, _ := cat.Lookup(certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"))
	eventsRes, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("events"))
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	defer cancel()
	log := slog.New(slog.DiscardHandler)

	dir := t.TempDir()
	files := CAFiles{CertFile: filepath.Join(dir, "ca.crt"), KeyFile: filepath.Join(dir, "ca.key")}
	writeCA := func(notBefore time.Time, validity time.Duration) {
		t.Helper()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ca, err := pki.NewSelfSignedCA("kubernetes-ca", key, notBefore, validity)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := pki.EncodePrivateKey(key)
		os.WriteFile(files.CertFile, pki.EncodeCertificates(ca.Cert), 0o644)
		os.WriteFile(files.KeyFile, keyPEM, 0o600)
	}
	writeCA(time.Now().Add(-48*time.Hour), 24*time.Hour) // expired yesterday

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := pki.NewCSR(pki.Template{CommonName: "alice", Kind: pki.KindClient}, key)
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: pki.EncodeCSR(der), SignerName: certificates.KubeAPIServerClient,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, Username: "admin"},
		Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{
			{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test", LastUpdateTime: now, LastTransitionTime: now},
		}},
	}
	// Stored as it is: this test is about the signer, not admission.
	data, err := store.EncodeObject(csrs, csr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, store.Key(csrs, "", "alice"), data); err != nil {
		t.Fatal(err)
	}
	inf := informer.New(st, csrs, log)
	c := &Controller{Store: w, Resource: csrs, CSRs: inf, CA: files, Duration: time.Hour, Log: log,
		Events: &events.Recorder{Store: w, Resource: eventsRes, Component: "csrsigning-controller", Log: log}}
	c.Register()
	go inf.Run(ctx)
	if !inf.WaitForSync(ctx) {
		t.Fatal("informer did not sync")
	}
	read := func() *certificatesv1.CertificateSigningRequest {
		obj, err := w.GetObject(ctx, csrs, "", "alice")
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*certificatesv1.CertificateSigningRequest)
	}

	c.SyncAll(ctx)
	if got := read(); certificates.Failed(got) || len(got.Status.Certificate) > 0 {
		t.Fatalf("with an expired CA the request is failed=%v, signed=%v; want it waiting", certificates.Failed(got), len(got.Status.Certificate) > 0)
	}

	writeCA(time.Now().Add(-time.Hour), 24*time.Hour)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c.SyncAll(ctx)
		if got := read(); len(got.Status.Certificate) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not signed after the CA was renewed: %+v", read().Status)
		}
	}
}
