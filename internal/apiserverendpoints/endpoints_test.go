package apiserverendpoints

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/storage/etcd"
	"github.com/sekisho/sekisho/internal/storage/etcd/etcdtest"
	"github.com/sekisho/sekisho/internal/store"
)

var ctx = authn.AsAPIServer(context.Background())

func reconciler(t *testing.T, kv storage.KV, ip string) *Reconciler {
	w, err := store.NewWriter(store.NewStore(kv), admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Builtin()
	endpoints, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("endpoints"))
	slices, _ := cat.Lookup(discoveryv1.SchemeGroupVersion.WithResource("endpointslices"))
	return &Reconciler{KV: kv, Store: w, Endpoints: endpoints, Slices: slices, IP: ip, Port: 6443,
		TTL: time.Second, Interval: 200 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
}

// listed reads the Endpoints' and the EndpointSlice's addresses.
func listed(t *testing.T, r *Reconciler) (endpoints, slice []string) {
	t.Helper()
	obj, err := r.Store.GetObject(ctx, r.Endpoints, "default", Service)
	if err != nil {
		t.Fatal(err)
	}
	ep := obj.(*corev1.Endpoints)
	if len(ep.Subsets) != 1 || ep.Labels[discoveryv1.LabelSkipMirror] != "true" || len(ep.Subsets[0].Ports) != 1 || ep.Subsets[0].Ports[0].Port != 6443 {
		t.Fatalf("endpoints %+v", ep)
	}
	for _, a := range ep.Subsets[0].Addresses {
		endpoints = append(endpoints, a.IP)
	}
	obj, err = r.Store.GetObject(ctx, r.Slices, "default", Service)
	if err != nil {
		t.Fatal(err)
	}
	s := obj.(*discoveryv1.EndpointSlice)
	if s.Labels[discoveryv1.LabelServiceName] != Service || s.AddressType != discoveryv1.AddressTypeIPv4 || len(s.Ports) != 1 || *s.Ports[0].Port != 6443 {
		t.Fatalf("slice %+v", s)
	}
	for _, e := range s.Endpoints {
		if e.Conditions.Ready == nil || !*e.Conditions.Ready {
			t.Errorf("slice endpoint %v not ready", e.Addresses)
		}
		slice = append(slice, e.Addresses...)
	}
	return endpoints, slice
}

func expect(t *testing.T, r *Reconciler, want ...string) {
	t.Helper()
	ep, slice := listed(t, r)
	if !slices.Equal(ep, want) || !slices.Equal(slice, want) {
		t.Errorf("endpoints %v, slice %v; want %v", ep, slice, want)
	}
}

// Two servers on one etcd are both listed; one that stops renewing drops
// out once its lease expires; one that stops cleanly drops out at once.
func TestLeasesOnEtcd(t *testing.T) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdtest.Start(t, nil)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	kv := etcd.New(etcd.Options{Client: c})
	a, b, d := reconciler(t, kv, "10.0.0.2"), reconciler(t, kv, "10.0.0.1"), reconciler(t, kv, "10.0.0.3")
	for _, r := range []*Reconciler{a, b, d} {
		if err := r.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, a, "10.0.0.1", "10.0.0.2", "10.0.0.3")

	// b dies: it renews no more. etcd's shortest lease is about 2 s.
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range []*Reconciler{a, d} {
			if err := r.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if ep, _ := listed(t, a); len(ep) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	expect(t, a, "10.0.0.2", "10.0.0.3")

	// d stops cleanly.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	cancel()
	<-done
	expect(t, a, "10.0.0.2")
	// The last server leaving leaves the list as it was.
	if err := a.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, a, "10.0.0.2")
}

// On the embedded database the list is this server alone.
func TestOneServerOnBolt(t *testing.T) {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	r := reconciler(t, kv, "192.0.2.7")
	if err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, r, "192.0.2.7")
	r.IP = "192.0.2.8" // restarted with another address
	if err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, r, "192.0.2.8")
}
