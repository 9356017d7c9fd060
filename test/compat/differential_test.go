package compat

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// do sends a JSON request as kubernetes-super-admin and returns the status
// code and body.
func (s *server) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
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
	// sekisho, when set, is sekisho's deliberate answer; kube is then
	// kube-apiserver's.
	kube, sekisho int
}

// differential runs the same requests against both servers, in order, and
// requires the same status codes.
func differential(t *testing.T, kube, sekisho *server, steps []step) {
	t.Helper()
	for _, st := range steps {
		kc, kb := kube.do(t, st.method, st.path, st.body)
		sc, sb := sekisho.do(t, st.method, st.path, st.body)
		wantKube, wantSekisho := st.kube, st.sekisho
		if wantSekisho == 0 {
			wantSekisho = kc
		}
		if (wantKube != 0 && kc != wantKube) || sc != wantSekisho {
			t.Errorf("%s: kube-apiserver %d, sekisho %d (want %d and %d)\n kube-apiserver: %s\n sekisho: %s",
				st.what, kc, sc, wantKube, wantSekisho, kb, sb)
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
