package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	kubeaudit "k8s.io/apiserver/pkg/audit"
	kubelog "k8s.io/apiserver/plugin/pkg/audit/log"
)

func testEvent(id string) *auditv1.Event {
	at := metav1.NewMicroTime(time.Date(2026, 11, 29, 4, 40, 1, 123456000, time.UTC))
	return &auditv1.Event{
		TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "audit.k8s.io/v1"},
		Level:    auditv1.LevelRequestResponse, AuditID: types.UID(id), Stage: auditv1.StageResponseComplete,
		RequestURI: "/api/v1/namespaces/default/secrets?limit=500&x=<y>", Verb: "create",
		User:             authnv1.UserInfo{Username: "alice", Groups: []string{"dev", "system:authenticated"}, Extra: map[string]authnv1.ExtraValue{"scopes": {"a"}}},
		ImpersonatedUser: &authnv1.UserInfo{Username: "bob", Groups: []string{"ops"}},
		SourceIPs:        []string{"10.0.0.1", "192.168.1.2"}, UserAgent: `kubectl/v1.37.2 (linux/amd64) "quoted"`,
		ObjectRef:                &auditv1.ObjectReference{Resource: "secrets", Namespace: "default", Name: "s", APIVersion: "v1"},
		ResponseStatus:           &metav1.Status{Code: 201},
		RequestObject:            &runtime.Unknown{Raw: []byte(`{"kind":"Secret","data":{"k":"[redacted]"}}`), ContentType: runtime.ContentTypeJSON},
		ResponseObject:           &runtime.Unknown{Raw: []byte(`{"kind":"Secret","metadata":{"name":"s"}}`), ContentType: runtime.ContentTypeJSON},
		RequestReceivedTimestamp: at, StageTimestamp: metav1.NewMicroTime(at.Add(3 * time.Millisecond)),
		Annotations: map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": `RBAC: allowed by ClusterRoleBinding "a"`},
	}
}

// kubeLine is what kube-apiserver's log backend writes for ev.
func kubeLine(t *testing.T, ev *auditv1.Event, format string) string {
	t.Helper()
	var internal auditinternal.Event
	if err := kubeaudit.Scheme.Convert(ev, &internal, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	kubelog.NewBackend(&buf, format, auditv1.SchemeGroupVersion).ProcessEvents(&internal)
	return buf.String()
}

func TestLogLinesAreKubeAPIServers(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatLegacy} {
		t.Run(format, func(t *testing.T) {
			cfg := DefaultLogConfig()
			cfg.Path, cfg.Format = filepath.Join(t.TempDir(), "audit.log"), format
			l, err := NewLog(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev := testEvent("7a1b")
			if err := l.Process(ev); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(cfg.Path)
			if err != nil {
				t.Fatal(err)
			}
			if want := kubeLine(t, testEvent("7a1b"), format); string(got) != want {
				t.Errorf("sekisho wrote:\n%s\nkube-apiserver writes:\n%s", got, want)
			}
		})
	}
}

func TestLogFilesAre0600AndRotateBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit", "audit.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil { // a file made by someone else
		t.Fatal(err)
	}
	cfg := DefaultLogConfig()
	cfg.Path, cfg.MaxSize, cfg.MaxBackups = path, 1, 2
	l, err := NewLog(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Over 3 MB of events: two rotations at 1 MB, and a third that
	// removes the oldest backup.
	ev := testEvent("x")
	ev.RequestObject.Raw = []byte(`{"pad":"` + strings.Repeat("a", 4000) + `"}`)
	for i := 0; i < 900; i++ {
		if err := l.Process(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// lumberjack removes old backups in the background.
	var files []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if files, _ = filepath.Glob(filepath.Join(filepath.Dir(path), "*.log")); len(files) == 3 {
			break
		}
	}
	if len(files) != 3 {
		t.Fatalf("files: %v, want the log and 2 backups", files)
	}
	if info, err := os.Stat(path + ".ring"); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the ring file: %v %v", info, err)
	}
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, info.Mode().Perm())
		}
		if info.Size() > 1<<20 {
			t.Errorf("%s: %d bytes, over 1 MB", f, info.Size())
		}
		// Every line is a whole event.
		fh, _ := os.Open(f)
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), `{"kind":"Event"`) || !strings.HasSuffix(sc.Text(), "}") {
				t.Fatalf("%s: a broken line: %.80s", f, sc.Text())
			}
		}
		fh.Close()
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLogModes(t *testing.T) {
	open := func(mode string) *Log {
		cfg := DefaultLogConfig()
		cfg.Path, cfg.Mode, cfg.BatchBufferSize, cfg.BatchMaxSize, cfg.BatchMaxWait = filepath.Join(t.TempDir(), "a.log"), mode, 4, 2, time.Hour
		l, err := NewLog(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// blocking: a failed write is logged, and the request goes on;
	// blocking-strict: it refuses the request.
	// The first line goes into the ring before the write fails: the
	// next request is the one to see it.
	for mode, wantErr := range map[string]bool{ModeBlocking: false, ModeBlockingStrict: true} {
		l := open(mode)
		l.out = failingWriter{}
		l.Process(testEvent("1"))
		if l.ring != nil {
			waitFor(t, func() bool { l.ring.mu.Lock(); defer l.ring.mu.Unlock(); return l.ring.err != nil })
		}
		if err := l.Process(testEvent("2")); (err != nil) != wantErr {
			t.Errorf("%s: a failed write gave %v", mode, err)
		}
		l.Close()
	}
	// batch: a full buffer drops and counts; Close writes what waits.
	l := open(ModeBatch)
	blocked := make(chan struct{})
	l.mu.Lock() // the writer goroutine waits at its first write
	go func() {
		for i := 0; i < 20; i++ {
			if err := l.Process(testEvent("b")); err != nil {
				t.Error(err)
			}
		}
		close(blocked)
	}()
	<-blocked
	if l.Dropped() == 0 {
		t.Error("20 events into a buffer of 4 with the writer stuck: none dropped")
	}
	l.mu.Unlock()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(l.cfg.Path)
	if lines := bytes.Count(data, []byte("\n")); int64(lines)+l.Dropped() != 20 {
		t.Errorf("%d written and %d dropped of 20", lines, l.Dropped())
	}
	if err := l.Process(testEvent("late")); err != nil || l.Dropped() == 0 {
		t.Errorf("after Close: %v", err)
	}
}

func TestLogConfigNamesTheFlag(t *testing.T) {
	cfg := DefaultLogConfig()
	cfg.Format, cfg.Mode, cfg.MaxAge = "xml", "sometimes", -1
	err := cfg.Validate()
	for _, want := range []string{"--audit-log-format", "--audit-log-mode", "--audit-log-maxage"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not name %s", err, want)
		}
	}
}

// TestLogWritesConcurrentEventsWhole: many requests at once, their lines
// written together, each whole and each once.
func TestLogWritesConcurrentEventsWhole(t *testing.T) {
	cfg := DefaultLogConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.log")
	l, err := NewLog(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if err := l.Process(testEvent(fmt.Sprintf("%d-%d", g, i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	l.Close()
	f, _ := os.Open(cfg.Path)
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev, ok := DecodeEvent(sc.Bytes())
		if !ok || seen[string(ev.AuditID)] {
			t.Fatalf("a broken or repeated line: %.100s", sc.Text())
		}
		seen[string(ev.AuditID)] = true
	}
	if len(seen) != 4000 {
		t.Errorf("%d events of 4000", len(seen))
	}
}

// BenchmarkLogBlocking measures the blocking log backend as a busy server
// uses it: 16 requests at a time (8 per core on two), each writing a
// Metadata event to a real file and waiting for it.
func BenchmarkLogBlocking(b *testing.B) {
	cfg := DefaultLogConfig()
	cfg.Path = filepath.Join(b.TempDir(), "audit.log")
	l, err := NewLog(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		ev := testEvent("bench")
		ev.Level, ev.RequestObject, ev.ResponseObject = auditv1.LevelMetadata, nil, nil
		for pb.Next() {
			if err := l.Process(ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
