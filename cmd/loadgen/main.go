// Command loadgen drives load against a sekisho (or any Kubernetes) API
// server over mutual TLS and reports throughput and latency percentiles.
//
//	loadgen --kubeconfig admin.conf --scenario get --duration 10s --concurrency 32
//
// Scenarios:
//
//	get     GET one ConfigMap repeatedly
//	create  POST new ConfigMaps (each write is fsynced by the server)
//	list    LIST a namespace holding --objects ConfigMaps
//	watch   --watchers concurrent watches; measures the delay from sending
//	        each write to its arrival at every watcher
//	ssar    POST SelfSubjectAccessReviews (may I list pods in --namespace?),
//	        after creating --bindings RoleBindings over 1,000 namespaces
//	etcd-get, etcd-create
//	        the raw etcd baseline, straight to --etcd-servers: a read of one
//	        key, and create-if-absent transactions of new keys
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
)

type options struct {
	kubeconfig  string
	scenario    string
	duration    time.Duration
	concurrency int
	objects     int
	lists       int
	watchers    int
	events      int
	namespace   string
	bindings    int
	http2       bool
	reconnect   bool
	jsonOut     bool
	resource    string
	valueBytes  int
	etcd        etcdOptions
}

// object is the JSON of an object of o.resource named name: a ConfigMap
// or a Secret with one key of o.valueBytes bytes.
func (o options) object(name, labels string) []byte {
	value := strings.Repeat("v", max(o.valueBytes, 1))
	if o.resource == "secrets" {
		return fmt.Appendf(nil, `{"metadata":{"name":%q%s},"data":{"k":%q}}`, name, labels, base64.StdEncoding.EncodeToString([]byte(value)))
	}
	return fmt.Appendf(nil, `{"metadata":{"name":%q%s},"data":{"k":%q}}`, name, labels, value)
}

func (o options) collection() string { return "/api/v1/namespaces/" + o.namespace + "/" + o.resource }

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig with a client certificate (required)")
	flag.StringVar(&o.scenario, "scenario", "get", "get, create, list, fill, watch, ssar, etcd-get or etcd-create")
	flag.StringVar(&o.resource, "resource", "configmaps", "configmaps or secrets, for get, create, list and fill")
	flag.IntVar(&o.valueBytes, "value-bytes", 1, "bytes of the one value of each object get, create and fill make")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to run get and create")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent requests (and connections, without --http2)")
	flag.IntVar(&o.objects, "objects", 10000, "objects the list and fill scenarios make sure exist")
	flag.IntVar(&o.lists, "lists", 20, "lists the list scenario makes, one after another")
	flag.IntVar(&o.watchers, "watchers", 1000, "concurrent watches for the watch scenario")
	flag.IntVar(&o.events, "events", 50, "writes the watch scenario measures")
	flag.IntVar(&o.bindings, "bindings", 0, "RoleBindings the ssar scenario creates first (existing ones are kept)")
	flag.StringVar(&o.namespace, "namespace", "loadgen", "namespace to work in (created if missing)")
	flag.BoolVar(&o.http2, "http2", false, "multiplex over HTTP/2 instead of one HTTP/1.1 connection per worker")
	flag.BoolVar(&o.reconnect, "reconnect", false, "open a new TLS connection for every request (a full handshake each)")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	flag.StringVar(&o.etcd.servers, "etcd-servers", "", "etcd endpoints, for the etcd scenarios")
	flag.StringVar(&o.etcd.caFile, "etcd-cafile", "", "CA of the etcd servers")
	flag.StringVar(&o.etcd.certFile, "etcd-certfile", "", "client certificate for etcd")
	flag.StringVar(&o.etcd.keyFile, "etcd-keyfile", "", "key of --etcd-certfile")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type client struct {
	http   *http.Client
	server string
}

func newClient(o options) (*client, error) {
	kc, err := kubeconfig.LoadFile(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(kc.CertPEM, kc.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(kc.CAPEM) {
		return nil, errors.New("kubeconfig has no CA certificate")
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: o.concurrency + o.watchers,
		MaxConnsPerHost:     0,
		ForceAttemptHTTP2:   o.http2,
		DisableKeepAlives:   o.reconnect,
	}
	if !o.http2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &client{http: &http.Client{Transport: tr}, server: strings.TrimSuffix(kc.Server, "/")}, nil
}

func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// result is what a scenario measured.
type result struct {
	Scenario    string        `json:"scenario"`
	Requests    int           `json:"requests"`
	Errors      int           `json:"errors"`
	Seconds     float64       `json:"seconds"`
	PerSecond   float64       `json:"perSecond"`
	P50         time.Duration `json:"p50"`
	P90         time.Duration `json:"p90"`
	P99         time.Duration `json:"p99"`
	Max         time.Duration `json:"max"`
	Concurrency int           `json:"concurrency"`
	Note        string        `json:"note,omitempty"`
}

func summarize(name string, lat []time.Duration, errs int, elapsed time.Duration, conc int) result {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	r := result{Scenario: name, Requests: len(lat), Errors: errs, Seconds: elapsed.Seconds(),
		P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Concurrency: conc}
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	r.PerSecond = float64(len(lat)) / elapsed.Seconds()
	return r
}

func (c *client) ensureNamespace(ctx context.Context, ns string) error {
	code, body, err := c.do(ctx, "POST", "/api/v1/namespaces", []byte(`{"metadata":{"name":"`+ns+`"}}`))
	if err != nil {
		return err
	}
	if code != 201 && code != 409 {
		return fmt.Errorf("create namespace %s: %d %s", ns, code, body)
	}
	return nil
}

func run(o options) error {
	if strings.HasPrefix(o.scenario, "etcd-") {
		r, err := etcdScenario(context.Background(), o)
		if err != nil {
			return err
		}
		return report(o, r)
	}
	if o.kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := c.ensureNamespace(ctx, o.namespace); err != nil {
		return err
	}
	var r result
	switch o.scenario {
	case "get":
		r, err = c.getScenario(ctx, o)
	case "create":
		r, err = c.createScenario(ctx, o)
	case "list":
		r, err = c.listScenario(ctx, o)
	case "fill":
		r, err = c.fillScenario(ctx, o)
	case "watch":
		r, err = c.watchScenario(ctx, o)
	case "ssar":
		r, err = c.ssarScenario(ctx, o)
	default:
		return fmt.Errorf("--scenario %q: want get, create, list, fill, watch or ssar", o.scenario)
	}
	if o.resource != "configmaps" && o.resource != "secrets" {
		return fmt.Errorf("--resource %q: want configmaps or secrets", o.resource)
	}
	if err != nil {
		return err
	}
	return report(o, r)
}

// report prints r as a line, or as JSON.
func report(o options, r result) error {
	if o.jsonOut {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Printf("%-7s %8d requests  %6d errors  %9.0f/s  p50 %-10v p90 %-10v p99 %-10v max %v %s\n",
		r.Scenario, r.Requests, r.Errors, r.PerSecond, r.P50, r.P90, r.P99, r.Max, r.Note)
	return nil
}

// hammer runs fn from o.concurrency workers for o.duration.
func hammer(o options, fn func(worker, i int) error) ([]time.Duration, int, time.Duration) {
	var mu sync.Mutex
	var all []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range o.concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := fn(w, i); err != nil {
					errs.Add(1)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, int(errs.Load()), time.Since(start)
}

func (c *client) getScenario(ctx context.Context, o options) (result, error) {
	path := o.collection() + "/loadgen-get"
	c.do(ctx, "POST", o.collection(), o.object("loadgen-get", ""))
	lat, errs, elapsed := hammer(o, func(int, int) error {
		code, _, err := c.do(ctx, "GET", path, nil)
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	return summarize("get", lat, errs, elapsed, o.concurrency), nil
}

func (c *client) createScenario(ctx context.Context, o options) (result, error) {
	prefix := fmt.Sprintf("c%d-", time.Now().UnixNano())
	lat, errs, elapsed := hammer(o, func(w, i int) error {
		code, _, err := c.do(ctx, "POST", o.collection(), o.object(fmt.Sprintf("%s%d-%d", prefix, w, i), ""))
		if err == nil && code != 201 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	return summarize("create", lat, errs, elapsed, o.concurrency), nil
}

func (c *client) listScenario(ctx context.Context, o options) (result, error) {
	if o.valueBytes <= 1 {
		o.valueBytes = 200 // the size docs/benchmarks.md's list figures were measured with
	}
	if _, err := c.fill(ctx, o); err != nil {
		return result{}, err
	}
	var lat []time.Duration
	start := time.Now()
	n := 0
	for range max(o.lists, 1) {
		t0 := time.Now()
		code, body, err := c.do(ctx, "GET", o.collection(), nil)
		if err != nil || code != 200 {
			return result{}, fmt.Errorf("list: %d %v", code, err)
		}
		lat = append(lat, time.Since(t0))
		n = bytes.Count(body, []byte(`"uid":`))
	}
	r := summarize("list", lat, 0, time.Since(start), 1)
	r.Note = fmt.Sprintf("(%d objects per list)", n)
	return r, nil
}

// fill makes sure o.objects objects named obj-NNNNNN exist, creating the
// missing ones from 32 workers, and returns how many it created.
func (c *client) fill(ctx context.Context, o options) (int, error) {
	code, body, err := c.do(ctx, "GET", o.collection()+"?limit=1", nil)
	if err != nil || code != 200 {
		return 0, fmt.Errorf("list: %d %v", code, err)
	}
	var l struct {
		Metadata struct{ RemainingItemCount *int64 }
	}
	json.Unmarshal(body, &l)
	have := 0
	if l.Metadata.RemainingItemCount != nil {
		have = int(*l.Metadata.RemainingItemCount) + 1
	}
	var next, failed atomic.Int64
	next.Store(int64(have))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(o.objects) {
					return
				}
				if code, _, err := c.do(ctx, "POST", o.collection(), o.object(fmt.Sprintf("obj-%06d", i), `,"labels":{"app":"loadgen"}`)); err != nil || code != 201 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 0, fmt.Errorf("fill: %d creates failed", failed.Load())
	}
	return max(o.objects-have, 0), nil
}

// fillScenario creates the objects fill creates, and reports its rate.
func (c *client) fillScenario(ctx context.Context, o options) (result, error) {
	start := time.Now()
	n, err := c.fill(ctx, o)
	if err != nil {
		return result{}, err
	}
	r := summarize("fill", nil, 0, time.Since(start), 32)
	r.Requests = n
	r.PerSecond = float64(n) / time.Since(start).Seconds()
	r.Note = fmt.Sprintf("(%d %s exist)", o.objects, o.resource)
	return r, nil
}

// watchScenario opens o.watchers watches, then makes o.events writes one
// at a time and measures, for each watcher, the delay from the write's
// sending to the event's arrival.
func (c *client) watchScenario(ctx context.Context, o options) (result, error) {
	ns := o.namespace
	code, body, err := c.do(ctx, "GET", "/api/v1/namespaces/"+ns+"/configmaps?limit=1", nil)
	if err != nil || code != 200 {
		return result{}, fmt.Errorf("list: %d %v", code, err)
	}
	var l struct {
		Metadata struct{ ResourceVersion string }
	}
	json.Unmarshal(body, &l)

	type arrival struct {
		name string
		at   time.Time
	}
	arrivals := make(chan arrival, o.watchers*o.events+100)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ready sync.WaitGroup
	for range o.watchers {
		ready.Add(1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET",
				c.server+"/api/v1/namespaces/"+ns+"/configmaps?watch=true&resourceVersion="+l.Metadata.ResourceVersion, nil)
			resp, err := c.http.Do(req)
			ready.Done()
			if err != nil {
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := sc.Bytes()
				i := bytes.Index(line, []byte(`"name":"watch-`))
				if i < 0 {
					continue
				}
				rest := line[i+len(`"name":"`):]
				arrivals <- arrival{name: string(rest[:bytes.IndexByte(rest, '"')]), at: time.Now()}
			}
		}()
	}
	ready.Wait()
	time.Sleep(time.Second)         // let every watch reach the server
	acked := map[string]time.Time{} // when each write was sent
	prefix := fmt.Sprintf("watch-%d-", time.Now().UnixNano())
	for i := range o.events {
		name := fmt.Sprintf("%s%d", prefix, i)
		sent := time.Now()
		code, body, err := c.do(ctx, "POST", "/api/v1/namespaces/"+ns+"/configmaps", []byte(`{"metadata":{"name":"`+name+`"}}`))
		if err != nil || code != 201 {
			return result{}, fmt.Errorf("create: %d %v %s", code, err, body)
		}
		acked[name] = sent
		time.Sleep(20 * time.Millisecond)
	}
	var lat []time.Duration
	timeout := time.After(30 * time.Second)
	want := o.watchers * o.events
	for len(lat) < want {
		select {
		case a := <-arrivals:
			if t, ok := acked[a.name]; ok {
				lat = append(lat, a.at.Sub(t))
			}
		case <-timeout:
			r := summarize("watch", lat, want-len(lat), time.Duration(o.events)*20*time.Millisecond, o.watchers)
			r.Note = fmt.Sprintf("(%d of %d deliveries arrived within 30s)", len(lat), want)
			return r, nil
		}
	}
	r := summarize("watch", lat, 0, time.Duration(o.events)*20*time.Millisecond, o.watchers)
	r.Note = fmt.Sprintf("(%d watchers x %d events; latency from sending the write to delivery)", o.watchers, o.events)
	return r, nil
}

// ssarScenario measures SelfSubjectAccessReview round trips, with the
// cluster holding --bindings RoleBindings (each for a different user, over
// 1,000 namespaces) so that RBAC's cost at that size shows.
func (c *client) ssarScenario(ctx context.Context, o options) (result, error) {
	if err := c.createBindings(ctx, o); err != nil {
		return result{}, err
	}
	body := []byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",` +
		`"spec":{"resourceAttributes":{"namespace":"` + o.namespace + `","verb":"list","resource":"pods"}}}`)
	var allowed atomic.Int64
	lat, errs, elapsed := hammer(o, func(int, int) error {
		code, data, err := c.do(ctx, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body)
		if err == nil && code != 201 {
			err = fmt.Errorf("status %d", code)
		}
		if err == nil && bytes.Contains(data, []byte(`"allowed":true`)) {
			allowed.Add(1)
		}
		return err
	})
	r := summarize("ssar", lat, errs, elapsed, o.concurrency)
	r.Note = fmt.Sprintf("bindings=%d allowed=%d", o.bindings, allowed.Load())
	return r, nil
}

// createBindings creates RoleBindings lg-0 … lg-(N-1), binding user-i to
// the view ClusterRole in namespace lg-(i mod 1000), from 32 workers.
func (c *client) createBindings(ctx context.Context, o options) error {
	if o.bindings == 0 {
		return nil
	}
	for i := range min(o.bindings, 1000) {
		if err := c.ensureNamespace(ctx, fmt.Sprintf("lg-%d", i)); err != nil {
			return err
		}
	}
	next := atomic.Int64{}
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.bindings || failed.Load() != nil {
					return
				}
				b := fmt.Sprintf(`{"metadata":{"name":"lg-%d"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},`+
					`"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"user-%d"}]}`, i, i)
				code, data, err := c.do(ctx, "POST", fmt.Sprintf("/apis/rbac.authorization.k8s.io/v1/namespaces/lg-%d/rolebindings", i%1000), []byte(b))
				if err == nil && code != 201 && code != 409 {
					err = fmt.Errorf("create rolebinding lg-%d: %d %s", i, code, data)
				}
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return nil
}
