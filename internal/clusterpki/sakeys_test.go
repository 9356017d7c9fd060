package clusterpki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

func TestRotateServiceAccountKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	before, err := ServiceAccountKeys(dir)
	if err != nil || len(before) != 1 || !before[0].Signing {
		t.Fatalf("keys after init: %+v, %v", before, err)
	}

	r, err := RotateServiceAccountKey(dir, "", time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Retired.ID != before[0].ID || !r.Retired.RetireAfter.Equal(testNow.Add(time.Hour)) || r.New.ID == before[0].ID {
		t.Fatalf("rotation: %+v", r)
	}
	keys, err := ServiceAccountKeys(dir)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys after rotation: %+v, %v", keys, err)
	}
	if keys[0].ID != before[0].ID || keys[0].Signing || keys[1].ID != r.New.ID || !keys[1].Signing {
		t.Errorf("keys after rotation: %+v", keys)
	}
	// sa.key is the new key, of the same type, private to its owner.
	key, _, err := Layout{Dir: dir}.loadKey(SAKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := pki.KeyID(key.Public()); id != r.New.ID || pki.KeyTypeOf(key.Public()) != pki.ECDSAP256 {
		t.Errorf("sa.key is %s of type %s", id, pki.KeyTypeOf(key.Public()))
	}
	if info, _ := os.Stat(filepath.Join(dir, SAKeyFile)); info.Mode().Perm() != ModeKey {
		t.Errorf("sa.key mode %v", info.Mode())
	}
	// An init over the rotated directory keeps it.
	if _, err := Init(testOptions(dir)); err != nil {
		t.Errorf("init after a rotation: %v", err)
	}

	// Before the overlap ends nothing is removed; after it, the old key is.
	if removed, next, err := PruneServiceAccountKeys(dir, testNow.Add(59*time.Minute)); err != nil || len(removed) != 0 || !next.Equal(testNow.Add(time.Hour)) {
		t.Errorf("prune during the overlap: %+v, next %s, %v", removed, next, err)
	}
	removed, next, err := PruneServiceAccountKeys(dir, testNow.Add(time.Hour))
	if err != nil || len(removed) != 1 || removed[0].ID != before[0].ID || !next.IsZero() {
		t.Fatalf("prune after the overlap: %+v, next %s, %v", removed, next, err)
	}
	if keys, _ := ServiceAccountKeys(dir); len(keys) != 1 || keys[0].ID != r.New.ID {
		t.Errorf("keys after prune: %+v", keys)
	}

	// A second rotation during a first one's overlap: each retiring key
	// keeps its own time, and a third rotation removes the due one.
	r2, err := RotateServiceAccountKey(dir, pki.RSA2048, 2*time.Hour, testNow.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r3, err := RotateServiceAccountKey(dir, "", time.Hour, testNow.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(r3.Removed) != 0 || r3.Retired.ID != r2.New.ID {
		t.Errorf("third rotation: %+v", r3)
	}
	keys, _ = ServiceAccountKeys(dir)
	if len(keys) != 3 || !keys[0].RetireAfter.Equal(testNow.Add(4*time.Hour)) || !keys[1].RetireAfter.Equal(testNow.Add(4*time.Hour)) {
		t.Errorf("keys after three rotations: %+v", keys)
	}
	if pki.KeyTypeOf(keys[2].public) != pki.RSA2048 {
		t.Errorf("the key type of the third rotation follows the second's RSA key: %s", pki.KeyTypeOf(keys[2].public))
	}
}

func TestRotateServiceAccountKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateServiceAccountKey(dir, "", 0, testNow); err == nil || !strings.Contains(err.Error(), "--overlap") {
		t.Errorf("zero overlap: %v", err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, SAPubFile))
	os.WriteFile(filepath.Join(dir, SAPubFile), []byte("garbage"), 0o644)
	if _, err := RotateServiceAccountKey(dir, "", time.Hour, testNow); err == nil || !strings.Contains(err.Error(), "sa.pub") {
		t.Errorf("unreadable sa.pub: %v", err)
	}
	os.WriteFile(filepath.Join(dir, SAPubFile), pub, 0o644)
	os.Remove(filepath.Join(dir, SAKeyFile))
	if _, err := RotateServiceAccountKey(dir, "", time.Hour, testNow); err == nil || !strings.Contains(err.Error(), "not managed in this directory") {
		t.Errorf("no sa.key: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, SAPubFile)); string(got) != string(pub) {
		t.Error("a refused rotation changed sa.pub")
	}
}

// A rotation waits for a prune under way (and the reverse): the lock
// serializes their read-modify-write of sa.pub; a lock left by a dead
// process is taken over after a minute.
func TestServiceAccountKeyLock(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	l := Layout{Dir: dir}
	unlock, err := lockSAKeys(l)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := RotateServiceAccountKey(dir, "", time.Hour, testNow); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("the rotation did not wait for the lock: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A stale lock.
	stale := l.Path(saLockFile)
	os.WriteFile(stale, nil, 0o600)
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(stale, old, old)
	if _, _, err := PruneServiceAccountKeys(dir, testNow); err != nil {
		t.Errorf("a stale lock was not taken over: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the lock remains after use: %v", err)
	}
}
