package audit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a file that records each write(2), and can be made to
// block or fail.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
	gate   chan struct{} // when set, each write waits for a value
	fail   error
}

func (r *recorder) write(p []byte) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	return r.fail
}

// Lines committed concurrently are each written once and whole, and
// lines that arrive during a write share the next one.
func TestGroupCommitWritesEveryLineOnce(t *testing.T) {
	rec := &recorder{}
	c := &groupCommit{write: rec.write}
	const writers, each = 16, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := c.commit(fmt.Appendf(nil, "w%d-%d\n", w, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var lines []string
	for _, p := range rec.writes {
		if !bytes.HasSuffix(p, []byte("\n")) {
			t.Fatalf("a write ends mid-line: %q", p)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(p), "\n"), "\n")...)
	}
	if len(lines) != writers*each {
		t.Fatalf("%d lines written, want %d", len(lines), writers*each)
	}
	slices.Sort(lines)
	for i := 1; i < len(lines); i++ {
		if lines[i] == lines[i-1] {
			t.Fatalf("%q written twice", lines[i])
		}
	}
	if c.writing || c.pending != nil {
		t.Error("the commit is not idle after the last write")
	}
}

// While one write is held up, the lines that arrive gather, and the
// next write carries them all; a failed write fails every line it held,
// and no other.
func TestGroupCommitGathersDuringAWrite(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	c := &groupCommit{write: rec.write}
	first := make(chan error)
	go func() { first <- c.commit([]byte("first\n")) }()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.writing })
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- c.commit(fmt.Appendf(nil, "l%d\n", i)) }()
	}
	waitFor(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pending != nil && bytes.Count(c.pending.buf, []byte("\n")) == n
	})
	rec.mu.Lock()
	rec.fail = errors.New("disk full")
	rec.mu.Unlock()
	rec.gate <- struct{}{} // the first write (fails, as set just now)
	rec.gate <- struct{}{} // the group's
	if err := <-first; err == nil {
		t.Error("the first line's failed write reported no error")
	}
	for range n {
		if err := <-errs; err == nil {
			t.Error("a line of the failed group write reported no error")
		}
	}
	if len(rec.writes) != 2 || bytes.Count(rec.writes[1], []byte("\n")) != n {
		t.Fatalf("writes %q: want the first line, then the %d gathered together", rec.writes, n)
	}
}

// A group larger than one write may carry is cut at lines' ends.
func TestWriteLinesCutsAtLineEnds(t *testing.T) {
	line := append(bytes.Repeat([]byte("x"), 999), '\n')
	buf := bytes.Repeat(line, 600) // 600,000 bytes
	long := append(bytes.Repeat([]byte("y"), maxChunk+10), '\n')
	buf = append(buf, long...)
	rec := &recorder{}
	if err := writeLines(rec.write, buf); err != nil {
		t.Fatal(err)
	}
	var total int
	for _, p := range rec.writes {
		if len(p) > maxChunk && !bytes.Equal(p, long) {
			t.Errorf("a write of %d bytes", len(p))
		}
		if !bytes.HasSuffix(p, []byte("\n")) {
			t.Error("a write ends mid-line")
		}
		total += len(p)
	}
	if total != len(buf) || !bytes.Equal(rec.writes[len(rec.writes)-1], long) {
		t.Errorf("%d of %d bytes written; the long line alone last: %v", total, len(buf), bytes.Equal(rec.writes[len(rec.writes)-1], long))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}
