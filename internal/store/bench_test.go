package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
)

// BenchmarkList lists 10,000 catalog.ConfigMaps of about 300 bytes each, the LIST
// target's size.
func BenchmarkList(b *testing.B) {
	s := testStore(b)
	res := catalog.ConfigMaps()
	ctx := context.Background()
	for i := range 10000 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("obj-%06d", i), Namespace: "ns",
			Labels: map[string]string{"app": "bench"}}, Data: map[string]string{"key": strings.Repeat("v", 200)}}
		if _, err := s.create(ctx, res, cm, false, false, nil); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		l, err := s.List(ctx, res, ListOptions{Namespace: "ns"})
		if err != nil || len(l.Items) != 10000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateParallel measures fsynced creates from many goroutines,
// which the storage writer coalesces into shared commits.
func BenchmarkCreateParallel(b *testing.B) {
	s := testStore(b)
	res := catalog.ConfigMaps()
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", n.Add(1)), Namespace: "ns"}}
			if _, err := s.create(ctx, res, cm, false, false, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGet measures reading one object, as a GET does.
func BenchmarkGet(b *testing.B) {
	s := testStore(b)
	res := catalog.ConfigMaps()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns"}, Data: map[string]string{"k": "v"}}
	if _, err := s.create(ctx, res, cm, false, false, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(ctx, res, "ns", "one"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriterCreateParallel is BenchmarkCreateParallel through the
// Writer: the create strategy, validation and an empty admission chain on
// top of the write, as an HTTP create pays them.
func BenchmarkWriterCreateParallel(b *testing.B) {
	w, err := NewWriter(testStore(b), admission.AllowAll())
	if err != nil {
		b.Fatal(err)
	}
	res := catalog.ConfigMaps()
	ctx := authn.AsAPIServer(context.Background())
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", n.Add(1)), Namespace: "ns"}}
			if _, err := w.Create(ctx, res, cm, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriterCreateParallelCharged is BenchmarkWriterCreateParallel
// with every create charged to one quota in the same transaction, as the
// ResourceQuota plugin charges a namespace's creates: 32 writers race for
// the one quota, and a charge that lost its race is made again.
func BenchmarkWriterCreateParallelCharged(b *testing.B) {
	s := testStore(b)
	quotas := catalog.ResourceQuotas()
	chain := admission.AllowAll()
	charger := &counterCharger{s: s, quota: quotas}
	chain.Validators = append(chain.Validators, charger)
	w, err := NewWriter(s, chain)
	if err != nil {
		b.Fatal(err)
	}
	w.Resources = func(gvr schema.GroupVersionResource) (*catalog.Resource, bool) {
		return quotas, gvr == quotas.GroupVersionResource()
	}
	ctx := authn.AsAPIServer(context.Background())
	counter := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "counter", Namespace: "ns"},
		Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{"count": resource.MustParse("0")}}}
	if _, err := w.Create(ctx, quotas, counter, Options{}); err != nil {
		b.Fatal(err)
	}
	res := catalog.ConfigMaps()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", n.Add(1)), Namespace: "ns"}}
			if _, err := w.Create(ctx, res, cm, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(charger.calls.Load()-1)/float64(n.Load()), "charges/create")
}
