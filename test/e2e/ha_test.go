package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// controllerLeases are the Leases sekisho's controller groups are
// elected with.
var controllerLeases = []string{"sekisho-certificates", "sekisho-encryption", "sekisho-namespaces", "sekisho-rbac", "sekisho-tokens"}

// haCluster is three API servers on a three-member etcd, all on
// loopback, sharing one PKI and one encryption configuration.
type haCluster struct {
	t       *testing.T
	members []*etcdMember
	servers []*server
}

// startHA starts the etcd members, then the three servers at once, as
// three machines booting together would.
func startHA(t *testing.T) *haCluster {
	first := &server{t: t, dir: t.TempDir(), port: unsharedPort(t), cache: t.TempDir()}
	first.start() // writes the PKI
	t.Cleanup(first.stop)
	first.stop()
	members, clients := startEtcdMembers(t, first.dir, 3)
	c := &haCluster{t: t, members: members}
	encConfig, err := os.ReadFile(filepath.Join(first.dir, "encryption-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s := first
		if i > 0 {
			s = &server{t: t, dir: t.TempDir(), port: unsharedPort(t), cache: t.TempDir()}
			if out, err := exec.Command("cp", "-a", filepath.Join(first.dir, "pki"), filepath.Join(s.dir, "pki")).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			os.WriteFile(filepath.Join(s.dir, "encryption-config.yaml"), encConfig, 0o600)
			t.Cleanup(s.stop)
		}
		s.extra = append(etcdFlags(filepath.Join(s.dir, "pki"), clients), "--encryption-rotate-after-writes=0")
		c.servers = append(c.servers, s)
	}
	for _, s := range c.servers {
		s.launch()
	}
	for _, s := range c.servers {
		s.waitReady()
	}
	return c
}

var identityRE = regexp.MustCompile(`controllers run on one API server at a time" identity=(\S+)`)

// identity is the leader-election identity s logged at start.
func (s *server) identity() string {
	m := identityRE.FindStringSubmatch(s.logs.String())
	if m == nil {
		s.t.Fatalf("no leader-election identity in the log:\n%s", s.logs.String())
	}
	return m[1]
}

type leaseList struct {
	Items []struct {
		Metadata struct{ Name string }
		Spec     struct {
			HolderIdentity   string
			LeaseTransitions int
		}
	}
}

// holders reads who holds each controller Lease, through s.
func (c *haCluster) holders(s *server) map[string]string {
	code, body := s.do("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", "", nil)
	if code != http.StatusOK {
		c.t.Fatalf("list leases: %d %s", code, body)
	}
	var list leaseList
	json.Unmarshal([]byte(body), &list)
	out := map[string]string{}
	for _, l := range list.Items {
		if slices.Contains(controllerLeases, l.Metadata.Name) {
			out[l.Metadata.Name] = l.Spec.HolderIdentity
		}
	}
	return out
}

// waitHeld waits until every controller Lease is held by one of live,
// and returns the holders and how long it took.
func (c *haCluster) waitHeld(through *server, live []string, limit time.Duration) (map[string]string, time.Duration) {
	start := time.Now()
	for {
		h := c.holders(through)
		ok := len(h) == len(controllerLeases)
		for _, id := range h {
			ok = ok && slices.Contains(live, id)
		}
		if ok {
			return h, time.Since(start)
		}
		if time.Since(start) > limit {
			c.t.Fatalf("controller leases not all held by %v after %v: %v", live, limit, h)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestThreeServersOnEtcd runs three API servers on a three-member etcd:
// they start together without a conflict, share the controllers by
// Lease, enforce RBAC changes made through another server within a
// second, charge one quota between them, and lose nothing acknowledged
// when one is killed in the middle of a load that fails over; the
// controllers move to a live server within 15 s.
func TestThreeServersOnEtcd(t *testing.T) {
	requireTools(t, "kubectl")
	c := startHA(t)
	a, b, d := c.servers[0], c.servers[1], c.servers[2]
	for _, s := range c.servers {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("server on :%d logged an error while three started at once: %s", s.port, line)
			}
		}
	}
	ids := []string{a.identity(), b.identity(), d.identity()}
	holders, _ := c.waitHeld(a, ids, 30*time.Second)
	t.Logf("controller leases: %v", holders)

	t.Run("rbac converges within 1s", func(t *testing.T) {
		as := func(s *server) int {
			req, _ := http.NewRequest("GET", s.url("/api/v1/namespaces/default/configmaps"), nil)
			req.Header.Set("Impersonate-User", "ha-reader")
			resp, err := s.client(true).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := as(b); code != http.StatusForbidden {
			t.Fatalf("before the binding: %d", code)
		}
		a.mustKubectl("create", "role", "ha-reader", "--verb=list", "--resource=configmaps")
		a.mustKubectl("create", "rolebinding", "ha-reader", "--role=ha-reader", "--user=ha-reader")
		created := time.Now()
		for _, s := range []*server{b, d} {
			for as(s) != http.StatusOK {
				if time.Since(created) > 5*time.Second {
					t.Fatalf("server :%d still refuses ha-reader 5s after the binding", s.port)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if took := time.Since(created); took > time.Second {
			t.Errorf("the binding took %v to be enforced by the other servers; want under 1s", took)
		} else {
			t.Logf("the binding made through one server was enforced by the two others after %v", took)
		}
	})

	t.Run("quota across servers", func(t *testing.T) {
		a.mustKubectl("create", "namespace", "busy")
		a.mustKubectl("-n", "busy", "create", "quota", "ten", "--hard=count/leases.coordination.k8s.io=10")
		a.waitQuotaUsed(t, "busy", "ten", "count/leases.coordination.k8s.io", "0")
		var mu sync.Mutex
		codes := map[int]int{}
		var other []string
		var wg sync.WaitGroup
		for i := range 100 {
			s := c.servers[i%3]
			wg.Go(func() {
				body := fmt.Sprintf(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l-%03d"}}`, i)
				code, out := s.do("POST", "/apis/coordination.k8s.io/v1/namespaces/busy/leases", "application/json", strings.NewReader(body))
				mu.Lock()
				defer mu.Unlock()
				codes[code]++
				if code != http.StatusCreated && !(code == http.StatusForbidden && strings.Contains(out, "exceeded quota: ten")) {
					other = append(other, out)
				}
			})
		}
		wg.Wait()
		if codes[http.StatusCreated] != 10 || codes[http.StatusForbidden] != 90 || len(other) > 0 {
			t.Fatalf("100 creates over three servers against a quota of 10: %v, other answers: %v", codes, other)
		}
		b.waitQuotaUsed(t, "busy", "ten", "count/leases.coordination.k8s.io", "10")
	})

	t.Run("addresses and ports across servers", func(t *testing.T) {
		// Concurrent Services through three servers: every cluster IP
		// and node port is another, allocated through etcd alone.
		a.mustKubectl("create", "namespace", "svc")
		var mu sync.Mutex
		ips, ports := map[string]string{}, map[int]string{}
		var wg sync.WaitGroup
		for i := range 30 {
			s := c.servers[i%3]
			wg.Go(func() {
				name := fmt.Sprintf("s-%02d", i)
				body := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"` + name + `"},"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"port":80}]}}`
				code, out := s.do("POST", "/api/v1/namespaces/svc/services", "application/json", strings.NewReader(body))
				if code != http.StatusCreated {
					t.Errorf("create %s on :%d: %d %s", name, s.port, code, out)
					return
				}
				var svc struct {
					Spec struct {
						ClusterIP string
						Ports     []struct{ NodePort int }
					}
				}
				json.Unmarshal([]byte(out), &svc)
				mu.Lock()
				defer mu.Unlock()
				if other, dup := ips[svc.Spec.ClusterIP]; dup {
					t.Errorf("%s and %s both have cluster IP %s", name, other, svc.Spec.ClusterIP)
				}
				ips[svc.Spec.ClusterIP] = name
				if other, dup := ports[svc.Spec.Ports[0].NodePort]; dup {
					t.Errorf("%s and %s both have node port %d", name, other, svc.Spec.Ports[0].NodePort)
				}
				ports[svc.Spec.Ports[0].NodePort] = name
			})
		}
		wg.Wait()
		if len(ips) != 30 || len(ports) != 30 {
			t.Errorf("%d distinct cluster IPs and %d node ports for 30 Services", len(ips), len(ports))
		}
	})

	t.Run("kill -9 a server under load", func(t *testing.T) {
		a.mustKubectl("create", "namespace", "load")
		// The victim leads at least one controller group.
		victim := -1
		for i, id := range ids {
			for _, h := range holders {
				if h == id && victim < 0 {
					victim = i
				}
			}
		}
		load := newFailoverLoad(c.servers, "server-killed")
		load.start(4)
		time.Sleep(2 * time.Second)
		killed := time.Now()
		c.servers[victim].kill()
		live := slices.Delete(slices.Clone(ids), victim, victim+1)
		through := c.servers[(victim+1)%3]
		_, moved := c.waitHeld(through, live, 30*time.Second)
		took := time.Since(killed)
		time.Sleep(2 * time.Second)
		acked, failovers, failed := load.stop()
		t.Logf("controllers moved %v after the kill (found after %v of polling); load: %d writes acknowledged, %d failed over, %d failed",
			took.Round(100*time.Millisecond), moved.Round(100*time.Millisecond), len(acked), failovers, len(failed))
		if took > 15*time.Second {
			t.Errorf("the controllers took %v to move to a live server; want within 15s", took)
		}
		if len(failed) > 0 {
			t.Errorf("%d requests failed on live servers: %v", len(failed), failed[:min(len(failed), 5)])
		}
		c.servers = slices.Delete(c.servers, victim, victim+1)
		c.expectStored(t, acked)
		// The service-account controller, now on a live server, works.
		through.mustKubectl("create", "namespace", "after-failover")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if r := through.kubectl("-n", "after-failover", "get", "serviceaccount", "default"); r.code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no default ServiceAccount in a namespace made after the failover")
			}
		}
		ids = live
	})

	t.Run("kill -9 an etcd member under load", func(t *testing.T) {
		load := newFailoverLoad(c.servers, "member-killed")
		load.start(4)
		time.Sleep(time.Second)
		c.members[0].kill()
		time.Sleep(3 * time.Second)
		acked, _, failed := load.stop()
		t.Logf("with one member of three killed: %d writes acknowledged, %d failed", len(acked), len(failed))
		if len(failed) > 0 {
			t.Errorf("%d requests failed: %v", len(failed), failed[:min(len(failed), 5)])
			c.logFailures(t)
		}
		c.expectStored(t, acked)
	})

	t.Run("quorum lost and regained", func(t *testing.T) {
		c.members[1].kill() // one member of three left: no quorum
		s := c.servers[0]
		body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"no-quorum"}}`
		start := time.Now()
		code, out := s.do("POST", "/api/v1/namespaces/load/configmaps", "application/json", strings.NewReader(body))
		took := time.Since(start)
		t.Logf("a write without quorum: %d after %v: %s", code, took.Round(100*time.Millisecond), out)
		var status struct{ Kind, Status, Message string }
		json.Unmarshal([]byte(out), &status)
		if code != http.StatusServiceUnavailable || status.Kind != "Status" || status.Status != "Failure" || status.Message == "" {
			t.Errorf("a write without quorum: %d %s; want a 503 Status", code, out)
		}
		if took > time.Minute {
			t.Errorf("a write without quorum took %v; want it refused within the request timeout (1m)", took)
		}
		start = time.Now()
		code, out = s.do("GET", "/api/v1/namespaces/load/configmaps/member-killed-w0-00000", "", nil)
		t.Logf("a read without quorum: %d after %v", code, time.Since(start).Round(100*time.Millisecond))
		if time.Since(start) > time.Minute || (code != http.StatusOK && code < 500) {
			t.Errorf("a read without quorum: %d %s", code, out)
		}

		c.members[0].start(false)
		c.members[1].start(false)
		recovered := time.Now()
		after := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after-quorum"}}`
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			code, out := s.do("POST", "/api/v1/namespaces/load/configmaps", "application/json", strings.NewReader(after))
			if code == http.StatusCreated {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("writes did not recover within 60s of quorum's return: %d %s", code, out)
			}
		}
		t.Logf("writes recovered %v after the members restarted", time.Since(recovered).Round(100*time.Millisecond))
		// The write refused without quorum either never reached etcd's log
		// or did and was applied once quorum returned; its 503 says which
		// it may be, and it is one or the other, whole.
		code, out = s.do("GET", "/api/v1/namespaces/load/configmaps/no-quorum", "", nil)
		mayHaveLanded := strings.Contains(status.Message, "may or may not have been applied")
		switch {
		case code == http.StatusOK && !mayHaveLanded:
			t.Errorf("the write refused without quorum was applied, and its 503 said nothing of it: %s", status.Message)
		case code != http.StatusOK && code != http.StatusNotFound:
			t.Errorf("the write refused without quorum, read after: %d %s", code, out)
		default:
			t.Logf("the write refused without quorum, read after: %d", code)
		}
		c.waitHeld(s, ids, 30*time.Second)
	})
}

// logFailures shows the causes the servers logged for failed requests.
func (c *haCluster) logFailures(t *testing.T) {
	for _, s := range c.servers {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, "request failed") {
				t.Logf(":%d %s", s.port, line)
			}
		}
	}
}

// expectStored checks that every name was written to namespace load.
func (c *haCluster) expectStored(t *testing.T, names []string) {
	t.Helper()
	code, body := c.servers[0].do("GET", "/api/v1/namespaces/load/configmaps", "", nil)
	if code != http.StatusOK {
		t.Fatalf("list: %d %s", code, body)
	}
	var list struct {
		Items []struct{ Metadata struct{ Name string } }
	}
	json.Unmarshal([]byte(body), &list)
	stored := map[string]bool{}
	for _, it := range list.Items {
		stored[it.Metadata.Name] = true
	}
	for _, name := range names {
		if !stored[name] {
			t.Errorf("acknowledged write %s is missing", name)
		}
	}
}

// failoverLoad creates ConfigMaps in namespace load, spread over the
// servers, as clients behind a load balancer: a request that cannot
// reach its server goes to the next one.
type failoverLoad struct {
	servers   []*server
	prefix    string // of the names, one per load
	down      []atomic.Bool
	stopping  atomic.Bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	acked     []string
	failed    []string
	failovers atomic.Int64
}

func newFailoverLoad(servers []*server, prefix string) *failoverLoad {
	return &failoverLoad{servers: servers, prefix: prefix, down: make([]atomic.Bool, len(servers))}
}

func (l *failoverLoad) start(workers int) {
	for w := range workers {
		l.wg.Go(func() {
			clients := make([]*http.Client, len(l.servers))
			for i, s := range l.servers {
				clients[i] = s.client(true)
			}
			for n := 0; !l.stopping.Load(); n++ {
				name := fmt.Sprintf("%s-w%d-%05d", l.prefix, w, n)
				body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"k":"v"}}`
				retried := false
				for try := 0; try < 2*len(l.servers); try++ {
					i := (w + n + try) % len(l.servers)
					if l.down[i].Load() {
						continue
					}
					resp, err := clients[i].Post(l.servers[i].url("/api/v1/namespaces/load/configmaps"), "application/json", strings.NewReader(body))
					if err != nil {
						// The server died under the request: the write may or
						// may not have happened. Take the server out, as a
						// load balancer's health check would, and try the next.
						l.down[i].Store(true)
						l.failovers.Add(1)
						retried = true
						continue
					}
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					l.mu.Lock()
					switch {
					case resp.StatusCode == http.StatusCreated,
						resp.StatusCode == http.StatusConflict && retried: // the first try's write landed
						l.acked = append(l.acked, name)
					default:
						l.failed = append(l.failed, fmt.Sprintf("%s on :%d: %d %s", name, l.servers[i].port, resp.StatusCode, out))
					}
					l.mu.Unlock()
					break
				}
			}
		})
	}
}

func (l *failoverLoad) stop() (acked []string, failovers int64, failed []string) {
	l.stopping.Store(true)
	l.wg.Wait()
	return l.acked, l.failovers.Load(), l.failed
}
