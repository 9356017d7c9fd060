package keypair

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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

// issue makes a self-signed certificate and its key, PEM-encoded, valid
// from notBefore to notAfter.
func issue(t testing.TB, serial int64, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	return issueFor(t, serial, "kube-apiserver", []string{"localhost"}, notBefore, notAfter)
}

// issueFor makes a self-signed certificate for cn and dnsNames, and its key.
func issueFor(t testing.TB, serial int64, cn string, dnsNames []string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: dnsNames}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// A renewed pair is taken at the next check; each kind of broken pair is
// refused with a log line naming the file, and the last good pair stays.
func TestReloadsAndRefusesBrokenPairs(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	write := func(cert, key []byte, keyMode os.FileMode) {
		t.Helper()
		// Key first, then certificate: a watcher may see the new key with
		// the old certificate in between, which must be refused, not used.
		if err := os.WriteFile(keyFile, key, keyMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(keyFile, keyMode); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, cert, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	c1, k1 := issue(t, 1, now.Add(-time.Hour), now.Add(time.Hour))
	write(c1, k1, 0o600)
	logs := &lockedBuffer{}
	var changes atomic.Int32
	p := &Pair{CertFile: certFile, KeyFile: keyFile, Interval: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(logs, nil)),
		OnChange: func() { changes.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := changes.Load(); n != 0 {
		t.Errorf("OnChange called %d times by the first load", n)
	}
	serial := func() int64 { return p.Current().Leaf.SerialNumber.Int64() }
	waitSerial := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); serial() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("serial %d, want %d\n%s", serial(), want, logs)
			}
		}
	}
	if serial() != 1 {
		t.Fatalf("serial %d at start", serial())
	}
	c2, k2 := issue(t, 2, now.Add(-time.Hour), now.Add(time.Hour))
	write(c2, k2, 0o600)
	waitSerial(2)
	if n := changes.Load(); n != 1 {
		t.Errorf("OnChange called %d times for one new pair, want 1", n)
	}

	_, otherKey := issue(t, 3, now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredKey := issue(t, 4, now.Add(-2*time.Hour), now.Add(-time.Hour))
	future, futureKey := issue(t, 5, now.Add(time.Hour), now.Add(2*time.Hour))
	c6, k6 := issue(t, 6, now.Add(-time.Hour), now.Add(time.Hour))
	for _, bad := range []struct {
		name      string
		cert, key []byte
		mode      os.FileMode
		log       string
	}{
		{"key of another certificate", c2, otherKey, 0o600, "private key does not match public key"},
		{"expired", expired, expiredKey, 0o600, "the certificate expired"},
		{"not yet valid", future, futureKey, 0o600, "not valid before"},
		{"unreadable PEM", []byte("not a certificate\n"), k2, 0o600, "failed to find any PEM data"},
		{"key readable by others", c6, k6, 0o644, "lets others read the private key"},
	} {
		before := strings.Count(logs.String(), "reload failed")
		write(bad.cert, bad.key, bad.mode)
		for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), "reload failed") == before; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no reload failure logged:\n%s", bad.name, logs)
			}
		}
		time.Sleep(50 * time.Millisecond)
		if serial() != 2 {
			t.Errorf("%s: serial %d in force, want the last good 2", bad.name, serial())
		}
		if !strings.Contains(logs.String(), bad.log) || !strings.Contains(logs.String(), "file="+dir) {
			t.Errorf("%s: the log does not say %q naming the file:\n%s", bad.name, bad.log, logs)
		}
	}
	// Fixing the mode alone makes the last pair good.
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, append(c6, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	waitSerial(6)
	if !strings.Contains(logs.String(), "certificate reloaded") {
		t.Errorf("no reload logged:\n%s", logs)
	}
}

// A broken pair at start is an error naming the file.
func TestStartRefusesABrokenPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	c, k := issue(t, 1, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	os.WriteFile(certFile, c, 0o644)
	os.WriteFile(keyFile, k, 0o640)
	err := (&Pair{CertFile: certFile, KeyFile: keyFile}).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("a group-readable key at start: %v", err)
	}
}
