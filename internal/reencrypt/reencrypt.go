// Package reencrypt rewrites stored values that the encryption
// configuration's writer did not seal, while the server serves: after a
// new key or provider is put first, every object sealed the old way is
// opened and sealed again, in batches of conditional writes.
//
// A rewrite never overwrites a newer version: each write is conditional
// on the revision that was read, and an object changed since is passed
// over (its new version was sealed by the writer already). A restart
// resumes where the last pass stopped, because what was rewritten
// already carries the writer's prefix and is passed over without being
// decrypted.
package reencrypt

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/store"
)

// Limits of one transaction: etcd refuses more than 128 operations
// (--max-txn-ops) or a request over 1.5 MiB.
const (
	maxBatchOps   = 100
	maxBatchBytes = 1 << 20
	pageSize      = 500
)

// Rewriter re-encrypts stale values. Run it once; Wake it when the
// configuration changes; Stale tells it of one value read stale.
type Rewriter struct {
	Store     *store.Store
	Resources []*catalog.Resource
	Log       *slog.Logger
	// ProgressEvery is how often a pass logs its progress; 0 is 5 s.
	ProgressEvery time.Duration
	// MaxRate bounds the objects a pass rewrites per second, to bound its
	// load on a busy server; 0 is as fast as it goes.
	MaxRate int

	once  sync.Once
	wake  chan struct{}
	stale chan staleKey

	mu       sync.Mutex
	progress Progress
}

type staleKey struct {
	res *catalog.Resource
	key string
}

// Progress is the state of the latest re-encryption pass.
type Progress struct {
	Running bool      `json:"running"`
	Started time.Time `json:"started,omitzero"`
	// Finished is when the last pass ended; zero while one runs.
	Finished time.Time `json:"finished,omitzero"`
	// Resource is the resource being scanned.
	Resource string `json:"resource,omitempty"`
	// Objects is how many stored objects the pass reads; Scanned how
	// many it has read, Rewritten how many it sealed again.
	Objects   int64 `json:"objects"`
	Scanned   int64 `json:"scanned"`
	Rewritten int64 `json:"rewritten"`
	// Changed counts objects a user's write changed first; Unreadable
	// those that do not open (see the log).
	Changed    int64 `json:"changed"`
	Unreadable int64 `json:"unreadable"`
	// PerSecond is the rate of the pass so far, and Remaining the
	// estimated time left.
	PerSecond float64       `json:"perSecond"`
	Remaining time.Duration `json:"remainingNanoseconds"`
	// Error is why the last pass stopped, if it failed.
	Error string `json:"error,omitempty"`
}

func (w *Rewriter) init() {
	w.once.Do(func() {
		w.wake = make(chan struct{}, 1)
		w.stale = make(chan staleKey, 1024)
		if w.Log == nil {
			w.Log = slog.New(slog.DiscardHandler)
		}
		if w.ProgressEvery == 0 {
			w.ProgressEvery = 5 * time.Second
		}
	})
}

// Wake starts a new pass once the running one, if any, ends.
func (w *Rewriter) Wake() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stale asks for one value to be rewritten soon; it never blocks, and a
// request the queue has no room for waits for the next pass.
func (w *Rewriter) Stale(r *catalog.Resource, key string) {
	w.init()
	select {
	case w.stale <- staleKey{r, key}:
	default:
	}
}

// Progress returns the state of the latest pass.
func (w *Rewriter) Progress() Progress {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.progress
}

// Run makes a pass at once, then one at each Wake, and rewrites values
// read stale in between, until ctx ends.
//
// A write in flight when the configuration changed may have been sealed
// the old way and land after the pass went by its key; so a pass that
// found anything to do is followed by another a second later, until one
// finds nothing.
func (w *Rewriter) Run(ctx context.Context) {
	w.init()
	var again <-chan time.Time
	pass := func() {
		again = nil
		// Without its KMS plugin a pass could only fail, value by value.
		if err := w.Store.Encryption().KMSHealth(); err != nil {
			again = time.After(5 * time.Second)
			return
		}
		w.pass(ctx)
		if p := w.Progress(); p.Error == "" && (p.Rewritten > 0 || p.Changed > 0) {
			again = time.After(time.Second)
		}
	}
	pass()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
			pass()
		case <-again:
			pass()
		case k := <-w.stale:
			w.rewriteQueued(ctx, k)
		}
	}
}

// rewriteQueued rewrites k and whatever else is queued, in one batch.
func (w *Rewriter) rewriteQueued(ctx context.Context, first staleKey) {
	keys := []staleKey{first}
	for len(keys) < maxBatchOps {
		select {
		case k := <-w.stale:
			keys = append(keys, k)
			continue
		default:
		}
		break
	}
	var b batch
	for _, k := range keys {
		it, err := w.Store.KV.Get(ctx, k.key)
		if err != nil {
			continue // deleted since, or the store is closing
		}
		b.add(ctx, w, k.res, it)
	}
	b.flush(ctx, w)
}

// pass scans every stored resource the configuration names and rewrites
// what is stale.
func (w *Rewriter) pass(ctx context.Context) {
	cfg := w.Store.Encryption()
	var todo []*catalog.Resource
	var total int64
	for _, r := range w.Resources {
		if !cfg.Configured(r.GroupResource()) {
			continue
		}
		n, err := w.count(ctx, r)
		if err != nil {
			w.finish(err)
			return
		}
		if n > 0 {
			todo = append(todo, r)
			total += n
		}
	}
	w.mu.Lock()
	w.progress = Progress{Running: true, Started: time.Now(), Objects: total}
	w.mu.Unlock()
	lastLog := time.Now()
	for _, r := range todo {
		w.update(func(p *Progress) { p.Resource = r.GroupResource().String() })
		opts := storage.ListOptions{Limit: pageSize, SkipCount: true}
		prefix := store.Prefix(r, "")
		for {
			if err := ctx.Err(); err != nil {
				w.finish(err)
				return
			}
			// Each page is read at the latest revision: a rewrite bumps
			// revisions, and a page pinned to an old one could be
			// compacted away during a long pass.
			page, err := w.Store.KV.List(ctx, prefix, opts)
			if err != nil {
				w.finish(err)
				return
			}
			var b batch
			for _, it := range page.Items {
				b.add(ctx, w, r, it)
				if b.full() {
					b.flush(ctx, w)
					w.pace(ctx)
				}
			}
			b.flush(ctx, w)
			w.pace(ctx)
			w.update(func(p *Progress) { p.Scanned += int64(len(page.Items)) })
			if time.Since(lastLog) >= w.ProgressEvery {
				lastLog = time.Now()
				p := w.Progress()
				w.Log.Info("re-encrypting stored objects", "resource", p.Resource, "scanned", p.Scanned, "of", p.Objects,
					"rewritten", p.Rewritten, "perSecond", int(p.PerSecond), "remaining", p.Remaining.Round(time.Second).String())
			}
			if page.Next == "" {
				break
			}
			opts.Start = page.Next
		}
	}
	w.finish(nil)
}

// pace sleeps while the pass is ahead of MaxRate.
func (w *Rewriter) pace(ctx context.Context) {
	if w.MaxRate <= 0 {
		return
	}
	p := w.Progress()
	ahead := time.Duration(float64(p.Rewritten)/float64(w.MaxRate)*float64(time.Second)) - time.Since(p.Started)
	if ahead <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(ahead):
	}
}

func (w *Rewriter) count(ctx context.Context, r *catalog.Resource) (int64, error) {
	page, err := w.Store.KV.List(ctx, store.Prefix(r, ""), storage.ListOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	return int64(len(page.Items)) + page.Remaining, nil
}

func (w *Rewriter) update(f func(*Progress)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.progress)
	p := &w.progress
	if elapsed := time.Since(p.Started).Seconds(); elapsed > 0 && p.Running {
		p.PerSecond = float64(p.Scanned) / elapsed
		if p.PerSecond > 0 {
			p.Remaining = time.Duration(float64(max(p.Objects-p.Scanned, 0)) / p.PerSecond * float64(time.Second))
		}
	}
}

func (w *Rewriter) finish(err error) {
	w.update(func(p *Progress) {
		p.Running, p.Finished, p.Resource, p.Remaining = false, time.Now(), "", 0
		if err != nil {
			p.Error = err.Error()
		}
	})
	p := w.Progress()
	switch {
	case err != nil && errors.Is(err, context.Canceled):
	case err != nil:
		w.Log.Error("re-encryption stopped; the next start or configuration change resumes it", "err", err)
	case p.Rewritten > 0 || p.Unreadable > 0:
		w.Log.Info("re-encryption done", "scanned", p.Scanned, "rewritten", p.Rewritten, "changedByUsers", p.Changed,
			"unreadable", p.Unreadable, "seconds", p.Finished.Sub(p.Started).Seconds())
	}
}

// batch gathers conditional rewrites for one transaction.
type batch struct {
	ops   []storage.Op
	bytes int
}

func (b *batch) full() bool { return len(b.ops) >= maxBatchOps || b.bytes >= maxBatchBytes }

// add opens a stale value and seals it again as an update conditional on
// the revision read. A current value costs a prefix comparison.
func (b *batch) add(ctx context.Context, w *Rewriter, r *catalog.Resource, it *storage.Item) {
	cfg := w.Store.Encryption()
	gr := r.GroupResource()
	if cfg.Current(gr, it.Value) {
		return
	}
	t := cfg.For(gr)
	plain, _, err := t.Open(ctx, it.Value, []byte(it.Key))
	if err != nil {
		w.update(func(p *Progress) { p.Unreadable++ })
		w.Log.Error("a stored value does not open and cannot be re-encrypted", "key", it.Key, "sealedWith", encryption.KeyOf(it.Value), "err", err)
		return
	}
	sealed, err := t.Seal(ctx, plain, []byte(it.Key))
	if err != nil {
		w.Log.Error("cannot seal a value again", "key", it.Key, "err", err)
		return
	}
	if w.Store.OnSealed != nil {
		w.Store.OnSealed(sealed)
	}
	b.ops = append(b.ops, storage.Op{Type: storage.OpUpdate, Key: it.Key, Value: sealed, IfRev: it.ModRev})
	b.bytes += len(sealed)
}

// flush writes the batch in one transaction. A write whose object
// changed or went since it was read is dropped, and the rest retried:
// the user's write wins.
func (b *batch) flush(ctx context.Context, w *Rewriter) {
	ops := b.ops
	b.ops, b.bytes = nil, 0
	for len(ops) > 0 {
		_, err := w.Store.KV.Txn(ctx, ops)
		var te *storage.TxnError
		switch {
		case err == nil:
			n := int64(len(ops))
			w.update(func(p *Progress) { p.Rewritten += n })
			return
		case errors.As(err, &te) && (errors.Is(te.Err, storage.ErrConflict) || errors.Is(te.Err, storage.ErrNotFound)):
			w.update(func(p *Progress) { p.Changed++ })
			ops = slices.Delete(slices.Clone(ops), te.Index, te.Index+1)
		default:
			if ctx.Err() == nil {
				w.Log.Error("re-encryption write failed; the next pass retries", "err", err)
			}
			return
		}
	}
}
