package compat

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// kubeconfigFor writes a copy of the cluster's super-admin kubeconfig
// that names s, for a component run against s.
func (c *cluster) kubeconfigFor(s *server) string {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, "super-admin.conf"))
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "server: ") {
			line = line[:strings.Index(line, "server: ")] + "server: " + s.url
		}
		out = append(out, line)
	}
	path := filepath.Join(c.t.TempDir(), s.name+".conf")
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// registerMetricsServer runs metrics-server against s and registers it
// as its manifests do (an APIService that skips TLS verification, behind
// a Service, here an ExternalName for 127.0.0.1), with extra objects
// posted after, as path and body.
func (c *cluster) registerMetricsServer(t *testing.T, s *server, extra ...[2]string) {
	t.Helper()
	kubeconfig := c.kubeconfigFor(s)
	port := freePort(t)
	c.run("metrics-server-"+s.name, metricsServerBin,
		"--secure-port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--cert-dir="+t.TempDir(),
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--kubelet-insecure-tls")
	steps := append([][2]string{
		{"/api/v1/namespaces/kube-system/services", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"metrics-server","namespace":"kube-system"},"spec":{"type":"ExternalName","externalName":"127.0.0.1"}}`},
		{"/apis/apiregistration.k8s.io/v1/apiservices", fmt.Sprintf(`{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1beta1.metrics.k8s.io"},`+
			`"spec":{"group":"metrics.k8s.io","version":"v1beta1","groupPriorityMinimum":100,"versionPriority":100,"insecureSkipTLSVerify":true,`+
			`"service":{"namespace":"kube-system","name":"metrics-server","port":%d}}}`, port)},
	}, extra...)
	for _, step := range steps {
		if code, out := s.do(t, "POST", step[0], step[1]); code != http.StatusCreated {
			t.Fatalf("%s: POST %s: %d %s", s.name, step[0], code, out)
		}
	}
}

// TestMetricsServerMatchesKubeAPIServer runs the real metrics-server, the
// aggregated API server most clusters have, behind kube-apiserver and
// behind sekisho, registered as its own manifests register it. It reads
// the front-proxy settings from extension-apiserver-authentication and
// asks the API server about each user with a SubjectAccessReview: both
// servers must make it available, serve its lists, and refuse and allow
// the same user alike.
func TestMetricsServerMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	servers := []*server{kube, sekisho}
	for _, s := range servers {
		c.registerMetricsServer(t, s,
			[2]string{"/apis/rbac.authorization.k8s.io/v1/clusterroles", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"metrics-reader"},` +
				`"rules":[{"apiGroups":["metrics.k8s.io"],"resources":["pods","nodes"],"verbs":["get","list"]}]}`},
			[2]string{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"metrics-reader"},` +
				`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"metrics-reader"},"subjects":[{"kind":"User","name":"reader"}]}`})
	}
	for _, s := range servers {
		deadline := time.Now().Add(90 * time.Second)
		for {
			var svc struct {
				Status struct {
					Conditions []struct{ Type, Status, Reason, Message string }
				}
			}
			s.get(t, "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io", "", &svc)
			if len(svc.Status.Conditions) > 0 && svc.Status.Conditions[0].Status == "True" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: metrics-server not available: %+v", s.name, svc.Status.Conditions)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	type answer struct {
		code int
		kind string
	}
	ask := func(s *server, path string, header map[string]string) answer {
		code, body := s.sendHeaders(t, "GET", path, "", "", header)
		kind := ""
		if i := strings.Index(body, `"kind":"`); i >= 0 {
			kind, _, _ = strings.Cut(body[i+len(`"kind":"`):], `"`)
		}
		return answer{code, kind}
	}
	for _, tc := range []struct {
		what, path string
		header     map[string]string
		want       answer
	}{
		{"the node list", "/apis/metrics.k8s.io/v1beta1/nodes", nil, answer{200, "NodeMetricsList"}},
		{"a namespace's pods", "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods", nil, answer{200, "PodMetricsList"}},
		{"a user with no role", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", map[string]string{"Impersonate-User": "nobody"}, answer{403, "Status"}},
		{"a user the role binds (metrics-server asks the API server)", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
			map[string]string{"Impersonate-User": "reader", "Impersonate-Group": "system:authenticated"}, answer{200, "PodMetricsList"}},
		{"a node that does not exist", "/apis/metrics.k8s.io/v1beta1/nodes/ghost", nil, answer{404, "Status"}},
	} {
		k, s := ask(kube, tc.path, tc.header), ask(sekisho, tc.path, tc.header)
		if k != tc.want || s != k {
			t.Errorf("%s: kube-apiserver %+v, sekisho %+v, want %+v", tc.what, k, s, tc.want)
		}
	}
}

// TestMetricsServerThroughFrontProxyCARotation rotates the front-proxy CA
// of a running sekisho while a client reads metrics-server through it
// without pause: sekisho's requests to metrics-server move to a client
// certificate of the new CA, metrics-server follows the CA sekisho
// publishes in extension-apiserver-authentication, and no read fails.
// Nothing restarts.
func TestMetricsServerThroughFrontProxyCARotation(t *testing.T) {
	c := newCluster(t)
	s := c.startSekisho()
	c.registerMetricsServer(t, s)
	read := func() (int, string) { return s.do(t, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", "") }
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if code, _ := read(); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			code, body := read()
			t.Fatalf("metrics-server not reachable through sekisho: %d %s", code, body)
		}
	}
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			code, body := read()
			requests.Add(1)
			if code != http.StatusOK {
				if failures.Add(1) == 1 {
					firstFailure.Store(fmt.Sprintf("%d %s", code, body))
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	cmd := exec.Command(sekishoBin, "certs", "rotate-ca", "--dir", c.dir, "--ca", "front-proxy-ca", "--unused-for", "2s", "--wait", "60s")
	out, err := cmd.CombinedOutput()
	time.Sleep(2 * time.Second) // reads after the last step, on new connections
	close(stop)
	<-done
	if err != nil || !strings.Contains(string(out), "[4/4]") {
		t.Fatalf("rotate-ca --ca front-proxy-ca: %v\n%s", err, out)
	}
	t.Logf("%d reads through the rotation, %d failed", requests.Load(), failures.Load())
	if n := failures.Load(); n > 0 || requests.Load() < 10 {
		t.Errorf("%d of %d reads of metrics-server failed during the rotation; first: %v", n, requests.Load(), firstFailure.Load())
	}
}
