package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// TestCrashDurability acknowledges writes, kills the server with SIGKILL,
// restarts it, and checks that every acknowledged write is there, that
// resourceVersions only grow, and that a watch never goes back in time.
func TestCrashDurability(t *testing.T) {
	s := startServer(t)
	const n = 60
	acked := map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range n / 6 {
				name := fmt.Sprintf("durable-%d-%d", w, i)
				code, body := s.do("POST", "/api/v1/namespaces/default/configmaps", "application/json",
					strings.NewReader(`{"metadata":{"name":"`+name+`"},"data":{"v":"x"}}`))
				if code != 201 {
					t.Errorf("create %s: %d %s", name, code, body)
					return
				}
				mu.Lock()
				acked[name] = rvOf(t, body)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var maxRV int64
	for _, rv := range acked {
		maxRV = max(maxRV, rv)
	}

	s.kill()
	s.start()

	for name, rv := range acked {
		code, body := s.do("GET", "/api/v1/namespaces/default/configmaps/"+name, "", nil)
		if code != 200 || rvOf(t, body) != rv {
			t.Fatalf("after the crash %s: %d, rv %d want %d", name, code, rvOf(t, body), rv)
		}
	}
	code, body := s.do("POST", "/api/v1/namespaces/default/configmaps", "application/json", strings.NewReader(`{"metadata":{"name":"after-crash"}}`))
	if code != 201 || rvOf(t, body) <= maxRV {
		t.Fatalf("a write after the restart got rv %d, not above %d (%d)", rvOf(t, body), maxRV, code)
	}
	afterRV := rvOf(t, body)

	// Resuming a watch from the last revision seen before the crash either
	// continues forward or is refused with 410 Expired, never goes back.
	resp, err := s.client(true).Get(s.url(fmt.Sprintf("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=%d", maxRV)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusGone:
	case http.StatusOK:
		ev := <-lines(resp.Body)
		var e struct {
			Type   string
			Object json.RawMessage
		}
		json.Unmarshal([]byte(ev), &e)
		if got := rvOf(t, string(e.Object)); got <= maxRV {
			t.Fatalf("watch from %d delivered rv %d", maxRV, got)
		}
	default:
		t.Fatalf("watch after the crash: %d", resp.StatusCode)
	}
	code, body = s.do("GET", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1", "", nil)
	if st := parseStatus(t, body); code != 410 || st.Reason != "Expired" || !strings.Contains(st.Message, "too old resource version") {
		t.Errorf("watch from a revision before the window: %d %s", code, body)
	}
	if afterRV <= 0 {
		t.Fatal("no revision")
	}
}

func rvOf(t *testing.T, body string) int64 {
	t.Helper()
	var obj struct {
		Metadata struct{ ResourceVersion string }
	}
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	rv, _ := strconv.ParseInt(obj.Metadata.ResourceVersion, 10, 64)
	return rv
}

// TestInformer runs a client-go informer over 1,000 updates and a server
// restart, and checks it ends with exactly the server's state.
func TestInformer(t *testing.T) {
	s := startServer(t, withoutRootCAConfigMaps)
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "inf"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const objects = 20
	for i := range objects {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"n": "0"}}
		if _, err := client.CoreV1().ConfigMaps("inf").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("inf"))
	informer := factory.Core().V1().ConfigMaps().Informer()
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("informer never synced")
	}

	update := func(from, to int) {
		for i := from; i < to; i++ {
			name := fmt.Sprintf("cm-%d", i%objects)
			for {
				cm, err := client.CoreV1().ConfigMaps("inf").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cm.Data["n"] = strconv.Itoa(i)
				if _, err = client.CoreV1().ConfigMaps("inf").Update(ctx, cm, metav1.UpdateOptions{}); err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatal(err)
				}
			}
		}
	}
	checkConverged := func(stage string) {
		t.Helper()
		ok := waitFor(func() bool {
			list, err := client.CoreV1().ConfigMaps("inf").List(ctx, metav1.ListOptions{})
			if err != nil || len(list.Items) != objects {
				return false
			}
			for _, want := range list.Items {
				got, exists, _ := informer.GetStore().GetByKey("inf/" + want.Name)
				if !exists || got.(*corev1.ConfigMap).ResourceVersion != want.ResourceVersion || got.(*corev1.ConfigMap).Data["n"] != want.Data["n"] {
					return false
				}
			}
			return len(informer.GetStore().List()) == objects
		})
		if !ok {
			t.Fatalf("%s: the informer's cache does not match the server", stage)
		}
	}
	update(0, 1000)
	checkConverged("after 1,000 updates")

	s.stop()
	s.start()
	update(1000, 1100)
	checkConverged("after a restart and 100 more updates")
}
