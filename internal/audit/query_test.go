package audit

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

func TestScanReadsRotatedAndCompressedFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	write := func(name string, gz bool, ids ...string) {
		t.Helper()
		var lines []string
		for _, id := range ids {
			ev := testEvent(id)
			l, err := (&Log{cfg: LogConfig{Format: FormatJSON}}).line(ev)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(l))
		}
		data := strings.Join(lines, "")
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if gz {
			w := gzip.NewWriter(f)
			w.Write([]byte(data))
			w.Close()
			return
		}
		f.WriteString(data)
	}
	write("audit-2026-11-28T01-00-00.000.log.gz", true, "1", "2")
	write("audit-2026-11-28T02-00-00.000.log", false, "3")
	write("audit.log", false, "4", "5")
	write("unrelated.log", false, "x")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"Event","level":"Meta`) // a write cut short
	f.Close()
	files, err := LogFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids, warnings []string
	err = Scan(files, &Filter{}, func(w string) { warnings = append(warnings, w) }, func(ev *auditv1.Event, _ []byte) error {
		ids = append(ids, string(ev.AuditID))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "1,2,3,4,5" {
		t.Errorf("events %v, want 1..5 in order", ids)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "audit.log:3: skipped a partial last line") {
		t.Errorf("warnings: %q", warnings)
	}
}

func TestFilter(t *testing.T) {
	ev := testEvent("1") // alice as bob creates secrets default/s, allowed, 201
	at := ev.RequestReceivedTimestamp.Time
	for _, c := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{User: "alice"}, true},
		{Filter{User: "bob"}, true}, // as whom
		{Filter{User: "carol"}, false},
		{Filter{Group: "dev"}, true},
		{Filter{Group: "ops"}, false},
		{Filter{Verb: "create"}, true},
		{Filter{Verb: "delete"}, false},
		{Filter{Resource: "secrets"}, true},
		{Filter{Resource: "secrets/status"}, false},
		{Filter{Resource: "secrets.apps"}, false},
		{Filter{Namespace: "default", Name: "s"}, true},
		{Filter{Name: "t"}, false},
		{Filter{Decision: "allow"}, true},
		{Filter{Decision: "forbid"}, false},
		{Filter{Code: 201}, true},
		{Filter{Code: 403}, false},
		{Filter{Since: at, Until: at.Add(time.Second)}, true},
		{Filter{Since: at.Add(time.Second)}, false},
		{Filter{Until: at}, false},
		{Filter{Stages: []auditv1.Stage{auditv1.StageRequestReceived}}, false},
	} {
		if got := c.f.Matches(ev); got != c.want {
			t.Errorf("%+v: %v, want %v", c.f, got, c.want)
		}
	}
	ev.Stage = auditv1.StageRequestReceived
	if (&Filter{}).Matches(ev) {
		t.Error("a RequestReceived event is shown by default: each request would be shown twice")
	}
}

func TestTableRowExplainsADenial(t *testing.T) {
	ev := testEvent("1")
	ev.ResponseStatus = &metav1.Status{Code: 403, Message: `secrets "s" is forbidden: User "alice" cannot get resource "secrets"`}
	ev.Annotations = map[string]string{AnnotationDecision: "forbid", AnnotationReason: ""}
	row := strings.Split(TableRow(ev), "\t")
	want := []string{"2026-11-29T04:40:01Z", "alice as bob", "create", "secrets default/s", "403", "forbid", `secrets "s" is forbidden: User "alice" cannot get resource "secrets"`}
	if strings.Join(row, "|") != strings.Join(want, "|") {
		t.Errorf("row %q\nwant %q", row, want)
	}
}
