//go:build unix && !openbsd

package audit

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testLines are n numbered lines of about 1 KB each.
func testLines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, "{\"line\":%d,\"pad\":%q}\n", i, strings.Repeat("x", 900+i%97))
	}
	return lines
}

// memLog collects what a ring writes; while gate is set, writes wait on
// it; while fail is, they fail; short cuts the next write in half.
type memLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{}
	fail   error
	short  bool
}

func (m *memLog) write(p []byte) (int, error) {
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	m.writes++
	if m.short {
		m.short = false
		return m.buf.Write(p[:len(p)/2])
	}
	return m.buf.Write(p)
}

func (m *memLog) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.buf.Bytes())
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestRingWritesEveryLineInOrder: more than twice the ring's size of lines
// from one writer, so it wraps, arrive whole, once and in order, in far
// fewer writes than lines; a line too long for the ring goes in its turn.
func TestRingWritesEveryLineInOrder(t *testing.T) {
	var out memLog
	r, err := openRing(filepath.Join(t.TempDir(), "a.ring"), "", out.write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	lines := testLines(5000)
	long := append(bytes.Repeat([]byte("y"), ringMaxLine+1), '\n')
	lines = append(lines[:2500], append([][]byte{long}, lines[2500:]...)...)
	for _, line := range lines {
		if kept, err := r.append(line); !kept || err != nil {
			t.Fatalf("append: %v %v", kept, err)
		}
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.bytes(), bytes.Join(lines, nil); !bytes.Equal(got, want) {
		t.Fatalf("the log differs from the lines: %d bytes, want %d", len(got), len(want))
	}
	if out.writes > len(lines)/4 {
		t.Errorf("%d writes for %d lines", out.writes, len(lines))
	}
	if _, err := r.append(lines[0]); !errors.Is(err, errRingClosed) {
		t.Errorf("after close: %v", err)
	}
}

// TestRingFullWaitsForTheLog: while the log does not take writes, lines
// fill the ring and then wait, memory bounded; they all arrive once it does.
func TestRingFullWaitsForTheLog(t *testing.T) {
	out := memLog{gate: make(chan struct{})}
	r, err := openRing(filepath.Join(t.TempDir(), "a.ring"), "", out.write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	lines := testLines(3000) // about 3 MB: more than the ring holds
	var appended sync.WaitGroup
	var n int
	var mu sync.Mutex
	appended.Go(func() {
		for i, line := range lines {
			if kept, err := r.append(line); !kept || err != nil {
				t.Errorf("line %d: kept %v, %v", i, kept, err)
			}
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	in := n
	mu.Unlock()
	if size := len(bytes.Join(lines[:in], nil)); in == len(lines) || size > ringSize {
		t.Fatalf("%d lines (%d bytes) went in with the log stuck", in, size)
	}
	close(out.gate)
	appended.Wait()
	r.close()
	if got, want := out.bytes(), bytes.Join(lines, nil); !bytes.Equal(got, want) {
		t.Fatalf("the log differs from the lines: %d bytes, want %d", len(got), len(want))
	}
}

// TestRingReportsAFailingLog: a line still goes in while the log fails,
// with the failure; the line reaches the log once it takes writes again.
func TestRingReportsAFailingLog(t *testing.T) {
	out := memLog{fail: errors.New("disk full")}
	r, err := openRing(filepath.Join(t.TempDir(), "a.ring"), "", out.write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	lines := testLines(3000)
	r.append(lines[0])
	waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.err != nil })
	// Lines go in, with the failure, until the ring is full; then they
	// are refused, not waited for.
	kept := 1
	for _, line := range lines[1:] {
		in, err := r.append(line)
		if err == nil {
			t.Fatal("with the log failing, no error")
		}
		if !in {
			break
		}
		kept++
	}
	if kept == len(lines) || len(bytes.Join(lines[:kept], nil)) > ringSize {
		t.Fatalf("%d lines kept in a ring of %d bytes", kept, ringSize)
	}
	out.mu.Lock()
	out.fail = nil
	out.mu.Unlock()
	waitFor(t, func() bool { return bytes.Equal(out.bytes(), bytes.Join(lines[:kept], nil)) })
	if in, err := r.append(lines[0]); !in || err != nil {
		t.Errorf("with the log back: kept %v, %v", in, err)
	}
	r.close()
}

// TestRingFinishesAShortWrite: a write the log takes only part of, with
// an error, is finished by the next try, not repeated; a line too long
// for the ring that cannot be written is refused.
func TestRingFinishesAShortWrite(t *testing.T) {
	out := memLog{short: true}
	r, err := openRing(filepath.Join(t.TempDir(), "a.ring"), "", func(p []byte) (int, error) {
		n, err := out.write(p)
		if n < len(p) {
			return n, errors.New("no space left on device")
		}
		return n, err
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	lines := testLines(1000) // about 1 MB: four chunks, the first cut short
	for _, line := range lines[:len(lines)/2] {
		r.append(line)
	}
	waitFor(t, func() bool { return bytes.Equal(out.bytes(), bytes.Join(lines[:len(lines)/2], nil)) })
	for _, line := range lines[len(lines)/2:] {
		r.append(line)
	}
	r.close()
	if got, want := out.bytes(), bytes.Join(lines, nil); !bytes.Equal(got, want) {
		t.Errorf("the log differs from the lines: %d bytes, want %d", len(got), len(want))
	}

	out = memLog{fail: errors.New("disk full")}
	r, err = openRing(filepath.Join(t.TempDir(), "b.ring"), "", out.write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if kept, err := r.append(append(bytes.Repeat([]byte("y"), ringMaxLine+1), '\n')); kept || err == nil {
		t.Errorf("a long line the log refuses: kept %v, %v", kept, err)
	}
}

// TestRingLeftOverReachesTheLogOnce: lines a server left in its ring (it
// died before the mover wrote them, or while it wrote them) are appended
// to the log at the next start, each once, partial last line completed.
func TestRingLeftOverReachesTheLogOnce(t *testing.T) {
	lines := testLines(40)
	all := bytes.Join(lines, nil)
	for name, already := range map[string]int{
		"none written":           0,
		"some lines written":     len(bytes.Join(lines[:25], nil)),
		"a line written in part": len(bytes.Join(lines[:25], nil)) + 300,
		"all written":            len(all),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ringPath, logPath := filepath.Join(dir, "audit.log.ring"), filepath.Join(dir, "audit.log")
			earlier := []byte("{\"earlier\":true}\n")
			if err := os.WriteFile(logPath, append(earlier, all[:already]...), 0o600); err != nil {
				t.Fatal(err)
			}
			// The dead server: its mover never wrote (its log stuck), and
			// it was never closed. The mapping is the page cache's, so a
			// second open sees what was copied in, as after kill -9.
			stuck := memLog{gate: make(chan struct{})}
			dead, err := openRing(ringPath, logPath, stuck.write, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range lines {
				dead.append(line)
			}
			// Its lock goes with it (the mapping would keep it here).
			syscall.Flock(int(dead.f.Fd()), syscall.LOCK_UN)
			f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
			next, err := openRing(ringPath, logPath, f.Write, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(logPath)
			if want := append(earlier, all...); !bytes.Equal(got, want) {
				t.Errorf("the log after the restart: %d bytes, want %d\n%.300s", len(got), len(want), got[len(earlier):])
			}
			next.close()
			// A third start finds nothing left over.
			third, err := openRing(ringPath, logPath, func(p []byte) (int, error) { t.Error("a third start wrote"); return len(p), nil }, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			third.close()
			close(stuck.gate) // the dead mover writes to its own memLog
			f.Close()
		})
	}
}

// TestRingIgnoresAForeignFile: a file at the ring's path that sekisho did
// not write is not appended to the log; the ring is made anew there.
func TestRingIgnoresAForeignFile(t *testing.T) {
	dir := t.TempDir()
	ringPath := filepath.Join(dir, "audit.log.ring")
	junk := bytes.Repeat([]byte("not a ring\n"), 1000)
	if err := os.WriteFile(ringPath, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	var out memLog
	r, err := openRing(ringPath, filepath.Join(dir, "audit.log"), out.write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if len(out.bytes()) != 0 {
		t.Errorf("a foreign file reached the log: %.100s", out.bytes())
	}
	if st, _ := os.Stat(ringPath); st.Mode().Perm() != 0o600 || st.Size() != ringHeader+ringSize {
		t.Errorf("the ring file: %v, %d bytes", st.Mode(), st.Size())
	}
}

// TestLogSurvivesKill9 kills a process that wrote events to a blocking
// log with SIGKILL; the next open of the log appends what the ring held,
// and every event the process had written is in the log once.
func TestLogSurvivesKill9(t *testing.T) {
	if n := os.Getenv("AUDIT_KILL9_CHILD"); n != "" {
		count, _ := strconv.Atoi(n)
		cfg := DefaultLogConfig()
		cfg.Path = os.Getenv("AUDIT_KILL9_LOG")
		l, err := NewLog(cfg, nil)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for i := range count {
			if err := l.Process(testEvent(strconv.Itoa(i))); err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
		}
		fmt.Println("written")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	const count = 3000
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLogSurvivesKill9$")
	cmd.Env = append(os.Environ(), "AUDIT_KILL9_CHILD="+strconv.Itoa(count), "AUDIT_KILL9_LOG="+logPath)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf)
	if !strings.Contains(string(buf[:n]), "written") {
		cmd.Process.Kill()
		t.Fatalf("the child: %q", buf[:n])
	}
	cmd.Process.Kill() // within the mover's linger: the last lines are in the ring only
	cmd.Wait()
	// Started again in batch mode, which has no ring of its own: it still
	// appends what the blocking run left.
	cfg := DefaultLogConfig()
	cfg.Path, cfg.Mode = logPath, ModeBatch
	l, err := NewLog(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, _ := os.ReadFile(logPath)
	seen := map[string]int{}
	for line := range bytes.Lines(data) {
		ev, ok := DecodeEvent(line)
		if !ok {
			t.Fatalf("a broken line after %d events: %.100s ... %s", len(seen), line, line[max(0, len(line)-100):])
		}
		seen[string(ev.AuditID)]++
	}
	for i := range count {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("event %d is in the log %d times (%d events)", i, seen[strconv.Itoa(i)], len(seen))
		}
	}
}

// TestRingIsOneLogs: a second log on the same file does not share the
// ring (each would append the other's lines); it writes its own lines.
func TestRingIsOneLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ring")
	r, err := openRing(path, "", new(memLog).write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if _, err := openRing(path, "", new(memLog).write, quietLog()); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("a second ring on the same file: %v", err)
	}
}

// TestWaitForLog: a reader waits for the lines copied in before it
// started, and is told, past its timeout, of lines no one moves.
func TestWaitForLog(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	if err := WaitForLog(logPath, time.Second); err != nil {
		t.Fatalf("no ring: %v", err)
	}
	out := memLog{gate: make(chan struct{})}
	r, err := openRing(logPath+".ring", logPath, out.write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	lines := testLines(3)
	for _, line := range lines {
		r.append(line)
	}
	if err := WaitForLog(logPath, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still in") {
		t.Fatalf("with the log stuck: %v", err)
	}
	waited := make(chan error)
	go func() { waited <- WaitForLog(logPath, 10*time.Second) }()
	select {
	case err := <-waited:
		t.Fatalf("returned before the lines moved: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(out.gate)
	if err := <-waited; err != nil || !bytes.Equal(out.bytes(), bytes.Join(lines, nil)) {
		t.Fatalf("after the lines moved: %v, %d bytes", err, len(out.bytes()))
	}
}

// TestRingRecoversAfterAShortWrite: a server whose log took part of a
// line (a full disk) and that then died; the next start finishes that
// line, though it was cut inside a run of equal bytes that a search for
// the log's end could match at the wrong place.
func TestRingRecoversAfterAShortWrite(t *testing.T) {
	dir := t.TempDir()
	ringPath, logPath := filepath.Join(dir, "audit.log.ring"), filepath.Join(dir, "audit.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gate := make(chan struct{})
	defer close(gate)
	var once sync.Once
	var cut atomic.Bool
	lines := testLines(3)
	dead, err := openRing(ringPath, logPath, func(p []byte) (int, error) {
		first := false
		once.Do(func() { first = true })
		if !first {
			<-gate // the retry never returns: the server dies first
			return 0, errors.New("dead")
		}
		// One line and a part of the second's padding of x.
		n, _ := f.Write(p[:len(lines[0])+len(lines[1])/2])
		cut.Store(true)
		return n, errors.New("no space left on device")
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		dead.append(line)
	}
	waitFor(t, func() bool { dead.mu.Lock(); defer dead.mu.Unlock(); return dead.err != nil && cut.Load() })
	syscall.Flock(int(dead.f.Fd()), syscall.LOCK_UN)
	next, err := openRing(ringPath, logPath, f.Write, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	next.close()
	if got, want := mustRead(t, logPath), bytes.Join(lines, nil); !bytes.Equal(got, want) {
		t.Errorf("the log after the restart: %d bytes, want %d", len(got), len(want))
	}
}

// TestLogSurvivesATruncatedRing: the ring file cut short under a running
// log faults the next copy; the server does not crash, and that line and
// the ones after are written directly.
func TestLogSurvivesATruncatedRing(t *testing.T) {
	cfg := DefaultLogConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.log")
	l, err := NewLog(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		l.Process(testEvent(strconv.Itoa(i)))
	}
	if err := WaitForLog(cfg.Path, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cfg.Path+".ring", 0); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 20; i++ {
		if err := l.Process(testEvent(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	seen := map[string]bool{}
	for line := range bytes.Lines(mustRead(t, cfg.Path)) {
		if ev, ok := DecodeEvent(line); ok {
			seen[string(ev.AuditID)] = true
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d events of 20 in the log", len(seen))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
