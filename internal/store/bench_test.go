package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
