package watchhub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/storage/storagetest"
)

func openBolt(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db"), ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hubbed is a store whose watches go through a hub.
type hubbed struct {
	*bolt.Store
	hub *Hub
}

func (h hubbed) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	return h.hub.Watch(ctx, prefix, fromRev)
}

// The storage conformance suite, with every watch through a hub.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.KV {
		s := openBolt(t)
		return hubbed{Store: s, hub: New(s, "/registry/")}
	})
}

// counting is a source that counts its open watches and can end them.
type counting struct {
	*bolt.Store
	mu      sync.Mutex
	open    int
	cancels []context.CancelFunc
	// failing is how many of the next watches fail, as during an outage.
	failing atomic.Int32
}

var errOutage = errors.New("storage unreachable")

func (c *counting) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	if c.failing.Add(-1) >= 0 {
		return nil, errOutage
	}
	c.failing.Store(0)
	ctx, cancel := context.WithCancel(ctx)
	events, err := c.Store.Watch(ctx, prefix, fromRev)
	if err != nil {
		cancel()
		return nil, err
	}
	c.mu.Lock()
	c.open++
	c.cancels = append(c.cancels, cancel)
	c.mu.Unlock()
	out := make(chan storage.Event)
	go func() {
		defer close(out)
		defer func() { c.mu.Lock(); c.open--; c.mu.Unlock() }()
		for ev := range events {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (c *counting) watches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// endAll ends every source watch open now, as a storage member's
// failure would.
func (c *counting) endAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cancel := range c.cancels {
		cancel()
	}
	c.cancels = nil
}

type seen struct {
	typ       storage.EventType
	key       string
	rev       int64
	val, prev string
	more      bool
}

func (s seen) String() string {
	return fmt.Sprintf("%v %s@%d=%q (prev %q) more=%v", s.typ, s.key, s.rev, s.val, s.prev, s.more)
}

// collect reads a watch until it has seen rev (or the watch ends), and
// checks that each transaction ends with an event without More. (A
// storage watch of a prefix may not: it marks More by the whole
// transaction, see storageWatch.)
func collect(t *testing.T, name string, events <-chan storage.Event, rev int64) ([]seen, bool) {
	return collectMore(t, name, events, rev, true)
}

func collectMore(t *testing.T, name string, events <-chan storage.Event, rev int64, strict bool) ([]seen, bool) {
	t.Helper()
	var got []seen
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return got, false
			}
			if ev.Type == storage.EventProgress {
				continue
			}
			if n := len(got); strict && n > 0 && got[n-1].more && got[n-1].rev != ev.Rev {
				t.Errorf("%s: %v has More, and the next event is at %d", name, got[n-1], ev.Rev)
			}
			got = append(got, seen{ev.Type, ev.Key, ev.Rev, string(ev.Value), string(ev.PrevValue), ev.More})
			if ev.Rev >= rev && (!ev.More || !strict) {
				return got, true
			}
		case <-deadline:
			t.Fatalf("%s: no event at %d within 20s (%d seen)", name, rev, len(got))
		}
	}
}

// write makes random creates, updates, deletes and multi-key
// transactions under three namespaces, and returns the last revision.
func write(t *testing.T, kv storage.KV, n int, rng *rand.Rand) int64 {
	t.Helper()
	ctx := t.Context()
	var last int64
	for i := range n {
		ns := fmt.Sprintf("ns%d", rng.IntN(3))
		key := fmt.Sprintf("/registry/things/%s/k%d", ns, rng.IntN(8))
		var rev int64
		var err error
		switch rng.IntN(4) {
		case 0:
			var ops []storage.Op
			for j := range 1 + rng.IntN(3) {
				ops = append(ops, storage.Op{Type: storage.OpCreate, Key: fmt.Sprintf("/registry/things/ns%d/t%x", j, rng.Uint64()), Value: []byte("t")})
			}
			rev, err = kv.Txn(ctx, ops)
		case 1:
			if _, rev, err = kv.Delete(ctx, key, 0); errors.Is(err, storage.ErrNotFound) {
				err = nil
			}
		default:
			if rev, err = kv.Create(ctx, key, fmt.Appendf(nil, "v%d", i)); errors.Is(err, storage.ErrExists) {
				rev, err = kv.Update(ctx, key, fmt.Appendf(nil, "v%d", i), 0)
			}
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		last = max(last, rev)
	}
	return last
}

// Watchers of several prefixes, starting before, during and after
// writes (some from past revisions), see exactly what a storage watch of
// their own sees, while the hub keeps one storage watch.
func TestSameEventsAsStorage(t *testing.T) {
	src := &counting{Store: openBolt(t)}
	hub := New(src, "/registry/things/")
	hub.History, hub.HistoryBytes = 50, 3000 // about 30 of these events
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	type pair struct {
		name        string
		hub, direct <-chan storage.Event
	}
	var pairs []pair
	watch := func(prefix string, from int64) {
		t.Helper()
		h, err := hub.Watch(ctx, prefix, from)
		if err != nil {
			t.Fatal(err)
		}
		d, err := src.Store.Watch(ctx, prefix, from)
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, pair{fmt.Sprintf("%s from %d", prefix, from), h, d})
	}
	prefixes := []string{"/registry/things/", "/registry/things/ns0/", "/registry/things/ns1/", "/registry/things/ns2/k1"}
	start := write(t, src, 5, rng)
	for _, p := range prefixes {
		watch(p, start)
	}
	var revs []int64
	for range 6 {
		last := write(t, src, 40, rng)
		revs = append(revs, last)
		// Some watchers a little behind (in the history), some far behind
		// (a watch of their own), some now.
		watch(prefixes[rng.IntN(len(prefixes))], last-int64(rng.IntN(30)))
		watch(prefixes[rng.IntN(len(prefixes))], max(1, last-200))
		watch(prefixes[rng.IntN(len(prefixes))], last)
	}
	last := write(t, src, 40, rng)
	// A marker every watcher sees, to know it is done.
	end, err := src.Txn(ctx, []storage.Op{
		{Type: storage.OpCreate, Key: "/registry/things/ns0/end", Value: []byte("end")},
		{Type: storage.OpCreate, Key: "/registry/things/ns1/end", Value: []byte("end")},
		{Type: storage.OpCreate, Key: "/registry/things/ns2/k1end", Value: []byte("end")},
	})
	if err != nil || end <= last {
		t.Fatalf("end marker: %d %v", end, err)
	}
	for _, p := range pairs {
		want, ok := collectMore(t, p.name+" (storage)", p.direct, end, false)
		if !ok {
			t.Fatalf("%s: storage watch ended", p.name)
		}
		got, ok := collect(t, p.name+" (hub)", p.hub, end)
		if !ok {
			t.Fatalf("%s: hub watch ended", p.name)
		}
		// The end marker's transaction: storage's watch stops at its first
		// event (which may carry More), the hub's at its last.
		got, want = before(got, end), before(want, end)
		if len(got) != len(want) {
			t.Fatalf("%s: %d events through the hub, %d from storage", p.name, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			g.more, w.more = false, false // checked per transaction by collect
			if g != w {
				t.Fatalf("%s: event %d is %v, storage says %v", p.name, i, g, w)
			}
		}
	}
	shared, own := hub.Counts()
	if shared == 0 || own == 0 {
		t.Errorf("%d watches shared, %d their own: the test should make both", shared, own)
	}
	// One source watch for the hub, plus the watches of their own.
	if n := src.watches(); n != 1+int(own) {
		t.Errorf("%d source watches open, want %d", n, 1+own)
	}
}

// A watcher that does not read is dropped when its buffer is full; the
// others get every event, and the source watch stops with the last one.
func TestSlowWatcherIsDropped(t *testing.T) {
	src := &counting{Store: openBolt(t)}
	hub := New(src, "/registry/things/")
	hub.MaxQueue = 4
	ctx, cancel := context.WithCancel(t.Context())
	rev, _ := src.Rev(ctx)
	slow, err := hub.Watch(ctx, "/registry/things/", rev)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := hub.Watch(ctx, "/registry/things/", rev)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := range 10 {
		last, _ = src.Create(ctx, fmt.Sprintf("/registry/things/k%d", i), []byte("v"))
		if _, ok := collect(t, "fast", fast, last); !ok {
			t.Fatal("the reading watcher was dropped")
		}
	}
	n := 0
	for range slow {
		n++
	}
	// Four queued, and four more in the hands of its goroutine.
	if n > 8 {
		t.Errorf("the slow watcher got %d events past its queue of 4", n)
	}
	cancel()
	waitFor(t, "the source watch to stop", func() bool { return src.watches() == 0 })
}

// When the source watch ends (a storage member failed), the hub resumes
// it from its position: watchers see every change once, in order.
func TestSourceWatchResumes(t *testing.T) {
	src := &counting{Store: openBolt(t)}
	hub := New(src, "/registry/things/")
	ctx := t.Context()
	from, _ := src.Create(ctx, "/registry/other", []byte("v")) // a revision to resume from
	w, err := hub.Watch(ctx, "/registry/things/", from)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			rev, err := src.Create(ctx, fmt.Sprintf("/registry/things/k%d", i), []byte("v"))
			if err != nil {
				return
			}
			want = append(want, rev)
		}
	}()
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		src.endAll()
	}
	stop.Store(true)
	<-done
	got, ok := collect(t, "watcher", w, want[len(want)-1])
	if !ok {
		t.Fatal("the watch ended")
	}
	if len(got) != len(want) {
		t.Fatalf("%d events for %d writes", len(got), len(want))
	}
	for i := range want {
		if got[i].rev != want[i] {
			t.Fatalf("event %d at %d, want %d", i, got[i].rev, want[i])
		}
	}
}

// Revisions not yet written, and those compacted away, are refused as a
// storage watch refuses them.
func TestRefusedRevisions(t *testing.T) {
	s := openBolt(t)
	hub := New(s, "/registry/things/")
	ctx := t.Context()
	for i := range 5 {
		s.Create(ctx, fmt.Sprintf("/registry/things/k%d", i), []byte("v"))
	}
	rev, _ := s.Rev(ctx)
	if _, err := hub.Watch(ctx, "/registry/things/", rev+10); !errors.Is(err, storage.ErrFutureRevision) {
		t.Errorf("a future revision (hub idle): %v", err)
	}
	w, err := hub.Watch(ctx, "/registry/things/", rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Watch(ctx, "/registry/things/", rev+10); !errors.Is(err, storage.ErrFutureRevision) {
		t.Errorf("a future revision (hub running): %v", err)
	}
	if err := s.Compact(ctx, rev-1); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Watch(ctx, "/registry/things/", rev-3); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("a compacted revision: %v", err)
	}
	_ = w
}

// before is the events before rev.
func before(events []seen, rev int64) []seen {
	for i, ev := range events {
		if ev.rev >= rev {
			return events[:i]
		}
	}
	return events
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stalled is a source whose watches do not open until their context
// ends, as with an etcd that does not answer.
type stalled struct{ *bolt.Store }

func (s stalled) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan storage.Event, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A storage that does not answer holds up only the watches that wait
// for it, each until its own context ends: not the hub's lock, and not
// other watchers.
func TestStalledSourceHoldsUpNoOne(t *testing.T) {
	s := openBolt(t)
	hub := New(stalled{s}, "/registry/things/")
	rev, _ := s.Rev(t.Context())
	done := make(chan error, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			_, err := hub.Watch(ctx, "/registry/things/", rev)
			done <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	counted := make(chan struct{})
	go func() { hub.Counts(); close(counted) }()
	select {
	case <-counted:
	case <-time.After(5 * time.Second):
		t.Fatal("the hub's lock is held while a watch opens")
	}
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a watch whose context ended while storage stalled: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a watch outlived its context while storage stalled")
		}
	}
}

// A source watch that cannot be reopened for a moment (a member
// restarting) is retried: the watchers lose nothing and keep the shared
// watch. One that stays down closes them, and they resume by themselves.
func TestShortOutageCostsWatchersNothing(t *testing.T) {
	src := &counting{Store: openBolt(t)}
	hub := New(src, "/registry/things/")
	ctx := t.Context()
	from, _ := src.Create(ctx, "/registry/other", []byte("v")) // a revision to resume from
	w, err := hub.Watch(ctx, "/registry/things/", from)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := src.Create(ctx, "/registry/things/a", []byte("v"))
	src.failing.Store(3)
	src.endAll()
	last, _ := src.Create(ctx, "/registry/things/b", []byte("v"))
	got, ok := collect(t, "watcher", w, last)
	if !ok || len(got) != 2 || got[0].rev != first || got[1].rev != last {
		t.Fatalf("through a short outage: %v (open: %v)", got, ok)
	}
	src.failing.Store(1000)
	src.endAll()
	select {
	case _, open := <-w:
		if open {
			t.Fatal("an event while storage was down")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher was not closed while storage stayed down")
	}
}
