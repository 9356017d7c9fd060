package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestTwoServersOneEtcd runs two API servers on one etcd, the second
// started while the first serves (its start-up writes meet the first's
// objects), with one PKI. A watch opened on the
// first resumes on the second, from its last resourceVersion, after the
// first is killed: no event lost, none twice, none out of order.
func TestTwoServersOneEtcd(t *testing.T) {
	requireTools(t, "kubectl")
	a, pki, endpoint := stoppedServerAndEtcd(t)
	common := append(etcdFlags(pki, endpoint), "--encryption-rotate-after-writes=0")
	a.extra = common
	a.start()
	b := &server{t: t, dir: t.TempDir(), port: freePort(t), cache: t.TempDir()}
	if out, err := exec.Command("cp", "-a", pki, filepath.Join(b.dir, "pki")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	encConfig, _ := os.ReadFile(filepath.Join(a.dir, "encryption-config.yaml"))
	os.WriteFile(filepath.Join(b.dir, "encryption-config.yaml"), encConfig, 0o600)
	b.extra = append(etcdFlags(filepath.Join(b.dir, "pki"), endpoint), "--encryption-rotate-after-writes=0")
	b.start()
	t.Cleanup(b.stop)

	// A watch through a, from now.
	_, body := a.do("GET", "/api/v1/namespaces/default/configmaps", "", nil)
	var list struct {
		Metadata struct{ ResourceVersion string }
	}
	json.Unmarshal([]byte(body), &list)
	seen := map[string]int{}
	var lastRV string
	watch := func(s *server, from string, until int) {
		req, _ := http.NewRequest("GET", s.url("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=20&resourceVersion="+from), nil)
		resp, err := s.client(true).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev struct {
				Type   string
				Object struct {
					Metadata struct{ Name, ResourceVersion string }
				}
			}
			json.Unmarshal(sc.Bytes(), &ev)
			if ev.Type != "ADDED" {
				t.Errorf("event %s", sc.Text())
				continue
			}
			seen[ev.Object.Metadata.Name]++
			rv, _ := strconv.ParseInt(ev.Object.Metadata.ResourceVersion, 10, 64)
			last, _ := strconv.ParseInt(lastRV, 10, 64)
			if rv <= last {
				t.Errorf("resourceVersion went back: %d after %d", rv, last)
			}
			lastRV = ev.Object.Metadata.ResourceVersion
			if len(seen) == until {
				return
			}
		}
	}
	for i := range 5 {
		a.mustKubectl("create", "configmap", fmt.Sprintf("one-%d", i))
	}
	watch(a, list.Metadata.ResourceVersion, 5)
	a.kill()
	for i := range 5 {
		b.mustKubectlAs(filepath.Join(b.dir, "super-admin.conf"), "create", "configmap", fmt.Sprintf("two-%d", i))
	}
	watch(b, lastRV, 10)
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", name, n)
		}
	}
	if len(seen) != 10 {
		t.Errorf("seen %v", seen)
	}
}
