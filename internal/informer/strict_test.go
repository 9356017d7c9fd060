package informer

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// A strict informer answers ListIn only while it holds every object: a
// stored value that does not read, found by its first list or arriving
// later as an event, makes it answer nothing; a lax one leaves the object
// out and answers.
func TestStrictInformerAnswersOnlyWhole(t *testing.T) {
	kv, st, w, ctx := boltStore(t)
	quotas := catalog.ResourceQuotas()
	create := func(name string) {
		t.Helper()
		if _, err := w.Create(ctx, quotas, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}, store.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := func(name string) {
		t.Helper()
		key := store.Key(quotas, "ns", name)
		it, err := kv.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Update(ctx, key, []byte("not an object"), it.ModRev); err != nil {
			t.Fatal(err)
		}
	}
	answers := func(i *Informer) (int, bool) {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if objs, _, ok := i.ListIn("ns"); ok {
				return len(objs), true
			}
		}
		return 0, false
	}
	start := func(strict bool) *Informer {
		i := New(st, quotas, slog.New(slog.DiscardHandler))
		i.Strict = strict
		go i.Run(ctx)
		return i
	}

	create("a")
	strict := start(true)
	if n, ok := answers(strict); !ok || n != 1 {
		t.Fatalf("a strict informer over one readable quota: %d, %v", n, ok)
	}
	create("b")
	corrupt("b") // arrives as an event
	time.Sleep(200 * time.Millisecond)
	if _, _, ok := strict.ListIn("ns"); ok {
		t.Fatal("a strict informer answered after a quota that does not read")
	}
	if _, ok := answers(start(true)); ok {
		t.Fatal("a strict informer whose first list met a quota that does not read answered")
	}
	if n, ok := answers(start(false)); !ok || n != 1 {
		t.Fatalf("a lax informer: %d, %v; want the readable quota alone", n, ok)
	}
}

// boltStore is a store on a fresh bbolt file, a writer that admits
// everything and a context that ends with the test, acting as the API
// server.
func boltStore(t *testing.T) (*bolt.Store, *store.Store, *store.Writer, context.Context) {
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
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	t.Cleanup(cancel)
	return kv, st, w, ctx
}
