package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// auditLog is the log up writes in its data directory.
func (s *server) auditLog() string { return filepath.Join(s.dir, "audit", "audit.log") }

// settledAuditLog reads the audit log once the lines of the requests
// answered so far have reached it from its ring file.
func settledAuditLog(t *testing.T, path string) []byte {
	t.Helper()
	if err := audit.WaitForLog(path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// auditEvents reads every event of the audit log; each line must be one.
func auditEvents(t *testing.T, path string) []auditv1.Event {
	t.Helper()
	if err := audit.WaitForLog(path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []auditv1.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev auditv1.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: a line that is not an event: %v\n%.200s", path, err, sc.Text())
		}
		events = append(events, ev)
	}
	return events
}

// eventsOf are the events of the request with the given Audit-Id, by
// stage.
func eventsOf(t *testing.T, path, id string) map[auditv1.Stage]auditv1.Event {
	t.Helper()
	out := map[auditv1.Stage]auditv1.Event{}
	for _, ev := range auditEvents(t, path) {
		if string(ev.AuditID) == id {
			if _, dup := out[ev.Stage]; dup {
				t.Errorf("request %s: two %s events", id, ev.Stage)
			}
			out[ev.Stage] = ev
		}
	}
	return out
}

const auditTestPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: RequestResponse
  omitManagedFields: true
  namespaces: [audited, kube-system]
  resources: [{group: "", resources: [secrets, configmaps]}]
- level: RequestResponse
  resources: [{group: "", resources: [serviceaccounts/token, namespaces]}, {group: authentication.k8s.io}, {group: certificates.k8s.io}]
- level: Request
  omitStages: [RequestReceived]
  userGroups: [system:serviceaccounts]
- level: Metadata
  omitStages: [RequestReceived]
`

// TestAuditRecordsEachRequest runs sekisho with a policy of every level
// and checks the events of real requests: stages, objects, users,
// denials, watches, failed logins, and that no credential is written.
func TestAuditRecordsEachRequest(t *testing.T) {
	requireTools(t, "kubectl")
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(auditTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--audit-policy-file", policy)
	log := s.auditLog()
	if info, err := os.Stat(log); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the audit log: %v, mode %v", err, info.Mode().Perm())
	}
	admin := s.client(true)
	id := func(name string) http.Header { return http.Header{"Audit-Id": {name}} }

	// RequestResponse, every stage, the objects as sent and answered.
	s.mustKubectl("create", "namespace", "audited")
	resp, body := s.send(t, admin, "POST", "/api/v1/namespaces/audited/configmaps", "application/json",
		`{"metadata":{"name":"c"},"data":{"k":"v"}}`, id("create-configmap"))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Audit-Id") != "create-configmap" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	evs := eventsOf(t, log, "create-configmap")
	rr, done := evs[auditv1.StageRequestReceived], evs[auditv1.StageResponseComplete]
	if len(evs) != 2 || rr.Level != auditv1.LevelRequestResponse || rr.RequestObject != nil || rr.ResponseStatus != nil {
		t.Fatalf("create-configmap: want RequestReceived and ResponseComplete, got %+v", evs)
	}
	if done.Verb != "create" || done.ObjectRef == nil || done.ObjectRef.Name != "c" || done.ObjectRef.Namespace != "audited" ||
		done.ObjectRef.Resource != "configmaps" || done.ObjectRef.APIVersion != "v1" || done.ResponseStatus == nil || done.ResponseStatus.Code != 201 ||
		done.User.Username != "kubernetes-super-admin" || len(done.SourceIPs) == 0 || done.RequestURI != "/api/v1/namespaces/audited/configmaps" ||
		done.StageTimestamp.Before(&done.RequestReceivedTimestamp) {
		t.Errorf("create-configmap: %+v", done)
	}
	if done.RequestObject == nil || !strings.Contains(string(done.RequestObject.Raw), `"data":{"k":"v"}`) ||
		done.ResponseObject == nil || !strings.Contains(string(done.ResponseObject.Raw), `"uid"`) {
		t.Errorf("create-configmap objects: request %v, response %v", done.RequestObject, done.ResponseObject)
	}
	if strings.Contains(string(done.ResponseObject.Raw), "managedFields") {
		t.Errorf("omitManagedFields: the response still has them: %s", done.ResponseObject.Raw)
	}
	if done.Annotations["authorization.k8s.io/decision"] != "allow" {
		t.Errorf("annotations: %v", done.Annotations)
	}
	// The namespaces rule keeps managedFields.
	s.send(t, admin, "GET", "/api/v1/namespaces/audited", "", "", id("get-namespace"))
	if ns := eventsOf(t, log, "get-namespace")[auditv1.StageResponseComplete]; ns.ResponseObject == nil || !strings.Contains(string(ns.ResponseObject.Raw), "managedFields") {
		t.Errorf("get-namespace: %+v", ns)
	}

	// Level Metadata: no objects, and RequestReceived omitted.
	s.send(t, admin, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"m"},"data":{"k":"v"}}`, id("metadata"))
	evs = eventsOf(t, log, "metadata")
	if md := evs[auditv1.StageResponseComplete]; len(evs) != 1 || md.Level != auditv1.LevelMetadata || md.RequestObject != nil || md.ResponseObject != nil || md.ObjectRef.Name != "m" {
		t.Errorf("metadata: %+v", evs)
	}

	// Credentials are never written, at RequestResponse.
	s.send(t, admin, "POST", "/api/v1/namespaces/audited/secrets", "application/json",
		`{"metadata":{"name":"s"},"data":{"password":"`+base64.StdEncoding.EncodeToString([]byte("hunter2-hunter2"))+`"},"stringData":{"pin":"7-4-1-1-9"}}`, id("secret"))
	s.send(t, admin, "PATCH", "/api/v1/namespaces/audited/secrets/s", "application/merge-patch+json", `{"stringData":{"pin":"9-9-9-3-3"}}`, id("secret-patch"))
	s.send(t, admin, "GET", "/api/v1/namespaces/audited/secrets", "", "", id("secret-list"))
	sec := eventsOf(t, log, "secret")[auditv1.StageResponseComplete]
	if sec.RequestObject == nil || !strings.Contains(string(sec.RequestObject.Raw), `"password":"[redacted]"`) || !strings.Contains(string(sec.RequestObject.Raw), `"pin":"[redacted]"`) {
		t.Errorf("the Secret's request object: %v", sec.RequestObject)
	}
	// A bootstrap token, and a private key where a certificate goes.
	s.send(t, admin, "POST", "/api/v1/namespaces/kube-system/secrets", "application/json",
		`{"metadata":{"name":"bootstrap-token-k7w2pq"},"type":"bootstrap.kubernetes.io/token","stringData":{"token-id":"k7w2pq","token-secret":"x9m4c8v2b6n1z5q3","usage-bootstrap-authentication":"true"}}`, id("bootstrap"))
	key := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIPr0c3ss1ngK3yM4t3r1aL\n-----END EC PRIVATE KEY-----\n"
	s.send(t, admin, "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/leaky/status", "application/json",
		`{"apiVersion":"certificates.k8s.io/v1","kind":"CertificateSigningRequest","metadata":{"name":"leaky"},"spec":{"request":"","signerName":"x/y","usages":["digital signature"]},"status":{"certificate":"`+base64.StdEncoding.EncodeToString([]byte(key))+`"}}`, id("csr-key"))
	for name, field := range map[string]string{"bootstrap": `"token-secret":"[redacted]"`, "csr-key": `"certificate":"[redacted]"`} {
		if ev := eventsOf(t, log, name)[auditv1.StageResponseComplete]; ev.Level != auditv1.LevelRequestResponse || ev.RequestObject == nil || !strings.Contains(string(ev.RequestObject.Raw), field) {
			t.Errorf("%s: %+v", name, ev)
		}
	}
	s.mustKubectl("create", "serviceaccount", "robot", "-n", "audited")
	token := strings.TrimSpace(s.mustKubectl("create", "token", "robot", "-n", "audited"))
	// The robot's own request, with its token, denied.
	resp, _ = s.send(t, s.anonClient(), "GET", "/api/v1/namespaces/default/secrets", "", "", http.Header{"Authorization": {"Bearer " + token}, "Audit-Id": {"denied"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the robot listing default's secrets: %d", resp.StatusCode)
	}
	resp, body = s.send(t, admin, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json",
		`{"spec":{"token":"`+token+`"}}`, id("tokenreview"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("tokenreview: %d %s", resp.StatusCode, body)
	}
	// A failed login.
	resp, _ = s.send(t, s.anonClient(), "GET", "/api/v1/namespaces", "", "", http.Header{"Authorization": {"Bearer not-a-token-but-secret"}, "Audit-Id": {"bad-login"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a bad token: %d", resp.StatusCode)
	}
	data := settledAuditLog(t, log)
	for _, secret := range []string{"x9m4c8v2b6n1z5q3", "MHcCAQEEIPr0c3ss1ngK3yM4t3r1aL", base64.StdEncoding.EncodeToString([]byte("x9m4c8v2b6n1z5q3")), "hunter2", base64.StdEncoding.EncodeToString([]byte("hunter2-hunter2")), "7-4-1-1-9", "9-9-9-3-3", token, strings.Split(token, ".")[2], "not-a-token-but-secret"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the audit log holds a credential: %.20s...", secret)
		}
	}
	if ev := eventsOf(t, log, "tokenreview")[auditv1.StageResponseComplete]; ev.RequestObject == nil || !strings.Contains(string(ev.RequestObject.Raw), `"token":"[redacted]"`) ||
		ev.ResponseObject == nil || !strings.Contains(string(ev.ResponseObject.Raw), "system:serviceaccount:audited:robot") {
		t.Errorf("tokenreview: %+v", ev)
	}
	if ev := eventsOf(t, log, "bad-login")[auditv1.StageResponseComplete]; ev.ResponseStatus == nil || ev.ResponseStatus.Code != 401 || ev.User.Username != "" {
		t.Errorf("a failed login: %+v", ev)
	}

	// The denial, with its reason, judged by the robot's own rule.
	denied := eventsOf(t, log, "denied")
	if ev := denied[auditv1.StageResponseComplete]; len(denied) != 1 || ev.Level != auditv1.LevelRequest || ev.User.Username != "system:serviceaccount:audited:robot" ||
		ev.ResponseStatus.Code != 403 || ev.Annotations["authorization.k8s.io/decision"] != "forbid" ||
		!strings.Contains(ev.ResponseStatus.Message, `cannot list resource "secrets"`) {
		t.Errorf("the denial: %+v", denied)
	}

	// PodSecurity's annotations on a pod up's admission warns about.
	pod := `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}`
	attempt := ""
	if !waitFor(func() bool { // until the namespace's service account is made
		attempt += "+"
		resp, _ := s.send(t, admin, "POST", "/api/v1/namespaces/default/pods", "application/json", pod, id("pod"+attempt))
		return resp.StatusCode == http.StatusCreated
	}) {
		t.Fatal("the pod was never created")
	}
	if ev := eventsOf(t, log, "pod"+attempt)[auditv1.StageResponseComplete]; ev.Annotations["pod-security.kubernetes.io/enforce-policy"] != "baseline:latest" ||
		!strings.Contains(ev.Annotations["pod-security.kubernetes.io/audit-violations"], "would violate PodSecurity \"restricted:latest\"") {
		t.Errorf("the pod's annotations: %v", ev.Annotations)
	}

	// The server log's lines about a request carry its Audit-Id, so the
	// two logs join.
	for _, want := range []string{"msg=forbidden auditID=denied", `msg="authentication failed" auditID=bad-login`} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("the server log has no %q", want)
		}
	}

	// Impersonation: who asked, and as whom.
	s.mustKubectl("--as", "alice", "--as-group", "system:masters", "get", "pods", "-n", "default")
	var impersonated *auditv1.Event
	for _, ev := range auditEvents(t, log) {
		if ev.ImpersonatedUser != nil && ev.ImpersonatedUser.Username == "alice" && ev.Verb == "list" {
			impersonated = &ev
		}
	}
	if impersonated == nil || impersonated.User.Username != "kubernetes-super-admin" {
		t.Errorf("impersonation: %+v", impersonated)
	}

	// A watch: ResponseStarted when its response starts.
	s.kubectl("get", "configmaps", "-n", "audited", "--watch", "--request-timeout=1s")
	var started, completed bool
	for _, ev := range auditEvents(t, log) {
		if ev.Verb == "watch" && ev.ObjectRef != nil && ev.ObjectRef.Namespace == "audited" {
			started = started || ev.Stage == auditv1.StageResponseStarted && ev.ResponseStatus.Code == 200
			completed = completed || ev.Stage == auditv1.StageResponseComplete
		}
	}
	if !started || !completed {
		t.Errorf("a watch: ResponseStarted %v, ResponseComplete %v", started, completed)
	}
}

// TestAuditPolicyReloads changes the policy file under a running server:
// a valid policy takes effect, an invalid one is refused and the one in
// force stays.
func TestAuditPolicyReloads(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(p string) {
		t.Helper()
		// Renamed into place, as editors and config management do.
		if err := os.WriteFile(policy+".new", []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(policy+".new", policy); err != nil {
			t.Fatal(err)
		}
	}
	write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
	s := startServer(t, "--audit-policy-file", policy)
	admin := s.client(true)
	recorded := func(name string) bool {
		s.send(t, admin, "GET", "/api/v1/namespaces/default", "", "", http.Header{"Audit-Id": {name}})
		return len(eventsOf(t, s.auditLog(), name)) > 0
	}
	if !recorded("before") {
		t.Fatal("the first policy records nothing")
	}
	write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  namespaces: [default]\n- level: Metadata\n")
	n := 0
	if !waitFor(func() bool { n++; return !recorded(fmt.Sprintf("reloaded-%d", n)) }) {
		t.Fatal("the new policy never took effect")
	}
	write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n")
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "refused") }) {
		t.Fatalf("the invalid policy was not reported:\n%s", s.logs.String())
	}
	if !strings.Contains(s.logs.String(), `rules[0].level: Unsupported value: \"Everything\"`) {
		t.Errorf("the refusal does not say why:\n%s", s.logs.String())
	}
	if recorded("after-invalid") {
		t.Error("the invalid policy replaced the one in force")
	}
}

// TestUpAuditsByDefault checks up's policy and log: RBAC writes whole,
// Secrets by metadata, health and discovery not at all; and that a
// server killed with SIGKILL leaves only whole events behind.
func TestUpAuditsByDefault(t *testing.T) {
	s := startServer(t)
	if data, err := os.ReadFile(filepath.Join(s.dir, "audit-policy.yaml")); err != nil || !strings.Contains(string(data), "kind: Policy") {
		t.Fatalf("up's audit policy: %v", err)
	}
	admin := s.client(true)
	send := func(method, path, body, name string) {
		t.Helper()
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		if resp, out := s.send(t, admin, method, path, ct, body, http.Header{"Audit-Id": {name}}); resp.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, out)
		}
	}
	send("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
		`{"metadata":{"name":"audited"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"carol"}]}`, "rbac")
	send("POST", "/api/v1/namespaces/default/secrets", `{"metadata":{"name":"s"},"stringData":{"k":"v"}}`, "secret")
	send("GET", "/healthz", "", "health")
	send("GET", "/version", "", "version")
	send("GET", "/apis", "", "discovery")
	send("GET", "/api/v1/namespaces/default/pods", "", "pods")
	log := s.auditLog()
	rbac := eventsOf(t, log, "rbac")
	if ev := rbac[auditv1.StageResponseComplete]; len(rbac) != 1 || ev.Level != auditv1.LevelRequestResponse || ev.RequestObject == nil || ev.ResponseObject == nil ||
		strings.Contains(string(ev.ResponseObject.Raw), "managedFields") {
		t.Errorf("an RBAC write: %+v", rbac)
	}
	for name, level := range map[string]auditv1.Level{"secret": auditv1.LevelMetadata, "pods": auditv1.LevelMetadata} {
		evs := eventsOf(t, log, name)
		if ev := evs[auditv1.StageResponseComplete]; len(evs) != 1 || ev.Level != level || ev.RequestObject != nil || ev.ResponseObject != nil {
			t.Errorf("%s: %+v", name, evs)
		}
	}
	for _, name := range []string{"health", "version", "discovery"} {
		if evs := eventsOf(t, log, name); len(evs) != 0 {
			t.Errorf("%s is recorded: %+v", name, evs)
		}
	}

	// SIGKILL in the middle of writes: every line left is a whole event,
	// except at most a last partial one; and once the server is back, the
	// event of every request answered before the kill is in the log.
	stop, stopped := make(chan struct{}), make(chan struct{})
	answered := -1
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", s.url(fmt.Sprintf("/api/v1/namespaces/default/configmaps?i=%d", i)), nil)
			if resp, err := admin.Do(req); err == nil {
				resp.Body.Close()
				answered = i
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	s.kill()
	close(stop)
	<-stopped
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, line := range lines[:len(lines)-1] {
		var ev auditv1.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d of %d after SIGKILL: %v\n%.200s", i+1, len(lines), err, line)
		}
	}
	if answered < 20 {
		t.Errorf("only %d requests answered before the kill", answered+1)
	}
	s.start()
	data, err = os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		var ev auditv1.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("after the restart, a broken line: %v\n%.200s", err, line)
		}
		if ev.Stage == auditv1.StageResponseComplete {
			recorded[ev.RequestURI] = true
		}
	}
	for i := 0; i <= answered; i++ {
		if uri := fmt.Sprintf("/api/v1/namespaces/default/configmaps?i=%d", i); !recorded[uri] {
			t.Fatalf("request %d of %d was answered before the kill and is not in the log", i, answered+1)
		}
	}
}

// TestAuditQueryAndTail reads a running server's audit log with
// `sekisho audit query` and `tail -f`.
func TestAuditQueryAndTail(t *testing.T) {
	s := startServer(t)
	admin := s.client(true)
	s.send(t, admin, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"wanted"}}`, nil)
	// Someone without rights: a service account with no bindings.
	s.mustKubectl("create", "serviceaccount", "nobody")
	token := strings.TrimSpace(s.mustKubectl("create", "token", "nobody"))
	resp, _ := s.send(t, s.anonClient(), "DELETE", "/api/v1/namespaces/default/configmaps/wanted", "", "", http.Header{"Authorization": {"Bearer " + token}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("nobody deleting: %d", resp.StatusCode)
	}

	out := mustSekisho(t, "audit", "query", "--data-dir", s.dir, "--decision", "forbid")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "TIME") ||
		!strings.Contains(rows[1], "system:serviceaccount:default:nobody") || !strings.Contains(rows[1], "delete") ||
		!strings.Contains(rows[1], "configmaps default/wanted") || !strings.Contains(rows[1], "403") ||
		!strings.Contains(rows[1], `cannot delete resource "configmaps"`) {
		t.Errorf("query --decision forbid:\n%s", out)
	}
	out = mustSekisho(t, "audit", "query", "--data-dir", s.dir, "--resource", "configmaps", "--name", "wanted", "--verb", "create", "-o", "json")
	if evs := strings.Split(strings.TrimSpace(out), "\n"); len(evs) != 1 || !strings.Contains(evs[0], `"verb":"create"`) {
		t.Errorf("query -o json:\n%s", out)
	}
	if r := sekisho(t, "audit", "query", "--data-dir", s.dir, "--since", "yesterday"); r.code == 0 || !strings.Contains(r.stderr, "--since") {
		t.Errorf("a bad --since: %+v", r)
	}

	// tail -f prints what is logged after it starts.
	cmd := exec.Command(sekishoBin, "audit", "tail", "-f", "-n", "0", "--data-dir", s.dir, "--name", "followed")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	got := lines(stdout)
	if header := <-got; !strings.HasPrefix(header, "TIME") {
		t.Fatalf("tail's first line: %q", header)
	}
	time.Sleep(300 * time.Millisecond)
	s.send(t, admin, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"followed"}}`, nil)
	select {
	case row := <-got:
		if !strings.Contains(row, "configmaps default/followed") || !strings.Contains(row, "201") {
			t.Errorf("tail -f printed %q", row)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f printed nothing for a new request")
	}

	// A log whose last line was cut short: skipped, with a warning.
	cut := filepath.Join(t.TempDir(), "audit.log")
	data := settledAuditLog(t, s.auditLog())
	os.WriteFile(cut, append(data, `{"kind":"Event","apiVer`...), 0o600)
	r := sekisho(t, "audit", "query", "--log", cut, "--name", "wanted")
	if r.code != 0 || !strings.Contains(r.stderr, "skipped a partial last line") || !strings.Contains(r.stdout, "configmaps default/wanted") {
		t.Errorf("a partial last line: %+v", r)
	}
}

// TestAuditLogRotatesBySize: --audit-log-maxsize rotates the log, old
// copies are compressed and pruned, every file is 0600, and the query
// reads across them.
func TestAuditLogRotatesBySize(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: RequestResponse\n  resources: [{resources: [configmaps]}]\n"), 0o600)
	s := startServer(t, "--audit-policy-file", policy, "--audit-log-maxsize=1", "--audit-log-maxbackup=2", "--audit-log-compress")
	admin := s.client(true)
	big := strings.Repeat("x", 300<<10)
	for i := range 8 { // each event about 600 KB: request and response
		resp, body := s.send(t, admin, "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			fmt.Sprintf(`{"metadata":{"name":"big-%d"},"data":{"k":%q}}`, i, big), nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
	}
	var files []string
	// lumberjack compresses and prunes in the background. The log, two
	// compressed copies, and the log's ring file.
	if !waitFor(func() bool {
		files, _ = filepath.Glob(filepath.Join(s.dir, "audit", "*"))
		gz, _ := filepath.Glob(filepath.Join(s.dir, "audit", "*.gz"))
		_, err := os.Stat(s.auditLog() + ".ring")
		return len(files) == 4 && len(gz) == 2 && err == nil
	}) {
		t.Fatalf("after 8 events of 600 KB with 1 MB files and 2 backups: %v", files)
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, err, info.Mode().Perm())
		}
	}
	out := mustSekisho(t, "audit", "query", "--data-dir", s.dir, "--verb", "create", "--resource", "configmaps", "-o", "json")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev auditv1.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.ObjectRef.Name)
	}
	// The oldest were pruned; the rest come oldest first, each once.
	first := 8 - len(names)
	for i, n := range names {
		if n != fmt.Sprintf("big-%d", first+i) {
			t.Fatalf("query across the rotated files: %v", names)
		}
	}
	if len(names) < 3 {
		t.Errorf("only %v survive 2 backups of 1 MB", names)
	}
}
