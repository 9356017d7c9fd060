package reencrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

var secretsGR = schema.GroupResource{Resource: "secrets"}

func config(t testing.TB, providers ...string) *encryption.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n")
	for _, p := range providers {
		if p == "identity" {
			b.WriteString("  - identity: {}\n")
			continue
		}
		kind, name, _ := strings.Cut(p, ":")
		key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(name[len(name)-1:]), 32))
		fmt.Fprintf(&b, "  - %s: {keys: [{name: %s, secret: %s}]}\n", kind, name, key)
	}
	c, err := encryption.ParseConfig([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fixture struct {
	st      *store.Store
	secrets *catalog.Resource
	w       *Rewriter
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	cat := catalog.Builtin()
	secrets, _ := cat.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "secrets"})
	st := store.NewStore(kv)
	return &fixture{st: st, secrets: secrets, w: &Rewriter{Store: st, Resources: store.StoredResources(cat)}}
}

func (f *fixture) key(i int) string { return store.Key(f.secrets, "ns", fmt.Sprintf("s%05d", i)) }

// put stores value i sealed as the configuration in force seals it.
func (f *fixture) put(t testing.TB, i int, plain string, update bool) {
	t.Helper()
	ctx := context.Background()
	sealed, err := f.st.Encryption().For(secretsGR).Seal(ctx, []byte(plain), []byte(f.key(i)))
	if err != nil {
		t.Fatal(err)
	}
	if update {
		_, err = f.st.KV.Update(ctx, f.key(i), sealed, 0)
	} else {
		_, err = f.st.KV.Create(ctx, f.key(i), sealed)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// read opens value i with the configuration in force, and names its key.
func (f *fixture) read(t testing.TB, i int) (string, string) {
	t.Helper()
	it, err := f.st.KV.Get(context.Background(), f.key(i))
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := f.st.Encryption().For(secretsGR).Open(context.Background(), it.Value, []byte(f.key(i)))
	if err != nil {
		t.Fatalf("%s: %v", f.key(i), err)
	}
	return string(plain), encryption.KeyOf(it.Value)
}

func TestPassRewritesEveryStaleValue(t *testing.T) {
	f := newFixture(t)
	f.st.SetEncryption(config(t, "identity"))
	for i := range 300 {
		f.put(t, i, fmt.Sprint("plain-", i), false)
	}
	f.st.SetEncryption(config(t, "aesgcm:k1", "identity"))
	for i := 300; i < 1200; i++ {
		f.put(t, i, fmt.Sprint("plain-", i), false)
	}
	// k2 now writes; k1 and identity read.
	f.st.SetEncryption(config(t, "secretbox:k2", "aesgcm:k1", "identity"))
	st, err := f.w.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := ResourceStatus{Resource: "secrets", Writer: "secretbox:k2", Readers: []string{"secretbox:k2", "aesgcm:k1", "identity"},
		Objects: 1200, Stale: 1200, Plaintext: 300,
		Keys: map[string]int64{"identity": 300, "aesgcm:k1": 900}}
	if len(st.Resources) != 1 || fmt.Sprint(st.Resources[0]) != fmt.Sprint(want) {
		t.Fatalf("status before: %+v, want %+v", st.Resources, want)
	}

	f.w.init()
	f.w.pass(context.Background())
	p := f.w.Progress()
	if p.Running || p.Objects != 1200 || p.Scanned != 1200 || p.Rewritten != 1200 || p.Error != "" {
		t.Errorf("progress: %+v", p)
	}
	for i := range 1200 {
		if plain, key := f.read(t, i); plain != fmt.Sprint("plain-", i) || key != "secretbox:k2" {
			t.Fatalf("value %d after the pass: %q sealed by %s", i, plain, key)
		}
	}
	st, _ = f.w.Status(context.Background())
	if r := st.Resources[0]; r.Stale != 0 || r.Keys["secretbox:k2"] != 1200 || r.Plaintext != 0 {
		t.Errorf("status after: %+v", r)
	}

	// A second pass finds nothing to do and decrypts nothing.
	f.w.pass(context.Background())
	if p := f.w.Progress(); p.Rewritten != 0 || p.Scanned != 1200 {
		t.Errorf("second pass: %+v", p)
	}
}

// TestUserWritesWin runs a pass while values are being updated: every
// value ends as its last user write left it, sealed by the writer.
func TestUserWritesWin(t *testing.T) {
	f := newFixture(t)
	f.st.SetEncryption(config(t, "aesgcm:k1"))
	const n = 2000
	for i := range n {
		f.put(t, i, "v0", false)
	}
	f.st.SetEncryption(config(t, "aesgcm:k2", "aesgcm:k1"))
	f.w.init()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 1; round <= 3; round++ {
			for i := n - 1; i >= 0; i -= 7 {
				f.put(t, i, fmt.Sprint("v", round), true)
			}
		}
	}()
	f.w.pass(context.Background())
	wg.Wait()
	f.w.pass(context.Background()) // nothing is left stale either way
	for i := range n {
		want := "v0"
		if (n-1-i)%7 == 0 {
			want = "v3"
		}
		if plain, key := f.read(t, i); plain != want || key != "aesgcm:k2" {
			t.Fatalf("value %d: %q sealed by %s, want %q by aesgcm:k2", i, plain, key, want)
		}
	}
}

// TestStaleReadQueuesARewrite: a value read stale is rewritten without
// waiting for a pass.
func TestStaleReadQueuesARewrite(t *testing.T) {
	f := newFixture(t)
	f.st.SetEncryption(config(t, "aesgcm:k1"))
	f.put(t, 1, "value", false)
	f.st.SetEncryption(config(t, "aesgcm:k2", "aesgcm:k1"))
	f.st.OnStale = f.w.Stale
	if _, err := f.st.Get(context.Background(), f.secrets, "ns", "s00001"); err != nil {
		t.Fatal(err)
	}
	f.w.rewriteQueued(context.Background(), <-f.w.stale)
	if plain, key := f.read(t, 1); plain != "value" || key != "aesgcm:k2" {
		t.Errorf("after a stale read: %q sealed by %s", plain, key)
	}
}

// TestUnreadableIsCountedAndLeft: a value no key opens is left as it is.
func TestUnreadableIsCountedAndLeft(t *testing.T) {
	f := newFixture(t)
	f.st.SetEncryption(config(t, "aesgcm:k1"))
	f.put(t, 1, "value", false)
	f.st.SetEncryption(config(t, "aesgcm:k3", "aesgcm:k2"))
	before, _ := f.st.KV.Get(context.Background(), f.key(1))
	f.w.init()
	f.w.pass(context.Background())
	after, _ := f.st.KV.Get(context.Background(), f.key(1))
	if p := f.w.Progress(); p.Unreadable != 1 || p.Rewritten != 0 || after.ModRev != before.ModRev {
		t.Errorf("progress %+v; value rewritten: %v", p, after.ModRev != before.ModRev)
	}
}

// BenchmarkPass re-encrypts 1 KiB Secrets from aesgcm to a new aesgcm
// key, on bbolt: ns/op is per Secret.
func BenchmarkPass(b *testing.B) {
	f := newFixture(b)
	f.st.SetEncryption(config(b, "aesgcm:k1"))
	value := strings.Repeat("x", 1024)
	for i := range b.N {
		f.put(b, i, value, false)
	}
	f.st.SetEncryption(config(b, "aesgcm:k2", "aesgcm:k1"))
	f.w.init()
	b.ResetTimer()
	f.w.pass(context.Background())
	b.StopTimer()
	if p := f.w.Progress(); p.Rewritten != int64(b.N) {
		b.Fatalf("rewrote %d of %d", p.Rewritten, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "secrets/s")
}

// TestCheckReadersRefusesDroppingAKeyInUse: a key is retired only once
// nothing it sealed is left.
func TestCheckReadersRefusesDroppingAKeyInUse(t *testing.T) {
	f := newFixture(t)
	f.st.SetEncryption(config(t, "aesgcm:k1"))
	for i := range 3 {
		f.put(t, i, "value", false)
	}
	err := f.w.CheckReaders(context.Background(), config(t, "aesgcm:k2"))
	if err == nil || !strings.Contains(err.Error(), "3 stored secrets are sealed by aesgcm:k1") {
		t.Errorf("dropping k1 in use: %v", err)
	}
	if err := f.w.CheckReaders(context.Background(), config(t, "aesgcm:k2", "aesgcm:k1")); err != nil {
		t.Errorf("k1 kept as a reader: %v", err)
	}
	f.st.SetEncryption(config(t, "aesgcm:k2", "aesgcm:k1"))
	f.w.init()
	f.w.pass(context.Background())
	if err := f.w.CheckReaders(context.Background(), config(t, "aesgcm:k2")); err != nil {
		t.Errorf("k1 unused after the pass: %v", err)
	}
}
