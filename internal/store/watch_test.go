package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/encryption"
)

// Every watcher of a change gets the same Entry, so it is decoded,
// matched and encoded once however many watch; a watcher whose selector
// does not match sees nothing, and each sees a change as its selector
// does (MODIFIED, or ADDED when the object starts to match).
func TestWatchersShareEventEntries(t *testing.T) {
	s := testStore(t)
	w := testWriter(t, s, nil)
	res := catalog.ConfigMaps()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.Create(dana, res, configMap("a", map[string]string{"tier": "web"}), Options{}); err != nil {
		t.Fatal(err)
	}
	rev, _ := s.KV.Rev(ctx)
	watch := func(o ListOptions) <-chan WatchEvent {
		ch, err := s.Watch(ctx, res, WatchOptions{ListOptions: o, FromRev: rev})
		if err != nil {
			t.Fatal(err)
		}
		<-ch // the bookmark at the start
		return ch
	}
	byName := watch(ListOptions{Namespace: "ns", Fields: fields.OneTermEqualSelector("metadata.name", "a")})
	byLabel := watch(ListOptions{Namespace: "ns", Labels: labels.SelectorFromSet(labels.Set{"tier": "db"})})
	everything := watch(ListOptions{})
	if _, err := w.Update(dana, ObjectTarget(res, "ns", "a"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cur.SetLabels(map[string]string{"tier": "db"})
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	a, b, c := <-byName, <-byLabel, <-everything
	if a.Type != WatchModified || b.Type != WatchAdded || c.Type != WatchModified {
		t.Fatalf("event types: %s, %s, %s", a.Type, b.Type, c.Type)
	}
	if a.Entry != b.Entry || b.Entry != c.Entry {
		t.Error("watchers of one change got different entries")
	}
	oa, _ := a.Entry.Object()
	oc, _ := c.Entry.Object()
	if oa != oc || oa.GetLabels()["tier"] != "db" {
		t.Error("the shared entry decoded twice, or wrongly")
	}
}

// A watcher of an encrypted resource gets the writer's own bytes for
// every write this process made, whether its event arrives before or
// after the writer learns the revision: nothing just sealed is opened
// again. (Opening yields new bytes, so sharing the writer's slice is
// what shows it was not opened.)
func TestWatchersDoNotOpenWhatThisProcessSealed(t *testing.T) {
	s := testStore(t)
	ec, err := encryption.ParseConfig([]byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [configmaps]
  providers:
  - aesgcm:
      keys:
      - name: key1
        secret: c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluaywgaXNuJ3Q=
`))
	if err != nil {
		t.Fatal(err)
	}
	s.SetEncryption(ec)
	w := testWriter(t, s, nil)
	res := catalog.ConfigMaps()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rev, _ := s.KV.Rev(ctx)
	ch, err := s.Watch(ctx, res, WatchOptions{FromRev: rev})
	if err != nil {
		t.Fatal(err)
	}
	<-ch // the bookmark at the start
	const n = 200
	written := make(chan *Entry, n)
	go func() {
		for i := range n {
			e, err := w.Create(dana, res, configMap(fmt.Sprintf("cm-%d", i), nil), Options{})
			if err != nil {
				t.Error(err)
				close(written)
				return
			}
			written <- e
		}
		close(written)
	}()
	opened := 0
	for e := range written {
		ev := <-ch
		if ev.Entry.Rev != e.Rev {
			t.Fatalf("event at %d, write at %d", ev.Entry.Rev, e.Rev)
		}
		if !sameBytes(ev.Entry.plain, e.plain) {
			opened++
		}
	}
	if opened > 0 {
		t.Errorf("%d of %d events opened a value this process had just sealed", opened, n)
	}
	if stored, _ := s.KV.Get(ctx, Key(res, "ns", "cm-0")); !bytes.HasPrefix(stored.Value, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("stored as %q", stored.Value[:min(len(stored.Value), 30)])
	}
}
