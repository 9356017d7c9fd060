package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/etcd"
	"github.com/sekisho/sekisho/internal/storage/etcd/etcdtest"
)

// Clients' watches served by shared etcd watches see, event for event,
// what watches of their own see: namespaces, label selectors (objects
// entering and leaving them), watches resumed from earlier revisions,
// on one real etcd.
func TestSharedWatchesSeeWhatOwnWatchesSee(t *testing.T) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdtest.Start(t, nil)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	shared := NewStore(etcd.New(etcd.Options{Client: c, ProgressInterval: time.Second}))
	shared.EnableSharedWatches()
	own := NewStore(etcd.New(etcd.Options{Client: c, ProgressInterval: time.Second}))
	w := testWriter(t, shared, nil)
	cms := catalog.ConfigMaps()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	rng := rand.New(rand.NewPCG(3, 4))
	write := func(n int) int64 {
		t.Helper()
		var last int64
		for range n {
			ns, name := []string{"a", "b"}[rng.IntN(2)], "cm-"+strconv.Itoa(rng.IntN(12))
			label := map[string]string{"k": "v" + strconv.Itoa(rng.IntN(2))}
			e, err := w.Update(dana, ObjectTarget(cms, ns, name), Options{}, func(cur catalog.Object) (catalog.Object, error) {
				cur.SetLabels(label)
				return cur, nil
			})
			if err != nil {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: label}}
				if e, err = w.Create(dana, cms, cm, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			if rng.IntN(5) == 0 {
				if e, _, err = w.Delete(dana, ObjectTarget(cms, ns, name), DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			last = e.Rev
		}
		return last
	}
	type pair struct {
		name      string
		ns        string
		got, want <-chan WatchEvent
	}
	var pairs []pair
	no := false
	watch := func(o WatchOptions) {
		t.Helper()
		o.SendInitialEvents = &no
		g, err := shared.Watch(ctx, cms, o)
		if err != nil {
			t.Fatal(err)
		}
		wa, err := own.Watch(ctx, cms, o)
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, pair{fmt.Sprintf("%+v", o.ListOptions) + " from " + strconv.FormatInt(o.FromRev, 10), o.Namespace, g, wa})
	}
	v1, _ := labels.Parse("k=v1")
	options := []ListOptions{{}, {Namespace: "a"}, {Labels: v1}, {Namespace: "b", Labels: v1}}
	start := write(5)
	for _, o := range options {
		watch(WatchOptions{ListOptions: o, FromRev: start})
	}
	for range 4 {
		last := write(30)
		watch(WatchOptions{ListOptions: options[rng.IntN(len(options))], FromRev: last - int64(rng.IntN(20))})
		watch(WatchOptions{ListOptions: options[rng.IntN(len(options))], FromRev: last})
	}
	end := write(20)
	// Every watcher sees this one.
	for _, ns := range []string{"a", "b"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "end", Namespace: ns, Labels: map[string]string{"k": "v1"}}}
		e, err := w.Create(dana, cms, cm, Options{})
		if err != nil {
			t.Fatal(err)
		}
		end = e.Rev
	}
	// seen reads a watch to its last end marker: b's, or a's for a
	// watch of namespace a.
	seen := func(name, ns string, ch <-chan WatchEvent) []string {
		t.Helper()
		var out []string
		deadline := time.After(20 * time.Second)
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					t.Fatalf("%s: the watch ended", name)
				}
				if ev.Type == WatchBookmark {
					continue
				}
				obj, _ := ev.Entry.Object()
				out = append(out, fmt.Sprintf("%s %s/%s@%d more=%v", ev.Type, obj.GetNamespace(), obj.GetName(), ev.Rev, ev.More))
				if obj.GetName() == "end" && (obj.GetNamespace() == "b" || ns == "a") {
					return out
				}
			case <-deadline:
				t.Fatalf("%s: not at %d within 20 s (%d events)", name, end, len(out))
			}
		}
	}
	for _, p := range pairs {
		got, want := seen(p.name+" (shared)", p.ns, p.got), seen(p.name+" (own)", p.ns, p.want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s:\nshared: %v\nown:    %v", p.name, got, want)
		}
	}
	if n, _ := shared.SharedWatchCounts(); n == 0 {
		t.Error("no watch was shared")
	}
}
