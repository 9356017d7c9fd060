package node

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// pvcResource stands in for the claims resource, which the catalog may
// not serve yet; the graph only needs its objects.
func pvcResource() *catalog.Resource {
	return &catalog.Resource{
		GroupVersion: corev1.SchemeGroupVersion, Name: "persistentvolumeclaims", SingularName: "persistentvolumeclaim",
		Kind: "PersistentVolumeClaim", Namespaced: true,
		New: func() catalog.Object { return &corev1.PersistentVolumeClaim{} },
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGraphFromInformers feeds the graph from real informers over a bolt
// st: objects present before the informers start, then changes.
func TestGraphFromInformers(t *testing.T) {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	st := store.NewStore(kv)
	pods, pvcs := catalog.Pods(), pvcResource()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	create := func(r *catalog.Resource, obj catalog.Object) {
		t.Helper()
		if _, err := st.Create(ctx, r, obj, false, false); err != nil {
			t.Fatal(err)
		}
	}
	create(pods, pod("ns", "before", "a", secretVolume("s1"), claimVolume("data")))
	create(pvcs, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-data"}})

	g := NewGraph()
	log := slog.New(slog.DiscardHandler)
	podInf, pvcInf := informer.New(st, pods, log), informer.New(st, pvcs, log)
	g.Attach(podInf)
	g.AttachPVCs(pvcInf)
	go podInf.Run(ctx)
	go pvcInf.Run(ctx)
	if !podInf.WaitForSync(ctx) || !pvcInf.WaitForSync(ctx) {
		t.Fatal("informers did not sync")
	}
	expectReach(t, g, "a", true, reach{KindSecret, "ns", "s1"}, reach{KindPersistentVolume, "", "pv-data"})

	// A pod created unbound, then bound to b by an update.
	create(pods, pod("ns", "later", "", secretVolume("s2")))
	_, _, err = st.Update(ctx, pods, "ns", "later", false, func(cur catalog.Object) (catalog.Object, error) {
		cur.(*corev1.Pod).Spec.NodeName = "b"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod bound to b", func() bool { return g.Reachable("b", KindSecret, "ns", "s2") })
	expectReach(t, g, "a", false, reach{KindSecret, "ns", "s2"})

	// Deleting the first pod takes its secret and volume away from a.
	if _, _, err := st.Delete(ctx, pods, "ns", "before", store.Preconditions{}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod deleted", func() bool { return !g.Reachable("a", KindSecret, "ns", "s1") })
	expectReach(t, g, "a", false, reach{KindPersistentVolume, "", "pv-data"}, reach{KindPod, "ns", "before"})
	expectReach(t, g, "b", true, reach{KindPod, "ns", "later"})
}
