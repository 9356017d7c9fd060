// Package etcd keeps the API server's objects in etcd, with the same
// storage.KV semantics as the embedded bbolt store: etcd's revisions are
// the resourceVersions, writes are conditional on a key's revision
// through etcd transactions, lists read at a past revision, and watches
// stream from one. Keys are stored as they are (sekisho's keys are
// kube-apiserver's: /registry/<resource>/...), under an optional prefix.
package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sekisho/sekisho/internal/storage"
)

// Options configure the store.
type Options struct {
	// Client is the etcd client; the store does not close it.
	Client *clientv3.Client
	// Prefix is put before every key (kube-apiserver's --etcd-prefix
	// names what sekisho's keys already start with, /registry; this is
	// for more than one store in one etcd, as tests do).
	Prefix string
	// ProgressInterval is how often an idle watch asks etcd for a
	// progress notification; 0 is 5 s.
	ProgressInterval time.Duration
	// Leader, when set, carries write transactions to the leader.
	Leader *LeaderWrites
}

// Store is a storage.KV over etcd.
type Store struct {
	c        *clientv3.Client
	leader   *LeaderWrites
	prefix   string
	progress time.Duration
}

// New returns a store over opts.Client.
func New(opts Options) *Store {
	if opts.ProgressInterval == 0 {
		opts.ProgressInterval = 5 * time.Second
	}
	return &Store{c: opts.Client, leader: opts.Leader, prefix: opts.Prefix, progress: opts.ProgressInterval}
}

var _ storage.KV = (*Store)(nil)

func (s *Store) key(k string) string { return s.prefix + k }

// writeTxn commits the transaction build makes, on the leader's
// connection when one is known, else on the client of every endpoint.
func (s *Store) writeTxn(ctx context.Context, build func(clientv3.Txn) clientv3.Txn) (*clientv3.TxnResponse, error) {
	c := s.leader.writes()
	if c == nil {
		return build(s.c.Txn(ctx)).Commit()
	}
	resp, err := build(c.kv.Txn(ctx)).Commit()
	if err != nil {
		s.leader.failed(c, err)
	}
	return resp, err
}

func (s *Store) item(kv *mvccpb.KeyValue) *storage.Item {
	return &storage.Item{Key: string(kv.Key[len(s.prefix):]), Value: kv.Value, CreateRev: kv.CreateRevision, ModRev: kv.ModRevision}
}

// mapErr turns etcd's errors into storage's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrNoLeader), errors.Is(err, rpctypes.ErrTimeout),
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail), errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost),
		errors.Is(err, rpctypes.ErrLeaderChanged), errors.Is(err, rpctypes.ErrTimeoutWaitAppliedIndex),
		status.Code(err) == codes.Unavailable:
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w: %v", storage.ErrCompacted, err)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("%w: %v", storage.ErrFutureRevision, err)
	}
	return err
}

// leader marks a request to fail at once, with "no leader", when the
// member serving it has lost its quorum, rather than wait out a timeout.
func leader(ctx context.Context) context.Context { return clientv3.WithRequireLeader(ctx) }

// electionWait is how long a request waits for a leader: an election
// after the leader's loss takes a second or two, and a request then
// should not fail; a cluster without quorum fails it after this.
const electionWait = 5 * time.Second

// whileElecting runs op, again every 100 ms while the member serving it
// has no leader, for up to electionWait. A request refused for want of a
// leader was never proposed, so running it again cannot apply it twice.
func whileElecting[T any](ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(electionWait)
	for {
		v, err := op(leader(ctx))
		if !errors.Is(err, rpctypes.ErrNoLeader) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// unknownOutcome reports whether a write may or may not have been
// applied: the member died under it, or a leader change timed it out.
func unknownOutcome(err error) bool {
	return errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		status.Code(err) == codes.Unavailable
}

// commit runs a write transaction that puts value at key (value nil: a
// write with no such put). When its outcome is unknown, it reads key
// back: holding value, which is unique to this write (an object's uid,
// or a sealed value's nonce, differs from any other write's), the write
// landed at the returned revision; otherwise it did not, and it is tried
// again, its own preconditions deciding, up to three times in all. A
// member killed under a write so costs the client nothing.
func (s *Store) commit(ctx context.Context, key string, value []byte, txn func(context.Context) (*clientv3.TxnResponse, error)) (*clientv3.TxnResponse, int64, error) {
	for attempt := 1; ; attempt++ {
		resp, err := whileElecting(ctx, txn)
		if err == nil || !unknownOutcome(err) {
			return resp, 0, err
		}
		if value == nil || attempt == 3 || ctx.Err() != nil {
			return resp, 0, fmt.Errorf("%w: %w", storage.ErrOutcomeUnknown, err)
		}
		got, gerr := whileElecting(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) { return s.c.Get(ctx, s.key(key)) })
		if gerr != nil {
			return nil, 0, fmt.Errorf("%w: %w", storage.ErrOutcomeUnknown, err)
		}
		if len(got.Kvs) > 0 && bytes.Equal(got.Kvs[0].Value, value) {
			return nil, got.Kvs[0].ModRevision, nil
		}
	}
}

// Get implements storage.KV.
func (s *Store) Get(ctx context.Context, key string) (*storage.Item, error) {
	resp, err := whileElecting(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) { return s.c.Get(ctx, s.key(key)) })
	if err != nil {
		return nil, mapErr(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, storage.ErrNotFound
	}
	return s.item(resp.Kvs[0]), nil
}

// List implements storage.KV. It asks for one item more than the page,
// to name the next page's first key.
func (s *Store) List(ctx context.Context, prefix string, opts storage.ListOptions) (*storage.ListResult, error) {
	start := prefix
	if opts.Start > prefix {
		start = opts.Start
	}
	ops := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.key(prefix)))}
	if opts.Rev > 0 {
		ops = append(ops, clientv3.WithRev(opts.Rev))
	}
	if opts.Limit > 0 {
		ops = append(ops, clientv3.WithLimit(opts.Limit+1))
	}
	resp, err := whileElecting(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) { return s.c.Get(ctx, s.key(start), ops...) })
	if err != nil {
		return nil, mapErr(err)
	}
	res := &storage.ListResult{Rev: resp.Header.Revision}
	if opts.Rev > 0 {
		res.Rev = opts.Rev
	}
	kvs := resp.Kvs
	if opts.Limit > 0 && int64(len(kvs)) > opts.Limit {
		res.Next = string(kvs[opts.Limit].Key[len(s.prefix):])
		kvs = kvs[:opts.Limit]
		if !opts.SkipCount {
			res.Remaining = resp.Count - opts.Limit
		}
	}
	res.Items = make([]*storage.Item, len(kvs))
	for i, kv := range kvs {
		res.Items[i] = s.item(kv)
	}
	return res, nil
}

// Create implements storage.KV.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	k := s.key(key)
	resp, landed, err := s.commit(ctx, key, value, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return s.writeTxn(ctx, func(t clientv3.Txn) clientv3.Txn {
			return t.If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(value)))
		})
	})
	if err != nil || landed > 0 {
		return landed, mapErr(err)
	}
	if !resp.Succeeded {
		return 0, storage.ErrExists
	}
	return resp.Header.Revision, nil
}

// PutExpiring implements storage.Expiring with an etcd lease of ttl
// (whole seconds, at least one): the key is gone when the lease expires.
func (s *Store) PutExpiring(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	lease, err := whileElecting(ctx, func(ctx context.Context) (*clientv3.LeaseGrantResponse, error) {
		return s.c.Grant(ctx, max(int64(ttl/time.Second), 1))
	})
	if err != nil {
		return 0, mapErr(err)
	}
	resp, err := whileElecting(ctx, func(ctx context.Context) (*clientv3.PutResponse, error) {
		return s.c.Put(ctx, s.key(key), string(value), clientv3.WithLease(lease.ID))
	})
	if err != nil {
		return 0, mapErr(err)
	}
	return resp.Header.Revision, nil
}

// precondition is the compare of an update or delete of k: the key
// exists, at ifRev when it is not 0.
func precondition(k string, ifRev int64) clientv3.Cmp {
	if ifRev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(k), ">", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(k), "=", ifRev)
}

// failed says why a precondition failed, from the key's current state.
func failed(resp *clientv3.TxnResponse, at int) error {
	if at >= len(resp.Responses) || len(resp.Responses[at].GetResponseRange().Kvs) == 0 {
		return storage.ErrNotFound
	}
	return storage.ErrConflict
}

// Update implements storage.KV.
func (s *Store) Update(ctx context.Context, key string, value []byte, ifRev int64) (int64, error) {
	k := s.key(key)
	resp, landed, err := s.commit(ctx, key, value, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return s.writeTxn(ctx, func(t clientv3.Txn) clientv3.Txn {
			return t.If(precondition(k, ifRev)).Then(clientv3.OpPut(k, string(value))).Else(clientv3.OpGet(k))
		})
	})
	if err != nil || landed > 0 {
		return landed, mapErr(err)
	}
	if !resp.Succeeded {
		return 0, failed(resp, 0)
	}
	return resp.Header.Revision, nil
}

// Delete implements storage.KV.
func (s *Store) Delete(ctx context.Context, key string, ifRev int64) (*storage.Item, int64, error) {
	k := s.key(key)
	resp, err := whileElecting(ctx, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return s.writeTxn(ctx, func(t clientv3.Txn) clientv3.Txn {
			return t.If(precondition(k, ifRev)).Then(clientv3.OpDelete(k, clientv3.WithPrevKV())).Else(clientv3.OpGet(k))
		})
	})
	if err != nil {
		return nil, 0, mapErr(err)
	}
	if !resp.Succeeded {
		return nil, 0, failed(resp, 0)
	}
	prev := resp.Responses[0].GetResponseDeleteRange().PrevKvs
	if len(prev) == 0 {
		return nil, 0, storage.ErrNotFound
	}
	return s.item(prev[0]), resp.Header.Revision, nil
}

// Txn implements storage.KV: one etcd transaction, whose compares are
// every write's precondition. When one fails, the Else branch has read
// every key, and the first write whose precondition does not hold on
// what was read is the one named.
func (s *Store) Txn(ctx context.Context, ops []storage.Op) (int64, error) {
	if len(ops) == 0 {
		return 0, errors.New("storage: an empty transaction")
	}
	seen := make(map[string]bool, len(ops))
	cmps := make([]clientv3.Cmp, len(ops))
	then := make([]clientv3.Op, 0, len(ops))
	reads := make([]clientv3.Op, len(ops))
	for i, o := range ops {
		if seen[o.Key] {
			return 0, fmt.Errorf("storage: key %q appears twice in one transaction", o.Key)
		}
		seen[o.Key] = true
		k := s.key(o.Key)
		reads[i] = clientv3.OpGet(k)
		switch o.Type {
		case storage.OpCreate:
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
			then = append(then, clientv3.OpPut(k, string(o.Value)))
		case storage.OpUpdate:
			cmps[i] = precondition(k, o.IfRev)
			then = append(then, clientv3.OpPut(k, string(o.Value)))
		case storage.OpDelete:
			cmps[i] = precondition(k, o.IfRev)
			then = append(then, clientv3.OpDelete(k))
		case storage.OpUnchangedSince:
			// Over a range, etcd requires the comparison of every key in
			// it (and of none, when it is empty).
			cmps[i] = clientv3.Compare(clientv3.ModRevision(k), "<", o.IfRev+1).WithPrefix()
			// (etcd counts before it filters: the keys are read, not counted.)
			reads[i] = clientv3.OpGet(k, clientv3.WithPrefix(), clientv3.WithMinModRev(o.IfRev+1), clientv3.WithKeysOnly())
		default:
			return 0, fmt.Errorf("storage: unknown operation %d", o.Type)
		}
	}
	if len(then) == 0 {
		return 0, errors.New("storage: a transaction with no write")
	}
	// A value written by the transaction tells whether it landed.
	var witness string
	var value []byte
	for _, o := range ops {
		if o.Type == storage.OpCreate || o.Type == storage.OpUpdate {
			witness, value = o.Key, o.Value
			break
		}
	}
	resp, landed, err := s.commit(ctx, witness, value, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return s.writeTxn(ctx, func(t clientv3.Txn) clientv3.Txn { return t.If(cmps...).Then(then...).Else(reads...) })
	})
	if err != nil || landed > 0 {
		return landed, mapErr(err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	for i, o := range ops {
		kvs := resp.Responses[i].GetResponseRange().Kvs
		switch {
		case o.Type == storage.OpUnchangedSince:
			if len(kvs) > 0 {
				return 0, &storage.TxnError{Index: i, Err: storage.ErrConflict}
			}
		case o.Type == storage.OpCreate && len(kvs) > 0:
			return 0, &storage.TxnError{Index: i, Err: storage.ErrExists}
		case o.Type != storage.OpCreate && len(kvs) == 0:
			return 0, &storage.TxnError{Index: i, Err: storage.ErrNotFound}
		case o.Type != storage.OpCreate && o.IfRev != 0 && kvs[0].ModRevision != o.IfRev:
			return 0, &storage.TxnError{Index: i, Err: storage.ErrConflict}
		}
	}
	return 0, &storage.TxnError{Index: 0, Err: storage.ErrConflict}
}

// Rev implements storage.KV.
func (s *Store) Rev(ctx context.Context) (int64, error) {
	resp, err := whileElecting(ctx, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return s.c.Get(ctx, s.key("\x00"), clientv3.WithCountOnly())
	})
	if err != nil {
		return 0, mapErr(err)
	}
	return resp.Header.Revision, nil
}

// Compact implements storage.KV: etcd keeps rev and discards what is
// older.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	_, err := s.c.Compact(leader(ctx), rev)
	return mapErr(err)
}

// RequestProgress implements storage.ProgressRequester. The watches share
// one gRPC stream (all of them require a leader, and carry no other
// metadata), and etcd answers a request on it with a progress note to
// each of its watches once they are all synced.
func (s *Store) RequestProgress(ctx context.Context) {
	s.c.RequestProgress(clientv3.WithRequireLeader(ctx))
}

// ProgressOrdered checks that every member the client reaches runs an
// etcd whose requested progress notes follow every event sent before
// them (etcd-io/etcd#15220): 3.4.31 and later 3.4s, 3.5.13 and later
// 3.5s, 3.6 and later, the versions kube-apiserver requires before it
// serves consistent reads from its watch cache. It names the first
// member that does not, or cannot say.
func (s *Store) ProgressOrdered(ctx context.Context) error {
	for _, ep := range s.c.Endpoints() {
		st, err := s.c.Status(ctx, ep)
		if err != nil {
			return fmt.Errorf("the version of etcd at %s: %w", ep, err)
		}
		if !progressOrdered(st.Version) {
			return fmt.Errorf("etcd at %s is %s: its progress notes may overtake events (3.4.31+, 3.5.13+ or 3.6+ needed)", ep, st.Version)
		}
	}
	return nil
}

// progressOrdered reports whether an etcd version sends requested
// progress notes in order with events.
func progressOrdered(version string) bool {
	var major, minor, patch int
	if _, err := fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return false
	}
	switch {
	case major != 3:
		return major > 3
	case minor == 4:
		return patch >= 31
	case minor == 5:
		return patch >= 13
	}
	return minor > 5
}

// Close implements storage.KV; the client is the caller's to close.
func (s *Store) Close() error { return nil }

// Watch implements storage.KV. A revision compacted away or not yet
// written is refused at once, as the bbolt store refuses it. An idle
// watch gets progress events every ProgressInterval.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	if fromRev > 0 {
		// Read at fromRev: etcd says whether it is compacted or future.
		if _, err := s.c.Get(leader(ctx), s.key(prefix), clientv3.WithRev(fromRev), clientv3.WithCountOnly()); err != nil {
			return nil, mapErr(err)
		}
	}
	// "From now" is after every write acknowledged so far. A watch
	// without a revision starts at the revision of the member serving it,
	// which may lag behind the leader and replay writes from before the
	// call: those at or below a quorum read's revision are dropped.
	// (Such a watch, unlike one from a revision, gets progress events.)
	var after int64
	if fromRev == 0 {
		rev, err := s.Rev(ctx)
		if err != nil {
			return nil, err
		}
		after = rev
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if fromRev > 0 {
		opts = append(opts, clientv3.WithRev(fromRev+1))
	}
	wch := s.c.Watch(wctx, s.key(prefix), opts...)
	out := make(chan storage.Event, 100)
	go func() {
		defer cancel()
		defer close(out)
		tick := time.NewTicker(s.progress)
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
				// Progress comes back on this watch's stream; its
				// revision follows every event already sent.
				s.c.RequestProgress(wctx)
			case resp, ok := <-wch:
				if !ok || resp.Canceled || resp.Err() != nil {
					return
				}
				if resp.IsProgressNotify() {
					// Events up to after are dropped, so progress to it holds
					// even on a member still behind.
					if !send(wctx, out, storage.Event{Type: storage.EventProgress, Rev: max(resp.Header.Revision, after)}) {
						return
					}
					continue
				}
				for i, ev := range resp.Events {
					if ev.Kv.ModRevision <= after {
						continue
					}
					e := s.event(ev)
					// etcd sends a revision's events in one response.
					e.More = i+1 < len(resp.Events) && resp.Events[i+1].Kv.ModRevision == ev.Kv.ModRevision
					if !send(wctx, out, e) {
						return
					}
				}
			}
		}
	}()
	return out, nil
}

func send(ctx context.Context, out chan<- storage.Event, e storage.Event) bool {
	select {
	case out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Store) event(ev *clientv3.Event) storage.Event {
	kv := ev.Kv
	e := storage.Event{Key: string(kv.Key[len(s.prefix):]), Rev: kv.ModRevision, CreateRev: kv.CreateRevision}
	if ev.PrevKv != nil {
		e.PrevValue, e.PrevModRev = ev.PrevKv.Value, ev.PrevKv.ModRevision
	}
	switch {
	case ev.Type == clientv3.EventTypeDelete:
		e.Type = storage.EventDeleted
		e.Value = e.PrevValue
		if ev.PrevKv != nil {
			e.CreateRev = ev.PrevKv.CreateRevision
		}
	case kv.CreateRevision == kv.ModRevision:
		e.Type = storage.EventAdded
		e.Value = kv.Value
	default:
		e.Type = storage.EventModified
		e.Value = kv.Value
	}
	return e
}
