package store

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
)

// How the list caches behave (see EnableListCache). A list waits at most
// listCacheWait for its cache to catch up with storage, asking the store
// for progress every listCacheAsk meanwhile, and then goes to storage; a
// cache no list has used for listCacheIdle stops and forgets its objects.
var (
	listCacheWait  = time.Second
	listCacheAsk   = 50 * time.Millisecond
	listCacheIdle  = 10 * time.Minute
	listCacheRetry = time.Second
)

// listCaches are the caches of the resources whose lists a cache serves.
type listCaches struct {
	ctx    atomic.Pointer[context.Context] // set by EnableListCache
	caches sync.Map                        // *catalog.Resource → *listCache
	revs   revReads
	asking atomic.Bool  // a progress request is under way
	served atomic.Int64 // lists and gets a cache answered
}

// revReadTimeout bounds one read of storage's current revision that
// several requests share.
const revReadTimeout = 10 * time.Second

// revReads shares the quorum reads of storage's current revision that
// consistent reads from the caches need. A request joins the next read
// to start after it arrived, never one already under way (which may have
// begun before a write the request must see), so that however many
// requests wait, one read is under way at a time: on etcd, 16 concurrent
// gets cost a range or two, not 16.
type revReads struct {
	mu      sync.Mutex
	running bool
	next    *revRead
}

type revRead struct {
	done chan struct{}
	rev  int64
	err  error
}

// get returns a revision read after the call began. The read itself runs
// under run (with revReadTimeout), not ctx: other requests share it.
func (b *revReads) get(ctx, run context.Context, read func(context.Context) (int64, error)) (int64, error) {
	b.mu.Lock()
	if b.next == nil {
		b.next = &revRead{done: make(chan struct{})}
	}
	r := b.next
	if !b.running {
		b.startLocked(run, read)
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.rev, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (b *revReads) startLocked(run context.Context, read func(context.Context) (int64, error)) {
	r := b.next
	b.next, b.running = nil, true
	go func() {
		ctx, cancel := context.WithTimeout(run, revReadTimeout)
		r.rev, r.err = read(ctx)
		cancel()
		close(r.done)
		b.mu.Lock()
		defer b.mu.Unlock()
		b.running = false
		if b.next != nil {
			b.startLocked(run, read)
		}
	}()
}

// EnableListCache serves the server's consistent lists (ListOptions.Shared,
// with no resourceVersion and no continue token), and its gets, from
// memory, as
// kube-apiserver serves them from its watch cache: a cache of every object
// of a resource, fed by a watch, answers once it has applied every change
// up to storage's current revision (one quorum read on etcd). The warm
// resources get their caches now; any other at its first such list
// (which storage answers). A cache no list has used for listCacheIdle
// stops, and starts again at the next list. Worth it where a list is a
// network round that carries every object (etcd); bbolt's lists are
// memory-mapped reads already. The caches stop when ctx ends.
func (s *Store) EnableListCache(ctx context.Context, warm ...*catalog.Resource) {
	s.lists.ctx.Store(&ctx)
	for _, r := range warm {
		s.lists.start(ctx, s, r)
	}
}

// start returns r's cache, starting it if it has none; started says it
// did.
func (l *listCaches) start(ctx context.Context, s *Store, r *catalog.Resource) (c *listCache, started bool) {
	if v, ok := l.caches.Load(r); ok {
		return v.(*listCache), false
	}
	c = &listCache{s: s, res: r, items: map[string]*Entry{}, moved: make(chan struct{})}
	c.used.Store(time.Now().UnixNano())
	if v, loaded := l.caches.LoadOrStore(r, c); loaded {
		return v.(*listCache), false
	}
	go c.run(ctx)
	return c, true
}

// cachedList answers a list from r's cache. ok is false when the cache
// cannot answer (not enabled, not synced, not caught up in time, or the
// list is not one it serves): storage then answers.
func (s *Store) cachedList(ctx context.Context, r *catalog.Resource, o ListOptions) (*ListResult, bool, error) {
	run := s.lists.ctx.Load()
	if run == nil || !o.Shared || o.Rev != 0 || o.MinRev != 0 || o.Continue != "" {
		return nil, false, nil
	}
	c, started := s.lists.start(*run, s, r)
	if started {
		return nil, false, nil
	}
	if ok, err := c.catchUp(ctx, *run); !ok || err != nil {
		return nil, false, err
	}
	res, ok, err := c.list(r, o)
	if ok {
		s.lists.served.Add(1)
	}
	return res, ok, err
}

// cachedGet answers a get from r's cache, when it has one that can
// answer: ok is false when storage must.
func (s *Store) cachedGet(ctx context.Context, r *catalog.Resource, namespace, name string) (e *Entry, ok bool, err error) {
	run := s.lists.ctx.Load()
	if run == nil {
		return nil, false, nil
	}
	v, found := s.lists.caches.Load(r)
	if !found {
		return nil, false, nil
	}
	c := v.(*listCache)
	if ok, err := c.catchUp(ctx, *run); !ok || err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	e, synced := c.items[Key(r, namespace, name)], c.synced
	c.mu.Unlock()
	if !synced {
		return nil, false, nil
	}
	s.lists.served.Add(1)
	if e == nil {
		return nil, true, notFound(r, name)
	}
	return e, true, nil
}

// catchUp makes the cache current for a consistent read: it reads
// storage's revision (shared with other requests) and waits until the
// cache has applied every change up to it. ok is false when the cache
// cannot answer: not synced, or behind since it last failed to catch up
// (the read then goes to storage at once, not after another wait).
func (c *listCache) catchUp(ctx, run context.Context) (ok bool, err error) {
	c.used.Store(time.Now().UnixNano())
	c.mu.Lock()
	usable := c.synced && c.rev >= c.behindAt
	c.mu.Unlock()
	if !usable {
		return false, nil
	}
	cur, err := c.s.lists.revs.get(ctx, run, c.s.KV.Rev)
	if err != nil {
		return false, err
	}
	if !c.waitFor(ctx, cur) {
		return false, ctx.Err()
	}
	return true, nil
}

// listCache holds every object of one resource, by storage key, as of
// rev: every change up to rev has been applied.
type listCache struct {
	s    *Store
	res  *catalog.Resource
	used atomic.Int64 // the last list that asked it, in Unix nanoseconds

	mu     sync.Mutex
	items  map[string]*Entry
	keys   []string // the keys of items, sorted, unless dirty
	dirty  bool
	rev    int64
	synced bool // items is a complete list, every value read
	// behindAt is a revision the cache failed to catch up with in time:
	// until it has, reads do not wait for it.
	behindAt int64
	moved    chan struct{} // closed, and replaced, when rev advances or synced changes
}

// run keeps the cache until ctx ends or no list has used it for
// listCacheIdle: a list of every object, then a watch from its revision,
// resumed where it ended; a list again when a value does not read, or
// the revision to resume from is gone.
func (c *listCache) run(ctx context.Context) {
	defer c.s.lists.caches.CompareAndDelete(c.res, c)
	defer c.unsync()
	var from int64
	retry := listCacheRetry
	for ctx.Err() == nil {
		if c.idle() {
			return
		}
		if from == 0 {
			var ok bool
			if from, ok = c.fill(ctx); !ok {
				// A value that does not read fails every list until it
				// is repaired: retry, but less and less often.
				pause(ctx, retry)
				retry = min(2*retry, time.Minute)
				continue
			}
			retry = listCacheRetry
		}
		no := false
		wctx, cancel := context.WithCancel(ctx)
		events, err := c.s.Watch(wctx, c.res, WatchOptions{FromRev: from, SendInitialEvents: &no})
		if err != nil {
			cancel()
			c.unsync()
			from = 0
			pause(ctx, listCacheRetry)
			continue
		}
		from = c.follow(events)
		cancel() // ends the watch, whether or not it ended itself
		if from < 0 {
			return // idle
		}
		pause(ctx, 100*time.Millisecond)
	}
}

// idle reports whether no read has used the cache for listCacheIdle.
func (c *listCache) idle() bool {
	return time.Since(time.Unix(0, c.used.Load())) > listCacheIdle
}

// fill replaces the items with a list of every object, and reports the
// revision of the list; ok is false if the list failed, or met a value
// that does not read (which storage's lists report and the cache
// cannot).
func (c *listCache) fill(ctx context.Context) (rev int64, ok bool) {
	items := map[string]*Entry{}
	opts := storage.ListOptions{Limit: 1000, SkipCount: true}
	for {
		page, err := c.s.KV.List(ctx, Prefix(c.res, ""), opts)
		if err != nil {
			c.unsync()
			return 0, false
		}
		for _, it := range page.Items {
			e, err := c.s.entry(ctx, c.res, it)
			if err != nil {
				c.unsync()
				return 0, false
			}
			items[it.Key] = e
		}
		opts.Rev = page.Rev
		if page.Next == "" {
			break
		}
		opts.Start = page.Next
	}
	c.mu.Lock()
	c.items, c.keys, c.dirty = items, nil, true
	c.rev, c.synced = opts.Rev, true
	c.notifyLocked()
	c.mu.Unlock()
	return opts.Rev, true
}

// follow applies a watch's events until it ends, and returns the
// revision to resume from: 0 to list again, -1 when the cache has been
// idle too long and stops.
func (c *listCache) follow(events <-chan WatchEvent) int64 {
	for ev := range events {
		switch ev.Type {
		case WatchError:
			c.unsync()
			return 0
		case WatchBookmark:
			if c.idle() {
				return -1
			}
			c.advance(nil, "", ev.Rev)
			continue
		}
		// A transaction's change is whole only with its last event: the
		// revision is not reached before it.
		rev := ev.Rev
		if ev.More {
			rev--
		}
		if ev.Type == WatchDeleted {
			c.advance(nil, ev.key, rev)
		} else {
			c.advance(ev.Entry, ev.key, rev)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// advance records a change at rev: e stored at key, or (e nil) key
// deleted; with no key, only that nothing changed up to rev.
func (c *listCache) advance(e *Entry, key string, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key != "" {
		_, had := c.items[key]
		if e == nil {
			delete(c.items, key)
		} else {
			c.items[key] = e
		}
		c.dirty = c.dirty || had != (e != nil)
	}
	if rev > c.rev {
		c.rev = rev
		c.notifyLocked()
	}
}

func (c *listCache) unsync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.synced {
		c.synced = false
		c.notifyLocked()
	}
}

func (c *listCache) notifyLocked() {
	close(c.moved)
	c.moved = make(chan struct{})
}

// waitFor waits until the cache has applied every change up to rev,
// asking storage for a progress note meanwhile (a resource nobody writes
// sees no events), for at most listCacheWait. It reports whether the
// cache got there.
func (c *listCache) waitFor(ctx context.Context, rev int64) bool {
	progress, _ := c.s.KV.(storage.ProgressRequester)
	// Asked with the caches' own context, in the background: a request
	// may wait for the watch stream, and must not bind etcd's client to
	// this list's context.
	run := *c.s.lists.ctx.Load()
	askNow := func() {
		// One request at a time, whoever waits: each makes etcd send a
		// note to every watch on the stream.
		if c.s.lists.asking.CompareAndSwap(false, true) {
			go func() {
				defer c.s.lists.asking.Store(false)
				progress.RequestProgress(run)
			}()
		}
	}
	deadline := time.NewTimer(listCacheWait)
	defer deadline.Stop()
	var ask <-chan time.Time
	for asked := false; ; {
		c.mu.Lock()
		cur, synced, moved := c.rev, c.synced, c.moved
		c.mu.Unlock()
		switch {
		case !synced:
			return false
		case cur >= rev:
			return true
		case !asked && progress != nil:
			asked = true
			askNow()
			t := time.NewTicker(listCacheAsk)
			defer t.Stop()
			ask = t.C
		}
		select {
		case <-moved:
		case <-ask:
			askNow()
		case <-deadline.C:
			c.mu.Lock()
			c.behindAt = max(c.behindAt, rev)
			c.mu.Unlock()
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// list answers o from the items, as storage's list would at the cache's
// revision: in key order, selected, and paged with a continue token that
// reads the next page from storage at that revision.
func (c *listCache) list(r *catalog.Resource, o ListOptions) (*ListResult, bool, error) {
	prefix := Prefix(r, o.Namespace)
	c.mu.Lock()
	if !c.synced {
		c.mu.Unlock()
		return nil, false, nil
	}
	if c.dirty {
		// A new slice: lists answered a moment ago still read the old one.
		c.keys = make([]string, 0, len(c.items))
		for k := range c.items {
			c.keys = append(c.keys, k)
		}
		slices.Sort(c.keys)
		c.dirty = false
	}
	first := sort.SearchStrings(c.keys, prefix)
	end := first
	for end < len(c.keys) && strings.HasPrefix(c.keys[end], prefix) {
		end++
	}
	keys := c.keys[first:end]
	entries := make([]*Entry, len(keys))
	for i, k := range keys {
		entries[i] = c.items[k]
	}
	res := &ListResult{Rev: c.rev}
	c.mu.Unlock()
	for i, e := range entries {
		ok, err := o.matches(r, keys[i], e)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue
		}
		res.Items = append(res.Items, e)
		if o.Limit > 0 && int64(len(res.Items)) >= o.Limit && i+1 < len(entries) {
			res.Continue = encodeContinue(res.Rev, keys[i+1], prefix)
			if !o.filtered() {
				rest := int64(len(entries) - i - 1)
				res.Remaining = &rest
			}
			break
		}
	}
	return res, true, nil
}
