package e2e

// Regression tests for the attacks an outside attack run found against
// sekisho: each test replays the attack as it was reported and fails on a
// server without the fix.

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// joinAsNode does what a kubelet's TLS bootstrap does, with openssl and
// kubectl: a key, a kubelet client CSR for system:node:<name> created with
// the bootstrap token, and the issued certificate once it is approved. It
// returns an HTTPS client presenting the node's credential, or nil when
// the request was not issued within the deadline.
func joinAsNode(t *testing.T, s *server, token, name string, wait time.Duration) *http.Client {
	t.Helper()
	dir := t.TempDir()
	key, csrFile := filepath.Join(dir, "node.key"), filepath.Join(dir, "node.csr")
	must(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	must(t, "openssl", "req", "-new", "-key", key, "-out", csrFile, "-subj", "/O=system:nodes/CN=system:node:"+name)
	request, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	csrName := "node-csr-" + name
	manifest := writeFile(t, "csr.yaml", csrManifest(csrName, "kubernetes.io/kube-apiserver-client-kubelet", request, 0, "digital signature", "client auth"))
	asToken := []string{"--kubeconfig", os.DevNull, "--server", s.url(""), "--certificate-authority", filepath.Join(s.dir, "pki/ca.crt"), "--token", token}
	if r := run(t, "kubectl", append(asToken, "create", "-f", manifest)...); r.code != 0 {
		t.Fatalf("creating the CSR with the bootstrap token: %s", r.stderr)
	}
	var certPEM []byte
	deadline := time.Now().Add(wait)
	for len(certPEM) == 0 && time.Now().Before(deadline) {
		b64 := s.mustKubectl("get", "csr", csrName, "-o", "jsonpath={.status.certificate}")
		certPEM, _ = base64.StdEncoding.DecodeString(b64)
		time.Sleep(50 * time.Millisecond)
	}
	if len(certPEM) == 0 {
		return nil
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return clientWithCert(t, s, cert)
}

// TestBootstrapTokenToSecrets replays the second attack: a bootstrap token
// joined as a made-up node, which then created a pod bound to itself that
// mounted a Secret, and read the Secret through the Node authorizer; the
// same path gave a token for any ServiceAccount. NodeRestriction now
// refuses every step, and the rest of the bootstrap → CSR → node path
// holds as docs/authorization.md lists it.
func TestBootstrapTokenToSecrets(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	k := func(args ...string) string {
		t.Helper()
		return s.mustKubectlAs(admin, args...)
	}
	k("-n", "kube-system", "create", "secret", "generic", "atk-crown-jewels", "--from-literal=password=hunter2")
	k("-n", "kube-system", "create", "serviceaccount", "powerful")
	token := strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", admin))

	node := joinAsNode(t, s, token, "atk-evil", 10*time.Second)
	if node == nil {
		t.Fatalf("the bootstrap token's node CSR was not issued:\n%s", k("get", "csr", "-o", "wide"))
	}
	send := func(method, path, body string) (int, string) {
		t.Helper()
		resp, got := s.send(t, node, method, path, "application/json", body, nil)
		return resp.StatusCode, got
	}
	expect := func(what string, code int, body string, wantCode int, wantMsg string) {
		t.Helper()
		if code != wantCode || !strings.Contains(body, wantMsg) {
			t.Errorf("%s: %d %s\nwant %d with %q", what, code, body, wantCode, wantMsg)
		}
	}
	secretPath := "/api/v1/namespaces/kube-system/secrets/atk-crown-jewels"
	code, body := send("GET", secretPath, "")
	expect("reading the secret before", code, body, http.StatusForbidden, "no relationship found")

	// The reported attack: a regular pod bound to itself, mounting the secret.
	podWith := func(name, extraMeta, extraSpec string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"` + extraMeta + `},"spec":{"nodeName":"atk-evil","containers":[{"name":"c","image":"busybox"}]` + extraSpec + `}}`
	}
	code, body = send("POST", "/api/v1/namespaces/kube-system/pods", podWith("atk", "", `,"volumes":[{"name":"s","secret":{"secretName":"atk-crown-jewels"}}]`))
	expect("a pod mounting the secret", code, body, http.StatusForbidden, `pod does not have \"kubernetes.io/config.mirror\" annotation, node \"atk-evil\" can only create mirror pods`)
	code, body = send("POST", "/api/v1/namespaces/kube-system/pods", podWith("atk-sa", "", `,"serviceAccountName":"powerful"`))
	expect("a pod naming a service account", code, body, http.StatusForbidden, "can only create mirror pods")

	// Its own Node, then mirror pods: only those naming nothing are created.
	code, body = send("POST", "/api/v1/nodes", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"atk-evil","labels":{"kubernetes.io/hostname":"atk-evil"}}}`)
	expect("registering its own Node", code, body, http.StatusCreated, `"name":"atk-evil"`)
	uid := s.mustKubectl("get", "node", "atk-evil", "-o", "jsonpath={.metadata.uid}")
	mirrorMeta := `,"annotations":{"kubernetes.io/config.mirror":"x"},"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"atk-evil","uid":"` + uid + `","controller":true}]`
	code, body = send("POST", "/api/v1/namespaces/kube-system/pods", podWith("atk-mirror", mirrorMeta, `,"volumes":[{"name":"s","secret":{"secretName":"atk-crown-jewels"}}]`))
	// The ServiceAccount plugin refuses these first, as in kube-apiserver;
	// NodeRestriction would refuse them next (its own tests cover that).
	expect("a mirror pod mounting the secret", code, body, http.StatusForbidden, `a mirror pod may not reference secrets`)
	code, body = send("POST", "/api/v1/namespaces/kube-system/pods", podWith("atk-mirror", mirrorMeta, `,"serviceAccountName":"powerful"`))
	expect("a mirror pod naming a service account", code, body, http.StatusForbidden, "a mirror pod may not reference service accounts")
	code, body = send("POST", "/api/v1/namespaces/kube-system/pods", podWith("atk-mirror", mirrorMeta, `,"volumes":[{"name":"c","configMap":{"name":"kube-proxy"}}]`))
	expect("a mirror pod mounting a config map", code, body, http.StatusForbidden, `node \"atk-evil\" can not create pods that reference configmaps`)
	code, body = send("POST", "/api/v1/namespaces/kube-system/pods", podWith("static-web", mirrorMeta, ""))
	expect("a mirror pod naming nothing", code, body, http.StatusCreated, `"name":"static-web"`)
	if strings.Contains(body, `"serviceAccountName"`) {
		t.Errorf("a mirror pod was given a service account: %s", body)
	}
	// Once the graph has seen the mirror pod (the node may read it), it
	// has seen everything the node did before.
	if !waitFor(func() bool {
		code, _ := send("GET", "/api/v1/namespaces/kube-system/pods/static-web", "")
		return code == http.StatusOK
	}) {
		t.Fatalf("the node cannot read its mirror pod")
	}
	code, body = send("PATCH", "/api/v1/namespaces/kube-system/pods/static-web", `{"metadata":{"annotations":null}}`)
	expect("turning its mirror pod into a regular pod", code, body, http.StatusForbidden, "")

	// Nothing it did lets it read the secret or mint a token.
	code, body = send("GET", secretPath, "")
	expect("reading the secret after", code, body, http.StatusForbidden, "no relationship found")
	code, body = send("POST", "/api/v1/namespaces/kube-system/serviceaccounts/powerful/token", `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`)
	expect("a token for the service account", code, body, http.StatusForbidden, "")

	// A pod an administrator binds to the node does give it the pod's
	// service account, but only tokens bound to that pod.
	k("-n", "kube-system", "run", "legit", "--image=busybox", "--overrides", `{"spec":{"nodeName":"atk-evil","serviceAccountName":"powerful"}}`)
	podUID := s.mustKubectl("-n", "kube-system", "get", "pod", "legit", "-o", "jsonpath={.metadata.uid}")
	// The graph follows the pod watch: wait until the refusal is admission's.
	waitFor(func() bool {
		code, body = send("POST", "/api/v1/namespaces/kube-system/serviceaccounts/powerful/token", `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`)
		return strings.Contains(body, "not bound to a pod")
	})
	expect("an unbound token", code, body, http.StatusForbidden, "node requested token not bound to a pod")
	code, body = send("POST", "/api/v1/namespaces/kube-system/serviceaccounts/powerful/token",
		`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"boundObjectRef":{"apiVersion":"v1","kind":"Pod","name":"legit","uid":"`+podUID+`"}}}`)
	expect("a token bound to its pod", code, body, http.StatusCreated, `"token":"`)

	// Other nodes, and its own labels, taints and owners, are not its to change.
	k("create", "-f", writeFile(t, "victim.json", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"victim"}}`))
	code, body = send("POST", "/api/v1/nodes", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"atk-other"}}`)
	expect("registering another node", code, body, http.StatusForbidden, "")
	code, body = send("PATCH", "/api/v1/nodes/victim", `{"metadata":{"labels":{"x":"y"}}}`)
	expect("labelling another node", code, body, http.StatusForbidden, "")
	patch := func(body string) (int, string) {
		t.Helper()
		resp, got := s.send(t, node, "PATCH", "/api/v1/nodes/atk-evil", "application/merge-patch+json", body, nil)
		return resp.StatusCode, got
	}
	code, body = patch(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}`)
	expect("labelling itself control-plane", code, body, http.StatusForbidden, "is not allowed to modify labels: node-role.kubernetes.io/control-plane")
	code, body = patch(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"legit","uid":"` + podUID + `"}]}}`)
	expect("adding an owner to itself", code, body, http.StatusForbidden, "is not allowed to modify ownerReferences")
	code, body = patch(`{"metadata":{"labels":{"topology.kubernetes.io/zone":"z1"}}}`)
	expect("a kubelet label on itself", code, body, http.StatusOK, `"topology.kubernetes.io/zone":"z1"`)

	// A bootstrap token cannot take over a registered, Ready node.
	k("patch", "node", "victim", "--subresource=status", "--type=merge", "-p", `{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ok"}]}}`)
	if c := joinAsNode(t, s, token, "victim", 2*time.Second); c != nil {
		t.Errorf("a bootstrap token got the identity of a running node")
	}
	if out := k("get", "csr", "node-csr-victim"); !strings.Contains(out, "Pending") {
		t.Errorf("the takeover request was decided: %s", out)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "node victim is registered and Ready") {
		t.Errorf("the refused takeover was not logged:\n%s", logs)
	}
}

// TestCRLReplay replays the fourth attack: a copy of the CRL taken before a
// revocation is put back, which un-revoked the certificate. The older list
// is now refused, while the server runs and across a restart.
func TestCRLReplay(t *testing.T) {
	s := startServer(t)
	crlFile := filepath.Join(s.dir, "pki", "ca.crl")
	status := func(kc string) int {
		t.Helper()
		code, _ := s.doWith(clientWithCert(t, s, clientCertOf(t, kc)), "GET", "/api/v1/namespaces", "", nil)
		return code
	}
	first := s.userKubeconfig(t, "first", "system:masters")
	revokee := s.userKubeconfig(t, "revokee", "system:masters")
	mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", first)
	if !waitFor(func() bool { return status(first) == 401 }) {
		t.Fatal("the first revocation did not take effect")
	}
	old, err := os.ReadFile(crlFile) // cp pki/ca.crl old.crl
	if err != nil {
		t.Fatal(err)
	}
	mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", revokee)
	if !waitFor(func() bool { return status(revokee) == 401 }) {
		t.Fatal("the revocation did not take effect")
	}

	// mv old.crl pki/ca.crl
	if err := os.WriteFile(crlFile+".old", old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(crlFile+".old", crlFile); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), "the last accepted: an older CRL than the last accepted one")
	}) {
		t.Fatalf("the replayed CRL was not refused:\n%s", s.logs.String())
	}
	if code := status(revokee); code != 401 {
		t.Fatalf("the replayed CRL un-revoked the certificate: %d", code)
	}

	// A restart with the old file in place: the server starts, refuses the
	// file, and the revocation persisted in its store stays in force.
	s.stop()
	s.start()
	if code := status(revokee); code != 401 {
		t.Fatalf("after a restart with the replayed CRL: %d", code)
	}
	if !strings.Contains(s.logs.String(), "--client-crl-file is older than a CRL accepted before") {
		t.Errorf("the restart did not report the stale CRL:\n%s", s.logs.String())
	}
	if code := status(first); code != 401 {
		t.Errorf("the first revocation was lost: %d", code)
	}
	// Revoking again writes a newer list than any seen, which is accepted.
	third := s.userKubeconfig(t, "third", "system:masters")
	if code := status(third); code != 200 {
		t.Fatalf("a fresh certificate: %d", code)
	}
	mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", third)
	if !waitFor(func() bool { return status(third) == 401 }) {
		t.Fatal("a revocation after the replay did not take effect")
	}
	if code := status(revokee); code != 401 {
		t.Errorf("the revokee came back after a newer CRL: %d", code)
	}
}

// TestInvalidUTF8Refused replays the sixth finding: a body that is not
// valid UTF-8 was stored with U+FFFD in place of the bytes sent, with 201.
// Every way a string reaches the store is now refused with 400 and a
// Status that says why, and nothing is stored.
func TestInvalidUTF8Refused(t *testing.T) {
	s := startServer(t, withoutRootCAConfigMaps)
	const cms = "/api/v1/namespaces/default/configmaps"
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "pb"}, Data: map[string]string{"k": "v\xff\xfe"}}
	raw, err := cm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := (&runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, Raw: raw}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	protobuf := string(append([]byte{0x6b, 0x38, 0x73, 0x00}, envelope...))
	s.create(t, cms, `{"metadata":{"name":"target"},"data":{"k":"v"}}`)

	for _, c := range []struct {
		name, method, path, contentType, body, want string
	}{
		{"data", "POST", cms, "application/json", "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"v\xff\xfe\"}}", "is not valid UTF-8"},
		{"annotation", "POST", cms, "application/json", "{\"metadata\":{\"name\":\"b\",\"annotations\":{\"x\":\"\xc3\"}}}", "is not valid UTF-8"},
		{"lone surrogate", "POST", cms, "application/json", `{"metadata":{"name":"c"},"data":{"k":"\ud800"}}`, "unpaired UTF-16 surrogate"},
		{"yaml", "POST", cms, "application/yaml", "metadata:\n  name: d\ndata:\n  k: \"v\xff\"\n", "is not valid UTF-8"},
		{"protobuf", "POST", cms, "application/vnd.kubernetes.protobuf", protobuf, `not valid UTF-8 at .Data["k"]`},
		{"merge patch", "PATCH", cms + "/target", "application/merge-patch+json", "{\"data\":{\"k\":\"\xff\"}}", "is not valid UTF-8"},
		{"json patch", "PATCH", cms + "/target", "application/json-patch+json", `[{"op":"replace","path":"/data/k","value":"\udfff"}]`, "unpaired"},
		{"update", "PUT", cms + "/target", "application/json", "{\"metadata\":{\"name\":\"target\"},\"data\":{\"k\":\"\xe2\x82\"}}", "is not valid UTF-8"},
	} {
		resp, body := s.send(t, s.client(true), c.method, c.path, c.contentType, c.body, nil)
		st := parseFullStatus(t, body)
		if resp.StatusCode != 400 || st.Reason != "BadRequest" || !strings.Contains(st.Message, c.want) {
			t.Errorf("%s: %d %s, want 400 BadRequest with %q", c.name, resp.StatusCode, body, c.want)
		}
	}
	// Impersonating a name that is not valid UTF-8.
	resp, body := s.send(t, s.client(true), "GET", cms, "", "", http.Header{"Impersonate-User": {"bob\xff"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "is not valid UTF-8") {
		t.Errorf("impersonation: %d %s", resp.StatusCode, body)
	}
	// Nothing was stored or changed.
	_, list, _ := s.list(t, cms)
	if len(list.Items) != 1 {
		t.Errorf("%d configmaps stored, want only the target", len(list.Items))
	}
	if code, body := s.do("GET", cms+"/target", "", nil); code != 200 || !strings.Contains(body, `"data":{"k":"v"}`) {
		t.Errorf("the target changed: %s", body)
	}
}

// TestCredentialsNeverLogged sends every kind of bearer credential, valid
// and not, to a server logging at debug level, and checks that no secret
// part of any appears in its log: static tokens, bootstrap token secrets,
// and service-account tokens, genuine and altered.
func TestCredentialsNeverLogged(t *testing.T) {
	requireTools(t, "kubectl")
	const canary = "leakcanary"
	file := writeFile(t, "tokens.csv", "static-"+canary+"-0123456789,ops,1001,system:masters\n")
	s := startServer(t, "--token-auth-file", file, "-v", "5")
	admin := filepath.Join(s.dir, "admin.conf")
	tokenKC := tokenKubeconfig(t, s)

	// A valid static token, a wrong one, and one far over the size limit.
	for _, tok := range []string{"static-" + canary + "-0123456789", "wrong-" + canary, strings.Repeat(canary, 2000)} {
		s.kubectlAs(tokenKC, "--token", tok, "get", "ns")
	}
	// A bootstrap token with a wrong secret, and the real one.
	real := strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", admin))
	id, secret, _ := strings.Cut(real, ".")
	s.kubectlAs(tokenKC, "--token", id+"."+canary+"000000", "get", "ns")
	s.kubectlAs(tokenKC, "--token", real, "get", "ns")
	// A real service-account token, and one with its signature altered.
	s.mustKubectlAs(admin, "create", "serviceaccount", "robot")
	saToken := strings.TrimSpace(s.mustKubectlAs(admin, "create", "token", "robot"))
	s.kubectlAs(tokenKC, "--token", saToken, "get", "ns")
	s.kubectlAs(tokenKC, "--token", saToken[:len(saToken)-4]+"AAAA", "get", "ns")
	// Four requests failed: wait for their log lines to arrive.
	var logs string
	waitFor(func() bool {
		logs = s.logs.String()
		return strings.Count(logs, "authentication failed") >= 4
	})
	for _, leak := range []string{canary, secret, saToken[strings.LastIndex(saToken, ".")+1:]} {
		if strings.Contains(logs, leak) {
			i := strings.Index(logs, leak)
			t.Errorf("the log holds a credential (%q):\n...%s...", leak, logs[max(0, i-300):min(len(logs), i+100)])
		}
	}
	if n := strings.Count(logs, "authentication failed"); n < 4 {
		t.Errorf("%d of the 4 failures were logged:\n%s", n, logs)
	}
}
