package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
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

// etcdStore is a Store on a real one-member etcd whose watches ask for
// progress every progress.
func etcdStore(t *testing.T, progress time.Duration) *Store {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdtest.Start(t, nil)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewStore(etcd.New(etcd.Options{Client: c, ProgressInterval: progress}))
}

// listed is what a list says: each item's key and revision, its JSON,
// and the continue token and remaining count.
func listed(t *testing.T, res *ListResult) string {
	t.Helper()
	out := ""
	for _, e := range res.Items {
		obj, err := e.Object()
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s/%s@%d %s\n", obj.GetNamespace(), obj.GetName(), e.Rev, e.JSON())
	}
	if res.Remaining != nil {
		out += fmt.Sprintf("remaining %d\n", *res.Remaining)
	}
	return out + "continue " + res.Continue
}

// waitServed lists until a cache answers.
func waitServed(t *testing.T, s *Store, r *catalog.Resource) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		before := s.lists.served.Load()
		if _, err := s.List(dana, r, ListOptions{Shared: true}); err != nil {
			t.Fatal(err)
		}
		if s.lists.served.Load() > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no list of %s was answered by its cache in 20 s", r.Name)
		}
	}
}

// A list the cache answers is the list storage answers at the same
// revision, item for item, page for page and selector for selector, and
// holds every write acknowledged before it, through creates, updates and
// deletes; a list of a resource nobody writes is answered from the cache
// too, caught up through etcd's progress notes.
//
// With shared watches the cache, like every other watcher of the
// resource, follows the resource's one etcd watch.
func TestListCacheAnswersAsStorageWould(t *testing.T) {
	t.Run("own watch", func(t *testing.T) { testListCacheAnswers(t, false) })
	t.Run("shared watch", func(t *testing.T) { testListCacheAnswers(t, true) })
}

func testListCacheAnswers(t *testing.T, shared bool) {
	s := etcdStore(t, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if shared {
		s.EnableSharedWatches()
	}
	s.EnableListCache(ctx)
	w := testWriter(t, s, nil)
	cms, secrets := catalog.ConfigMaps(), catalog.Secrets()
	create := func(ns, name string) int64 {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"k": "v" + strconv.Itoa(len(name)%2)}},
			Data: map[string]string{"k": name}}
		e, err := w.Create(dana, cms, cm, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e.Rev
	}
	for i := range 30 {
		create([]string{"a", "b"}[i%2], "cm-"+strconv.Itoa(i))
	}
	waitServed(t, s, cms)

	rng := rand.New(rand.NewPCG(1, 2))
	names := 30
	compare := func(o ListOptions) *ListResult {
		t.Helper()
		o.Shared = true
		got, err := s.List(dana, cms, o)
		if err != nil {
			t.Fatal(err)
		}
		o.Rev = got.Rev
		want, err := s.listStorage(dana, cms, o)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := listed(t, got), listed(t, want); g != w {
			t.Fatalf("list %+v at %d:\ncache:\n%s\nstorage:\n%s", o, got.Rev, g, w)
		}
		return got
	}
	served := s.lists.served.Load()
	for i := range 60 {
		name := "cm-" + strconv.Itoa(rng.IntN(names+5))
		ns := []string{"a", "b"}[rng.IntN(2)]
		var rev int64
		var gone bool
		switch op := rng.IntN(3); {
		case op == 0:
			name = "cm-" + strconv.Itoa(names)
			names++
			rev = create(ns, name)
		case op == 1:
			e, err := w.Update(dana, ObjectTarget(cms, ns, name), Options{}, func(cur catalog.Object) (catalog.Object, error) {
				cur.(*corev1.ConfigMap).Data["n"] = strconv.Itoa(i)
				return cur, nil
			})
			if err == nil {
				rev = e.Rev
			}
		default:
			e, _, err := w.Delete(dana, ObjectTarget(cms, ns, name), DeleteOptions{})
			if err == nil {
				rev, gone = e.Rev, true
			}
		}
		res := compare(ListOptions{Namespace: ns})
		if res.Rev < rev {
			t.Fatalf("a list at %d after a write at %d", res.Rev, rev)
		}
		found := false
		for _, e := range res.Items {
			obj, _ := e.Object()
			found = found || obj.GetName() == name
		}
		if rev > 0 && found == gone {
			t.Fatalf("after writing %s/%s at %d (deleted: %v), the list at %d has it: %v", ns, name, rev, gone, res.Rev, found)
		}
		// A get reads the cache too, and sees the write.
		before := s.lists.served.Load()
		e, err := s.Get(dana, cms, ns, name)
		switch {
		case s.lists.served.Load() == before:
			t.Fatalf("a get of %s/%s was not answered by the cache", ns, name)
		case rev > 0 && gone && err == nil:
			t.Fatalf("a get after deleting %s/%s at %d found it at %d", ns, name, rev, e.Rev)
		case rev > 0 && !gone && (err != nil || e.Rev != rev):
			t.Fatalf("a get after writing %s/%s at %d: %v %v", ns, name, rev, e, err)
		}
		compare(ListOptions{})
		sel, _ := labels.Parse("k=v1")
		compare(ListOptions{Labels: sel, Namespace: ns})
		page := compare(ListOptions{Limit: 7})
		if page.Continue == "" || page.Remaining == nil {
			t.Fatalf("a page of 7 of more than 7: continue %q, remaining %v", page.Continue, page.Remaining)
		}
		next, err := s.List(dana, cms, ListOptions{Shared: true, Limit: 7, Continue: page.Continue})
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.listStorage(dana, cms, ListOptions{Rev: page.Rev, Limit: 14})
		if err != nil {
			t.Fatal(err)
		}
		all.Items, all.Continue, all.Remaining = all.Items[7:], next.Continue, next.Remaining
		if g, w := listed(t, next), listed(t, all); g != w {
			t.Fatalf("the second page of 7:\n%s\nwant\n%s", g, w)
		}
	}
	if n := s.lists.served.Load() - served; n < 5*60 {
		t.Errorf("the cache answered %d of %d lists and gets", n, 5*60)
	}

	// Writes to another resource move etcd's revision past the cache's:
	// a progress note catches it up.
	for i := range 5 {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s" + strconv.Itoa(i), Namespace: "a"}}
		if _, err := w.Create(dana, secrets, sec, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	before := s.lists.served.Load()
	compare(ListOptions{})
	if s.lists.served.Load() == before {
		t.Error("a list after writes to other resources only was not answered by the cache")
	}
	if n, _ := s.SharedWatchCounts(); shared != (n > 0) {
		t.Errorf("shared watches enabled: %v; watches shared: %d", shared, n)
	}
}

// A cache no list asks for stops; the next list starts it again.
func TestListCacheStopsWhenIdle(t *testing.T) {
	defer func(idle time.Duration) { listCacheIdle = idle }(listCacheIdle)
	listCacheIdle = 300 * time.Millisecond
	s := etcdStore(t, 100*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.EnableListCache(ctx)
	cms := catalog.ConfigMaps()
	waitServed(t, s, cms)
	// etcd sends no progress note to a watch until its revision has
	// been written: a write elsewhere lets the idle watch hear progress.
	if _, err := s.KV.Create(ctx, "/registry/elsewhere", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := s.lists.caches.Load(cms); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle cache still runs after 10 s")
		}
	}
	waitServed(t, s, cms)
}

// Requests that arrive while a read of the revision is under way share
// the next one, which starts after they arrived; one read at a time.
func TestRevReadsShareTheNextRead(t *testing.T) {
	var b revReads
	started := make(chan int64, 10)
	release := make(chan struct{})
	var reads atomic.Int64
	read := func(context.Context) (int64, error) {
		n := reads.Add(1)
		started <- n
		<-release
		return n, nil
	}
	ctx := context.Background()
	first := make(chan int64)
	go func() {
		rev, _ := b.get(ctx, ctx, read)
		first <- rev
	}()
	<-started // read 1 is under way
	const later = 10
	revs := make(chan int64, later)
	for range later {
		go func() {
			rev, _ := b.get(ctx, ctx, read)
			revs <- rev
		}()
	}
	time.Sleep(50 * time.Millisecond) // the later requests wait
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads under way at once", n)
	}
	release <- struct{}{}
	if rev := <-first; rev != 1 {
		t.Fatalf("the first request got read %d", rev)
	}
	<-started // read 2, for the later requests
	release <- struct{}{}
	for range later {
		if rev := <-revs; rev != 2 {
			t.Fatalf("a request that arrived during read 1 got read %d, want 2", rev)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Fatalf("%d reads for 1 + %d requests, want 2", n, later)
	}
}
