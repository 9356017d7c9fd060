package bolt

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/watchqueue"
)

// window keeps the most recent events in memory. It feeds watchers, lets a
// watch resume from a recent revision, and lets List read at a recent past
// revision by undoing the events after it.
type window struct {
	maxEvents int
	maxBytes  int

	mu     sync.Mutex
	cond   *sync.Cond // broadcast whenever lastRev advances or the window closes
	events []storage.Event
	bytes  int
	// compacted is the newest revision whose event has been discarded. The
	// window can serve reads and watches from any revision >= compacted.
	compacted int64
	lastRev   int64
	watchers  map[*watcher]struct{}
	closed    bool

	// maxQueue bounds a watcher's undelivered events; a watcher that falls
	// further behind is closed and must resume from its last revision.
	maxQueue int
}

func newWindow(startRev int64, maxEvents, maxBytes int) *window {
	w := &window{
		maxEvents: maxEvents,
		maxBytes:  maxBytes,
		compacted: startRev,
		lastRev:   startRev,
		watchers:  map[*watcher]struct{}{},
		maxQueue:  max(maxEvents, 1000),
	}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func eventSize(e *storage.Event) int {
	return len(e.Key) + len(e.Value) + len(e.PrevValue) + 64
}

// publish appends the events of one commit, which end at rev, and hands
// them to the watchers whose prefix they match.
func (w *window) publish(events []storage.Event, rev int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range events {
		w.events = append(w.events, events[i])
		w.bytes += eventSize(&events[i])
	}
	for wt := range w.watchers {
		if mine := storage.UnderPrefix(events, wt.prefix); len(mine) > 0 && !wt.q.Push(mine) {
			delete(w.watchers, wt)
		}
	}
	w.lastRev = rev
	w.trim()
	w.cond.Broadcast()
}

// trim drops the oldest events beyond the window's bounds.
func (w *window) trim() {
	drop := 0
	for drop < len(w.events) && (len(w.events)-drop > w.maxEvents || w.bytes > w.maxBytes) {
		w.bytes -= eventSize(&w.events[drop])
		w.compacted = w.events[drop].Rev
		drop++
	}
	// A transaction's events share a revision: they go together.
	for drop > 0 && drop < len(w.events) && w.events[drop].Rev == w.compacted {
		w.bytes -= eventSize(&w.events[drop])
		drop++
	}
	if drop > 0 {
		clear(w.events[:drop])
		w.events = w.events[drop:]
	}
}

// compact discards events up to and including rev.
func (w *window) compact(rev int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rev = min(rev, w.lastRev)
	drop := 0
	for drop < len(w.events) && w.events[drop].Rev <= rev {
		w.bytes -= eventSize(&w.events[drop])
		drop++
	}
	clear(w.events[:drop])
	w.events = w.events[drop:]
	w.compacted = max(w.compacted, rev)
}

// last returns the revision of the newest published event.
func (w *window) last() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastRev
}

// waitFor blocks until events up to rev have been published.
func (w *window) waitFor(rev int64) {
	w.mu.Lock()
	for w.lastRev < rev && !w.closed {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// since returns the events after rev (up to toRev) under prefix, oldest first.
func (w *window) since(rev, toRev int64, prefix string) ([]storage.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev < w.compacted {
		return nil, storage.ErrCompacted
	}
	from, to := w.firstAfter(rev), w.firstAfter(toRev)
	return slices.Clone(storage.UnderPrefix(w.events[from:to], prefix)), nil
}

// firstAfter returns the index of the first event with Rev > rev. Events
// are in revision order, so this is a binary search.
func (w *window) firstAfter(rev int64) int {
	lo, hi := 0, len(w.events)
	for lo < hi {
		mid := (lo + hi) / 2
		if w.events[mid].Rev <= rev {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// watch registers a watcher for changes under prefix after fromRev.
func (w *window) watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, storage.ErrClosed
	}
	if fromRev == 0 {
		fromRev = w.lastRev
	}
	if fromRev < w.compacted {
		return nil, storage.ErrCompacted
	}
	if fromRev > w.lastRev {
		return nil, storage.ErrFutureRevision
	}
	wt := &watcher{prefix: prefix, q: watchqueue.New(w.maxQueue, 64)}
	wt.q.Push(storage.UnderPrefix(w.events[w.firstAfter(fromRev):], prefix))
	w.watchers[wt] = struct{}{}
	go func() {
		wt.q.Run(ctx)
		w.mu.Lock()
		delete(w.watchers, wt)
		w.mu.Unlock()
	}()
	return wt.q.Events(), nil
}

// progress tells watchers that they have seen everything up to lastRev
// once they have the events queued for them.
func (w *window) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for wt := range w.watchers {
		wt.q.Progress(w.lastRev)
	}
}

func (w *window) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for wt := range w.watchers {
		wt.q.Stop()
		delete(w.watchers, wt)
	}
	w.cond.Broadcast()
}

// runProgress sends progress events every interval until ctx ends.
func (w *window) runProgress(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.progress()
		}
	}
}

// watcher is one watch of the keys under prefix; the window queues its
// events under the window's lock, and the queue's goroutine hands them on.
type watcher struct {
	prefix string
	q      *watchqueue.Queue
}
