package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// do sends a JSON request as kubernetes-super-admin and returns the status
// code and body.
func (s *server) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	return s.send(t, method, path, "", body)
}

// send is do with a Content-Type (JSON when empty).
func (s *server) send(t *testing.T, method, path, contentType, body string) (int, string) {
	t.Helper()
	return s.sendHeaders(t, method, path, contentType, body, nil)
}

// sendHeaders is send with more request headers.
func (s *server) sendHeaders(t *testing.T, method, path, contentType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", s.name, method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// step is one request of a differential test and the status code both
// servers must answer, or, where sekisho differs on purpose (and says so in
// docs/compatibility.md), what each answers.
type step struct {
	what, method, path, body string
	// contentType is the body's; JSON when empty.
	contentType string
	// sekisho, when set, is sekisho's deliberate answer; kube is then
	// kube-apiserver's.
	kube, sekisho int
	// header adds request headers (a User-Agent, say).
	header map[string]string
	// same requires equal bodies too, compared as the corpus compares
	// stored objects.
	same bool
	// settle waits before the step: kube-apiserver's quota admission reads
	// ResourceQuotas from a cache that follows writes a moment later.
	settle time.Duration
}

// differential runs the same requests against both servers, in order, and
// requires the same status codes.
func differential(t *testing.T, kube, sekisho *server, steps []step) {
	t.Helper()
	for _, st := range steps {
		time.Sleep(st.settle)
		kc, kb := kube.sendHeaders(t, st.method, st.path, st.contentType, st.body, st.header)
		sc, sb := sekisho.sendHeaders(t, st.method, st.path, st.contentType, st.body, st.header)
		wantKube, wantSekisho := st.kube, st.sekisho
		if wantSekisho == 0 {
			wantSekisho = kc
		}
		if (wantKube != 0 && kc != wantKube) || sc != wantSekisho {
			t.Errorf("%s: kube-apiserver %d, sekisho %d (want %d and %d)\n kube-apiserver: %s\n sekisho: %s",
				st.what, kc, sc, wantKube, wantSekisho, kb, sb)
			continue
		}
		if st.same {
			var diffs []string
			got := normalized(t, sb)
			diff("", got, normalized(t, kb), &diffs)
			if kind, _ := got["kind"].(string); knownDifferences[kind] != nil {
				diffs = slicesDeleteFunc(diffs, knownDifferences[kind])
			}
			if len(diffs) > 0 {
				t.Errorf("%s: answered differently:\n  %s", st.what, strings.Join(diffs, "\n  "))
			}
		}
	}
}

// TestBindingMatchesKubeAPIServer binds pods on both servers, including
// the requests kube-apiserver refuses.
func TestBindingMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	pod := func(name string) string {
		return `{"metadata":{"name":"` + name + `"},"spec":{"serviceAccountName":"binder","automountServiceAccountToken":false,"containers":[{"name":"c","image":"busybox"}]}}`
	}
	const pods = "/api/v1/namespaces/default/pods"
	differential(t, kube, sekisho, []step{
		{what: "service account", method: "POST", path: "/api/v1/namespaces/default/serviceaccounts", body: `{"metadata":{"name":"binder"}}`, kube: 201},
		{what: "create pod web", method: "POST", path: pods, body: pod("web"), kube: 201},
		{what: "create pod db", method: "POST", path: pods, body: pod("db"), kube: 201},
		{what: "name mismatch", method: "POST", path: pods + "/web/binding", body: `{"metadata":{"name":"db"},"target":{"name":"n1"}}`, kube: 400},
		{what: "target kind Service", method: "POST", path: pods + "/web/binding", body: `{"metadata":{"name":"web"},"target":{"kind":"Service","name":"n1"}}`, kube: 500, sekisho: 422},
		{what: "no target name", method: "POST", path: pods + "/web/binding", body: `{"metadata":{"name":"web"},"target":{}}`, kube: 500, sekisho: 422},
		{what: "wrong UID", method: "POST", path: pods + "/web/binding", body: `{"metadata":{"name":"web","uid":"nope"},"target":{"name":"n1"}}`, kube: 409},
		{what: "missing pod", method: "POST", path: pods + "/gone/binding", body: `{"metadata":{"name":"gone"},"target":{"name":"n1"}}`, kube: 404},
		{what: "bind", method: "POST", path: pods + "/web/binding", body: `{"metadata":{"name":"web"},"target":{"name":"n1"}}`, kube: 201},
		{what: "bind again", method: "POST", path: pods + "/web/binding", body: `{"metadata":{"name":"web"},"target":{"name":"n2"}}`, kube: 409},
		{what: "bindings resource", method: "POST", path: "/api/v1/namespaces/default/bindings", body: `{"metadata":{"name":"db"},"target":{"name":"n1"}}`, kube: 201},
		{what: "bindings outside a namespace", method: "POST", path: "/api/v1/bindings", body: `{"metadata":{"name":"db"},"target":{"name":"n1"}}`},
		{what: "get a binding", method: "GET", path: pods + "/web/binding"},
	})
}

// TestNamesMatchKubeAPIServer sends names that each type's own rule
// accepts or refuses, to both servers.
func TestNamesMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	ca, err := os.ReadFile(c.pki("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := json.Marshal(string(ca))
	ctb := func(name, signer string) string {
		return `{"metadata":{"name":"` + name + `"},"spec":{"signerName":"` + signer + `","trustBundle":` + string(bundle) + `}}`
	}
	const ctbs = "/apis/certificates.k8s.io/v1/clustertrustbundles"
	const serving = "kubernetes.io/kube-apiserver-serving"
	differential(t, kube, sekisho, []step{
		{what: "signer bundle", method: "POST", path: ctbs, body: ctb("kubernetes.io:kube-apiserver-serving:abc", serving), kube: 201},
		{what: "signer bundle without the prefix", method: "POST", path: ctbs, body: ctb("abc", serving), kube: 422},
		{what: "signer bundle, bad suffix", method: "POST", path: ctbs, body: ctb("kubernetes.io:kube-apiserver-serving:ABC", serving), kube: 422},
		{what: "plain bundle with a colon", method: "POST", path: ctbs, body: ctb("a:b", ""), kube: 422},
		{what: "plain bundle", method: "POST", path: ctbs, body: ctb("plain", ""), kube: 201},
		{what: "configmap, capitals", method: "POST", path: "/api/v1/namespaces/default/configmaps", body: `{"metadata":{"name":"Bad"}}`, kube: 422},
		{what: "namespace, dots", method: "POST", path: "/api/v1/namespaces", body: `{"metadata":{"name":"a.b"}}`, kube: 422},
		{what: "service, leading digit (RelaxedServiceNameValidation)", method: "POST", path: "/api/v1/namespaces/default/services", body: `{"metadata":{"name":"1svc"},"spec":{"ports":[{"port":80}]}}`, kube: 201},
		{what: "service, a dot", method: "POST", path: "/api/v1/namespaces/default/services", body: `{"metadata":{"name":"a.b"},"spec":{"ports":[{"port":80}]}}`, kube: 422},
		{what: "role, colons and capitals", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", body: `{"metadata":{"name":"Team:Reader"}}`, kube: 201},
		{what: "role, a slash", method: "POST", path: "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", body: `{"metadata":{"name":"a/b"}}`, kube: 422},
	})
}

// TestEvictionMatchesKubeAPIServer evicts pods guarded by disruption
// budgets on both servers. With no controller-manager here, the test
// writes the pods' and budgets' status itself, the same on both.
func TestEvictionMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho("--controllers=")
	const ns = "/api/v1/namespaces/default"
	const pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
	pod := func(name, app string) string {
		return `{"metadata":{"name":"` + name + `","labels":{"app":"` + app + `"}},"spec":{"serviceAccountName":"evictee","automountServiceAccountToken":false,"containers":[{"name":"c","image":"busybox"}]}}`
	}
	running := `{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`
	budget := func(allowed int) string {
		return fmt.Sprintf(`{"status":{"observedGeneration":1,"disruptionsAllowed":%d,"currentHealthy":2,"desiredHealthy":%d,"expectedPods":2}}`, allowed, 2-allowed)
	}
	eviction := func(name string) string {
		return `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"` + name + `"}}`
	}
	const merge = "application/merge-patch+json"
	differential(t, kube, sekisho, []step{
		{what: "service account", method: "POST", path: ns + "/serviceaccounts", body: `{"metadata":{"name":"evictee"}}`, kube: 201},
		{what: "pending pod", method: "POST", path: ns + "/pods", body: pod("pending", "x"), kube: 201},
		{what: "a pending pod is evicted whatever the budget", method: "POST", path: ns + "/pods/pending/eviction", body: eviction("pending"), kube: 201},
		{what: "evicted pod gone", method: "GET", path: ns + "/pods/pending", kube: 404},
		{what: "pod a", method: "POST", path: ns + "/pods", body: pod("a", "web"), kube: 201},
		{what: "pod b", method: "POST", path: ns + "/pods", body: pod("b", "web"), kube: 201},
		{what: "a running", method: "PATCH", contentType: merge, path: ns + "/pods/a/status", body: running, kube: 200},
		{what: "b running", method: "PATCH", contentType: merge, path: ns + "/pods/b/status", body: running, kube: 200},
		{what: "name mismatch", method: "POST", path: ns + "/pods/a/eviction", body: eviction("b"), kube: 400},
		{what: "budget", method: "POST", path: pdbs, body: `{"metadata":{"name":"web"},"spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"web"}}}}`, kube: 201},
		{what: "a budget not yet observed", method: "POST", path: ns + "/pods/a/eviction", body: eviction("a"), kube: 429},
		{what: "budget observed, no disruption allowed", method: "PATCH", contentType: merge, path: pdbs + "/web/status", body: budget(0), kube: 200},
		{what: "refused by the budget", method: "POST", path: ns + "/pods/a/eviction", body: eviction("a"), kube: 429},
		{what: "budget allows one", method: "PATCH", contentType: merge, path: pdbs + "/web/status", body: budget(1), kube: 200},
		{what: "dry-run eviction", method: "POST", path: ns + "/pods/a/eviction?dryRun=All", body: eviction("a"), kube: 201},
		{what: "a still there", method: "GET", path: ns + "/pods/a", kube: 200},
		{what: "eviction", method: "POST", path: ns + "/pods/a/eviction", body: eviction("a"), kube: 201},
		{what: "a gone", method: "GET", path: ns + "/pods/a", kube: 404},
		{what: "the budget is spent", method: "POST", path: ns + "/pods/b/eviction", body: eviction("b"), kube: 429},
		{what: "a second budget", method: "POST", path: pdbs, body: `{"metadata":{"name":"web2"},"spec":{"maxUnavailable":1,"selector":{"matchLabels":{"app":"web"}}}}`, kube: 201},
		{what: "two budgets", method: "POST", path: ns + "/pods/b/eviction", body: eviction("b"), kube: 500},
		{what: "missing pod", method: "POST", path: ns + "/pods/nope/eviction", body: eviction("nope"), kube: 404},
	})
}

// TestDeletionMatchesKubeAPIServer deletes objects with each propagation
// policy on both servers (no garbage collector runs here) and compares
// what is left: the finalizers that ask kube-controller-manager to orphan
// or to delete dependents first, or nothing.
func TestDeletionMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho("--controllers=")
	const ns = "/api/v1/namespaces/default"
	const apps = "/apis/apps/v1/namespaces/default"
	const batch = "/apis/batch/v1/namespaces/default"
	policy := func(p string) string { return `{"propagationPolicy":"` + p + `"}` }
	template := `"template":{"metadata":{"labels":{"app":"x"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}`
	cases := []struct{ what, collection, name, create, del string }{
		{"configmap, orphan", ns + "/configmaps", "orphan", `{"metadata":{"name":"orphan"}}`, policy("Orphan")},
		{"configmap, foreground", ns + "/configmaps", "fore", `{"metadata":{"name":"fore"}}`, policy("Foreground")},
		{"configmap, background", ns + "/configmaps", "back", `{"metadata":{"name":"back"}}`, policy("Background")},
		{"configmap, orphanDependents", ns + "/configmaps", "od", `{"metadata":{"name":"od"}}`, `{"orphanDependents":true}`},
		{"configmap, own finalizer kept", ns + "/configmaps", "own", `{"metadata":{"name":"own","finalizers":["example.com/hold"]}}`, policy("Foreground")},
		{"job, default", batch + "/jobs", "job", `{"metadata":{"name":"job"},"spec":{` + template + `}}`, ``},
		{"job, background", batch + "/jobs", "job2", `{"metadata":{"name":"job2"},"spec":{` + template + `}}`, policy("Background")},
		{"replicationcontroller, default", ns + "/replicationcontrollers", "rc", `{"metadata":{"name":"rc"},"spec":{"selector":{"app":"x"},` + strings.Replace(template, `"Never"`, `"Always"`, 1) + `}}`, ``},
		{"deployment, default", apps + "/deployments", "dep", `{"metadata":{"name":"dep"},"spec":{"selector":{"matchLabels":{"app":"x"}},` + strings.Replace(template, `"Never"`, `"Always"`, 1) + `}}`, ``},
		{"deployment, foreground", apps + "/deployments", "dep2", `{"metadata":{"name":"dep2"},"spec":{"selector":{"matchLabels":{"app":"x"}},` + strings.Replace(template, `"Never"`, `"Always"`, 1) + `}}`, policy("Foreground")},
	}
	for _, cs := range cases {
		for _, s := range []*server{kube, sekisho} {
			if code, body := s.do(t, "POST", cs.collection, cs.create); code != 201 {
				t.Fatalf("%s: %s create %d: %s", cs.what, s.name, code, body)
			}
		}
		kc, kb := kube.do(t, "DELETE", cs.collection+"/"+cs.name, cs.del)
		sc, sb := sekisho.do(t, "DELETE", cs.collection+"/"+cs.name, cs.del)
		if kc != sc {
			t.Errorf("%s: delete: kube-apiserver %d, sekisho %d\n kube-apiserver: %s\n sekisho: %s", cs.what, kc, sc, kb, sb)
			continue
		}
		kc, kb = kube.do(t, "GET", cs.collection+"/"+cs.name, "")
		sc, sb = sekisho.do(t, "GET", cs.collection+"/"+cs.name, "")
		if kc != sc {
			t.Errorf("%s: after delete: kube-apiserver %d, sekisho %d", cs.what, kc, sc)
			continue
		}
		if kc == 200 {
			kf, sf := leftAfterDelete(t, kb), leftAfterDelete(t, sb)
			if kf != sf {
				t.Errorf("%s: left as %s, kube-apiserver %s", cs.what, sf, kf)
			}
		}
	}
	// A second delete changes the policy of an object being deleted.
	for _, s := range []*server{kube, sekisho} {
		s.do(t, "DELETE", ns+"/configmaps/orphan", policy("Foreground"))
	}
	_, kb := kube.do(t, "GET", ns+"/configmaps/orphan", "")
	_, sb := sekisho.do(t, "GET", ns+"/configmaps/orphan", "")
	if kf, sf := leftAfterDelete(t, kb), leftAfterDelete(t, sb); kf != sf {
		t.Errorf("orphan then foreground: left as %s, kube-apiserver %s", sf, kf)
	}
	differential(t, kube, sekisho, []step{
		{what: "create", method: "POST", path: ns + "/configmaps", body: `{"metadata":{"name":"both"}}`, kube: 201},
		{what: "both orphanDependents and propagationPolicy", method: "DELETE", path: ns + "/configmaps/both", body: `{"orphanDependents":true,"propagationPolicy":"Background"}`, kube: 422},
	})
}

// leftAfterDelete describes an object a delete left: whether it is being
// deleted, and its finalizers.
func leftAfterDelete(t *testing.T, body string) string {
	t.Helper()
	var obj struct {
		Metadata struct {
			DeletionTimestamp *string  `json:"deletionTimestamp"`
			Finalizers        []string `json:"finalizers"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("deleting=%v finalizers=%v", obj.Metadata.DeletionTimestamp != nil, obj.Metadata.Finalizers)
}

// TestGracefulPodDeletionMatchesKubeAPIServer deletes pods on both
// servers: a pod a node runs stays, marked, for its grace period (which a
// later delete may only shorten) until a delete with period 0, as a
// kubelet sends once its containers stopped; an unscheduled or finished
// pod goes at once.
func TestGracefulPodDeletionMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho("--controllers=")
	const pods = "/api/v1/namespaces/default/pods"
	pod := func(name, node string) string {
		return `{"metadata":{"name":"` + name + `"},"spec":{"nodeName":"` + node + `","serviceAccountName":"g","automountServiceAccountToken":false,"containers":[{"name":"c","image":"busybox"}]}}`
	}
	grace := func(s string) string { return `{"gracePeriodSeconds":` + s + `}` }
	const merge = "application/merge-patch+json"
	differential(t, kube, sekisho, []step{
		{what: "service account", method: "POST", path: "/api/v1/namespaces/default/serviceaccounts", body: `{"metadata":{"name":"g"}}`, kube: 201},
		{what: "running pod", method: "POST", path: pods, body: pod("run", "n1"), kube: 201},
		{what: "unscheduled pod", method: "POST", path: pods, body: pod("unsched", ""), kube: 201},
		{what: "finished pod", method: "POST", path: pods, body: pod("done", "n1"), kube: 201},
		{what: "finish it", method: "PATCH", contentType: merge, path: pods + "/done/status", body: `{"status":{"phase":"Succeeded"}}`, kube: 200},
		{what: "delete running pod", method: "DELETE", path: pods + "/run", kube: 200},
		{what: "still there", method: "GET", path: pods + "/run", kube: 200},
		{what: "a longer period changes nothing", method: "DELETE", path: pods + "/run", body: grace("60"), kube: 200},
		{what: "delete unscheduled pod", method: "DELETE", path: pods + "/unsched", kube: 200},
		{what: "unscheduled pod gone", method: "GET", path: pods + "/unsched", kube: 404},
		{what: "delete finished pod", method: "DELETE", path: pods + "/done", kube: 200},
		{what: "finished pod gone", method: "GET", path: pods + "/done", kube: 404},
	})
	period := func(s *server) string {
		_, body := s.do(t, "GET", pods+"/run", "")
		var p struct {
			Metadata struct {
				Grace *int64 `json:"deletionGracePeriodSeconds"`
			} `json:"metadata"`
		}
		json.Unmarshal([]byte(body), &p)
		if p.Metadata.Grace == nil {
			return "none"
		}
		return fmt.Sprint(*p.Metadata.Grace)
	}
	if k, s := period(kube), period(sekisho); k != s || k != "30" {
		t.Errorf("grace period after two deletes: kube-apiserver %s, sekisho %s (want 30)", k, s)
	}
	for _, s := range []*server{kube, sekisho} {
		s.do(t, "DELETE", pods+"/run", grace("5"))
	}
	if k, s := period(kube), period(sekisho); k != s || k != "5" {
		t.Errorf("grace period shortened: kube-apiserver %s, sekisho %s (want 5)", k, s)
	}
	differential(t, kube, sekisho, []step{
		{what: "the kubelet's final delete", method: "DELETE", path: pods + "/run", body: grace("0"), kube: 200},
		{what: "gone", method: "GET", path: pods + "/run", kube: 404},
	})
}
