package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// auditReceiver is an HTTPS audit webhook: it keeps the auditIDs of the
// EventLists it takes, and can be down (503) or hang.
type auditReceiver struct {
	srv  *httptest.Server
	down atomic.Bool
	hang chan struct{} // closed: no longer hangs

	mu    sync.Mutex
	ids   map[string]int
	lists int
}

func newAuditReceiver(t *testing.T) *auditReceiver {
	a := &auditReceiver{ids: map[string]int{}, hang: make(chan struct{})}
	close(a.hang)
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost { // kubectl config asks for /version
			http.NotFound(w, r)
			return
		}
		a.mu.Lock()
		hang := a.hang
		a.mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
		if a.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var list auditv1.EventList
		if err := json.NewDecoder(r.Body).Decode(&list); err != nil || list.Kind != "EventList" || list.APIVersion != "audit.k8s.io/v1" ||
			r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("not an EventList: %v %s/%s (%s %s, %d bytes, %v)", err, list.APIVersion, list.Kind, r.Method, r.URL, r.ContentLength, r.Header)
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.lists++
		for _, ev := range list.Items {
			a.ids[string(ev.AuditID)]++
		}
		a.mu.Unlock()
	}))
	t.Cleanup(func() {
		a.setHang(false)
		a.srv.Close()
	})
	return a
}

func (a *auditReceiver) setHang(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.hang:
		if on {
			a.hang = make(chan struct{})
		}
	default:
		if !on {
			close(a.hang)
		}
	}
}

// awaitAll waits up to d for every id, and returns those still missing.
func (a *auditReceiver) awaitAll(ids []string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for len(a.missing(ids)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	return a.missing(ids)
}

// missing are the ids not received.
func (a *auditReceiver) missing(ids []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, id := range ids {
		if a.ids[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

const webhookTestPolicy = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n"

func startWebhookAudited(t *testing.T, a *auditReceiver, extra ...string) *server {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(webhookTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, append([]string{"--audit-policy-file", policy, "--audit-webhook-config-file", webhookKubeconfig(t, a.srv),
		"--audit-webhook-batch-max-wait=20ms", "--audit-webhook-initial-backoff=100ms", "--audit-webhook-batch-throttle-enable=false"}, extra...)...)
}

// getAll sends n GETs with Audit-Ids prefix-0..., eight at a time, and
// returns the ids and each request's latency and status.
func getAll(t *testing.T, s *server, prefix string, from, n int, onDone func(i int)) (ids []string, latencies []time.Duration, codes []int) {
	c := s.client(true)
	ids, latencies, codes = make([]string, n), make([]time.Duration, n), make([]int, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				ids[i] = fmt.Sprintf("%s-%d", prefix, from+i)
				start := time.Now()
				resp, _ := s.send(t, c, "GET", "/api/v1/namespaces/default/configmaps?limit=1", "", "", http.Header{"Audit-Id": {ids[i]}})
				latencies[i], codes[i] = time.Since(start), resp.StatusCode
				if onDone != nil {
					onDone(i)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, latencies, codes
}

// TestAuditWebhookLosesNothing: the receiver is down for the middle of a
// 2,000-request run, and every event arrives once it is back.
func TestAuditWebhookLosesNothing(t *testing.T) {
	requireTools(t, "kubectl")
	a := newAuditReceiver(t)
	s := startWebhookAudited(t, a)
	ids, _, codes := getAll(t, s, "run", 0, 2000, func(i int) {
		switch i {
		case 500:
			a.down.Store(true)
		case 1500:
			a.down.Store(false)
		}
	})
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if m := a.awaitAll(ids, time.Minute); len(m) > 0 {
		t.Fatalf("%d of 2000 events never arrived, e.g. %v", len(m), m[:min(5, len(m))])
	}
	if !strings.Contains(s.logs.String(), "audit webhook delivery failed; the events stay in the spool") {
		t.Error("the outage was not logged")
	}
	// The server keeps what it could not deliver across a restart.
	a.down.Store(true)
	more, _, _ := getAll(t, s, "restart", 0, 50, nil)
	s.stop()
	a.down.Store(false)
	s.start()
	if m := a.awaitAll(more, 30*time.Second); len(m) > 0 {
		t.Fatalf("%d of 50 events spooled before a restart never arrived", len(m))
	}
}

// TestAuditWebhookModes: blocking waits for delivery; blocking-strict
// refuses requests once the spool is full, and serves again when it
// drains.
func TestAuditWebhookModes(t *testing.T) {
	requireTools(t, "kubectl")
	t.Run("blocking", func(t *testing.T) {
		a := newAuditReceiver(t)
		s := startWebhookAudited(t, a, "--audit-webhook-mode=blocking", "--audit-webhook-initial-backoff=5s")
		ids, _, _ := getAll(t, s, "blocking", 0, 40, nil)
		// Each was delivered before its response.
		if m := a.missing(ids); len(m) > 0 {
			t.Errorf("answered before its event was delivered: %v", m)
		}
	})
	t.Run("blocking-strict", func(t *testing.T) {
		a := newAuditReceiver(t)
		a.down.Store(true)
		s := startWebhookAudited(t, a, "--audit-webhook-mode=blocking-strict", "--audit-webhook-spool-max-size=1",
			"--audit-webhook-initial-backoff=10ms", "--audit-log-mode=batch")
		// About a thousand events fill a megabyte.
		ids, _, codes := getAll(t, s, "strict", 0, 3000, nil)
		refused := slices.Index(codes, http.StatusInternalServerError)
		if refused < 0 {
			t.Fatalf("3000 events with the webhook down and a 1 MB spool: none refused")
		}
		for i, c := range codes {
			if c != http.StatusOK && c != http.StatusInternalServerError {
				t.Fatalf("request %d: %d", i, c)
			}
		}
		a.down.Store(false)
		if !waitFor(func() bool {
			_, _, codes := getAll(t, s, "after", 0, 1, nil)
			return codes[0] == http.StatusOK
		}) {
			t.Fatal("requests are still refused after the webhook came back")
		}
		// Everything served was delivered; nothing refused was.
		var served []string
		for i, c := range codes {
			if c == http.StatusOK {
				served = append(served, ids[i])
			}
		}
		if m := a.awaitAll(served, 30*time.Second); len(m) > 0 {
			t.Errorf("%d served requests were never delivered", len(m))
		}
	})
}

// TestAuditWebhookHangs: a webhook that never answers costs requests
// nothing in batch mode, and the server's memory stays bounded.
func TestAuditWebhookHangs(t *testing.T) {
	requireTools(t, "kubectl")
	a := newAuditReceiver(t)
	s := startWebhookAudited(t, a, "--audit-webhook-batch-max-size=10")
	_, before, _ := getAll(t, s, "warm", 0, 500, nil)
	rss0 := rssOf(t, s)
	a.setHang(true)
	_, during, codes := getAll(t, s, "hang", 0, 3000, nil)
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d with the webhook hanging: %d", i, c)
		}
	}
	p99 := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[len(d)*99/100]
	}
	t.Logf("p99 before %v, while the webhook hangs %v", p99(before), p99(during))
	if p99(during) > 10*p99(before)+50*time.Millisecond {
		t.Errorf("the hanging webhook slowed requests: p99 %v, before %v", p99(during), p99(before))
	}
	if grown := rssOf(t, s) - rss0; grown > 64<<20 {
		t.Errorf("memory grew %d MiB while the webhook hung", grown>>20)
	}
}

// rssOf is the server process's resident memory.
func rssOf(t *testing.T, s *server) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
