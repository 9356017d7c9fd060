package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrSpoolFull says the spool holds its maximum and took nothing.
var ErrSpoolFull = errors.New("the audit spool is full")

// spoolSegmentBytes is the size at which the spool starts a new file;
// delivered files are deleted whole.
const spoolSegmentBytes = 8 << 20

// Position is a place in the spool: after the record that ends at
// Offset in segment Segment.
type Position struct {
	Segment uint64
	Offset  int64
}

// Before orders positions.
func (p Position) Before(q Position) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

// Spool is a bounded first-in first-out queue of records (single lines)
// on disk: what an audit webhook has not yet taken waits there, across
// outages of the webhook and restarts of the server. Records are read in
// the order they were appended, from the last committed position, so
// each is delivered at least once.
type Spool struct {
	dir      string
	maxBytes int64

	mu        sync.Mutex
	segments  []uint64 // in order; the last is written
	w         *os.File
	wSize     int64
	committed Position
	bytes     int64 // held, from the committed position to the end
	ready     chan struct{}
}

// OpenSpool opens (or makes) the spool in dir, holding at most maxBytes.
// A record cut short by a crash at the end of the last file is dropped:
// it was never acknowledged to anyone.
func OpenSpool(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".spool"); ok {
			if seg, err := strconv.ParseUint(n, 16, 64); err == nil {
				s.segments = append(s.segments, seg)
			}
		}
	}
	slices.Sort(s.segments)
	if data, err := os.ReadFile(filepath.Join(dir, "cursor")); err == nil {
		if _, err := fmt.Sscanf(string(data), "%x %d", &s.committed.Segment, &s.committed.Offset); err != nil {
			return nil, fmt.Errorf("%s: a cursor that does not parse: %q", filepath.Join(dir, "cursor"), data)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(s.segments) == 0 {
		s.segments = []uint64{max(s.committed.Segment, 1)}
	}
	last := s.segments[len(s.segments)-1]
	if err := trimPartialRecord(s.path(last)); err != nil {
		return nil, err
	}
	for _, seg := range s.segments {
		info, err := os.Stat(s.path(seg))
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return nil, err
		}
		switch {
		case seg < s.committed.Segment:
		case seg == s.committed.Segment:
			s.bytes += max(info.Size()-s.committed.Offset, 0)
		default:
			s.bytes += info.Size()
		}
	}
	if s.committed.Segment < s.segments[0] {
		s.committed = Position{Segment: s.segments[0]}
	}
	if s.w, err = os.OpenFile(s.path(last), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	info, err := s.w.Stat()
	if err != nil {
		return nil, err
	}
	s.wSize = info.Size()
	if s.bytes > 0 {
		s.ready <- struct{}{}
	}
	return s, nil
}

func (s *Spool) path(seg uint64) string { return filepath.Join(s.dir, fmt.Sprintf("%016x.spool", seg)) }

// trimPartialRecord cuts a file after its last newline.
func trimPartialRecord(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if keep := bytes.LastIndexByte(data, '\n') + 1; keep < len(data) {
		return os.Truncate(path, int64(keep))
	}
	return nil
}

// Append adds a record (which must hold no newline) with one write(2),
// and returns the position after it.
func (s *Spool) Append(record []byte) (Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(len(record) + 1)
	if s.bytes+n > s.maxBytes {
		return Position{}, ErrSpoolFull
	}
	if s.wSize > 0 && s.wSize+n > spoolSegmentBytes {
		next := s.segments[len(s.segments)-1] + 1
		f, err := os.OpenFile(s.path(next), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return Position{}, err
		}
		s.w.Close()
		s.w, s.wSize = f, 0
		s.segments = append(s.segments, next)
	}
	line := make([]byte, 0, n)
	line = append(append(line, record...), '\n')
	if _, err := s.w.Write(line); err != nil {
		return Position{}, err
	}
	s.wSize += n
	s.bytes += n
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return Position{Segment: s.segments[len(s.segments)-1], Offset: s.wSize}, nil
}

// Ready is signalled when records may be waiting.
func (s *Spool) Ready() <-chan struct{} { return s.ready }

// Held is how many bytes wait to be delivered.
func (s *Spool) Held() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Peek reads up to max records, and up to maxBytes of them (but always
// one), from the committed position, and returns the position after the
// last of them.
func (s *Spool) Peek(max int, maxBytes int64) ([][]byte, Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := s.committed
	var out [][]byte
	var size int64
	for len(out) < max {
		f, err := os.Open(s.path(pos.Segment))
		if errors.Is(err, os.ErrNotExist) && pos.Segment < s.segments[len(s.segments)-1] {
			pos = Position{Segment: pos.Segment + 1}
			continue
		}
		if err != nil {
			return out, pos, err
		}
		if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
			f.Close()
			return out, pos, err
		}
		r := bufio.NewReaderSize(f, 64<<10)
		for len(out) < max {
			line, err := r.ReadBytes('\n')
			if err != nil { // the end, or a record still being written
				break
			}
			if len(out) > 0 && size+int64(len(line)) > maxBytes {
				max = len(out) // full
				break
			}
			size += int64(len(line))
			pos.Offset += int64(len(line))
			out = append(out, line[:len(line)-1])
		}
		f.Close()
		if len(out) == max || pos.Segment >= s.segments[len(s.segments)-1] {
			break
		}
		pos = Position{Segment: pos.Segment + 1}
	}
	return out, pos, nil
}

// Commit records that everything before pos was delivered: the cursor is
// saved, and files wholly delivered are deleted.
func (s *Spool) Commit(pos Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.committed.Before(pos) {
		return nil
	}
	var freed int64
	for seg := s.committed.Segment; seg < pos.Segment; seg++ {
		if info, err := os.Stat(s.path(seg)); err == nil {
			freed += info.Size()
			if seg == s.committed.Segment {
				freed -= s.committed.Offset
			}
		}
	}
	if pos.Segment == s.committed.Segment {
		freed = pos.Offset - s.committed.Offset
	} else {
		freed += pos.Offset
	}
	tmp := filepath.Join(s.dir, "cursor.tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%x %d\n", pos.Segment, pos.Offset), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "cursor")); err != nil {
		return err
	}
	for len(s.segments) > 1 && s.segments[0] < pos.Segment {
		os.Remove(s.path(s.segments[0]))
		s.segments = s.segments[1:]
	}
	s.committed = pos
	s.bytes -= freed
	return nil
}

// Committed is the position up to which records were delivered.
func (s *Spool) Committed() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// Close closes the file being written.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Close()
}
