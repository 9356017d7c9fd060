package e2e

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// /metrics answers those RBAC lets get it (system:masters, the
// system:monitoring group), refuses anyone else, and counts stored
// objects every --etcd-count-metric-poll-period.
func TestMetrics(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t, "--etcd-count-metric-poll-period=200ms")
	s.mustKubectl("create", "namespace", "counted")
	for _, name := range []string{"a", "b", "c"} {
		s.mustKubectl("-n", "counted", "create", "configmap", name)
	}
	get := func(user, group string) (int, string) {
		req, _ := http.NewRequest("GET", s.url("/metrics"), nil)
		if user != "" {
			req.Header.Set("Impersonate-User", user)
		}
		if group != "" {
			req.Header.Set("Impersonate-Group", group)
		}
		resp, err := s.client(true).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// kube-root-ca.crt in default and kube-system and the like count too:
	// read the count kubectl sees and wait for /metrics to agree.
	want := len(strings.Fields(s.mustKubectl("get", "configmaps", "-A", "-o", "name")))
	line := `apiserver_resource_objects{group="",resource="configmaps"} ` + strconv.Itoa(want) + "\n"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := get("", "")
		if code == http.StatusOK && strings.Contains(body, line) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics as super-admin: %d, want a line %q:\n%.2000s", code, line, body)
		}
	}
	if code, body := get("prometheus", "system:monitoring"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics as system:monitoring: %d %.300s", code, body)
	}
	if code, body := get("nosy", ""); code != http.StatusForbidden {
		t.Errorf("/metrics as a user without the role: %d %.300s", code, body)
	}
	if resp, err := s.anonClient().Get(s.url("/metrics")); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("/metrics without credentials: %d", resp.StatusCode)
		}
	}
}
