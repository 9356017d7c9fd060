// Package storage defines the key-value store the API server keeps its
// objects in. It has etcd's semantics: every write gets the next global
// revision, which objects expose as their resourceVersion; writes can be
// made conditional on a key's revision; lists are paginated and can be read
// at a past revision; and watches stream changes from a revision onward.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Backends wrap them; callers test with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("storage: key not found")
	// ErrExists: Create found the key already present.
	ErrExists = errors.New("storage: key already exists")
	// ErrConflict: the key's revision differs from the precondition.
	ErrConflict = errors.New("storage: revision precondition failed")
	// ErrCompacted: the requested revision is older than the history kept.
	ErrCompacted = errors.New("storage: revision has been compacted")
	// ErrFutureRevision: the requested revision has not happened yet.
	ErrFutureRevision = errors.New("storage: revision is in the future")
	// ErrUnavailable: the store cannot serve now (etcd without quorum);
	// the request may be tried again later.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrOutcomeUnknown comes with ErrUnavailable for a write the store
	// took and could not say the fate of (etcd lost its leader or quorum
	// under it): it may yet be applied.
	ErrOutcomeUnknown = errors.New("storage: the write may or may not have been applied")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: closed")
)

// Item is one stored key with the revisions of its creation and last change.
type Item struct {
	Key       string
	Value     []byte
	CreateRev int64
	ModRev    int64
}

// EventType says what a watch event reports.
type EventType uint8

// Watch event types.
const (
	// EventAdded: the key was created.
	EventAdded EventType = iota + 1
	// EventModified: the key was updated.
	EventModified
	// EventDeleted: the key was deleted. Value holds its last value.
	EventDeleted
	// EventProgress carries no change: every change up to Rev that matches
	// the watch has been delivered. The API server turns it into a BOOKMARK.
	EventProgress
)

func (t EventType) String() string {
	switch t {
	case EventAdded:
		return "ADDED"
	case EventModified:
		return "MODIFIED"
	case EventDeleted:
		return "DELETED"
	case EventProgress:
		return "PROGRESS"
	}
	return "UNKNOWN"
}

// Event is one change to a key.
type Event struct {
	Type EventType
	Key  string
	// Value is the new value, or for EventDeleted the value deleted.
	Value []byte
	// Rev is the revision of the change (for EventDeleted, the deletion).
	Rev       int64
	CreateRev int64
	// PrevValue and PrevModRev describe the key before the change; they are
	// empty for EventAdded.
	PrevValue  []byte
	PrevModRev int64
	// More says that the next event has the same revision: a transaction
	// changed several keys, and its change is whole only with the last.
	More bool
}

// UnderPrefix returns the events whose keys are under prefix, with More
// set as a watcher of prefix must see it: a transaction ends with its
// last event under prefix, though it may change other keys after it.
// events must hold whole transactions. When every event is under prefix,
// events itself is returned.
func UnderPrefix(events []Event, prefix string) []Event {
	all := true
	for i := range events {
		if !strings.HasPrefix(events[i].Key, prefix) {
			all = false
			break
		}
	}
	if all {
		return events
	}
	var out []Event
	for _, ev := range events {
		if strings.HasPrefix(ev.Key, prefix) {
			if n := len(out); n > 0 && out[n-1].Rev == ev.Rev {
				out[n-1].More = true
			}
			ev.More = false
			out = append(out, ev)
		}
	}
	return out
}

// ListOptions shape a List call.
type ListOptions struct {
	// Rev reads the state as of this revision; 0 reads the latest. A
	// revision older than the kept history gives ErrCompacted.
	Rev int64
	// Start is the first key to return (inclusive); empty starts at the prefix.
	Start string
	// Limit caps the number of items; 0 means no limit.
	Limit int64
	// SkipCount leaves ListResult.Remaining at 0: counting the items
	// after a page costs a read of all of them, which a scan page by
	// page does not need.
	SkipCount bool
}

// ListResult is one page of a List.
type ListResult struct {
	// Rev is the revision the page was read at. Later pages of the same
	// list must be read at this revision.
	Rev   int64
	Items []*Item
	// Next is the key to start the next page at, or "" when this was the last page.
	Next string
	// Remaining counts the items after this page.
	Remaining int64
}

// OpType is the kind of one write in a transaction.
type OpType uint8

// Write kinds of a transaction, with the preconditions of Create, Update
// and Delete. OpUnchangedSince writes nothing: it requires that no key
// under the prefix Key was created or changed after revision IfRev (a key
// deleted since is not seen), and fails with ErrConflict otherwise. A
// decision made from a list read at IfRev (which quotas a namespace has)
// stays true for the transaction's writes.
const (
	OpCreate OpType = iota + 1
	OpUpdate
	OpDelete
	OpUnchangedSince
)

// Op is one write of a transaction. IfRev is the ModRev an update or a
// delete requires (0 requires none), or for OpUnchangedSince the revision
// the prefix's keys must not be newer than.
type Op struct {
	Type  OpType
	Key   string
	Value []byte
	IfRev int64
}

// TxnError is the refusal of a transaction: the write at Index failed
// with Err (ErrExists, ErrNotFound or ErrConflict), and nothing was
// written.
type TxnError struct {
	Index int
	Err   error
}

func (e *TxnError) Error() string {
	return fmt.Sprintf("storage: transaction write %d: %v", e.Index, e.Err)
}

// Unwrap lets errors.Is see the failed write's error.
func (e *TxnError) Unwrap() error { return e.Err }

// KV is a store with etcd semantics. Keys are compared as byte strings.
type KV interface {
	// Get returns the current item at key, or ErrNotFound.
	Get(ctx context.Context, key string) (*Item, error)
	// List returns items whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string, opts ListOptions) (*ListResult, error)
	// Create stores value at key if the key does not exist, and returns the new revision.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update replaces the value at key if its ModRev equals ifRev, and
	// returns the new revision. ErrNotFound if absent, ErrConflict if changed.
	Update(ctx context.Context, key string, value []byte, ifRev int64) (int64, error)
	// Delete removes key, if ifRev is 0 or equals its ModRev, and returns
	// the item as it was and the revision of the deletion.
	Delete(ctx context.Context, key string, ifRev int64) (*Item, int64, error)
	// Watch streams changes to keys under prefix with revisions after
	// fromRev (0: from now on). The channel closes when ctx ends, when the
	// store closes, or when the watcher falls too far behind; the caller
	// then resumes from the last revision it saw.
	Watch(ctx context.Context, prefix string, fromRev int64) (<-chan Event, error)
	// Txn makes several writes at once, at one new revision, if every
	// write's precondition holds; otherwise it makes none of them and
	// returns a *TxnError naming the first write that failed. A key may
	// appear only once in a transaction.
	Txn(ctx context.Context, ops []Op) (rev int64, err error)
	// Rev returns the latest committed revision.
	Rev(ctx context.Context) (int64, error)
	// Compact discards history up to and including rev.
	Compact(ctx context.Context, rev int64) error
	// Close releases the store.
	Close() error
}

// ProgressRequester is a KV whose watches can be asked for a progress
// event now (etcd's): each watch then gets an EventProgress at a
// revision that follows every event it has been sent.
type ProgressRequester interface {
	RequestProgress(ctx context.Context)
}

// Expiring is a KV whose keys can be written to expire: etcd's, with
// leases. kube-apiserver keeps its endpoint leases (masterleases) so;
// the embedded database has one server and no such keys.
type Expiring interface {
	// PutExpiring writes key unconditionally; it disappears after ttl
	// unless written again.
	PutExpiring(ctx context.Context, key string, value []byte, ttl time.Duration) (rev int64, err error)
}
