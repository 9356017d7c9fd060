package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// The counts are kube-apiserver's metric, by group and resource, and
// follow the store at the next poll.
func TestCountsStoredObjects(t *testing.T) {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	cat := catalog.Builtin()
	configMaps, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("configmaps"))
	deployments, _ := cat.Lookup(appsv1.SchemeGroupVersion.WithResource("deployments"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	put := func(ns, name string) {
		if _, err := kv.Create(ctx, store.Key(configMaps, ns, name), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "one")
	put("b", "two")
	m := New()
	go m.CountObjects(ctx, kv, []*catalog.Resource{configMaps, deployments}, 20*time.Millisecond, slog.New(slog.DiscardHandler))
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	wait := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := scrape()
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(got, w+"\n")
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics lack %q:\n%s", want, got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(`apiserver_resource_objects{group="",resource="configmaps"} 2`, `apiserver_resource_objects{group="apps",resource="deployments"} 0`)
	put("a", "three")
	wait(`apiserver_resource_objects{group="",resource="configmaps"} 3`)
	if got := scrape(); !strings.Contains(got, "go_goroutines") || !strings.Contains(got, "process_") {
		t.Errorf("no runtime or process metrics:\n%.500s", got)
	}
}
