package doctor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestExpiryThreshold(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		lifetime, want time.Duration
	}{
		{day, 8 * time.Hour},           // a third of a day
		{15 * day, 5 * day},            // a third
		{365 * day, 7 * day},           // capped at a week
		{time.Second, time.Second / 3}, // a fresh certificate never warns
	} {
		if got := expiryThreshold(c.lifetime); got != c.want {
			t.Errorf("lifetime %s: %s, want %s", c.lifetime, got, c.want)
		}
	}
}

func TestReportOutcome(t *testing.T) {
	r := &Report{}
	r.add(OK, StepKubeconfig, "fine", "")
	if r.ExitCode() != 0 || r.Outcome() != OK {
		t.Errorf("all ok: %d %s", r.ExitCode(), r.Outcome())
	}
	r.add(Warn, StepCredential, "soon", "renew")
	if r.ExitCode() != 2 {
		t.Errorf("a warning: %d", r.ExitCode())
	}
	r.add(Fail, StepIdentity, "refused", "fix it")
	r.add(Warn, StepAuthorization, "later", "")
	if r.ExitCode() != 1 || !r.Failed() {
		t.Errorf("a failure: %d", r.ExitCode())
	}
	var text, js bytes.Buffer
	r.Print(&text)
	if !strings.Contains(text.String(), "[FAIL] identity: refused\n       fix: fix it\n") || strings.Contains(text.String(), "all checks passed") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := r.PrintJSON(&js); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Outcome Status
		Results []Result
	}
	if json.Unmarshal(js.Bytes(), &out) != nil || out.Outcome != Fail || len(out.Results) != 4 || out.Results[2].Step != StepIdentity {
		t.Errorf("json: %s", js.String())
	}
}

func TestShellQuoteAndSanitize(t *testing.T) {
	for in, want := range map[string]string{"user01": "user01", "Taro Yamada": "'Taro Yamada'", "it's": `'it'\''s'`, "": "''", "/CN=x": "/CN=x"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := sanitize("Taro Yamada@Corp"); got != "taro-yamada-corp" {
		t.Errorf("sanitize: %s", got)
	}
}
