// Package storagetest is the conformance suite every storage backend must
// pass. A backend's test supplies only a constructor.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/storage"
)

// NewFunc returns a fresh, empty store. The store should send progress
// events to idle watchers at least every few seconds.
type NewFunc func(t *testing.T) storage.KV

// Run runs the whole suite against the backend.
func Run(t *testing.T, newKV NewFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, kv storage.KV)
	}{
		{"CreateGet", testCreateGet},
		{"UpdatePreconditions", testUpdatePreconditions},
		{"DeletePreconditions", testDeletePreconditions},
		{"ListPrefixAndPages", testListPages},
		{"ListAtPastRevision", testListAtPastRevision},
		{"Compaction", testCompaction},
		{"WatchFromNow", testWatchFromNow},
		{"WatchFromPastRevision", testWatchFromPast},
		{"WatchPrefixIsolation", testWatchPrefix},
		{"WatchPrefixTransactionEnds", testWatchPrefixTxn},
		{"WatchCancel", testWatchCancel},
		{"WatchProgress", testWatchProgress},
		{"ConcurrentWrites", testConcurrentWrites},
		{"ReadRevisionIsWatchable", testReadRevisionIsWatchable},
		{"Txn", testTxn},
		{"TxnAllOrNothing", testTxnAllOrNothing},
		{"TxnCounter", testTxnCounter},
		{"TxnUnchangedSince", testTxnUnchangedSince},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := newKV(t)
			t.Cleanup(func() { kv.Close() })
			tc.fn(t, kv)
		})
	}
}

const prefix = "/registry/things/"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustCreate(t *testing.T, kv storage.KV, key, value string) int64 {
	t.Helper()
	rev, err := kv.Create(ctx(t), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
	return rev
}

func testCreateGet(t *testing.T, kv storage.KV) {
	start, err := kv.Rev(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustCreate(t, kv, prefix+"a", "one")
	r2 := mustCreate(t, kv, prefix+"b", "two")
	if r1 <= start || r2 <= r1 {
		t.Fatalf("revisions must grow: start %d, then %d, %d", start, r1, r2)
	}
	item, err := kv.Get(ctx(t), prefix+"a")
	if err != nil {
		t.Fatal(err)
	}
	if string(item.Value) != "one" || item.ModRev != r1 || item.CreateRev != r1 || item.Key != prefix+"a" {
		t.Fatalf("Get = %+v", item)
	}
	if _, err := kv.Create(ctx(t), prefix+"a", []byte("again")); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if _, err := kv.Get(ctx(t), prefix+"missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(missing): %v, want ErrNotFound", err)
	}
	if rev, _ := kv.Rev(ctx(t)); rev != r2 {
		t.Fatalf("Rev = %d, want %d (a failed write must not use a revision)", rev, r2)
	}
}

func testUpdatePreconditions(t *testing.T, kv storage.KV) {
	r1 := mustCreate(t, kv, prefix+"a", "one")
	r2, err := kv.Update(ctx(t), prefix+"a", []byte("two"), r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("Update: rev %d, %v", r2, err)
	}
	if _, err := kv.Update(ctx(t), prefix+"a", []byte("stale"), r1); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("stale Update: %v, want ErrConflict", err)
	}
	if _, err := kv.Update(ctx(t), prefix+"nope", []byte("x"), 1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Update(missing): %v, want ErrNotFound", err)
	}
	item, _ := kv.Get(ctx(t), prefix+"a")
	if string(item.Value) != "two" || item.ModRev != r2 || item.CreateRev != r1 {
		t.Fatalf("after update: %+v", item)
	}
}

func testDeletePreconditions(t *testing.T, kv storage.KV) {
	r1 := mustCreate(t, kv, prefix+"a", "one")
	if _, _, err := kv.Delete(ctx(t), prefix+"a", r1+100); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Delete with wrong rev: %v", err)
	}
	prev, r2, err := kv.Delete(ctx(t), prefix+"a", r1)
	if err != nil || r2 <= r1 || string(prev.Value) != "one" || prev.ModRev != r1 {
		t.Fatalf("Delete: %+v rev %d %v", prev, r2, err)
	}
	if _, _, err := kv.Delete(ctx(t), prefix+"a", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	mustCreate(t, kv, prefix+"b", "b")
	if _, _, err := kv.Delete(ctx(t), prefix+"b", 0); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
}

func listAll(t *testing.T, kv storage.KV, p string, opts storage.ListOptions) (keys, values []string, rev int64) {
	t.Helper()
	for {
		res, err := kv.List(ctx(t), p, opts)
		if err != nil {
			t.Fatalf("List(%s, %+v): %v", p, opts, err)
		}
		for _, it := range res.Items {
			keys = append(keys, it.Key)
			values = append(values, string(it.Value))
		}
		rev = res.Rev
		if res.Next == "" {
			return
		}
		opts.Start, opts.Rev = res.Next, res.Rev
	}
}

func testListPages(t *testing.T, kv storage.KV) {
	for i := range 25 {
		mustCreate(t, kv, fmt.Sprintf("%s%03d", prefix, i), fmt.Sprint(i))
	}
	mustCreate(t, kv, "/registry/thingsx/not-mine", "x")
	mustCreate(t, kv, "/registry/other/1", "x")
	res, err := kv.List(ctx(t), prefix, storage.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 10 || res.Next != prefix+"010" || res.Remaining != 15 {
		t.Fatalf("first page: %d items, next %q, remaining %d", len(res.Items), res.Next, res.Remaining)
	}
	uncounted, err := kv.List(ctx(t), prefix, storage.ListOptions{Limit: 10, SkipCount: true})
	if err != nil || len(uncounted.Items) != 10 || uncounted.Next != prefix+"010" || uncounted.Remaining != 0 {
		t.Fatalf("first page uncounted: %d items, next %q, remaining %d, %v", len(uncounted.Items), uncounted.Next, uncounted.Remaining, err)
	}
	keys, _, _ := listAll(t, kv, prefix, storage.ListOptions{Limit: 7})
	if len(keys) != 25 || keys[0] != prefix+"000" || keys[24] != prefix+"024" {
		t.Fatalf("paged list: %d keys %v", len(keys), keys)
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Fatalf("not in key order: %s then %s", keys[i-1], keys[i])
		}
	}
	all, err := kv.List(ctx(t), prefix, storage.ListOptions{})
	if err != nil || len(all.Items) != 25 || all.Next != "" || all.Remaining != 0 {
		t.Fatalf("unlimited list: %d items, next %q, %v", len(all.Items), all.Next, err)
	}
	empty, err := kv.List(ctx(t), "/registry/none/", storage.ListOptions{})
	if err != nil || len(empty.Items) != 0 {
		t.Fatalf("empty list: %+v %v", empty, err)
	}
}

func testListAtPastRevision(t *testing.T, kv storage.KV) {
	mustCreate(t, kv, prefix+"a", "a1")
	rb := mustCreate(t, kv, prefix+"b", "b1")
	mustCreate(t, kv, prefix+"c", "c1")
	res, err := kv.List(ctx(t), prefix, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	past := res.Rev
	// Change everything after past: update a, delete b, delete and recreate c, add d.
	ia, _ := kv.Get(ctx(t), prefix+"a")
	if _, err := kv.Update(ctx(t), prefix+"a", []byte("a2"), ia.ModRev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Delete(ctx(t), prefix+"b", rb); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Delete(ctx(t), prefix+"c", 0); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, kv, prefix+"c", "c2")
	mustCreate(t, kv, prefix+"d", "d1")

	keys, values, rev := listAll(t, kv, prefix, storage.ListOptions{Rev: past})
	if rev != past || fmt.Sprint(keys) != fmt.Sprint([]string{prefix + "a", prefix + "b", prefix + "c"}) ||
		fmt.Sprint(values) != "[a1 b1 c1]" {
		t.Fatalf("list at %d: rev %d keys %v values %v", past, rev, keys, values)
	}
	// Pages of a past list stay at that revision.
	keys, values, _ = listAll(t, kv, prefix, storage.ListOptions{Rev: past, Limit: 1})
	if fmt.Sprint(values) != "[a1 b1 c1]" || len(keys) != 3 {
		t.Fatalf("paged list at %d: %v", past, values)
	}
	_, values, _ = listAll(t, kv, prefix, storage.ListOptions{})
	if fmt.Sprint(values) != "[a2 c2 d1]" {
		t.Fatalf("latest list: %v", values)
	}
	cur, _ := kv.Rev(ctx(t))
	if _, err := kv.List(ctx(t), prefix, storage.ListOptions{Rev: cur + 10}); !errors.Is(err, storage.ErrFutureRevision) {
		t.Fatalf("list in the future: %v", err)
	}
}

func testCompaction(t *testing.T, kv storage.KV) {
	r1 := mustCreate(t, kv, prefix+"a", "a1")
	r2, _ := kv.Update(ctx(t), prefix+"a", []byte("a2"), r1)
	mustCreate(t, kv, prefix+"b", "b1")
	if err := kv.Compact(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.List(ctx(t), prefix, storage.ListOptions{Rev: r1}); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("list below compaction: %v, want ErrCompacted", err)
	}
	if _, err := kv.Watch(ctx(t), prefix, r1); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("watch below compaction: %v, want ErrCompacted", err)
	}
	_, values, _ := listAll(t, kv, prefix, storage.ListOptions{Rev: r2})
	if fmt.Sprint(values) != "[a2]" {
		t.Fatalf("list at the compaction revision: %v", values)
	}
}

// next returns the next non-progress event, failing after a deadline.
func next(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("watch closed early")
			}
			if e.Type == storage.EventProgress {
				continue
			}
			return e
		case <-deadline:
			t.Fatal("no watch event within 10s")
		}
	}
}

func testWatchFromNow(t *testing.T, kv storage.KV) {
	w, err := kv.Watch(ctx(t), prefix, 0)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustCreate(t, kv, prefix+"a", "one")
	r2, _ := kv.Update(ctx(t), prefix+"a", []byte("two"), r1)
	_, r3, _ := kv.Delete(ctx(t), prefix+"a", r2)
	want := []struct {
		typ       storage.EventType
		rev       int64
		val, prev string
		prevRev   int64
	}{
		{storage.EventAdded, r1, "one", "", 0},
		{storage.EventModified, r2, "two", "one", r1},
		{storage.EventDeleted, r3, "two", "two", r2},
	}
	for _, w2 := range want {
		e := next(t, w)
		if e.Type != w2.typ || e.Rev != w2.rev || string(e.Value) != w2.val || string(e.PrevValue) != w2.prev ||
			e.PrevModRev != w2.prevRev || e.Key != prefix+"a" || e.CreateRev != r1 {
			t.Fatalf("event %+v, want %+v", e, w2)
		}
	}
}

func testWatchFromPast(t *testing.T, kv storage.KV) {
	r1 := mustCreate(t, kv, prefix+"a", "one")
	r2 := mustCreate(t, kv, prefix+"b", "two")
	w, err := kv.Watch(ctx(t), prefix, r1)
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Rev != r2 || e.Key != prefix+"b" {
		t.Fatalf("replayed %+v, want b at %d", e, r2)
	}
	r3 := mustCreate(t, kv, prefix+"c", "three")
	if e := next(t, w); e.Rev != r3 {
		t.Fatalf("live %+v, want rev %d", e, r3)
	}
	cur, _ := kv.Rev(ctx(t))
	if _, err := kv.Watch(ctx(t), prefix, cur+100); !errors.Is(err, storage.ErrFutureRevision) {
		t.Fatalf("watch from the future: %v", err)
	}
}

func testWatchPrefix(t *testing.T, kv storage.KV) {
	w, err := kv.Watch(ctx(t), prefix+"ns1/", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, kv, prefix+"ns2/x", "no")
	mustCreate(t, kv, prefix+"ns1x", "no")
	r := mustCreate(t, kv, prefix+"ns1/y", "yes")
	if e := next(t, w); e.Rev != r || string(e.Value) != "yes" {
		t.Fatalf("got %+v", e)
	}
}

// testWatchPrefixTxn: a transaction that changes keys under a watched
// prefix and after it ends, for that watcher, with its last event under
// the prefix. A watcher waiting for the rest of a transaction would
// otherwise wait for a change that never comes to it.
func testWatchPrefixTxn(t *testing.T, kv storage.KV) {
	w, err := kv.Watch(ctx(t), prefix+"ns1/", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Txn(ctx(t), []storage.Op{
		{Type: storage.OpCreate, Key: prefix + "ns1/a", Value: []byte("a")},
		{Type: storage.OpCreate, Key: prefix + "ns1/b", Value: []byte("b")},
		{Type: storage.OpCreate, Key: prefix + "ns2/c", Value: []byte("c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	first, second := next(t, w), next(t, w)
	if first.Rev != rev || second.Rev != rev || first.Key != prefix+"ns1/a" || second.Key != prefix+"ns1/b" {
		t.Fatalf("got %+v and %+v, want ns1/a and ns1/b at %d", first, second, rev)
	}
	if !first.More || second.More {
		t.Errorf("More: %v then %v, want true then false", first.More, second.More)
	}
}

func testWatchCancel(t *testing.T, kv storage.KV) {
	c, cancel := context.WithCancel(context.Background())
	w, err := kv.Watch(c, prefix, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-w:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after cancel")
		}
	}
}

func testWatchProgress(t *testing.T, kv storage.KV) {
	r := mustCreate(t, kv, prefix+"a", "one")
	w, err := kv.Watch(ctx(t), "/registry/quiet/", 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-w:
			if !ok {
				t.Fatal("closed")
			}
			if e.Type != storage.EventProgress {
				t.Fatalf("unexpected %+v", e)
			}
			if e.Rev < r {
				t.Fatalf("progress at %d, before the last write %d", e.Rev, r)
			}
			return
		case <-deadline:
			t.Fatal("no progress event within 20s")
		}
	}
}

// testConcurrentWrites checks that concurrent writers each get a distinct
// revision, every acknowledged write is readable, and a watcher sees every
// write exactly once in revision order.
func testConcurrentWrites(t *testing.T, kv storage.KV) {
	w, err := kv.Watch(ctx(t), prefix, 0)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var mu sync.Mutex
	revs := map[int64]bool{}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				rev, err := kv.Create(context.Background(), fmt.Sprintf("%sg%d-%d", prefix, g, i), []byte("v"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if revs[rev] {
					t.Errorf("revision %d given twice", rev)
				}
				revs[rev] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	keys, _, _ := listAll(t, kv, prefix, storage.ListOptions{})
	if len(keys) != writers*each {
		t.Fatalf("listed %d keys, want %d", len(keys), writers*each)
	}
	last := int64(0)
	for range writers * each {
		e := next(t, w)
		if e.Rev <= last || !revs[e.Rev] {
			t.Fatalf("event rev %d after %d (acknowledged: %v)", e.Rev, last, revs[e.Rev])
		}
		last = e.Rev
	}
}

// testReadRevisionIsWatchable: a revision that a List returned has
// happened, so Rev is at least that and a watch from it starts, even while
// writes are still landing. (A client lists, then watches from the list's
// resourceVersion; the CI once saw that watch refused as "too large".)
func testReadRevisionIsWatchable(t *testing.T, kv storage.KV) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := kv.Create(context.Background(), fmt.Sprintf("%sr%d-%d", prefix, g, i), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	for range 300 {
		page, err := kv.List(ctx(t), prefix, storage.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if cur, err := kv.Rev(ctx(t)); err != nil || cur < page.Rev {
			t.Fatalf("Rev = %d (%v) after a list at %d", cur, err, page.Rev)
		}
		c, cancel := context.WithCancel(ctx(t))
		_, err = kv.Watch(c, prefix, page.Rev)
		cancel()
		if err != nil {
			t.Fatalf("watch from listed revision %d: %v", page.Rev, err)
		}
	}
}

// testTxn: a transaction's writes land at one revision, and a watch sees
// each of them at it.
func testTxn(t *testing.T, kv storage.KV) {
	a := mustCreate(t, kv, prefix+"a", "1")
	mustCreate(t, kv, prefix+"gone", "x")
	w, err := kv.Watch(ctx(t), prefix, 0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Txn(ctx(t), []storage.Op{
		{Type: storage.OpUpdate, Key: prefix + "a", Value: []byte("2"), IfRev: a},
		{Type: storage.OpCreate, Key: prefix + "b", Value: []byte("new")},
		{Type: storage.OpDelete, Key: prefix + "gone"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"a": "2", "b": "new"} {
		it, err := kv.Get(ctx(t), prefix+key)
		if err != nil || string(it.Value) != want || it.ModRev != rev {
			t.Fatalf("%s after the transaction: %+v, %v; want %q at %d", key, it, err, want, rev)
		}
	}
	if _, err := kv.Get(ctx(t), prefix+"gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	types := map[string]storage.EventType{}
	var more []bool
	for range 3 {
		e := next(t, w)
		if e.Rev != rev {
			t.Fatalf("event %s %s at %d, want %d", e.Type, e.Key, e.Rev, rev)
		}
		types[e.Key] = e.Type
		more = append(more, e.More)
	}
	// Only the last event of the transaction says it is whole.
	if fmt.Sprint(more) != "[true true false]" {
		t.Fatalf("the transaction's events say more: %v, want [true true false]", more)
	}
	want := map[string]storage.EventType{prefix + "a": storage.EventModified, prefix + "b": storage.EventAdded, prefix + "gone": storage.EventDeleted}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	// A watch from just before the transaction sees all of it; one from
	// its revision sees none of it.
	for from, n := range map[int64]int{rev - 1: 3, rev: 0} {
		w, err := kv.Watch(ctx(t), prefix, from)
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, kv, fmt.Sprintf("%smarker-%d", prefix, from), "m")
		got := 0
		for e := next(t, w); e.Type == storage.EventProgress || !strings.Contains(e.Key, "marker"); e = next(t, w) {
			if e.Type != storage.EventProgress {
				got++
			}
		}
		if got != n {
			t.Fatalf("a watch from %d saw %d events of the transaction at %d, want %d", from, got, rev, n)
		}
	}
}

// testTxnAllOrNothing: a transaction with one failed precondition writes
// nothing, and says which write failed.
func testTxnAllOrNothing(t *testing.T, kv storage.KV) {
	a := mustCreate(t, kv, prefix+"a", "1")
	mustCreate(t, kv, prefix+"b", "1")
	before, _ := kv.Rev(ctx(t))
	cases := []struct {
		ops   []storage.Op
		index int
		err   error
	}{
		{[]storage.Op{{Type: storage.OpUpdate, Key: prefix + "a", Value: []byte("2"), IfRev: a}, {Type: storage.OpUpdate, Key: prefix + "b", Value: []byte("2"), IfRev: a}}, 1, storage.ErrConflict},
		{[]storage.Op{{Type: storage.OpCreate, Key: prefix + "c", Value: []byte("x")}, {Type: storage.OpCreate, Key: prefix + "a", Value: []byte("x")}}, 1, storage.ErrExists},
		{[]storage.Op{{Type: storage.OpDelete, Key: prefix + "none"}, {Type: storage.OpCreate, Key: prefix + "c", Value: []byte("x")}}, 0, storage.ErrNotFound},
	}
	for i, tc := range cases {
		_, err := kv.Txn(ctx(t), tc.ops)
		var te *storage.TxnError
		if !errors.As(err, &te) || te.Index != tc.index || !errors.Is(err, tc.err) {
			t.Fatalf("case %d: %v, want write %d to fail with %v", i, err, tc.index, tc.err)
		}
	}
	if _, err := kv.Txn(ctx(t), []storage.Op{{Type: storage.OpCreate, Key: prefix + "d"}, {Type: storage.OpCreate, Key: prefix + "d"}}); err == nil {
		t.Fatal("a transaction that names a key twice was accepted")
	}
	after, _ := kv.Rev(ctx(t))
	keys, values, _ := listAll(t, kv, prefix, storage.ListOptions{})
	if after != before || fmt.Sprint(keys, values) != fmt.Sprint([]string{prefix + "a", prefix + "b"}, []string{"1", "1"}) {
		t.Fatalf("failed transactions changed the store: rev %d -> %d, %v %v", before, after, keys, values)
	}
}

// testTxnUnchangedSince: OpUnchangedSince lets a write through while no
// key under its prefix is newer than the revision named, whether the
// prefix is empty or not, and refuses it, writing nothing, once one is
// created or changed; a deletion is not seen; a prefix is a prefix of
// keys, so a sibling's writes do not count.
func testTxnUnchangedSince(t *testing.T, kv storage.KV) {
	guard := prefix + "quotas/ns/"
	n := 0
	write := func(since int64) error {
		n++
		_, err := kv.Txn(ctx(t), []storage.Op{
			{Type: storage.OpCreate, Key: fmt.Sprintf("%sobj-%d", prefix, n), Value: []byte("x")},
			{Type: storage.OpUnchangedSince, Key: guard, IfRev: since},
		})
		return err
	}
	refused := func(what string, err error) {
		t.Helper()
		var te *storage.TxnError
		if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("%s: %v, want write 1 to fail with a conflict", what, err)
		}
	}
	empty, _ := kv.Rev(ctx(t))
	if err := write(empty); err != nil {
		t.Fatalf("an empty prefix: %v", err)
	}
	mustCreate(t, kv, prefix+"quotas/ns-other/q", "1")
	if err := write(empty); err != nil {
		t.Fatalf("a key under a sibling prefix counted: %v", err)
	}
	q := mustCreate(t, kv, guard+"q", "1")
	before, _ := kv.Rev(ctx(t))
	refused("a key created after the revision", write(q-1))
	if err := write(q); err != nil {
		t.Fatalf("a key created at the revision: %v", err)
	}
	after, _ := kv.Rev(ctx(t))
	if after != before+1 {
		t.Fatalf("revision %d -> %d over one refused and one made transaction", before, after)
	}
	if _, err := kv.Get(ctx(t), fmt.Sprintf("%sobj-%d", prefix, n-1)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the refused transaction's write: %v", err)
	}
	u, err := kv.Update(ctx(t), guard+"q", []byte("2"), q)
	if err != nil {
		t.Fatal(err)
	}
	refused("a key changed after the revision", write(q))
	if _, _, err := kv.Delete(ctx(t), guard+"q", u); err != nil {
		t.Fatal(err)
	}
	if err := write(u); err != nil {
		t.Fatalf("a key deleted after the revision: %v", err)
	}
	if _, err := kv.Txn(ctx(t), []storage.Op{{Type: storage.OpUnchangedSince, Key: guard, IfRev: u}}); err == nil {
		t.Fatal("a transaction with no write was accepted")
	}
}

// testTxnCounter: writers that each create an item and raise a counter in
// one transaction, conditionally on the counter they read, never lose a
// count: the pattern of a quota charged with the object it admits.
func testTxnCounter(t *testing.T, kv storage.KV) {
	counter := prefix + "counter"
	mustCreate(t, kv, counter, "0")
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				for {
					it, err := kv.Get(context.Background(), counter)
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(it.Value))
					_, err = kv.Txn(context.Background(), []storage.Op{
						{Type: storage.OpCreate, Key: fmt.Sprintf("%sitem-%d-%d", prefix, g, i), Value: []byte("v")},
						{Type: storage.OpUpdate, Key: counter, Value: []byte(strconv.Itoa(n + 1)), IfRev: it.ModRev},
					})
					if errors.Is(err, storage.ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	it, err := kv.Get(ctx(t), counter)
	if err != nil {
		t.Fatal(err)
	}
	keys, _, _ := listAll(t, kv, prefix+"item-", storage.ListOptions{})
	if string(it.Value) != strconv.Itoa(writers*each) || len(keys) != writers*each {
		t.Fatalf("counter %s with %d items, want %d of both", it.Value, len(keys), writers*each)
	}
}
