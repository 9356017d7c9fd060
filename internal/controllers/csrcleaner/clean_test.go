package csrcleaner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// lockedBuffer collects log output written from the controller's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a bolt-backed store with the real
// certificatesigningrequests resource, and an informer over it.
type fixture struct {
	t     *testing.T
	kv    *bolt.Store
	store *store.Writer
	res   *catalog.Resource
	logs  *lockedBuffer
	log   *slog.Logger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	logs := &lockedBuffer{}
	return &fixture{t: t, kv: kv, store: writer(t, store.NewStore(kv)), res: catalog.CertificateSigningRequests(),
		logs: logs, log: slog.New(slog.NewTextHandler(logs, nil))}
}

// create stores a CSR created at created, in the state status says. It is
// written under the store's key, past validation, which would refuse the
// placeholder request.
func (f *fixture) create(name string, created time.Time, status certificatesv1.CertificateSigningRequestStatus) {
	f.t.Helper()
	csr := &certificatesv1.CertificateSigningRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "certificates.k8s.io/v1", Kind: "CertificateSigningRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(fmt.Sprintf("%s-%d", name, created.UnixNano())), CreationTimestamp: metav1.NewTime(created.Truncate(time.Second))},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: "kubernetes.io/kube-apiserver-client",
			Request:    []byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"),
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			Username:   "user01",
		},
		Status: status,
	}
	data, err := json.Marshal(csr)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.kv.Create(context.Background(), store.Key(f.res, "", name), data); err != nil {
		f.t.Fatal(err)
	}
}

// exists reports whether the CSR is still stored.
func (f *fixture) exists(name string) bool {
	f.t.Helper()
	_, err := f.store.Get(context.Background(), f.res, "", name)
	switch {
	case err == nil:
		return true
	case apierrors.IsNotFound(err):
		return false
	}
	f.t.Fatal(err)
	return false
}

func (f *fixture) informer(ctx context.Context) *informer.Informer {
	f.t.Helper()
	inf := informer.New(f.store.Store, f.res, f.log)
	go inf.Run(ctx)
	if !inf.WaitForSync(ctx) {
		f.t.Fatal("informer did not sync")
	}
	return inf
}

func condition(typ certificatesv1.RequestConditionType, at time.Time) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: corev1.ConditionTrue, Reason: "Test", LastUpdateTime: metav1.NewTime(at)}
}

// issued is the status of an approved request whose certificate expires at
// notAfter.
func issued(t *testing.T, approvedAt, notAfter time.Time) certificatesv1.CertificateSigningRequestStatus {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "user01"},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return certificatesv1.CertificateSigningRequestStatus{
		Conditions:  []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved, approvedAt)},
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

// TestClean runs one pass of the controller over a real store: the
// requests that are done are deleted from storage, the others stay.
func TestClean(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	defer cancel()
	created := time.Now()
	now := created.Add(2 * time.Hour) // the pass runs two hours after every request was made
	f.create("old-approved", created, certificatesv1.CertificateSigningRequestStatus{
		Conditions: []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved, created)},
	})
	f.create("expired-issued", created, issued(t, now.Add(-10*time.Minute), now.Add(-time.Minute)))
	f.create("valid-issued", created, issued(t, now.Add(-10*time.Minute), now.Add(time.Hour)))
	f.create("recently-denied", created, certificatesv1.CertificateSigningRequestStatus{
		Conditions: []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateDenied, now.Add(-30*time.Minute))},
	})
	f.create("fresh-pending", created, certificatesv1.CertificateSigningRequestStatus{})

	c := &Controller{Store: f.store, Resource: f.res, CSRs: f.informer(ctx), Log: f.log}
	c.Clean(ctx, now)
	for name, want := range map[string]bool{
		"old-approved":    false,
		"expired-issued":  false,
		"valid-issued":    true,
		"recently-denied": true,
		"fresh-pending":   true,
	} {
		if got := f.exists(name); got != want {
			t.Errorf("%s: stored after the pass = %v, want %v", name, got, want)
		}
	}
	logs := f.logs.String()
	for _, want := range []string{
		`msg="deleted csr" csr=old-approved why="it was Approved more than an hour ago"`,
		`msg="deleted csr" csr=expired-issued why="its certificate has expired"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("warnings:\n%s", logs)
	}
}

// TestCleanStaleCache: the cache may still hold a request that has since
// been deleted and made again under the same name. The delete is guarded
// by the cached UID, so the new request is not deleted for the old one's
// age, and the conflict is not reported as a failure.
func TestCleanStaleCache(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	created := time.Now().Add(-2 * time.Hour)
	f.create("user01", created, certificatesv1.CertificateSigningRequestStatus{
		Conditions: []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved, created)},
	})
	inf := informer.New(f.store.Store, f.res, f.log)
	stopped := make(chan struct{})
	go func() { inf.Run(ctx); close(stopped) }()
	if !inf.WaitForSync(ctx) {
		t.Fatal("informer did not sync")
	}
	cancel() // the cache stops following storage
	<-stopped
	if _, _, err := f.store.Delete(authn.AsAPIServer(context.Background()), store.ObjectTarget(f.res, "", "user01"), store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.create("user01", time.Now(), certificatesv1.CertificateSigningRequestStatus{})
	if cached, ok := inf.Get("", "user01"); !ok || len(cached.(*certificatesv1.CertificateSigningRequest).Status.Conditions) == 0 {
		t.Fatal("the stopped informer should still hold the old, approved request")
	}
	c := &Controller{Store: f.store, Resource: f.res, CSRs: inf, Log: f.log}
	c.Clean(authn.AsAPIServer(context.Background()), time.Now())
	if !f.exists("user01") {
		t.Error("the new request was deleted for the age of the old one")
	}
	if logs := f.logs.String(); strings.Contains(logs, "deleted csr") || strings.Contains(logs, "level=WARN") {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestRun: the controller waits for its cache, cleans at once, and again
// every Interval, deleting requests made after it started; it stops with
// its context.
func TestRun(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	defer cancel()
	now := time.Now()
	f.create("stale-pending", now.Add(-25*time.Hour), certificatesv1.CertificateSigningRequestStatus{})
	f.create("old-denied", now.Add(-3*time.Hour), certificatesv1.CertificateSigningRequestStatus{
		Conditions: []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateDenied, now.Add(-2*time.Hour))},
	})
	f.create("fresh-pending", now, certificatesv1.CertificateSigningRequestStatus{})

	inf := informer.New(f.store.Store, f.res, f.log)
	c := &Controller{Store: f.store, Resource: f.res, CSRs: inf, Log: f.log, Interval: 20 * time.Millisecond}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	go inf.Run(ctx)

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s\n%s", what, f.logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	eventually("the stale requests are deleted", func() bool { return !f.exists("stale-pending") && !f.exists("old-denied") })
	// A request that becomes due after the first pass goes in a later one.
	f.create("late-stale", now.Add(-25*time.Hour), certificatesv1.CertificateSigningRequestStatus{})
	eventually("a request made after the first pass is deleted", func() bool { return !f.exists("late-stale") })
	if !f.exists("fresh-pending") {
		t.Error("a fresh pending request was deleted")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if logs := f.logs.String(); !strings.Contains(logs, `csr=stale-pending why="it has been pending for more than a day"`) {
		t.Errorf("log:\n%s", logs)
	}
}

func writer(t *testing.T, s *store.Store) *store.Writer {
	t.Helper()
	w, err := store.NewWriter(s, admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	return w
}
