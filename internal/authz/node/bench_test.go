package node

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/authz"
)

// BenchmarkAuthorizeSecret decides secret reads in a graph of 10,000 pods
// over 1,000 nodes, each pod with a secret of its own and one shared with
// the other pods of its namespace.
func BenchmarkAuthorizeSecret(b *testing.B) {
	const pods, nodes = 10000, 1000
	g := NewGraph()
	for i := range pods {
		ns := fmt.Sprintf("ns-%d", i%100)
		g.SetPod(pod(ns, fmt.Sprintf("pod-%d", i), fmt.Sprintf("node-%d", i%nodes),
			secretVolume(fmt.Sprintf("secret-%d", i)), secretVolume("shared"), func(s *corev1.PodSpec) {
				s.Volumes = append(s.Volumes, cmVolume(fmt.Sprintf("cm-%d", i)))
			}))
	}
	if s := g.Sizes(); s.Pods != pods || s.Nodes != nodes {
		b.Fatalf("sizes %+v", s)
	}
	z := New(g, testRules)
	ctx := context.Background()
	allowed := res("node-7", "get", "", "secrets", "", "ns-7", "secret-1007")
	refused := res("node-8", "get", "", "secrets", "", "ns-7", "secret-1007")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a, want := allowed, authz.Allow
		if i%2 == 1 {
			a, want = refused, authz.NoOpinion
		}
		i++
		if d, _, _ := z.Authorize(ctx, a); d != want {
			b.Fatalf("%v, want %v", d, want)
		}
	}
}
