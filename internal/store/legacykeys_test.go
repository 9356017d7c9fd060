package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/bolt"
)

// TestMoveLegacyKeys: Services and Nodes an older sekisho kept under
// their resource names move to kube-apiserver's keys, including a
// Service in a namespace named "specs", and read back; a second run
// moves nothing.
func TestMoveLegacyKeys(t *testing.T) {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	st := NewStore(kv)
	cat := catalog.Builtin()
	services, _ := cat.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	nodes, _ := cat.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "nodes"})
	ctx := context.Background()
	put := func(r *catalog.Resource, key string, obj catalog.Object) {
		data, err := encode(r, obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Create(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	put(services, "/registry/services/default/web", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}})
	put(services, "/registry/services/specs/api", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "specs"}})
	put(nodes, "/registry/nodes/n1", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	n, err := st.MoveLegacyKeys(ctx, cat.Resources())
	if err != nil || n != 3 {
		t.Fatalf("moved %d: %v", n, err)
	}
	for _, c := range []struct {
		r        *catalog.Resource
		ns, name string
		key      string
	}{
		{services, "default", "web", "/registry/services/specs/default/web"},
		{services, "specs", "api", "/registry/services/specs/specs/api"},
		{nodes, "", "n1", "/registry/minions/n1"},
	} {
		if _, err := kv.Get(ctx, c.key); err != nil {
			t.Errorf("%s: %v", c.key, err)
		}
		obj, err := st.GetObject(ctx, c.r, c.ns, c.name)
		if err != nil || obj.GetName() != c.name {
			t.Errorf("%s/%s reads: %v", c.ns, c.name, err)
		}
	}
	for _, k := range []string{"/registry/services/default/web", "/registry/services/specs/api", "/registry/nodes/n1"} {
		if _, err := kv.Get(ctx, k); err == nil {
			t.Errorf("%s is still there", k)
		}
	}
	if n, err := st.MoveLegacyKeys(ctx, cat.Resources()); err != nil || n != 0 {
		t.Errorf("a second run moved %d: %v", n, err)
	}
}

// TestAPIServicesAreStoredAsJSON, as kube-apiserver's aggregator stores
// them, and read back.
func TestAPIServicesAreStoredAsJSON(t *testing.T) {
	cat := catalog.Builtin()
	r, _ := cat.Lookup(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"})
	obj, _ := r.New().(catalog.Object)
	obj.SetName("v1.example.com")
	data, err := encode(r, obj)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `{"kind":"APIService","apiVersion":"apiregistration.k8s.io/v1"`) {
		t.Fatalf("stored as %q", data[:min(len(data), 60)])
	}
	back, err := newEntry(r, data, 7).Object()
	if err != nil || back.GetName() != "v1.example.com" || back.GetResourceVersion() != "7" {
		t.Errorf("read back: %v %v", back, err)
	}
}
