package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeManifest(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubectl drives a real server with real kubectl through the everyday
// workflow: create, read in every output format, apply, patch, label,
// annotate, watch, discovery, explain, health and cascading namespace deletion.
func TestKubectl(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)

	s.mustKubectl("create", "ns", "team-a")
	s.mustKubectl("-n", "team-a", "create", "secret", "generic", "db", "--from-literal=password=hunter2")
	s.mustKubectl("-n", "team-a", "create", "configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3")

	// Every output format.
	y := s.mustKubectl("-n", "team-a", "get", "secret", "db", "-o", "yaml")
	if !strings.Contains(y, "password: aHVudGVyMg==") || !strings.Contains(y, "type: Opaque") || !regexp.MustCompile(`resourceVersion: "\d+"`).MatchString(y) {
		t.Errorf("get -o yaml:\n%s", y)
	}
	var cm struct {
		Metadata struct{ Name, UID, CreationTimestamp string }
		Data     map[string]string
	}
	if err := json.Unmarshal([]byte(s.mustKubectl("-n", "team-a", "get", "cm", "settings", "-o", "json")), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["mode"] != "fast" || cm.Metadata.UID == "" || cm.Metadata.CreationTimestamp == "" {
		t.Errorf("get -o json: %+v", cm)
	}
	wide := s.mustKubectl("-n", "team-a", "get", "secrets", "-o", "wide")
	if !regexp.MustCompile(`(?m)^NAME\s+TYPE\s+DATA\s+AGE\n(.*\n)*db\s+Opaque\s+1\s+\d+s`).MatchString(wide) {
		t.Errorf("get -o wide:\n%s", wide)
	}
	if got := s.mustKubectl("-n", "team-a", "get", "cm", "settings", "-o", "jsonpath={.data.level}"); got != "3" {
		t.Errorf("jsonpath: %q", got)
	}
	all := s.mustKubectl("get", "cm", "-A")
	if !regexp.MustCompile(`(?m)^team-a\s+settings\s+2\s+`).MatchString(all) {
		t.Errorf("get -A lacks the NAMESPACE column or the row:\n%s", all)
	}

	// apply twice: create, then update.
	manifest := writeManifest(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: team-a\ndata:\n  k: v1\n")
	if out := s.mustKubectl("apply", "-f", manifest); !strings.Contains(out, "configmap/applied created") {
		t.Errorf("first apply: %s", out)
	}
	os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: team-a\ndata:\n  k: v2\n  extra: x\n"), 0o644)
	if out := s.mustKubectl("apply", "-f", manifest); !strings.Contains(out, "configmap/applied configured") {
		t.Errorf("second apply: %s", out)
	}
	if got := s.mustKubectl("-n", "team-a", "get", "cm", "applied", "-o", "jsonpath={.data.k},{.data.extra}"); got != "v2,x" {
		t.Errorf("after apply: %q", got)
	}
	if r := s.kubectl("apply", "-f", manifest); r.code != 0 || !strings.Contains(r.stdout, "unchanged") {
		t.Errorf("third apply should be unchanged: %+v", r)
	}

	// Three patch types, label, annotate.
	s.mustKubectl("-n", "team-a", "patch", "cm", "settings", "--type", "merge", "-p", `{"data":{"merge":"1"}}`)
	s.mustKubectl("-n", "team-a", "patch", "cm", "settings", "--type", "json", "-p", `[{"op":"add","path":"/data/json","value":"2"},{"op":"remove","path":"/data/level"}]`)
	s.mustKubectl("-n", "team-a", "patch", "cm", "settings", "--type", "strategic", "-p", `{"data":{"strategic":"3"}}`)
	s.mustKubectl("-n", "team-a", "label", "cm", "settings", "tier=backend")
	s.mustKubectl("-n", "team-a", "annotate", "cm", "settings", "owner=ops")
	got := s.mustKubectl("-n", "team-a", "get", "cm", "settings", "-o", "jsonpath={.data}|{.metadata.labels.tier}|{.metadata.annotations.owner}")
	if got != `{"json":"2","merge":"1","mode":"fast","strategic":"3"}|backend|ops` {
		t.Errorf("after patches: %s", got)
	}
	if out := s.mustKubectl("-n", "team-a", "get", "cm", "-l", "tier=backend", "-o", "name"); out != "configmap/settings\n" {
		t.Errorf("label selector: %q", out)
	}

	// Watch sees ADDED, MODIFIED and DELETED.
	watch := exec.Command("kubectl", "--kubeconfig", s.kubeconfig(), "-n", "team-a", "get", "cm", "-w", "--output-watch-events")
	watch.Env = append(os.Environ(), "KUBECACHEDIR="+s.cache)
	stdout, _ := watch.StdoutPipe()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer watch.Process.Kill()
	events := lines(stdout)
	waitLine(t, events, "settings") // the initial list is printed first
	s.mustKubectl("-n", "team-a", "create", "cm", "watched", "--from-literal=a=b")
	s.mustKubectl("-n", "team-a", "label", "cm", "watched", "x=y")
	s.mustKubectl("-n", "team-a", "delete", "cm", "watched")
	for _, typ := range []string{"ADDED", "MODIFIED", "DELETED"} {
		waitLine(t, events, typ+" ", "watched")
	}

	// Discovery and explain.
	resources := s.mustKubectl("api-resources")
	for _, want := range []string{`secrets\s+v1\s+true\s+Secret`, `namespaces\s+ns\s+v1\s+false\s+Namespace`,
		`roles\s+rbac.authorization.k8s.io/v1\s+true\s+Role`, `certificatesigningrequests\s+csr\s+certificates.k8s.io/v1\s+false`} {
		if !regexp.MustCompile(want).MatchString(resources) {
			t.Errorf("api-resources lacks %s:\n%s", want, resources)
		}
	}
	versions := s.mustKubectl("api-versions")
	for _, want := range []string{"v1\n", "rbac.authorization.k8s.io/v1\n", "certificates.k8s.io/v1\n", "coordination.k8s.io/v1\n", "networking.k8s.io/v1\n"} {
		if !strings.Contains(versions, want) {
			t.Errorf("api-versions lacks %q:\n%s", want, versions)
		}
	}
	explain := s.mustKubectl("explain", "secret.data")
	if !strings.Contains(explain, "KIND:       Secret") || !strings.Contains(explain, "FIELD: data <map[string]string>") || !strings.Contains(explain, "base64 encoded") {
		t.Errorf("explain secret.data:\n%s", explain)
	}
	ready := s.mustKubectl("get", "--raw", "/readyz?verbose")
	for _, want := range []string{"[+]ping ok", "[+]etcd ok", "[+]shutdown ok", "readyz check passed"} {
		if !strings.Contains(ready, want) {
			t.Errorf("readyz?verbose lacks %q:\n%s", want, ready)
		}
	}

	// Component health, as kubectl get componentstatuses shows it: the
	// store is probed, the components at their default ports (nothing
	// of this test listens there), with kube-apiserver's deprecation
	// warning.
	r := s.kubectl("get", "componentstatuses")
	if r.code != 0 || !strings.Contains(r.stderr, "Warning: v1 ComponentStatus is deprecated in v1.19+") ||
		!regexp.MustCompile(`(?m)^NAME\s+STATUS\s+MESSAGE\s+ERROR\n`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^bbolt\s+Healthy\s+ok\s*$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^scheduler\s+\S+`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^controller-manager\s+\S+`).MatchString(r.stdout) {
		t.Errorf("get componentstatuses: %+v", r)
	}
	if out := s.mustKubectl("get", "cs", "bbolt", "-o", "jsonpath={.conditions[0].type}={.conditions[0].status}"); out != "Healthy=True" {
		t.Errorf("get cs bbolt: %q", out)
	}
	if r := s.kubectl("get", "cs", "etcd-9"); r.code == 0 || !strings.Contains(r.stderr, `componentstatus "etcd-9" not found`) {
		t.Errorf("get cs etcd-9: %+v", r)
	}

	// Delete, and cascading namespace deletion.
	s.mustKubectl("-n", "team-a", "delete", "secret", "db")
	if r := s.kubectl("-n", "team-a", "get", "secret", "db"); r.code == 0 || !strings.Contains(r.stderr, `secrets "db" not found`) {
		t.Errorf("get after delete: %+v", r)
	}
	s.mustKubectl("delete", "ns", "team-a", "--timeout=30s")
	if r := s.kubectl("get", "ns", "team-a"); r.code == 0 {
		t.Errorf("namespace still exists: %s", r.stdout)
	}
	if out := s.mustKubectl("get", "cm", "-A", "-o", "name", "--field-selector", "metadata.namespace=team-a"); out != "" {
		t.Errorf("configmaps survived their namespace: %q", out)
	}
	if r := s.kubectl("delete", "ns", "kube-system"); r.code == 0 || !strings.Contains(r.stderr, "this namespace may not be deleted") {
		t.Errorf("deleting kube-system: %+v", r)
	}
}

// waitLine waits for a line containing every given substring.
func waitLine(t *testing.T, ch <-chan string, subs ...string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before a line with %q", subs)
			}
			match := true
			for _, s := range subs {
				if !strings.Contains(l, s) {
					match = false
				}
			}
			if match {
				return l
			}
		case <-deadline:
			t.Fatalf("no line with %q within 20s", subs)
		}
	}
}
