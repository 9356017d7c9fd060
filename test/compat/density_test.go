package compat

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// probeRounds is how many rounds of calls the prober makes: 15 s of them,
// about as long as the pods take to start.
const probeRounds = 150

// BenchmarkDensity is a cluster's load, the same on sekisho and on
// kube-apiserver v1.37.2 with etcd, one after the other in one run:
// kube-controller-manager, kube-scheduler and DENSITY_NODES (default 10)
// hollow kubelets that join by TLS bootstrap, then Deployments making 30
// pods per node, while a prober reads, lists and writes single objects.
// It reports pod start-up latency (first seen by a watch to seen Running),
// the prober's latency by verb, and the API server's CPU seconds and peak
// RSS (kube-apiserver's and etcd's added together). Run it with
//
//	cd test/compat && go test -run '^$' -bench Density -benchtime 1x -timeout 60m
func BenchmarkDensity(b *testing.B) {
	nodes := 10
	if v, err := strconv.Atoi(os.Getenv("DENSITY_NODES")); err == nil && v > 0 {
		nodes = v
	}
	etcdBin := filepath.Join(b.TempDir(), "etcd")
	build := exec.Command("go", "build", "-o", etcdBin, "./cmd/etcd")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building etcd: %v\n%s", err, out)
	}
	results := map[string]densityResult{}
	for _, target := range []string{"sekisho", "kube-apiserver"} {
		b.Run(target, func(b *testing.B) {
			r := runDensity(b, target, nodes, 30, etcdBin)
			results[target] = r
			b.ReportMetric(float64(r.startup.p(50).Milliseconds()), "startup-p50-ms")
			b.ReportMetric(float64(r.startup.p(99).Milliseconds()), "startup-p99-ms")
			b.ReportMetric(r.cpu.Seconds(), "server-cpu-s")
			b.ReportMetric(float64(r.rssKB)/1024, "server-peak-rss-MB")
			for _, verb := range []string{"get", "list", "create", "update", "patch"} {
				if d := r.calls[verb]; len(d) > 0 {
					b.ReportMetric(float64(d.p(99).Microseconds())/1000, verb+"-p99-ms")
				}
			}
			b.Logf("%s: %d pods Running in %s; start-up p50 %s p99 %s; calls %s; CPU %.1f s; peak RSS %d MiB",
				target, r.pods, r.total.Round(time.Second), r.startup.p(50), r.startup.p(99), r.calls, r.cpu.Seconds(), r.rssKB/1024)
		})
	}
	s, k := results["sekisho"], results["kube-apiserver"]
	if s.cpu > 0 && k.cpu > 0 {
		b.Logf("sekisho / (kube-apiserver + etcd): CPU %.2f, peak RSS %.2f", s.cpu.Seconds()/k.cpu.Seconds(), float64(s.rssKB)/float64(k.rssKB))
	}
}

// durations is a sample of latencies.
type durations []time.Duration

func (d durations) p(q int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*q + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

type callLatencies map[string]durations

func (c callLatencies) String() string {
	var parts []string
	for _, v := range []string{"get", "list", "create", "update", "patch"} {
		if d := c[v]; len(d) > 0 {
			parts = append(parts, fmt.Sprintf("%s p99 %s (%d)", v, d.p(99).Round(time.Millisecond/10), len(d)))
		}
	}
	return strings.Join(parts, ", ")
}

type densityResult struct {
	pods    int
	total   time.Duration
	startup durations
	calls   callLatencies
	cpu     time.Duration
	rssKB   int64
}

// recorder times every request but watches, by verb.
type recorder struct {
	mu    sync.Mutex
	calls callLatencies
	next  http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	if req.URL.Query().Get("watch") == "true" {
		return resp, err
	}
	verb := map[string]string{"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[req.Method]
	if req.Method == http.MethodGet {
		verb = "get"
		// A collection's path ends with a plural resource name.
		if parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/"); len(parts)%2 == 1 && parts[0] == "api" || len(parts)%2 == 0 && parts[0] == "apis" {
			verb = "list"
		}
	}
	r.mu.Lock()
	r.calls[verb] = append(r.calls[verb], time.Since(start))
	r.mu.Unlock()
	return resp, err
}

func runDensity(b *testing.B, target string, nodes, podsPerNode int, etcdBin string) densityResult {
	c := newCluster(b)
	var s *server
	var measured []string
	switch target {
	case "sekisho":
		s = c.startSekisho("--controllers=", "--profiling")
		measured = []string{"sekisho"}
	default:
		s = c.startKubeAPIServerOn(c.sekishoPort, c.startEtcdProcess(etcdBin))
		c.kubeadmBootstrapRBAC(s)
		measured = []string{"kube-apiserver", "etcd"}
	}
	c.startControllerManager()
	c.startScheduler()
	boot := c.bootstrapKubeconfig(s, c.bootstrapToken())
	for i := range nodes {
		c.startHollowNode(fmt.Sprintf("hollow-%d", i), boot, "--max-pods="+strconv.Itoa(podsPerNode+10))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags(s.url, filepath.Join(c.dir, "super-admin.conf"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.QPS, cfg.Burst = 100, 200
	rec := &recorder{calls: callLatencies{}}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec }
	client := kubernetes.NewForConfigOrDie(cfg)
	eventually(b, 5*time.Minute, fmt.Sprintf("%d hollow nodes Ready", nodes), func() (bool, string) {
		ready, _, err := readyNodes(ctx, client)
		if err != nil {
			return false, err.Error()
		}
		return ready == nodes, fmt.Sprintf("%d ready", ready)
	})
	var joinCPU time.Duration
	for _, name := range measured {
		if cpu, _, err := usage(c.procs[name].Pid); err == nil {
			joinCPU += cpu
		}
	}
	b.Logf("%s: CPU %.1f s until the nodes were Ready", target, joinCPU.Seconds())

	const ns = "density"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w, err := client.CoreV1().Pods(ns).Watch(watchCtx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	want := nodes * podsPerNode
	seen, running := map[types.UID]time.Time{}, map[types.UID]time.Duration{}
	allRunning := make(chan struct{})
	var resumed atomic.Int32
	go func() {
		// A server may end a watch whose client lags (kube-apiserver's
		// watch cache does under this load): it is resumed from the last
		// revision seen, so no event is missed, and the resumptions are
		// logged with the figures.
		var lastRV string
		for {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					continue
				}
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				lastRV = p.ResourceVersion
				now := time.Now()
				if _, ok := seen[p.UID]; !ok {
					seen[p.UID] = now
				}
				if _, ok := running[p.UID]; !ok && p.Status.Phase == corev1.PodRunning {
					running[p.UID] = now.Sub(seen[p.UID])
					if len(running) == want {
						close(allRunning)
						return
					}
				}
			}
			if watchCtx.Err() != nil {
				return
			}
			resumed.Add(1)
			for {
				var err error
				if w, err = client.CoreV1().Pods(ns).Watch(watchCtx, metav1.ListOptions{ResourceVersion: lastRV}); err == nil {
					break
				}
				if watchCtx.Err() != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()

	// The prober: single-object reads and writes, and small lists, while
	// the pods start: probeRounds rounds, one after the other, each due
	// 100 ms after the last was due. A round that is late (a slow server)
	// starts at once, so that every server gets the same calls, one at a
	// time, however fast it answers.
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		due := time.Now()
		for i := range probeRounds {
			due = due.Add(100 * time.Millisecond)
			time.Sleep(time.Until(due))
			client.CoreV1().ConfigMaps(ns).Get(ctx, "probe", metav1.GetOptions{})
			client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 50})
			client.CoreV1().ConfigMaps(ns).Patch(ctx, "probe", types.MergePatchType, []byte(`{"data":{"n":"`+strconv.Itoa(i)+`"}}`), metav1.PatchOptions{})
			if cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "probe", metav1.GetOptions{}); err == nil {
				cm.Data["u"] = strconv.Itoa(rand.IntN(1000))
				client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
			}
		}
	}()

	// DENSITY_CPU_PROFILE=FILE writes sekisho's CPU profile of the load:
	// its first DENSITY_PROFILE_SECONDS (default 15).
	profiled := make(chan struct{})
	if path := os.Getenv("DENSITY_CPU_PROFILE"); path != "" && target == "sekisho" {
		seconds := "15"
		if v, err := strconv.Atoi(os.Getenv("DENSITY_PROFILE_SECONDS")); err == nil && v > 0 {
			seconds = strconv.Itoa(v)
		}
		go func() {
			defer close(profiled)
			resp, err := s.client.Get(s.url + "/debug/pprof/profile?seconds=" + seconds)
			if err != nil {
				b.Logf("profile: %v", err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(path)
			if err != nil {
				b.Logf("profile: %v", err)
				return
			}
			defer f.Close()
			io.Copy(f, resp.Body)
		}()
	} else {
		close(profiled)
	}
	start := time.Now()
	replicas := int32(podsPerNode)
	for i := range nodes {
		name := fmt.Sprintf("load-%d", i)
		labels := map[string]string{"app": name}
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}},
		}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-allRunning:
	case <-time.After(10 * time.Minute):
		b.Fatalf("%d of %d pods Running after 10 minutes", len(running), want)
	}
	total := time.Since(start)
	<-profiled
	// DENSITY_ALLOC_PROFILE=FILE writes sekisho's allocations since it started.
	if path := os.Getenv("DENSITY_ALLOC_PROFILE"); path != "" && target == "sekisho" {
		if resp, err := s.client.Get(s.url + "/debug/pprof/allocs"); err == nil {
			if f, err := os.Create(path); err == nil {
				io.Copy(f, resp.Body)
				f.Close()
			}
			resp.Body.Close()
		}
	}
	<-probeDone
	stopWatch()
	if n := resumed.Load(); n > 0 {
		b.Logf("%s: the pod watch was ended by the server and resumed %d times", target, n)
	}

	r := densityResult{pods: want, total: total, calls: rec.calls}
	for _, d := range running {
		r.startup = append(r.startup, d)
	}
	for _, name := range measured {
		cpu, rss, err := usage(c.procs[name].Pid)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		r.cpu += cpu
		r.rssKB += rss
	}
	return r
}

// usage reads a process's CPU time (user and system) and peak RSS.
func usage(pid int) (time.Duration, int64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var rss int64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			rss, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return time.Duration(utime+stime) * time.Second / ticks, rss, nil
}

// startEtcdProcess runs etcd as a process of its own, serving clients over
// mutual TLS with the cluster's etcd certificates, as kubeadm runs it.
func (c *cluster) startEtcdProcess(bin string) string {
	t := c.t
	client := "https://127.0.0.1:" + strconv.Itoa(freePort(t))
	peer := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	c.run("etcd", bin,
		"--name=default", "--data-dir="+filepath.Join(c.dir, "etcd-data"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer, "--initial-cluster=default="+peer,
		"--cert-file="+c.pki("etcd/server.crt"), "--key-file="+c.pki("etcd/server.key"),
		"--trusted-ca-file="+c.pki("etcd/ca.crt"), "--client-cert-auth=true",
		"--snapshot-count=10000", "--log-level=warn")
	return client
}

// kubeadmBootstrapRBAC gives kube-apiserver the bindings kubeadm init
// creates and sekisho up creates itself: admins, and the TLS bootstrap
// and automatic approval of kubelets.
func (c *cluster) kubeadmBootstrapRBAC(s *server) {
	t := c.t
	client := c.clientset(s)
	group := func(name string) []rbacv1.Subject {
		return []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}}
	}
	for name, b := range map[string]struct {
		role     string
		subjects []rbacv1.Subject
	}{
		"kubeadm:cluster-admins":                        {"cluster-admin", group("kubeadm:cluster-admins")},
		"kubeadm:kubelet-bootstrap":                     {"system:node-bootstrapper", group("system:bootstrappers:kubeadm:default-node-token")},
		"kubeadm:node-autoapprove-bootstrap":            {"system:certificates.k8s.io:certificatesigningrequests:nodeclient", group("system:bootstrappers:kubeadm:default-node-token")},
		"kubeadm:node-autoapprove-certificate-rotation": {"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", group("system:nodes")},
	} {
		if _, err := client.RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role},
			Subjects:   b.subjects,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
