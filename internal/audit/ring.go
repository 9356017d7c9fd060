package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// ring holds the log's lines between a request and the log file in
// blocking modes. It is a file of fixed size mapped into the server's
// memory (MAP_SHARED): a request copies its line into it and returns, and
// a goroutine moves what has gathered to the log with one write(2) every
// ringLinger. A line copied into the mapping is in the kernel's page
// cache, as a line written with write(2) is, so it outlives the server
// killed with -9 just as surely; the next start appends to the log
// whatever the ring held that the log lacks (openRing). Memory stays
// bounded: a line that finds the ring full waits for the log, as a
// blocking write would.
//
// The file: a header page (ringMagic, the data's size, head and
// written, little-endian uint64s), then the data. head counts the bytes
// ever copied in, written those of them written to the log up to the
// last line end; both only grow, and a byte's place in the data is its
// count modulo the size.
type ring struct {
	path  string
	f     *os.File
	mem   []byte // the mapping: header, then data
	data  []byte
	size  uint64
	write func([]byte) (int, error) // one write(2) of whole lines to the log
	log   *slog.Logger

	mu      sync.Mutex
	room    sync.Cond // broadcast when the mover has written, or failed
	head    uint64
	written uint64
	moving  bool  // the mover has been woken and has not yet found the ring empty
	err     error // the mover's last write failed; nil again once one succeeds
	broken  bool  // the mapping faulted (the file cut short under us)
	closed  bool

	wake  chan struct{} // the ring has lines and the mover is idle
	hurry chan struct{} // a line waits for room: write now
	stop  chan struct{}
	done  chan struct{}
}

const (
	ringMagic  = "skaring1"
	ringHeader = 4096
	// ringSize bounds the lines waiting for the log: 2 MiB is about 170
	// ms of a busy server's log, so a slow write holds no request back.
	ringSize = 2 << 20
	// ringLinger is how long the mover lets lines gather before a write:
	// under load one write(2) carries a few dozen lines.
	ringLinger = 2 * time.Millisecond
	// A line longer than this is not copied in: it waits for the ring to
	// be written and is written itself, in order.
	ringMaxLine = ringSize / 4

	offSize, offHead, offWritten = 8, 16, 24
)

var (
	errRingClosed = errors.New("the audit log is closed")
	errRingBroken = errors.New("the audit log's ring file faulted")
)

// openRing opens the ring at path, or makes it, and starts its mover.
// Lines an earlier run left in it are first appended to the log through
// write, those the log already ends with excepted: logPath is read for
// that.
func openRing(path, logPath string, write func([]byte) (int, error), log *slog.Logger) (*ring, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	r := &ring{path: path, f: f, size: ringSize, write: write, log: log,
		wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	r.room.L = &r.mu
	if err := r.open(logPath); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	go r.run()
	return r, nil
}

func (r *ring) open(logPath string) error {
	if err := lockFile(r.f); err != nil {
		return err
	}
	if err := r.f.Chmod(0o600); err != nil {
		return err
	}
	pending, written, err := r.leftOver()
	if err != nil {
		return err
	}
	if err := r.appendLeftOver(logPath, pending, written); err != nil {
		return err
	}
	// The data's blocks are written once, so that copying a line into the
	// mapping never has to find room on the disk (a full disk would fault).
	if st, err := r.f.Stat(); err != nil {
		return err
	} else if st.Size() != ringHeader+int64(r.size) {
		if err := r.f.Truncate(0); err != nil {
			return err
		}
		zeros := make([]byte, 256<<10)
		for off, end := int64(0), ringHeader+int64(r.size); off < end; off += int64(len(zeros)) {
			if _, err := r.f.WriteAt(zeros[:min(int64(len(zeros)), end-off)], off); err != nil {
				return err
			}
		}
		if err := r.f.Sync(); err != nil {
			return err
		}
	}
	var hdr [32]byte
	copy(hdr[:], ringMagic)
	binary.LittleEndian.PutUint64(hdr[offSize:], r.size)
	// head and written start at 0: the log has all the ring held.
	if _, err := r.f.WriteAt(hdr[:], 0); err != nil {
		return err
	}
	mem, err := mapFile(r.f, ringHeader+int(r.size))
	if err != nil {
		return err
	}
	r.mem, r.data = mem, mem[ringHeader:]
	return nil
}

// appendLeftOver appends to the log the lines an earlier run left in the
// ring, from written on, but for those the log already ends with. The
// header's written follows each chunk the log takes, so a start that
// fails half way, or dies, leaves no line to be appended twice.
func (r *ring) appendLeftOver(logPath string, pending []byte, written uint64) error {
	if len(pending) == 0 {
		return nil
	}
	done, err := logEndsWith(logPath, pending)
	if err != nil {
		return err
	}
	// The header's written moves from line end to line end only: a start
	// that stops part way finds the log ending inside the line it was
	// writing, and finishes that line from its start (logEndsWith).
	save := func(took int) error {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], written+uint64(bytes.LastIndexByte(pending[:took], '\n')+1))
		_, err := r.f.WriteAt(w[:], offWritten)
		return err
	}
	if done == len(pending) {
		return save(done)
	}
	rest := pending[done:]
	r.log.Warn("audit: the log's last lines were in its ring file, and are appended now",
		"ring", r.path, "bytes", len(rest), "lines", bytes.Count(rest, []byte("\n")))
	for took := done; took < len(pending); {
		n, err := r.write(pending[took : took+lineChunk(pending[took:])])
		took += n
		if serr := save(took); err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("appending what the last run left to the log: %w", err)
		}
	}
	return nil
}

// leftOver reads the lines the ring holds that were not written to the
// log, and where they start: none in a new file or one that is not a
// ring.
func (r *ring) leftOver() (pending []byte, written uint64, err error) {
	var hdr [32]byte
	if _, err := r.f.ReadAt(hdr[:], 0); err == io.EOF {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, err
	}
	size := binary.LittleEndian.Uint64(hdr[offSize:])
	head := binary.LittleEndian.Uint64(hdr[offHead:])
	written = binary.LittleEndian.Uint64(hdr[offWritten:])
	st, err := r.f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if string(hdr[:len(ringMagic)]) != ringMagic || int64(size)+ringHeader != st.Size() || written > head || head-written > size {
		if head != 0 || written != 0 {
			r.log.Error("audit: the log's ring file is not one sekisho wrote; what it held is not appended to the log", "ring", r.path)
		}
		return nil, 0, nil
	}
	n := head - written
	pending = make([]byte, n)
	at := written % size
	first := min(n, size-at)
	if _, err := r.f.ReadAt(pending[:first], ringHeader+int64(at)); err != nil {
		return nil, 0, err
	}
	if n > first {
		if _, err := r.f.ReadAt(pending[first:], ringHeader); err != nil {
			return nil, 0, err
		}
	}
	// head moves only after a whole line is in: what follows the last
	// newline cannot be there, but is not appended if it is.
	return pending[:bytes.LastIndexByte(pending, '\n')+1], written, nil
}

// logEndsWith is how much of pending the log at path already ends with:
// the mover wrote it and the server died before it could say so.
func logEndsWith(path string, pending []byte) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	n := min(st.Size(), int64(len(pending)))
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, st.Size()-n); err != nil {
		return 0, err
	}
	for k := len(tail); k > 0; k-- {
		if pending[k-1] == tail[len(tail)-1] && bytes.Equal(tail[len(tail)-k:], pending[:k]) {
			return k, nil
		}
	}
	return 0, nil
}

// append copies line, a whole line, into the ring, waiting for room
// while the ring is full and the log's writes succeed. kept says whether
// the line is in; err is why not, or, with the line in, the error of the
// mover's last write while the log cannot be written.
func (r *ring) append(line []byte) (kept bool, err error) {
	n := uint64(len(line))
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > ringMaxLine {
		for !r.closed && !r.broken && r.err == nil && r.head != r.written {
			r.kick(true)
			r.room.Wait()
		}
		if err := r.unusable(); err != nil {
			return false, err
		}
		if n, err := r.write(line); err != nil {
			if n > 0 { // end the piece the log took, so the next line stays whole
				r.write([]byte{'\n'})
			}
			return false, err
		}
		return true, nil
	}
	for r.head+n-r.written > r.size {
		if err := r.unusable(); err != nil {
			return false, err
		}
		r.kick(true)
		r.room.Wait()
	}
	if r.closed || r.broken {
		return false, r.unusable()
	}
	if err := r.copyIn(line); err != nil {
		r.broken = true
		r.log.Error("audit: the log's ring file faulted; lines are written directly from now on", "ring", r.path, "err", err)
		r.kick(false) // the mover tries once to write what the ring held
		return false, errRingBroken
	}
	r.kick(false)
	return true, r.err
}

// unusable is why a line cannot go into the ring now, if it cannot.
func (r *ring) unusable() error {
	switch {
	case r.closed:
		return errRingClosed
	case r.broken:
		return errRingBroken
	}
	return r.err
}

// copyIn copies line in at head and moves head past it. A fault (the file
// cut short by someone else) is an error, not a crash.
func (r *ring) copyIn(line []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = faultError(p)
		}
	}()
	at := r.head % r.size
	if k := copy(r.data[at:], line); k < len(line) {
		copy(r.data, line[k:])
	}
	r.head += uint64(len(line))
	binary.LittleEndian.PutUint64(r.mem[offHead:], r.head)
	return nil
}

// kick wakes the mover if it is idle; hurry also cuts its linger short.
// r.mu is held.
func (r *ring) kick(hurry bool) {
	if !r.moving {
		r.moving = true
		r.wake <- struct{}{}
	}
	if hurry {
		select {
		case r.hurry <- struct{}{}:
		default:
		}
	}
}

// run is the mover: woken by a line, it lets lines gather for ringLinger
// and writes them, until the ring is empty. Stopped, it writes what is
// left unless a write fails (that stays in the file for the next start).
func (r *ring) run() {
	defer close(r.done)
	var scratch []byte
	for {
		select {
		case <-r.wake:
		case <-r.stop:
			r.drainAll(&scratch)
			return
		}
		for {
			r.linger()
			if r.stopping() {
				r.drainAll(&scratch)
				return
			}
			if empty, _ := r.drainOnce(&scratch); empty {
				break
			}
		}
	}
}

func (r *ring) drainAll(scratch *[]byte) {
	for {
		if empty, err := r.drainOnce(scratch); empty || err != nil {
			return
		}
	}
}

func (r *ring) linger() {
	t := time.NewTimer(ringLinger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.hurry:
	case <-r.stop:
	}
}

func (r *ring) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// drainOnce writes what the ring holds, or reports that it is empty (or
// can no longer be read), in which case the mover is idle again.
func (r *ring) drainOnce(scratch *[]byte) (empty bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	from, to := r.written, r.head
	if from == to {
		r.moving = false
		r.room.Broadcast()
		return true, nil
	}
	r.mu.Unlock()
	err = r.writeRange(from, to, scratch)
	r.mu.Lock()
	switch {
	case errors.Is(err, errRingBroken) || err != nil && r.broken: // a faulted ring gets one try
		r.log.Error("audit: the log's ring file faulted; lines are written directly from now on", "ring", r.path, "err", err)
		r.broken, r.moving = true, false
		r.room.Broadcast()
		return true, err
	case err != nil:
		if r.err == nil {
			r.log.Error("audit: cannot write the log; its lines wait in the ring", "file", r.path, "err", err)
		}
		r.err = err
		r.room.Broadcast()
		r.mu.Unlock()
		r.backOff()
		r.mu.Lock()
		return false, err
	}
	if r.err != nil {
		r.log.Info("audit: the log is written again", "file", r.path)
		r.err = nil
	}
	return false, nil
}

// writeRange writes the bytes from..to to the log, in chunks of whole
// lines, and moves written past each byte the log takes (a chunk cut
// short by a failing write is finished, not repeated, by the next try).
// No one else touches the bytes until written moves past them. A fault
// in the mapping is errRingBroken.
func (r *ring) writeRange(from, to uint64, scratch *[]byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = faultError(p)
		}
	}()
	at, n := from%r.size, to-from
	lines := r.data[at:min(at+n, r.size)]
	if uint64(len(lines)) < n { // it wraps: one piece, so no line is cut in two writes
		*scratch = append(append((*scratch)[:0], lines...), r.data[:n-uint64(len(lines))]...)
		lines = *scratch
	}
	for len(lines) > 0 {
		chunk := lines[:lineChunk(lines)]
		w, err := r.write(chunk)
		after := -1 // bytes written past the last line end among them
		if i := bytes.LastIndexByte(chunk[:w], '\n'); i >= 0 {
			after = w - i - 1
		}
		r.advance(uint64(w), after)
		if isFault(err) { // the kernel met the fault copying from the mapping
			return fmt.Errorf("%w: %v", errRingBroken, err)
		}
		if err != nil {
			return err
		}
		lines = lines[w:]
	}
	return nil
}

// faultError is the error of a fault in the mapping, recovered as a panic
// (debug.SetPanicOnFault); any other panic goes on.
func faultError(p any) error {
	if _, fault := p.(interface{ Addr() uintptr }); !fault {
		panic(p)
	}
	return fmt.Errorf("%w: %v", errRingBroken, p)
}

// advance moves written past n more bytes the log has taken, the last
// after of them past a line's end (-1: no line ends among them). The
// header keeps that line end, so that a restart finds the log ending
// inside the line it was writing, never past a line's start, and what
// it appends finishes that line.
func (r *ring) advance(n uint64, after int) {
	r.mu.Lock()
	defer r.mu.Unlock() // also if the store below faults
	r.written += n
	if after >= 0 {
		binary.LittleEndian.PutUint64(r.mem[offWritten:], r.written-uint64(after))
	}
	r.room.Broadcast()
}

// backOff waits before the mover tries a failed write again.
func (r *ring) backOff() {
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.stop:
	}
}

// close writes what the ring holds and unmaps it. Lines that cannot be
// written stay in the file for the next start.
func (r *ring) close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.room.Broadcast()
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	err := unmapFile(r.mem)
	r.mem, r.data = nil, nil
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WaitForLog waits, at most timeout, until the lines the server had
// copied into the ring of the log at path when it was called are in the
// log, so that a reader sees every event of the requests answered
// before it started. Without a ring it returns at once. Past the
// timeout (a server that died, whose next start appends them, or one
// that cannot write its log) it says how much is still in the ring.
func WaitForLog(path string, timeout time.Duration) error {
	f, err := os.Open(path + ".ring")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	deadline := time.Now().Add(timeout)
	var target uint64
	for {
		head, _, isRing, ok := ringCounters(f)
		if !isRing {
			return nil
		}
		if ok {
			target = head
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: cannot read its counters", path+".ring")
		}
		time.Sleep(time.Millisecond)
	}
	for {
		head, written, isRing, ok := ringCounters(f)
		// head below target: a restart has appended the ring and reset it.
		if !isRing || ok && (written >= target || head < target) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the log's last %d bytes are still in %s: a running server writes them to the log within milliseconds, and one that died does when it starts again", target-min(written, target), path+".ring")
		}
		time.Sleep(time.Millisecond)
	}
}

// ringCounters reads a ring file's head and written. The server may be
// moving them: each counts once two reads of it agree (ok), which a
// busy ring allows within a few tries.
func ringCounters(f *os.File) (head, written uint64, isRing, ok bool) {
	var a, b [32]byte
	for range 10 {
		if _, err := f.ReadAt(a[:], 0); err != nil {
			return 0, 0, false, false
		}
		if string(a[:len(ringMagic)]) != ringMagic {
			return 0, 0, false, false
		}
		if _, err := f.ReadAt(b[:], 0); err != nil {
			return 0, 0, false, false
		}
		if bytes.Equal(a[offHead:offHead+8], b[offHead:offHead+8]) && bytes.Equal(a[offWritten:offWritten+8], b[offWritten:offWritten+8]) {
			return binary.LittleEndian.Uint64(a[offHead:]), binary.LittleEndian.Uint64(a[offWritten:]), true, true
		}
	}
	return 0, 0, true, false
}
