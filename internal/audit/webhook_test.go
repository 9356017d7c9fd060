package audit

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

func writeWebhookKubeconfig(t *testing.T, srv *httptest.Server) string {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return writeKubeconfig(t, srv.URL, ca)
}

// writeWebhookKubeconfigTo names a server nothing answers at.
func writeWebhookKubeconfigTo(t *testing.T, url string) string {
	return writeKubeconfig(t, url, nil)
}

func writeKubeconfig(t *testing.T, url string, ca []byte) string {
	path := filepath.Join(t.TempDir(), "webhook.conf")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: audit
  cluster: {server: %q, certificate-authority-data: %q}
users:
- name: apiserver
  user: {}
contexts:
- name: audit
  context: {cluster: audit, user: apiserver}
current-context: audit
`, url, b64(ca))
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWebhookSendsEventListsInOrder(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list auditv1.EventList
		if err := json.NewDecoder(r.Body).Decode(&list); err != nil || list.Kind != "EventList" {
			t.Errorf("not an EventList: %v (%d bytes announced)", err, r.ContentLength)
			http.Error(w, "bad", 400)
			return
		}
		mu.Lock()
		for _, ev := range list.Items {
			got = append(got, string(ev.AuditID))
		}
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := DefaultWebhookConfig()
	cfg.ConfigFile, cfg.SpoolDir, cfg.BatchMaxWait, cfg.BatchMaxSize, cfg.ThrottleEnable = writeWebhookKubeconfig(t, srv), t.TempDir(), 10*time.Millisecond, 7, false
	w, err := NewWebhook(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 100 {
		if err := w.Process(testEvent(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 100 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 100 {
		t.Fatalf("%d of 100 delivered", len(got))
	}
	for i, id := range got {
		if id != fmt.Sprint(i) {
			t.Fatalf("event %d is %s: out of order", i, id)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
