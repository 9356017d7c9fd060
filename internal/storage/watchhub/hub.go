// Package watchhub shares one storage watch among every watcher of the
// keys under one prefix. kube-apiserver's watch cache keeps one etcd
// watch per resource however many clients watch it; without a hub each
// watcher (an in-process informer, the list cache, every client's watch)
// is its own etcd watch, and etcd encodes and sends each change once per
// watcher.
package watchhub

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/watchqueue"
)

// Source is the storage a hub watches.
type Source interface {
	Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error)
	Rev(ctx context.Context) (int64, error)
}

// Defaults for Hub's History, HistoryBytes and MaxQueue.
const (
	DefaultHistory      = 512
	DefaultHistoryBytes = 8 << 20
	DefaultMaxQueue     = 10000
)

// Hub shares one watch of the keys under Root among its watchers. The
// source watch starts with the first watcher, at its revision, and stops
// when the last leaves. A watcher that starts before the hub's position
// is replayed the changes it missed from the hub's recent history, or,
// when they are older than that, gets a watch of its own.
//
// A watcher that falls MaxQueue events behind has its channel closed, as
// a storage watch closes on a watcher too far behind: the watcher
// resumes from the last revision it saw, and the hub never waits for it.
type Hub struct {
	src  Source
	root string
	// History and HistoryBytes bound the recent events kept for watchers
	// that start a little behind; MaxQueue is how many events a watcher
	// may have waiting.
	History, HistoryBytes, MaxQueue int

	mu      sync.Mutex
	subs    map[*watcher]struct{}
	running bool
	stop    context.CancelFunc
	// gen numbers the source watches: a stopped one's late events are
	// not the running one's.
	gen int64
	// pos is the revision every change up to which has been dispatched:
	// a transaction's revision is reached with its last event.
	pos int64
	// history holds the last changes dispatched, whole transactions,
	// oldest first; it covers every change after base.
	history      []storage.Event
	historyBytes int
	base         int64
	// dispatched is the revision of the last transaction dispatched: a
	// resumed watch's replay of it is not dispatched again.
	dispatched int64
	// Shared and Own count the watches served by the hub and those that
	// needed a storage watch of their own.
	shared, own int64
}

// New returns a hub for the keys under root.
func New(src Source, root string) *Hub {
	return &Hub{src: src, root: root, History: DefaultHistory, HistoryBytes: DefaultHistoryBytes, MaxQueue: DefaultMaxQueue, subs: map[*watcher]struct{}{}}
}

// watcher is one watch served by the hub.
type watcher struct {
	prefix string
	from   int64
	q      *watchqueue.Queue
}

// Watch streams changes to keys under prefix (which must start with the
// hub's root) with revisions after fromRev (0: from now on), as
// storage.KV's Watch does.
func (h *Hub) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	if !strings.HasPrefix(prefix, h.root) {
		return h.src.Watch(ctx, prefix, fromRev)
	}
	checked := fromRev == 0 // fromRev is known to be written
	if fromRev == 0 {
		// From now on: after every write acknowledged so far.
		rev, err := h.src.Rev(ctx)
		if err != nil {
			return nil, err
		}
		fromRev = rev
	}
	for {
		h.mu.Lock()
		switch {
		case !h.running:
			h.mu.Unlock()
			started, err := h.start(ctx, fromRev)
			if err != nil {
				return nil, err
			}
			checked = checked || started // the source watch started there
			continue
		case fromRev > h.pos && !checked:
			// Changes after the hub's position are on their way, unless
			// fromRev has not been written yet: a storage watch refuses
			// that, and so does the hub.
			h.mu.Unlock()
			rev, err := h.src.Rev(ctx)
			if err != nil {
				return nil, err
			}
			if fromRev > rev {
				return nil, storage.ErrFutureRevision
			}
			checked = true
			continue
		}
		w := &watcher{prefix: prefix, from: fromRev, q: watchqueue.New(h.MaxQueue, 0)}
		if fromRev < h.pos && !h.replayLocked(w) {
			// Older than the history, or more than fits: a watch of its own.
			h.own++
			h.mu.Unlock()
			return h.src.Watch(ctx, prefix, fromRev)
		}
		h.subs[w] = struct{}{}
		h.shared++
		h.mu.Unlock()
		go func() {
			w.q.Run(ctx)
			h.mu.Lock()
			defer h.mu.Unlock()
			h.dropLocked(w)
		}()
		return w.q.Events(), nil
	}
}

// Counts returns how many watches the hub served, and how many needed a
// storage watch of their own.
func (h *Hub) Counts() (shared, own int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shared, h.own
}

// start opens the source watch at from, unless another watcher's start
// got there first (started is false). The source watch lives past the caller, but opening it
// (a storage round trip) ends with the caller's ctx; the hub's lock is
// not held meanwhile, so a storage that does not answer holds up no one
// else.
func (h *Hub) start(ctx context.Context, from int64) (started bool, err error) {
	hctx, cancel := context.WithCancel(context.Background())
	detach := context.AfterFunc(ctx, cancel)
	events, err := h.src.Watch(hctx, h.root, from)
	if !detach() {
		cancel()
		return false, ctx.Err()
	}
	if err != nil {
		cancel()
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running {
		cancel() // another start won; its watch serves this one too
		return false, nil
	}
	h.gen++
	h.running, h.stop = true, cancel
	h.pos, h.base, h.dispatched = from, from, from
	h.history, h.historyBytes = nil, 0
	go h.run(hctx, h.gen, events)
	return true, nil
}

// replayLocked sends w the kept changes after its revision, if the
// history covers them and they fit its buffer.
func (h *Hub) replayLocked(w *watcher) bool {
	if w.from < h.base {
		return false
	}
	i := len(h.history)
	for i > 0 && h.history[i-1].Rev > w.from {
		i--
	}
	return w.q.Push(storage.UnderPrefix(h.history[i:], w.prefix))
}

// run dispatches the source watch's events, a transaction at a time, and
// resumes the source watch from the hub's position when it ends.
func (h *Hub) run(ctx context.Context, gen int64, events <-chan storage.Event) {
	var txn []storage.Event
	for {
		ev, ok := <-events
		if !ok {
			if events = h.resume(ctx, gen); events == nil {
				return
			}
			txn = txn[:0] // the resumed watch sends the whole transaction again
			continue
		}
		if ev.Type == storage.EventProgress {
			h.progress(gen, ev.Rev)
			continue
		}
		txn = append(txn, ev)
		if ev.More {
			continue
		}
		h.dispatch(gen, txn)
		txn = txn[:0]
	}
}

// resume reopens the source watch after the hub's position, trying a
// few times over about two seconds (a storage member restarting, an
// election), so that a short outage costs the watchers nothing. It
// returns nil, having closed every watcher, when the hub has stopped or
// the watch cannot be reopened (the revision compacted away, storage
// unreachable): each watcher then resumes by itself, and learns why.
func (h *Hub) resume(ctx context.Context, gen int64) <-chan storage.Event {
	h.mu.Lock()
	if h.gen != gen || !h.running {
		h.mu.Unlock()
		return nil // stopped: a later start has its own watch
	}
	// Nothing moves the position while this goroutine, the only one
	// dispatching, is here; the lock is not held across the round trips.
	pos := h.pos
	h.mu.Unlock()
	var events <-chan storage.Event
	err := errors.New("no revision to resume from") // 0 would mean "from now"
	for wait := resumeWait; pos > 0; wait *= 2 {
		if events, err = h.src.Watch(ctx, h.root, pos); err == nil || errors.Is(err, storage.ErrCompacted) || wait > maxResumeWait {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen != gen || !h.running {
		return nil // stopped meanwhile: ctx has ended, and the watch with it
	}
	if err == nil {
		return events
	}
	for w := range h.subs {
		h.dropLocked(w)
	}
	h.stopLocked()
	return nil
}

// How resume waits between its tries: 100, 200, 400, 800 ms.
var resumeWait, maxResumeWait = 100 * time.Millisecond, 800 * time.Millisecond

func (h *Hub) progress(gen, rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen != gen || !h.running || rev < h.pos {
		return
	}
	h.pos = rev
	for w := range h.subs {
		if rev >= w.from {
			w.q.Progress(rev)
		}
	}
}

// dispatch hands one transaction's events to each watcher whose prefix
// holds some of them, marked so that the last the watcher gets ends it.
func (h *Hub) dispatch(gen int64, txn []storage.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rev := txn[0].Rev
	if h.gen != gen || !h.running || rev <= h.dispatched {
		return // already dispatched (a resumed watch's replay)
	}
	h.dispatched, h.pos = rev, max(h.pos, rev)
	h.history = append(h.history, txn...)
	for i := range txn {
		h.historyBytes += eventBytes(&txn[i])
	}
	if len(h.history) > 2*h.History || h.historyBytes > 2*h.HistoryBytes {
		h.trimLocked()
	}
	for w := range h.subs {
		if rev <= w.from {
			continue
		}
		if mine := storage.UnderPrefix(txn, w.prefix); len(mine) > 0 && !w.q.Push(mine) {
			h.dropLocked(w)
		}
	}
}

// trimLocked keeps the last History events, at most HistoryBytes of them,
// in whole transactions; trimming only past twice that keeps its cost
// per event constant.
func (h *Hub) trimLocked() {
	cut, bytes := 0, h.historyBytes
	for cut < len(h.history) && (len(h.history)-cut > h.History || bytes > h.HistoryBytes) {
		bytes -= eventBytes(&h.history[cut])
		cut++
	}
	for cut > 0 && cut < len(h.history) && h.history[cut].Rev == h.history[cut-1].Rev {
		bytes -= eventBytes(&h.history[cut])
		cut++
	}
	if cut == 0 {
		return
	}
	h.base = h.history[cut-1].Rev
	n := copy(h.history, h.history[cut:])
	clear(h.history[n:])
	h.history, h.historyBytes = h.history[:n], bytes
}

func eventBytes(ev *storage.Event) int { return len(ev.Key) + len(ev.Value) + len(ev.PrevValue) + 64 }

// stopLocked ends the source watch and forgets its history.
func (h *Hub) stopLocked() {
	h.stop()
	h.running = false
	h.history, h.historyBytes = nil, 0
}

// dropLocked stops w (its channel closes once what it has queued is
// delivered) and forgets it; the source watch stops with the last
// watcher.
func (h *Hub) dropLocked(w *watcher) {
	if _, ok := h.subs[w]; !ok {
		return
	}
	w.q.Stop()
	delete(h.subs, w)
	if len(h.subs) == 0 && h.running {
		h.stopLocked()
	}
}
