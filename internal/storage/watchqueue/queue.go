// Package watchqueue is the queue between a store and one watcher: the
// store appends a commit's events without waiting, and the queue's
// goroutine hands them on, so a slow watcher never holds up a commit or a
// shared watch. A watcher too far behind is stopped: it gets what was
// queued, then its channel closes, and it resumes from the last revision
// it saw.
package watchqueue

import (
	"context"
	"sync"

	"github.com/sekisho/sekisho/internal/storage"
)

// Queue holds one watcher's undelivered events.
type Queue struct {
	max    int
	out    chan storage.Event
	signal chan struct{} // a token when events are queued or the queue stops

	mu      sync.Mutex
	events  []storage.Event
	stopped bool
}

// New returns a queue that stops its watcher when more than max events
// wait, delivering on a channel of outBuffer.
func New(max, outBuffer int) *Queue {
	return &Queue{max: max, out: make(chan storage.Event, outBuffer), signal: make(chan struct{}, 1)}
}

// Events is the watcher's channel.
func (q *Queue) Events() <-chan storage.Event { return q.out }

// Push queues the events of whole transactions, all or none: a watcher
// never gets part of a transaction, and one with nothing waiting takes
// even more than max. False means they did not fit and the queue has
// stopped.
func (q *Queue) Push(events []storage.Event) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	// A progress note alone is nothing waiting.
	idle := len(q.events) == 0 || len(q.events) == 1 && q.events[0].Type == storage.EventProgress
	fits := idle || len(q.events)+len(events) <= q.max
	if fits {
		q.events = append(q.events, events...)
	} else {
		q.stopped = true
	}
	q.mu.Unlock()
	q.notify()
	return fits
}

// Progress queues a progress note, or moves the last one queued on: a
// reader waiting for a revision (a list cache catching up) learns of it
// as soon as it has the events before it.
func (q *Queue) Progress(rev int64) {
	q.mu.Lock()
	switch n := len(q.events); {
	case q.stopped:
		// It may have stopped for events it did not take: no progress
		// past them.
	case n > 0 && q.events[n-1].Type == storage.EventProgress:
		q.events[n-1].Rev = rev
	default:
		q.events = append(q.events, storage.Event{Type: storage.EventProgress, Rev: rev})
	}
	q.mu.Unlock()
	q.notify()
}

// Stop ends the watch once what is queued has been delivered.
func (q *Queue) Stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.notify()
}

func (q *Queue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// Run delivers the queue until it has stopped and is empty, or ctx
// ends; then it closes the channel.
func (q *Queue) Run(ctx context.Context) {
	defer close(q.out)
	var batch []storage.Event
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		q.mu.Lock()
		batch, q.events = q.events, batch[:0]
		stopped := q.stopped
		q.mu.Unlock()
		for _, ev := range batch {
			select {
			case q.out <- ev:
			case <-ctx.Done():
				return
			}
		}
		clear(batch)
		if stopped {
			q.mu.Lock()
			rest := len(q.events)
			q.mu.Unlock()
			if rest == 0 {
				return
			}
			q.notify() // what was queued before the stop, then the end
		}
	}
}
