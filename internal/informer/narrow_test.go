package informer

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// An informer narrowed by a name selector holds, and tells its handlers
// of, the objects of that name alone, from its first list and from
// events; the others are decided by their keys and never decoded (a
// value that does not read does not stop a strict one); and it does not
// answer ListIn, which promises every object of a namespace.
func TestNarrowedInformerHoldsOnlyWhatItSelects(t *testing.T) {
	kv, st, w, ctx := boltStore(t)
	maps := catalog.ConfigMaps()
	create := func(ns, name string) {
		t.Helper()
		if _, err := w.Create(ctx, maps, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, store.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	unreadable := func(ns, name string) {
		t.Helper()
		if _, err := kv.Create(ctx, store.Key(maps, ns, name), []byte("not an object")); err != nil {
			t.Fatal(err)
		}
	}
	create("a", "root")
	create("a", "other")
	unreadable("b", "broken")
	create("b", "root")

	i := New(st, maps, slog.New(slog.DiscardHandler))
	i.Fields = fields.OneTermEqualSelector("metadata.name", "root")
	i.Strict = true
	var mu sync.Mutex
	var seen []string
	i.AddHandler(func(ev string, obj, _ catalog.Object) {
		mu.Lock()
		seen = append(seen, ev+" "+Key(obj.GetNamespace(), obj.GetName()))
		mu.Unlock()
	})
	go i.Run(ctx)
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if !i.WaitForSync(sctx) {
		t.Fatal("the informer did not sync")
	}
	create("c", "other")
	unreadable("c", "broken")
	create("c", "root")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, ok := i.Get("c", "root"); ok {
			break
		}
	}
	var held []string
	for _, o := range i.List() {
		held = append(held, Key(o.GetNamespace(), o.GetName()))
	}
	slices.Sort(held)
	if want := []string{"a/root", "b/root", "c/root"}; !slices.Equal(held, want) {
		t.Fatalf("held %q, want %q", held, want)
	}
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	slices.Sort(got[:2]) // the first list's additions come in map order
	if want := []string{"ADDED a/root", "ADDED b/root", "ADDED c/root"}; !slices.Equal(got, want) {
		t.Fatalf("handlers saw %q, want %q", got, want)
	}
	if _, _, ok := i.ListIn("a"); ok {
		t.Fatal("a narrowed informer answered ListIn")
	}

	ns := New(st, maps, slog.New(slog.DiscardHandler))
	ns.Namespace = "a"
	go ns.Run(ctx)
	if !ns.WaitForSync(sctx) {
		t.Fatal("the namespaced informer did not sync")
	}
	if objs, _, ok := ns.ListIn("a"); !ok || len(objs) != 2 {
		t.Fatalf("its own namespace: %d objects, %v", len(objs), ok)
	}
	if _, _, ok := ns.ListIn("b"); ok {
		t.Fatal("an informer of namespace a answered for namespace b")
	}

	one := New(st, maps, slog.New(slog.DiscardHandler))
	one.Namespace, one.Fields = "c", fields.OneTermEqualSelector("metadata.name", "root")
	go one.Run(ctx)
	if !one.WaitForSync(sctx) {
		t.Fatal("the informer of one object did not sync")
	}
	if objs := one.List(); len(objs) != 1 || objs[0].GetNamespace() != "c" || objs[0].GetName() != "root" {
		t.Fatalf("the informer of c/root holds %d objects", len(objs))
	}
}
