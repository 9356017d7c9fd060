package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The admission flags take kube-apiserver's names: the defaults run
// unless disabled, start-up names the plugins in force, and a name that
// is unknown or not implemented stops the server before it serves.
func TestAdmissionPluginFlags(t *testing.T) {
	for _, c := range []struct{ flag, want string }{
		{"--enable-admission-plugins=Nope", `enable-admission-plugins plugin "Nope" is unknown`},
		{"--enable-admission-plugins=ImagePolicyWebhook", `enable-admission-plugins plugin "ImagePolicyWebhook" is not implemented by sekisho`},
		{"--disable-admission-plugins=Nope", `disable-admission-plugins plugin "Nope" is unknown`},
	} {
		cmd := exec.Command(sekishoBin, "up", "--data-dir", t.TempDir(), "--secure-port", strconv.Itoa(freePort(t)), c.flag)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %v\n%s", c.flag, err, out)
		}
	}

	s := startServer(t, "--disable-admission-plugins=ServiceAccount,NodeRestriction")
	if logs := s.logs.String(); !strings.Contains(logs, "enabled=ServiceAllocation,NamespaceLifecycle,LimitRanger,TaintNodesByCondition,PodSecurity,") {
		t.Errorf("start-up does not name the plugins in force:\n%s", logs)
	}
	if !strings.Contains(s.logs.String(), "NodeRestriction is disabled") {
		t.Errorf("no warning that NodeRestriction is off:\n%s", s.logs.String())
	}
	// Without the ServiceAccount plugin a pod keeps what it was given: no
	// account and no token volume.
	s.mustKubectl("run", "bare", "--image=registry.k8s.io/pause:3.10", "--restart=Never")
	if got := s.mustKubectl("get", "pod", "bare", "-o", "jsonpath={.spec.serviceAccountName}|{.spec.volumes}"); got != "|" {
		t.Errorf("pod without the ServiceAccount plugin: %q", got)
	}
}

// The LimitRange case, with kubectl: a maximum of 256Mi memory,
// then a pod asking for 4Gi is refused with a message naming the rule; a
// pod asking for nothing gets the defaults.
func TestLimitRangeWithKubectl(t *testing.T) {
	s := startServer(t, "--enable-admission-plugins=AlwaysPullImages,DenyServiceExternalIPs")
	s.mustKubectl("create", "namespace", "team")
	s.mustKubectl("apply", "-f", writeManifest(t, `apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: team}
spec:
  limits:
  - type: Container
    max: {memory: 256Mi}
    default: {memory: 128Mi}
`))
	// The namespace's default service account comes from a controller;
	// wait for it as a user would.
	if !waitFor(func() bool { return s.kubectl("-n", "team", "get", "sa", "default").code == 0 }) {
		t.Fatal("no default service account in team")
	}
	r := s.kubectl("-n", "team", "run", "big", "--image=registry.k8s.io/pause:3.10", "--restart=Never", "--overrides",
		`{"spec":{"containers":[{"name":"big","image":"registry.k8s.io/pause:3.10","resources":{"limits":{"memory":"4Gi"}}}]}}`)
	if r.code == 0 || !strings.Contains(r.stderr, `pods "big" is forbidden: maximum memory usage per Container is 256Mi, but limit is 4Gi`) {
		t.Errorf("4Gi pod: %d %s", r.code, r.stderr)
	}
	s.mustKubectl("-n", "team", "run", "small", "--image=registry.k8s.io/pause:3.10", "--restart=Never")
	got := s.mustKubectl("-n", "team", "get", "pod", "small", "-o", "jsonpath={.spec.containers[0].resources.limits.memory} {.spec.containers[0].imagePullPolicy}")
	if got != "128Mi Always" {
		t.Errorf("defaulted pod: %q", got)
	}
	r = s.kubectl("-n", "team", "expose", "pod", "small", "--port=80", "--external-ip=203.0.113.7")
	if r.code == 0 || !strings.Contains(r.stderr, "Use of external IPs is denied by admission control") {
		t.Errorf("external IP: %d %s", r.code, r.stderr)
	}
}

// up enforces the baseline Pod Security Standard and warns about
// restricted, from the admission.yaml it writes; a namespace's labels
// choose otherwise. The case: a privileged pod on the host network
// mounting / in a restricted namespace is refused, naming each rule.
func TestPodSecurityWithKubectl(t *testing.T) {
	s := startServer(t)
	if _, err := os.Stat(filepath.Join(s.dir, "admission.yaml")); err != nil {
		t.Fatalf("up wrote no admission configuration: %v", err)
	}
	const privileged = `{"spec":{"hostNetwork":true,"containers":[{"name":"root","image":"registry.k8s.io/pause:3.10","securityContext":{"privileged":true},` +
		`"volumeMounts":[{"name":"host","mountPath":"/host"}]}],"volumes":[{"name":"host","hostPath":{"path":"/"}}]}}`
	s.mustKubectl("create", "namespace", "locked")
	s.mustKubectl("label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted")
	if !waitFor(func() bool { return s.kubectl("-n", "locked", "get", "sa", "default").code == 0 }) {
		t.Fatal("no default service account in locked")
	}
	r := s.kubectl("-n", "locked", "run", "root", "--image=registry.k8s.io/pause:3.10", "--restart=Never", "--overrides", privileged)
	for _, want := range []string{`pods "root" is forbidden: violates PodSecurity "restricted:latest"`, "host namespaces (hostNetwork=true)", `volume "host" uses restricted volume type "hostPath"`, `privileged (container "root"`} {
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("restricted namespace: %d %s\nwant %s", r.code, r.stderr, want)
		}
	}
	// The cluster default is baseline: the same pod is refused in default
	// too, and a plain pod is admitted with a warning about restricted.
	if r := s.kubectl("run", "root", "--image=registry.k8s.io/pause:3.10", "--restart=Never", "--overrides", privileged); r.code == 0 || !strings.Contains(r.stderr, `violates PodSecurity "baseline:latest"`) || !strings.Contains(r.stderr, `hostPath volumes (volume "host")`) {
		t.Errorf("default namespace: %d %s", r.code, r.stderr)
	}
	if r := s.kubectl("run", "plain", "--image=registry.k8s.io/pause:3.10", "--restart=Never"); r.code != 0 || !strings.Contains(r.stderr, `Warning: would violate PodSecurity "restricted:latest"`) {
		t.Errorf("plain pod: %d %s", r.code, r.stderr)
	}
	// kube-system is exempt.
	if r := s.kubectl("-n", "kube-system", "run", "agent", "--image=registry.k8s.io/pause:3.10", "--restart=Never", "--overrides", privileged); r.code != 0 {
		t.Errorf("kube-system: %d %s", r.code, r.stderr)
	}
}

// up denies external IPs (CVE-2020-8554, CIS 1.2.3) beyond
// kube-apiserver's defaults; disabling the plugin by name lets them in.
func TestUpDeniesExternalIPs(t *testing.T) {
	s := startServer(t)
	r := s.kubectl("-n", "default", "create", "service", "clusterip", "web", "--tcp=80", "--dry-run=client", "-o", "json")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	svc := strings.Replace(r.stdout, `"type": "ClusterIP"`, `"type": "ClusterIP", "externalIPs": ["203.0.113.7"]`, 1)
	if svc == r.stdout {
		t.Fatalf("no type to extend in %s", r.stdout)
	}
	manifest := writeManifest(t, svc)
	if r := s.kubectl("create", "-f", manifest); r.code == 0 || !strings.Contains(r.stderr, "Use of external IPs is denied by admission control") {
		t.Errorf("up let a Service have an external IP: %d %s", r.code, r.stderr)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "DenyServiceExternalIPs") {
		t.Errorf("start-up does not name DenyServiceExternalIPs:\n%s", logs)
	}
	open := startServer(t, "--disable-admission-plugins=DenyServiceExternalIPs")
	if r := open.kubectl("create", "-f", manifest); r.code != 0 {
		t.Errorf("with the plugin disabled: %s", r.stderr)
	}
}

// TestUpRateLimitsEvents: up limits Event writes per namespace (CIS
// 1.2.9) through the EventRateLimit configuration it writes: a burst over
// 100 in one namespace gets 429s while another namespace is untouched.
// An admission configuration without the limits (one an older up wrote)
// still starts, without the plugin, and so does disabling it by name.
func TestUpRateLimitsEvents(t *testing.T) {
	s := startServer(t)
	if cfg, err := os.ReadFile(filepath.Join(s.dir, "admission.yaml")); err != nil || !strings.Contains(string(cfg), "name: EventRateLimit") {
		t.Fatalf("up's admission configuration has no EventRateLimit: %v\n%s", err, cfg)
	}
	// burst sends n events to ns from ten workers on one connection,
	// faster than the limit refills on any machine.
	burst := func(s *server, ns string, n int) (created, limited int, last string) {
		c := s.client(true)
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		for range 10 {
			wg.Go(func() {
				for i := range next {
					resp, body := s.send(t, c, "POST", "/api/v1/namespaces/"+ns+"/events", "application/json",
						fmt.Sprintf(`{"metadata":{"name":"e%d"},"involvedObject":{"kind":"Pod","namespace":%q,"name":"p"},"reason":"Test","message":"m","type":"Normal","source":{"component":"flood"}}`, i, ns), nil)
					mu.Lock()
					switch resp.StatusCode {
					case http.StatusCreated:
						created++
					case http.StatusTooManyRequests:
						limited++
						last = body
					default:
						t.Errorf("event %d: %d %s", i, resp.StatusCode, body)
					}
					mu.Unlock()
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		return created, limited, last
	}
	created, limited, body := burst(s, "default", 300)
	if limited == 0 || created < 100 || !strings.Contains(body, "limit reached on type Namespace for key default") {
		t.Fatalf("300 events at once: %d created, %d refused; last refusal: %s", created, limited, body)
	}
	if _, limited, _ := burst(s, "kube-public", 20); limited != 0 {
		t.Errorf("another namespace was limited too: %d refused", limited)
	}

	off := startServer(t, "--disable-admission-plugins=EventRateLimit")
	if _, limited, _ := burst(off, "default", 150); limited != 0 {
		t.Errorf("with the plugin disabled, %d events were refused", limited)
	}

	older := &server{t: t, dir: t.TempDir(), port: freePort(t), cache: t.TempDir()}
	cfg := "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: []\n"
	if err := os.WriteFile(filepath.Join(older.dir, "admission.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	older.start()
	t.Cleanup(older.stop)
	if _, limited, _ := burst(older, "default", 150); limited != 0 {
		t.Errorf("with a configuration without limits, %d events were refused", limited)
	}
}
