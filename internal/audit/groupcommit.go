package audit

import (
	"bytes"
	"sync"
)

// groupCommit writes the lines of blocking modes with as few write(2)
// calls as the load allows, without a goroutine of its own: a line that
// finds no write in progress is written at once by its own request;
// lines that arrive while a write is in progress gather in one group,
// which the request that started it writes as soon as that write
// returns, while the next group gathers. Each request returns once the
// write holding its line has returned, as with one write per line, and
// waits no longer than it would have waited for the file's lock. A
// write(2) costs the server several microseconds whatever its length,
// and requests often finish together (a storage commit answers many
// writes at once), so under load one write carries several lines.
type groupCommit struct {
	write func([]byte) error // one write(2) of whole lines

	mu      sync.Mutex
	writing bool   // a write is in progress, or the turn is being passed to a group
	pending *group // the lines gathering for the next write
}

type group struct {
	buf  []byte
	turn chan struct{} // closed when the write before the group's has returned
	done chan struct{} // closed when the group is written; err is then set
	err  error
}

// commit returns once line, a whole line, is written, with the error of
// the write that held it.
func (c *groupCommit) commit(line []byte) error {
	c.mu.Lock()
	if !c.writing {
		c.writing = true
		c.mu.Unlock()
		err := c.write(line)
		c.next()
		return err
	}
	g := c.pending
	starter := g == nil
	if starter {
		g = &group{buf: groupBuffers.Get().(*bytes.Buffer).Bytes()[:0], turn: make(chan struct{}), done: make(chan struct{})}
		c.pending = g
	}
	g.buf = append(g.buf, line...)
	c.mu.Unlock()
	if !starter {
		<-g.done
		return g.err
	}
	<-g.turn
	c.mu.Lock()
	c.pending = nil // what arrives from now on gathers for the next write
	c.mu.Unlock()
	// No one appends to g any more: its bytes are all here.
	g.err = writeLines(c.write, g.buf)
	buf := g.buf
	close(g.done)
	if cap(buf) <= 4*maxChunk {
		groupBuffers.Put(bytes.NewBuffer(buf[:0]))
	}
	c.next()
	return g.err
}

// next passes the turn to the group that gathered during the write just
// made, or ends the run of writes.
func (c *groupCommit) next() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != nil {
		close(c.pending.turn)
		return
	}
	c.writing = false
}

var groupBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 16<<10)) }}

// maxChunk bounds one write(2) of a group: lumberjack refuses a write
// larger than the file may grow (--audit-log-maxsize, at least 1 MB), so
// a group is cut at a line's end below it.
const maxChunk = 256 << 10

// writeLines writes buf, whole lines, in chunks of at most maxChunk cut
// at lines' ends (a longer line goes whole).
func writeLines(write func([]byte) error, buf []byte) error {
	for len(buf) > 0 {
		n := lineChunk(buf)
		if err := write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// lineChunk is the length of the first chunk of buf, whole lines, that
// writeLines writes in one write(2).
func lineChunk(buf []byte) int {
	n := len(buf)
	if n > maxChunk {
		n = bytes.LastIndexByte(buf[:maxChunk], '\n') + 1
		if n == 0 {
			if n = bytes.IndexByte(buf, '\n') + 1; n == 0 {
				n = len(buf)
			}
		}
	}
	return n
}
