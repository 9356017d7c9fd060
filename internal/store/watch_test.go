package store

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/catalog"
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
