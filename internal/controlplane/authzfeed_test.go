package controlplane

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/authz/node"
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

// TestGraphFromInformers feeds the Node authorizer's graph from real
// informers over a bolt store: objects present before the informers start, then changes.
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

	// Objects are written under the store's keys, past validation: the
	// graph reads whatever is stored.
	put := func(r *catalog.Resource, obj catalog.Object) {
		t.Helper()
		obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
		data, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		key := store.Key(r, obj.GetNamespace(), obj.GetName())
		if cur, err := kv.Get(ctx, key); err == nil {
			_, err = kv.Update(ctx, key, data, cur.ModRev)
		} else {
			_, err = kv.Create(ctx, key, data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	create := put
	create(pods, pod("ns", "before", "a", secretVolume("s1"), claimVolume("data")))
	create(pvcs, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-data"}})

	g := node.NewGraph()
	log := slog.New(slog.DiscardHandler)
	podInf, pvcInf := informer.New(st, pods, log), informer.New(st, pvcs, log)
	feedGraph(g, podInf, pvcInf)
	go podInf.Run(ctx)
	go pvcInf.Run(ctx)
	if !podInf.WaitForSync(ctx) || !pvcInf.WaitForSync(ctx) {
		t.Fatal("informers did not sync")
	}
	expectReach(t, g, "a", true, reach{node.KindSecret, "ns", "s1"}, reach{node.KindPersistentVolume, "", "pv-data"})

	// A pod created unbound, then bound to b by an update.
	create(pods, pod("ns", "later", "", secretVolume("s2")))
	bound := pod("ns", "later", "b", secretVolume("s2"))
	put(pods, bound)
	eventually(t, "pod bound to b", func() bool { return g.Reachable("b", node.KindSecret, "ns", "s2") })
	expectReach(t, g, "a", false, reach{node.KindSecret, "ns", "s2"})

	// Deleting the first pod takes its secret and volume away from a.
	if _, _, err := kv.Delete(ctx, store.Key(pods, "ns", "before"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod deleted", func() bool { return !g.Reachable("a", node.KindSecret, "ns", "s1") })
	expectReach(t, g, "a", false, reach{node.KindPersistentVolume, "", "pv-data"}, reach{node.KindPod, "ns", "before"})
	expectReach(t, g, "b", true, reach{node.KindPod, "ns", "later"})
}

func TestGraphHandlers(t *testing.T) {
	g := node.NewGraph()
	p := pod("ns", "p", "a", secretVolume("s"))
	graphPods(g)(store.WatchAdded, p, nil)
	expectReach(t, g, "a", true, reach{node.KindSecret, "ns", "s"})
	moved := pod("ns", "p", "b", secretVolume("s"))
	graphPods(g)(store.WatchModified, moved, p)
	expectReach(t, g, "a", false, reach{node.KindSecret, "ns", "s"})
	expectReach(t, g, "b", true, reach{node.KindSecret, "ns", "s"})

	g.SetPod(pod("ns", "q", "b", claimVolume("c")))
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv"}}
	graphClaims(g)(store.WatchAdded, pvc, nil)
	expectReach(t, g, "b", true, reach{node.KindPersistentVolume, "", "pv"})
	graphClaims(g)(store.WatchDeleted, pvc, nil)
	expectReach(t, g, "b", false, reach{node.KindPersistentVolume, "", "pv"})

	graphPods(g)(store.WatchDeleted, moved, nil)
	expectReach(t, g, "b", false, reach{node.KindSecret, "ns", "s"})
	// Objects of other types are ignored.
	graphPods(g)(store.WatchAdded, pvc, nil)
	graphClaims(g)(store.WatchAdded, p, nil)
}

func pod(ns, name, nodeName string, volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "img"}}, Volumes: volumes},
	}
}

func secretVolume(secret string) corev1.Volume {
	return corev1.Volume{Name: "v-" + secret, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
}

func claimVolume(claim string) corev1.Volume {
	return corev1.Volume{Name: "v-" + claim,
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

type reach struct {
	kind      node.Kind
	namespace string
	name      string
}

func expectReach(t *testing.T, g *node.Graph, nodeName string, want bool, objs ...reach) {
	t.Helper()
	for _, o := range objs {
		if got := g.Reachable(nodeName, o.kind, o.namespace, o.name); got != want {
			t.Errorf("node %q reaches %s %s/%s: %v, want %v", nodeName, o.kind, o.namespace, o.name, got, want)
		}
	}
}
