package audit

import (
	"bufio"
	"compress/gzip"
	"fmt"
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
			l, err := (&Log{cfg: LogConfig{Format: FormatJSON}}).line(nil, ev)
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
	line, err := (&Log{cfg: LogConfig{Format: FormatJSON}}).line(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
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
		{Filter{User: "<img>"}, false},
	} {
		if got := c.f.Matches(ev); got != c.want {
			t.Errorf("%+v: %v, want %v", c.f, got, c.want)
		}
		// The quick look before decoding never hides a match.
		if c.want && !c.f.mightMatch(line) {
			t.Errorf("%+v: the quick look drops a matching line", c.f)
		}
	}
	// A name the log's encoder escapes is found as it is written.
	ev.User.Username = "<img>&"
	line, _ = (&Log{cfg: LogConfig{Format: FormatJSON}}).line(nil, ev)
	if f := (Filter{User: "<img>&"}); !f.mightMatch(line) || !f.Matches(ev) {
		t.Errorf("an escaped user name is not found: %s", line[:200])
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

// BenchmarkQuery scans a log of Metadata-level events like those of a
// busy cluster (AUDIT_QUERY_BENCH_MB megabytes, 64 by default): a query
// for one user, one for denials, and one that selects every event.
func BenchmarkQuery(b *testing.B) {
	mb := 64
	if v := os.Getenv("AUDIT_QUERY_BENCH_MB"); v != "" {
		fmt.Sscan(v, &mb)
	}
	path := filepath.Join(b.TempDir(), "audit.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	l := &Log{cfg: LogConfig{Format: FormatJSON}}
	var size int64
	for i := 0; size < int64(mb)<<20; i++ {
		ev := testEvent(fmt.Sprintf("%08x-1b2c-4d5e-8f90-%012x", i, i))
		ev.Level, ev.RequestObject, ev.ResponseObject = auditv1.LevelMetadata, nil, nil
		ev.User.Username = fmt.Sprintf("system:serviceaccount:team-%d:builder", i%100)
		ev.ObjectRef.Name = fmt.Sprintf("object-%d", i)
		if i%50 == 0 {
			ev.Annotations = map[string]string{AnnotationDecision: "forbid", AnnotationReason: ""}
			ev.ResponseStatus = &metav1.Status{Code: 403}
		}
		line, _ := l.line(nil, ev)
		w.Write(line)
		size += int64(len(line))
	}
	w.Flush()
	f.Close()
	for _, c := range []struct {
		name string
		f    Filter
	}{
		{"one-user", Filter{User: "system:serviceaccount:team-7:builder"}},
		{"denials", Filter{Decision: "forbid"}},
		{"everything", Filter{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				n := 0
				f := c.f
				if err := Scan([]string{path}, &f, func(string) {}, func(*auditv1.Event, []byte) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					b.Fatal("nothing found")
				}
			}
		})
	}
}
