package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
)

// Watch event types, as the watch API names them.
const (
	WatchAdded    = "ADDED"
	WatchModified = "MODIFIED"
	WatchDeleted  = "DELETED"
	WatchBookmark = "BOOKMARK"
	// WatchError ends a watch with a Status: a client relists.
	WatchError = "ERROR"
)

// AnnotationInitialEventsEnd marks the bookmark that ends the initial
// events of a watch with sendInitialEvents=true.
const AnnotationInitialEventsEnd = "k8s.io/initial-events-end"

// WatchEvent is one event of a watch. Bookmarks carry only Rev.
type WatchEvent struct {
	Type             string
	Entry            *Entry
	Rev              int64
	InitialEventsEnd bool
	// Status is an ERROR event's.
	Status *metav1.Status
	// More says that the next event has the same revision: the change
	// of a transaction is whole only with its last event.
	More bool
	// key is the storage key of the event's object.
	key string
}

// WatchOptions extend ListOptions for a watch.
type WatchOptions struct {
	ListOptions
	// FromRev starts after this revision; 0 starts with the current state
	// as ADDED events (unless SendInitialEvents is false).
	FromRev int64
	// SendInitialEvents: nil keeps the classic behaviour (initial events
	// only when FromRev is 0); true sends the state at (or after) FromRev
	// followed by a bookmark marking the end; false sends none.
	SendInitialEvents *bool
	// FailOnUnreadable fails the watch when its initial list meets a
	// value that does not read, instead of leaving the object out: for
	// in-process caches whose answers must be whole (the quotas).
	FailOnUnreadable bool
}

// Watch streams changes to r's objects that match the selectors. When
// an object stops or starts matching, the watcher sees DELETED or ADDED,
// as Kubernetes does. The channel closes when ctx ends or the storage
// watch ends (the client then resumes from its last resourceVersion).
func (s *Store) Watch(ctx context.Context, r *catalog.Resource, o WatchOptions) (<-chan WatchEvent, error) {
	prefix := Prefix(r, o.Namespace)
	initial := o.FromRev == 0
	if o.SendInitialEvents != nil {
		initial = *o.SendInitialEvents
	}
	from := o.FromRev
	var initialItems []*Entry
	if initial {
		list, err := s.List(ctx, r, ListOptions{Namespace: o.Namespace, Labels: o.Labels, Fields: o.Fields, MinRev: o.FromRev})
		if err != nil {
			return nil, err
		}
		if o.FailOnUnreadable && len(list.Unreadable) > 0 {
			return nil, list.Unreadable[0]
		}
		initialItems, from = list.Items, list.Rev
	} else if from == 0 {
		rev, err := s.KV.Rev(ctx)
		if err != nil {
			return nil, err
		}
		from = rev
	}
	raw, err := s.hubs.watch(ctx, s.KV, r, prefix, from)
	switch {
	case errors.Is(err, storage.ErrCompacted):
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", from))
	case errors.Is(err, storage.ErrFutureRevision):
		cur, _ := s.KV.Rev(ctx)
		return nil, tooLargeRV(from, cur)
	case err != nil:
		return nil, err
	}
	out := make(chan WatchEvent, 64)
	go func() {
		defer close(out)
		send := func(e WatchEvent) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, e := range initialItems {
			if !send(WatchEvent{Type: WatchAdded, Entry: e, Rev: e.Rev}) {
				return
			}
		}
		// Everything up to from has now been sent: a bookmark at from is
		// safe. It is marked as the end of the initial events when the
		// client asked for them; otherwise it is a plain progress note.
		initialEnd := o.SendInitialEvents != nil && *o.SendInitialEvents
		if !send(WatchEvent{Type: WatchBookmark, Rev: from, InitialEventsEnd: initialEnd}) {
			return
		}
		for ev := range raw {
			we, ok, err := s.translate(ctx, r, &o.ListOptions, ev)
			if err != nil {
				// A value that does not read (a corrupt object, perhaps
				// being deleted): end the watch with an ERROR, so that the
				// client relists instead of resuming into it again.
				st := apierrors.NewInternalError(err).ErrStatus
				if ce := (*CorruptError)(nil); errors.As(err, &ce) {
					st = ce.Status()
				}
				send(WatchEvent{Type: WatchError, Rev: ev.Rev, Status: &st})
				return
			}
			if ok && !send(we) {
				return
			}
		}
	}()
	return out, nil
}

// translate turns a storage event into the watch event a client with
// these selectors should see, if any.
func (s *Store) translate(ctx context.Context, r *catalog.Resource, o *ListOptions, ev storage.Event) (WatchEvent, bool, error) {
	if ev.Type == storage.EventProgress {
		return WatchEvent{Type: WatchBookmark, Rev: ev.Rev}, true, nil
	}
	entryOf := func(value []byte, prev bool) (*Entry, bool, error) {
		e, err := s.events.entry(eventKey{res: r, key: ev.Key, rev: ev.Rev, prev: prev}, func() (*Entry, error) {
			if plain, ok := s.events.pending(ev.Key, value); ok {
				return newEntry(r, plain, ev.Rev), nil
			}
			plain, err := s.open(ctx, r, ev.Key, value)
			if err != nil {
				return nil, err
			}
			return newEntry(r, plain, ev.Rev), nil
		})
		if err != nil {
			return nil, false, err
		}
		ok, err := o.matches(r, ev.Key, e)
		return e, ok, err
	}
	switch ev.Type {
	case storage.EventAdded:
		e, ok, err := entryOf(ev.Value, false)
		return WatchEvent{Type: WatchAdded, Entry: e, Rev: ev.Rev, key: ev.Key, More: ev.More}, ok, err
	case storage.EventDeleted:
		e, ok, err := entryOf(ev.Value, false)
		return WatchEvent{Type: WatchDeleted, Entry: e, Rev: ev.Rev, key: ev.Key, More: ev.More}, ok, err
	}
	cur, curOK, err := entryOf(ev.Value, false)
	if err != nil {
		return WatchEvent{}, false, err
	}
	if !o.filtered() {
		return WatchEvent{Type: WatchModified, Entry: cur, Rev: ev.Rev, key: ev.Key, More: ev.More}, true, nil
	}
	prev, prevOK, err := entryOf(ev.PrevValue, true)
	if err != nil {
		return WatchEvent{}, false, err
	}
	switch {
	case curOK && prevOK:
		return WatchEvent{Type: WatchModified, Entry: cur, Rev: ev.Rev, key: ev.Key, More: ev.More}, true, nil
	case curOK:
		return WatchEvent{Type: WatchAdded, Entry: cur, Rev: ev.Rev, key: ev.Key, More: ev.More}, true, nil
	case prevOK:
		return WatchEvent{Type: WatchDeleted, Entry: prev, Rev: ev.Rev, key: ev.Key, More: ev.More}, true, nil
	}
	return WatchEvent{}, false, nil
}

// BookmarkJSON is the object of a BOOKMARK event: the watched kind with
// only a resourceVersion (and the initial-events-end annotation when it
// ends the initial events).
func BookmarkJSON(r *catalog.Resource, rev int64, initialEnd bool) []byte {
	out := fmt.Appendf(nil, `{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":%q`, r.Kind, r.GroupVersion.String(), strconv.FormatInt(rev, 10))
	if initialEnd {
		out = fmt.Appendf(out, `,"annotations":{%q:"true"}`, AnnotationInitialEventsEnd)
	}
	return append(out, "}}"...)
}

// eventKey names one side of one storage event as one resource sees it.
type eventKey struct {
	res  *catalog.Resource
	key  string
	rev  int64
	prev bool // the value before the event, not after
}

// eventEntries shares the Entries of recent watch events among watchers:
// every watcher of pods sees each pod change, and decrypting, decoding,
// matching selectors and encoding it once instead of once per watcher is
// most of what a busy cluster's watches cost. Reads share them too (see
// Store.entry). The most recent entries are kept, a fixed number of them.
type eventEntries struct {
	mu    sync.Mutex
	byKey map[eventKey]*Entry
	ring  []eventKey
	next  int

	// inFlight holds the values this process is writing, by storage key,
	// until the write returns and its entry is shared: a watcher usually
	// gets the write's event before the writer gets its revision, and
	// takes the plain bytes from here instead of opening the sealed value
	// again.
	pendMu   sync.Mutex
	inFlight map[string]pendingValue
}

// pendingValue is a value being written: the stored bytes and what they
// were sealed from.
type pendingValue struct{ sealed, plain []byte }

// pend records that sealed, sealed from plain, is being written at key.
// A value stored as it is (of a resource the configuration leaves out)
// needs nothing recorded: opening it is free.
func (c *eventEntries) pend(key string, sealed, plain []byte) {
	if len(sealed) == 0 || sameBytes(sealed, plain) {
		return
	}
	c.pendMu.Lock()
	if c.inFlight == nil {
		c.inFlight = map[string]pendingValue{}
	}
	c.inFlight[key] = pendingValue{sealed: sealed, plain: plain}
	c.pendMu.Unlock()
}

// unpend forgets the write of sealed at key, unless another write of the
// key has taken its place.
func (c *eventEntries) unpend(key string, sealed []byte) {
	c.pendMu.Lock()
	if p, ok := c.inFlight[key]; ok && sameBytes(p.sealed, sealed) {
		delete(c.inFlight, key)
	}
	c.pendMu.Unlock()
}

// pending is the plain form of value when value is the very slice a write
// of this process is storing at key. An event's value is that slice only
// when the store handed the writer's bytes to its watchers; any other
// bytes (from etcd, or another write of the key) are opened as usual.
func (c *eventEntries) pending(key string, value []byte) ([]byte, bool) {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	p, ok := c.inFlight[key]
	if !ok || !sameBytes(p.sealed, value) {
		return nil, false
	}
	return p.plain, true
}

// sameBytes reports whether a and b are the same slice of the same
// memory, not merely equal bytes.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

const sharedEventEntries = 512

func (c *eventEntries) entry(k eventKey, build func() (*Entry, error)) (*Entry, error) {
	c.mu.Lock()
	if e, ok := c.byKey[k]; ok {
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	e, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.byKey[k]; ok {
		return have, nil // another watcher built it meanwhile
	}
	if c.byKey == nil {
		c.byKey = make(map[eventKey]*Entry, sharedEventEntries)
		c.ring = make([]eventKey, sharedEventEntries)
	}
	if old := c.ring[c.next]; old.res != nil {
		delete(c.byKey, old)
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % sharedEventEntries
	c.byKey[k] = e
	return e, nil
}
