package e2e

// Regression tests for the attacks an outside attack run found against
// sekisho: each test replays the attack as it was reported and fails on a
// server without the fix.

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNamespacePathEscalation replays the CVE-2019-11247 class: a user
// whose only grant is the view role in one namespace reached every
// namespace through /api/v1/namespaces/scope-a/namespaces, and with a
// */*/* role in that namespace created new namespaces there.
func TestNamespacePathEscalation(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	for _, args := range [][]string{
		{"create", "namespace", "scope-a"},
		{"create", "namespace", "secret-team"},
		{"-n", "scope-a", "create", "rolebinding", "viewer", "--clusterrole=view", "--user=viewer"},
		{"create", "clusterrole", "everything", "--verb=*", "--resource=*.*"},
		{"-n", "scope-a", "create", "rolebinding", "local-god", "--clusterrole=everything", "--user=local-god"},
	} {
		if r := s.kubectlAs(admin, args...); r.code != 0 {
			t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r.stderr)
		}
	}
	viewer := clientWithCert(t, s, clientCertOf(t, s.userKubeconfig(t, "viewer")))
	god := clientWithCert(t, s, clientCertOf(t, s.userKubeconfig(t, "local-god")))
	viewer.Timeout, god.Timeout = 5*time.Second, 5*time.Second

	check := func(c *http.Client, method, path, body string, want int) {
		t.Helper()
		var resp *http.Response
		var got string
		// RBAC picks up new bindings from a watch: wait for the grant to
		// take effect before judging the answer.
		waitFor(func() bool {
			resp, got = s.send(t, c, method, path, "application/json", body, nil)
			return resp.StatusCode != http.StatusForbidden || want == http.StatusForbidden
		})
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d\n%s", method, path, resp.StatusCode, want, got)
		}
		if strings.Contains(got, "secret-team") {
			t.Errorf("%s %s leaked another namespace:\n%s", method, path, got)
		}
	}
	check(viewer, "GET", "/api/v1/namespaces/scope-a/pods", "", http.StatusOK) // the grant works
	check(viewer, "GET", "/api/v1/namespaces", "", http.StatusForbidden)
	check(viewer, "GET", "/api/v1/namespaces/scope-a/namespaces", "", http.StatusNotFound)
	check(viewer, "GET", "/api/v1/namespaces/scope-a/namespaces?watch=1", "", http.StatusNotFound)
	check(viewer, "GET", "/api/v1/watch/namespaces/scope-a/namespaces", "", http.StatusNotFound)
	check(viewer, "GET", "/api/v1/namespaces/scope-a/namespaces/secret-team", "", http.StatusNotFound)

	check(god, "GET", "/api/v1/namespaces/scope-a/configmaps", "", http.StatusOK)
	check(god, "POST", "/api/v1/namespaces/scope-a/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"atk-created"}}`, http.StatusNotFound)
	check(god, "DELETE", "/api/v1/namespaces/scope-a/namespaces/secret-team", "", http.StatusNotFound)
	check(god, "GET", "/api/v1/namespaces/scope-a/nodes", "", http.StatusNotFound)
	check(god, "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/scope-a/clusterroles", "", http.StatusNotFound)
	check(god, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/scope-a/clusterrolebindings",
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"atk"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","name":"local-god"}]}`,
		http.StatusNotFound)

	if r := s.kubectlAs(admin, "get", "namespace", "atk-created"); r.code == 0 {
		t.Errorf("the namespace was created through the namespaced path")
	}
	if r := s.kubectlAs(admin, "get", "namespace", "secret-team"); r.code != 0 {
		t.Errorf("the namespace was deleted through the namespaced path: %s", r.stderr)
	}
	if r := s.kubectlAs(admin, "get", "clusterrolebinding", "atk"); r.code == 0 {
		t.Errorf("a cluster role binding was created through the namespaced path")
	}
}
