// Package bolt is the embedded storage backend: a bbolt file with fsync on
// every commit. Concurrent writes are coalesced into one commit by a single
// writer goroutine, which also assigns revisions, so revisions are dense and
// events are published in order (the writes of one transaction share a
// revision, as in etcd). Recent events are kept in memory for
// watches and for reads at a recent past revision.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sekisho/sekisho/internal/storage"
)

var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	keyRev     = []byte("rev")
)

// Options configure a Store.
type Options struct {
	// Path of the database file; created with mode 0600 if absent.
	Path string
	// WindowEvents and WindowBytes bound the in-memory event history.
	WindowEvents int
	WindowBytes  int
	// ProgressInterval is how often idle watchers get a progress event.
	ProgressInterval time.Duration
	// MaxBatch caps the writes coalesced into one commit.
	MaxBatch int
}

func (o *Options) defaults() {
	if o.WindowEvents == 0 {
		o.WindowEvents = 10000
	}
	if o.WindowBytes == 0 {
		o.WindowBytes = 64 << 20
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = 5 * time.Second
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 1000
	}
}

// Store is a storage.KV on a bbolt file.
type Store struct {
	db     *bbolt.DB
	opts   Options
	win    *window
	rev    atomic.Int64
	ops    chan *writeOp
	stop   context.CancelFunc
	done   chan struct{}
	closed atomic.Bool
	mu     sync.Mutex // serializes Close
}

var _ storage.KV = (*Store)(nil)

// Open opens or creates the database at opts.Path.
func Open(opts Options) (*Store, error) {
	opts.defaults()
	db, err := bbolt.Open(opts.Path, 0o600, &bbolt.Options{
		Timeout:        2 * time.Second,
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the database is locked by another process", opts.Path)
		}
		return nil, fmt.Errorf("open %s: %w", opts.Path, err)
	}
	var rev int64
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketKV); err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := m.Get(keyRev); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("corrupt revision record")
			}
			rev = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", opts.Path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		db:   db,
		opts: opts,
		win:  newWindow(rev, opts.WindowEvents, opts.WindowBytes),
		ops:  make(chan *writeOp, opts.MaxBatch),
		stop: cancel,
		done: make(chan struct{}),
	}
	s.rev.Store(rev)
	go s.writer(ctx)
	go s.win.runProgress(ctx, opts.ProgressInterval)
	return s, nil
}

// Close stops the writer, closes every watch and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	<-s.done
	s.win.close()
	return s.db.Close()
}

// stored values carry their revisions in a 16-byte header.
func encodeValue(createRev, modRev int64, value []byte) []byte {
	buf := make([]byte, 16+len(value))
	binary.BigEndian.PutUint64(buf, uint64(createRev))
	binary.BigEndian.PutUint64(buf[8:], uint64(modRev))
	copy(buf[16:], value)
	return buf
}

func decodeItem(key, raw []byte) *storage.Item {
	return &storage.Item{
		Key:       string(key),
		CreateRev: int64(binary.BigEndian.Uint64(raw)),
		ModRev:    int64(binary.BigEndian.Uint64(raw[8:])),
		Value:     bytes.Clone(raw[16:]),
	}
}

func readRev(tx *bbolt.Tx) int64 {
	if v := tx.Bucket(bucketMeta).Get(keyRev); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Get implements storage.KV.
func (s *Store) Get(_ context.Context, key string) (*storage.Item, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	var item *storage.Item
	err := s.db.View(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bucketKV).Get([]byte(key))
		if raw == nil {
			return storage.ErrNotFound
		}
		item = decodeItem([]byte(key), raw)
		return nil
	})
	return item, err
}

// Rev implements storage.KV.
func (s *Store) Rev(context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, storage.ErrClosed
	}
	return s.committedRev()
}

// committedRev reads the revision of the last commit from the file. The
// writer stores s.rev and publishes to the window just after a commit, so
// a reader that starts in between already sees the new revision: asking
// the file keeps Rev consistent with what List returned.
func (s *Store) committedRev() (int64, error) {
	var rev int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		rev = readRev(tx)
		return nil
	})
	return rev, err
}

// Compact implements storage.KV.
func (s *Store) Compact(_ context.Context, rev int64) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	s.win.compact(rev)
	return nil
}

// Watch implements storage.KV.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	if fromRev > s.win.last() {
		// A List may have read a commit whose events are still on their
		// way to the window; wait for them rather than call it the future.
		committed, err := s.committedRev()
		if err != nil {
			return nil, err
		}
		if fromRev <= committed {
			s.win.waitFor(fromRev)
		}
	}
	return s.win.watch(ctx, prefix, fromRev)
}

// List implements storage.KV.
func (s *Store) List(_ context.Context, prefix string, opts storage.ListOptions) (*storage.ListResult, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	start := prefix
	if opts.Start > prefix {
		start = opts.Start
	}
	res := &storage.ListResult{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		txRev := readRev(tx)
		res.Rev = txRev
		var undo map[string]*storage.Item
		var undoKeys []string
		if opts.Rev != 0 && opts.Rev != txRev {
			if opts.Rev > txRev {
				return storage.ErrFutureRevision
			}
			// Read the present, then undo what happened after opts.Rev.
			s.win.waitFor(txRev)
			events, err := s.win.since(opts.Rev, txRev, prefix)
			if err != nil {
				return err
			}
			undo, undoKeys = pastState(events, start)
			res.Rev = opts.Rev
		}
		c := tx.Bucket(bucketKV).Cursor()
		k, v := c.Seek([]byte(start))
		ui := 0
		for {
			// Merge the cursor's keys with the keys whose past state differs.
			var item *storage.Item
			switch {
			case k != nil && !bytes.HasPrefix(k, []byte(prefix)):
				k = nil
				continue
			case k == nil && ui >= len(undoKeys):
				return nil
			case k == nil || (ui < len(undoKeys) && undoKeys[ui] < string(k)):
				item = undo[undoKeys[ui]]
				ui++
			default:
				if ui < len(undoKeys) && undoKeys[ui] == string(k) {
					item = undo[undoKeys[ui]]
					ui++
				} else if opts.Limit == 0 || int64(len(res.Items)) < opts.Limit {
					item = decodeItem(k, v)
				} else {
					item = &storage.Item{Key: string(k)} // only counted
				}
				k, v = c.Next()
			}
			if item == nil {
				continue // did not exist at opts.Rev
			}
			if opts.Limit > 0 && int64(len(res.Items)) >= opts.Limit {
				if res.Next == "" {
					res.Next = item.Key
				}
				if opts.SkipCount {
					return nil
				}
				res.Remaining++
				continue
			}
			res.Items = append(res.Items, item)
		}
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// pastState computes, for each key changed by events, its state before the
// first of those events: nil if it did not exist. Keys before start are
// ignored. It returns the states and their keys in order.
func pastState(events []storage.Event, start string) (map[string]*storage.Item, []string) {
	state := map[string]*storage.Item{}
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.Key < start {
			continue
		}
		if e.Type == storage.EventAdded {
			state[e.Key] = nil
			continue
		}
		state[e.Key] = &storage.Item{Key: e.Key, Value: e.PrevValue, CreateRev: e.CreateRev, ModRev: e.PrevModRev}
	}
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return state, keys
}

// writeOp is one queued write: a single Create, Update or Delete (txn
// false, one op), or a transaction of several.
type writeOp struct {
	ops  []storage.Op
	txn  bool
	done chan struct{}

	// results
	rev  int64
	prev *storage.Item
	err  error
}

func (s *Store) submit(ctx context.Context, op *writeOp) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	// A caller whose deadline has passed gets its error, not a commit: the
	// select below picks at random when both cases are ready.
	if err := ctx.Err(); err != nil {
		return err
	}
	op.done = make(chan struct{})
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return storage.ErrClosed
	}
	// Once queued, the write completes or fails as a whole; waiting for it
	// keeps the caller's view consistent with what was committed.
	<-op.done
	return op.err
}

// Create implements storage.KV.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	op := &writeOp{ops: []storage.Op{{Type: storage.OpCreate, Key: key, Value: value}}}
	err := s.submit(ctx, op)
	return op.rev, err
}

// Update implements storage.KV.
func (s *Store) Update(ctx context.Context, key string, value []byte, ifRev int64) (int64, error) {
	op := &writeOp{ops: []storage.Op{{Type: storage.OpUpdate, Key: key, Value: value, IfRev: ifRev}}}
	err := s.submit(ctx, op)
	return op.rev, err
}

// Delete implements storage.KV.
func (s *Store) Delete(ctx context.Context, key string, ifRev int64) (*storage.Item, int64, error) {
	op := &writeOp{ops: []storage.Op{{Type: storage.OpDelete, Key: key, IfRev: ifRev}}}
	err := s.submit(ctx, op)
	return op.prev, op.rev, err
}

// Txn implements storage.KV. Its writes are checked and made in the
// commit that also holds the writes queued with it, by the one writer
// goroutine, so nothing can come between the checks and the writes.
func (s *Store) Txn(ctx context.Context, ops []storage.Op) (int64, error) {
	if len(ops) == 0 {
		return 0, errors.New("storage: an empty transaction")
	}
	seen := make(map[string]bool, len(ops))
	writes := 0
	for _, o := range ops {
		if seen[o.Key] {
			return 0, fmt.Errorf("storage: key %q appears twice in one transaction", o.Key)
		}
		seen[o.Key] = true
		if o.Type != storage.OpUnchangedSince {
			writes++
		}
	}
	if writes == 0 {
		return 0, errors.New("storage: a transaction with no write")
	}
	op := &writeOp{ops: ops, txn: true}
	err := s.submit(ctx, op)
	return op.rev, err
}

// writer commits queued writes, as many as are waiting, in one transaction.
func (s *Store) writer(ctx context.Context) {
	defer close(s.done)
	batch := make([]*writeOp, 0, s.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			s.failQueued()
			return
		case op := <-s.ops:
			batch = append(batch, op)
		}
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case op := <-s.ops:
			op.err = storage.ErrClosed
			close(op.done)
		default:
			return
		}
	}
}

var errNothingToCommit = errors.New("nothing to commit")

func (s *Store) commit(batch []*writeOp) {
	var events []storage.Event
	rev := s.rev.Load()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKV)
		events = events[:0]
		rev = s.rev.Load()
		for _, op := range batch {
			op.err = nil
			var ok bool
			var err error
			if events, ok, err = s.apply(b, op, rev+1, events); err != nil {
				return err
			}
			if ok {
				rev++
			}
		}
		if len(events) == 0 {
			return errNothingToCommit
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(rev))
		return tx.Bucket(bucketMeta).Put(keyRev, buf[:])
	})
	if err != nil && !errors.Is(err, errNothingToCommit) {
		for _, op := range batch {
			op.err = fmt.Errorf("storage commit failed: %w", err)
			op.rev, op.prev = 0, nil
			close(op.done)
		}
		return
	}
	if len(events) > 0 {
		for i := range events[:len(events)-1] {
			events[i].More = events[i+1].Rev == events[i].Rev
		}
		s.rev.Store(rev)
		s.win.publish(events, rev)
	}
	for _, op := range batch {
		close(op.done)
	}
}

// apply performs one queued write (all of a transaction's writes) inside
// the commit's transaction at revision rev, and appends its events. It
// reports ok=false when a precondition failed (op.err says why) and
// nothing changed. An error from bbolt itself fails the whole commit, so
// that no transaction is half made.
func (s *Store) apply(b *bbolt.Bucket, op *writeOp, rev int64, events []storage.Event) ([]storage.Event, bool, error) {
	curs := make([]*storage.Item, len(op.ops))
	for i, o := range op.ops {
		key := []byte(o.Key)
		var err error
		if o.Type == storage.OpUnchangedSince {
			err = unchangedSince(b, key, o.IfRev)
		} else {
			if raw := b.Get(key); raw != nil {
				curs[i] = decodeItem(key, raw)
			}
			err = precondition(o, curs[i])
		}
		if err != nil {
			if op.txn {
				err = &storage.TxnError{Index: i, Err: err}
			}
			op.err = err
			return events, false, nil
		}
	}
	for i, o := range op.ops {
		if o.Type == storage.OpUnchangedSince {
			continue
		}
		e, err := put(b, o, curs[i], rev)
		if err != nil {
			return events, false, err
		}
		events = append(events, e)
	}
	op.rev = rev
	if !op.txn && op.ops[0].Type == storage.OpDelete {
		op.prev = curs[0]
	}
	return events, true, nil
}

// precondition checks one write against the key's current item.
func precondition(o storage.Op, cur *storage.Item) error {
	switch o.Type {
	case storage.OpCreate:
		if cur != nil {
			return storage.ErrExists
		}
	case storage.OpUpdate, storage.OpDelete:
		if cur == nil {
			return storage.ErrNotFound
		}
		if o.IfRev != 0 && o.IfRev != cur.ModRev {
			return storage.ErrConflict
		}
	default:
		return fmt.Errorf("unknown write kind %d", o.Type)
	}
	return nil
}

// unchangedSince is OpUnchangedSince's precondition: no key under
// prefix has a ModRev after rev.
func unchangedSince(b *bbolt.Bucket, prefix []byte, rev int64) error {
	c := b.Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		if int64(binary.BigEndian.Uint64(raw[8:])) > rev { // the ModRev, as decodeItem reads it
			return storage.ErrConflict
		}
	}
	return nil
}

// put makes one write whose precondition holds, and returns its event.
func put(b *bbolt.Bucket, o storage.Op, cur *storage.Item, rev int64) (storage.Event, error) {
	key := []byte(o.Key)
	switch o.Type {
	case storage.OpCreate:
		if err := b.Put(key, encodeValue(rev, rev, o.Value)); err != nil {
			return storage.Event{}, err
		}
		return storage.Event{Type: storage.EventAdded, Key: o.Key, Value: o.Value, Rev: rev, CreateRev: rev}, nil
	case storage.OpUpdate:
		if err := b.Put(key, encodeValue(cur.CreateRev, rev, o.Value)); err != nil {
			return storage.Event{}, err
		}
		return storage.Event{Type: storage.EventModified, Key: o.Key, Value: o.Value, Rev: rev, CreateRev: cur.CreateRev,
			PrevValue: cur.Value, PrevModRev: cur.ModRev}, nil
	default:
		if err := b.Delete(key); err != nil {
			return storage.Event{}, err
		}
		return storage.Event{Type: storage.EventDeleted, Key: o.Key, Value: cur.Value, Rev: rev, CreateRev: cur.CreateRev,
			PrevValue: cur.Value, PrevModRev: cur.ModRev}, nil
	}
}
