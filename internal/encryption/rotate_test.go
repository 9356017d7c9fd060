package encryption

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRotateThenRetire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.yaml")
	at := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	if err := NewConfigFile(path, at); err != nil {
		t.Fatal(err)
	}
	secrets := schema.GroupResource{Resource: "secrets"}
	first, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := first.Writer(secrets); w != "aesgcm:key-20261129T070000Z" {
		t.Fatalf("up's writer: %s", w)
	}
	sealed, err := first.For(secrets).Seal(context.Background(), []byte("value"), []byte("/registry/secrets/a/b"))
	if err != nil {
		t.Fatal(err)
	}

	rot, err := RotateFile(path, at)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rot.Added, ",") != "aesgcm:key-20261129T070000Z-2" || strings.Join(rot.Replaced, ",") != "aesgcm:key-20261129T070000Z" {
		t.Errorf("rotation: %+v", rot)
	}
	second, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if second.Writer(secrets) != rot.Added[0] || second.Current(secrets, sealed) || !second.CanOpen(secrets, sealed) {
		t.Errorf("after rotation the writer is %s; the old value current %v, openable %v",
			second.Writer(secrets), second.Current(secrets, sealed), second.CanOpen(secrets, sealed))
	}
	if plain, stale, err := second.For(secrets).Open(context.Background(), sealed, []byte("/registry/secrets/a/b")); err != nil || !stale || string(plain) != "value" {
		t.Errorf("the old value under the rotated file: %q stale=%v %v", plain, stale, err)
	}

	if err := RetireFile(path, rot.Replaced); err != nil {
		t.Fatal(err)
	}
	third, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if third.CanOpen(secrets, sealed) || third.Writer(secrets) != rot.Added[0] || !third.CanOpen(secrets, []byte("plain")) {
		t.Error("after retiring, the old key still opens, the writer changed, or identity went")
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", info.Mode().Perm())
	}

	// The writer itself is never retired, and identity has no key.
	if err := RetireFile(path, rot.Added); err != nil {
		t.Fatal(err)
	}
	if c, _ := LoadConfig(path); c.Writer(secrets) != rot.Added[0] {
		t.Error("RetireFile removed the writer")
	}
}

func TestRotateRefusesIdentityOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.yaml")
	os.WriteFile(path, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n"), 0o600)
	if _, err := RotateFile(path, time.Now()); err == nil || !strings.Contains(err.Error(), "no key to rotate") {
		t.Errorf("rotating identity: %v", err)
	}
}
