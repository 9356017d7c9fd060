package audit

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

func TestTruncation(t *testing.T) {
	tr := DefaultTruncation()
	tr.Enabled, tr.MaxEventSize = true, 4096
	small := testEvent("small")
	if data, err := tr.encode(nil, small); err != nil || !strings.Contains(string(data), `"requestObject"`) {
		t.Errorf("a small event: %v %s", err, data)
	}
	// What the buffer already holds does not count towards the event.
	held := strings.Repeat("p", 4000)
	if data, err := tr.encode([]byte(held), small); err != nil || !strings.HasPrefix(string(data), held+`{"kind":"Event"`) || !strings.Contains(string(data), `"requestObject"`) {
		t.Errorf("a small event after 4000 bytes: %v %.80s", err, data)
	}
	big := testEvent("big")
	big.ResponseObject = &runtime.Unknown{Raw: []byte(`{"pad":"` + strings.Repeat("x", 8000) + `"}`)}
	data, err := tr.encode([]byte("line 1\n"), big)
	if err != nil || !strings.HasPrefix(string(data), "line 1\n{") || strings.Contains(string(data), "Object") || !strings.Contains(string(data), `"audit.k8s.io/truncated":"true"`) ||
		!strings.Contains(string(data), `"authorization.k8s.io/decision":"allow"`) {
		t.Errorf("a large event: %v %s", err, data)
	}
	if big.ResponseObject == nil || big.Annotations[annotationTruncated] != "" {
		t.Error("truncating changed the caller's event")
	}
	huge := testEvent("huge")
	huge.RequestURI = "/api/v1/pods?" + strings.Repeat("a", 5000)
	if _, err := tr.encode(nil, huge); err != errTooLarge {
		t.Errorf("an event too large without its objects: %v", err)
	}
	tr.Enabled = false
	if _, err := tr.encode(nil, huge); err != nil {
		t.Errorf("truncation off: %v", err)
	}
}

func TestWebhookDropsWhenTheSpoolIsFullInBatchMode(t *testing.T) {
	cfg := DefaultWebhookConfig()
	cfg.ConfigFile, cfg.SpoolDir, cfg.SpoolMaxBytes = writeWebhookKubeconfigTo(t, "https://127.0.0.1:1"), t.TempDir(), 4096
	w, err := NewWebhook(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 20 {
		if err := w.Process(testEvent("e")); err != nil {
			t.Fatalf("event %d: batch mode refused a request: %v", i, err)
		}
	}
	if w.Dropped() == 0 {
		t.Error("20 events of about 1 KB into 4 KB: none dropped")
	}
	cfg.Mode, cfg.SpoolDir = ModeBlockingStrict, t.TempDir()
	cfg.InitialBackoff = 10 * time.Millisecond
	strict, err := NewWebhook(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	var refused error
	for range 20 {
		if refused = strict.Process(testEvent("e")); refused != nil {
			break
		}
	}
	if refused == nil || strict.Check() == nil {
		t.Errorf("blocking-strict with a full spool: %v, check %v", refused, strict.Check())
	}
}
