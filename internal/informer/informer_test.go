package informer

import (
	"fmt"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

func cm(ns, name, rv string) catalog.Object {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv}}
}

// TestRelistAndEvents checks what handlers are told on relists and watch
// events, in both modes; a lean informer keeps no objects but tells the
// same story, with an object found deleted on a relist given by name.
func TestRelistAndEvents(t *testing.T) {
	for _, lean := range []bool{false, true} {
		t.Run(fmt.Sprintf("lean=%v", lean), func(t *testing.T) {
			i := New(nil, catalog.ConfigMaps(), slog.Default())
			i.Lean = lean
			var events []string
			i.AddHandler(func(ev string, obj, old catalog.Object) {
				_, isCM := obj.(*corev1.ConfigMap)
				events = append(events, fmt.Sprintf("%s %s/%s rv=%s cm=%v old=%v", ev, obj.GetNamespace(), obj.GetName(), obj.GetResourceVersion(), isCM, old != nil))
			})
			i.replace(map[string]catalog.Object{"ns/a": cm("ns", "a", "1"), "ns/b": cm("ns", "b", "2")}, 2)
			i.replace(map[string]catalog.Object{"ns/a": cm("ns", "a", "3")}, 3)
			i.apply(store.WatchAdded, cm("ns", "c", "4"), 4)
			i.apply(store.WatchDeleted, cm("ns", "c", "5"), 5)
			oldOnModify := !lean // only a full informer has the previous object
			want := []string{
				"ADDED ns/a rv=1 cm=true old=false", "ADDED ns/b rv=2 cm=true old=false",
				fmt.Sprintf("MODIFIED ns/a rv=3 cm=true old=%v", oldOnModify),
				"DELETED ns/b rv= cm=true old=false",
				"ADDED ns/c rv=4 cm=true old=false", "DELETED ns/c rv=5 cm=true old=false",
			}
			if !lean {
				want[3] = "DELETED ns/b rv=2 cm=true old=false"
			}
			// The first relist's additions come in map order.
			if events[0] > events[1] {
				events[0], events[1] = events[1], events[0]
			}
			if fmt.Sprint(events) != fmt.Sprint(want) {
				t.Errorf("events:\n got %q\nwant %q", events, want)
			}
			_, found := i.Get("ns", "a")
			if found == lean {
				t.Errorf("Get found=%v with lean=%v", found, lean)
			}
			select {
			case <-i.Synced():
			default:
				t.Error("not synced after a relist")
			}
		})
	}
}

// ListIn answers only once synced, with a namespace's objects and the
// revision every change up to which is applied: the list's, then each
// event's and each bookmark's.
func TestListInNamesItsRevision(t *testing.T) {
	i := New(nil, catalog.ConfigMaps(), slog.Default())
	names := func(objs []catalog.Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetName())
		}
		return out
	}
	if _, _, ok := i.ListIn("ns"); ok {
		t.Fatal("an informer that has not synced answered")
	}
	i.replace(map[string]catalog.Object{"ns/a": cm("ns", "a", "3"), "other/b": cm("other", "b", "4")}, 10)
	if objs, rev, ok := i.ListIn("ns"); !ok || rev != 10 || fmt.Sprint(names(objs)) != "[a]" {
		t.Fatalf("after the list at 10: %v %d %v", names(objs), rev, ok)
	}
	i.apply(store.WatchModified, cm("other", "b", "12"), 12)
	if _, rev, _ := i.ListIn("ns"); rev != 12 {
		t.Fatalf("after an event at 12: %d", rev)
	}
	i.advance(15)
	i.advance(14)
	if objs, rev, _ := i.ListIn("ns"); rev != 15 || len(objs) != 1 {
		t.Fatalf("after bookmarks at 15 then 14: %d %v", rev, names(objs))
	}
	i.Lean = true
	if _, _, ok := i.ListIn("ns"); ok {
		t.Fatal("a lean informer, which keeps no objects, answered")
	}
}
