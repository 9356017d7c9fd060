package serviceip

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	storepkg "github.com/sekisho/sekisho/internal/store"
)

func setup(t *testing.T, cidr string) (*Allocator, *storepkg.Store, *catalog.Resource) {
	t.Helper()
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	_, n, _ := net.ParseCIDR(cidr)
	a := &Allocator{KV: kv, CIDR: n, PortLow: 30000, PortHigh: 30009, Log: slog.Default()}
	svcs := catalog.Services()
	return a, storepkg.NewStore(kv), svcs
}

func admit(t *testing.T, a *Allocator, svc *corev1.Service, dry bool) error {
	t.Helper()
	return a.Assign(context.Background(), svc, nil, dry)
}

func svc(name string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

func TestAllocatesUniqueAddressesUntilFull(t *testing.T) {
	a, _, _ := setup(t, "10.0.0.0/28") // 14 usable, offset 1 kept for the kubernetes Service
	seen := map[string]bool{}
	for i := range 13 {
		s := svc("s"+string(rune('a'+i)), corev1.ServiceTypeClusterIP)
		if err := admit(t, a, s, false); err != nil {
			t.Fatalf("service %d: %v", i, err)
		}
		ip := net.ParseIP(s.Spec.ClusterIP)
		if seen[s.Spec.ClusterIP] || !a.CIDR.Contains(ip) || s.Spec.ClusterIP == "10.0.0.0" || s.Spec.ClusterIP == "10.0.0.1" || s.Spec.ClusterIP == "10.0.0.15" {
			t.Fatalf("bad or repeated IP %s", s.Spec.ClusterIP)
		}
		seen[s.Spec.ClusterIP] = true
	}
	if err := admit(t, a, svc("full", corev1.ServiceTypeClusterIP), false); err == nil {
		t.Fatal("allocated from a full range")
	}
}

func TestExplicitAddressesAndPorts(t *testing.T) {
	a, _, _ := setup(t, "10.96.0.0/12")
	s := svc("fixed", corev1.ServiceTypeNodePort)
	s.Spec.ClusterIP = "10.96.0.10"
	s.Spec.Ports[0].NodePort = 30005
	if err := admit(t, a, s, false); err != nil {
		t.Fatal(err)
	}
	dup := svc("dup", corev1.ServiceTypeClusterIP)
	dup.Spec.ClusterIP = "10.96.0.10"
	if err := admit(t, a, dup, false); !apierrors.IsInvalid(err) {
		t.Fatalf("duplicate IP: %v", err)
	}
	out := svc("out", corev1.ServiceTypeClusterIP)
	out.Spec.ClusterIP = "192.168.1.1"
	if err := admit(t, a, out, false); !apierrors.IsInvalid(err) {
		t.Fatalf("IP outside the range: %v", err)
	}
	port := svc("port", corev1.ServiceTypeNodePort)
	port.Spec.Ports[0].NodePort = 30005
	if err := admit(t, a, port, false); !apierrors.IsInvalid(err) {
		t.Fatalf("duplicate node port: %v", err)
	}
	headless := svc("headless", corev1.ServiceTypeClusterIP)
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	if err := admit(t, a, headless, false); err != nil || headless.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %v %s", err, headless.Spec.ClusterIP)
	}
	// Node ports: the range holds 10, one is taken.
	for i := range 9 {
		if err := admit(t, a, svc("np"+string(rune('a'+i)), corev1.ServiceTypeNodePort), false); err != nil {
			t.Fatalf("node port %d: %v", i, err)
		}
	}
	if err := admit(t, a, svc("np-full", corev1.ServiceTypeNodePort), false); err == nil {
		t.Fatal("node port range overflowed")
	}
}

func TestDryRunReservesNothing(t *testing.T) {
	a, _, _ := setup(t, "10.0.0.0/30") // one usable address after the reserved first
	if err := admit(t, a, svc("dry", corev1.ServiceTypeClusterIP), true); err != nil {
		t.Fatal(err)
	}
	if err := admit(t, a, svc("real", corev1.ServiceTypeClusterIP), false); err != nil {
		t.Fatalf("dry run kept the only address: %v", err)
	}
}

func TestRepairReleasesAbandonedAllocations(t *testing.T) {
	a, store, svcs := setup(t, "10.0.0.0/29")
	ctx := context.Background()
	kept := svc("kept", corev1.ServiceTypeClusterIP)
	if err := admit(t, a, kept, false); err != nil {
		t.Fatal(err)
	}
	w, err := storepkg.NewWriter(store, admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(authn.AsAPIServer(ctx), svcs, kept, storepkg.Options{}); err != nil {
		t.Fatal(err)
	}
	// A reservation whose Service was never stored (its create failed).
	if err := admit(t, a, svc("ghost", corev1.ServiceTypeClusterIP), false); err != nil {
		t.Fatal(err)
	}
	a.Grace = time.Hour
	if err := a.Repair(ctx, store, svcs); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, a); n != 2 {
		t.Fatalf("repair within the grace period left %d reservations, want 2", n)
	}
	a.Grace = -time.Second
	if err := a.Repair(ctx, store, svcs); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, a); n != 1 {
		t.Fatalf("after repair %d reservations, want only the live one", n)
	}
}

func countKeys(t *testing.T, a *Allocator) int {
	t.Helper()
	res, err := a.KV.List(context.Background(), ipPrefix, storageListAll)
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

var storageListAll = storage.ListOptions{}
