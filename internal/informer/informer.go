// Package informer keeps an in-memory copy of one resource, fed by a
// storage watch, for components that must answer on every request without
// touching storage: token lookups, RBAC, the node graph.
package informer

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// Handler is told of every change after the cache has applied it. old is
// nil for additions; obj is the last state for deletions.
type Handler func(eventType string, obj, old catalog.Object)

// Informer caches every object of a resource.
type Informer struct {
	Store    *store.Store
	Resource *catalog.Resource
	Log      *slog.Logger

	// Lean keeps only each object's resourceVersion, not the object: for
	// resources whose handlers hold their own index (RBAC bindings), so
	// that 100,000 objects are not held twice. Get and List then find
	// nothing, and an object found deleted on a relist reaches handlers as
	// an empty object with only its namespace and name. Set before Run.
	Lean bool
	// Strict holds the cache to every object: a value that does not read
	// makes it relist, with the watch's initial list failing on such a
	// value, and until a relist has read every value ListIn answers
	// nothing (its caller reads storage, which reports the value). For
	// caches whose answers must be whole, such as the quotas admission
	// charges. Set before Run.
	Strict bool
	// Namespace and Fields narrow the cache to the objects of one
	// namespace ("" for all) that match a field selector: a controller
	// that reads one ConfigMap of each namespace need not hold, decode
	// and copy every ConfigMap of the cluster. A selector on
	// metadata.name and metadata.namespace alone is decided from the
	// storage key, so the objects it leaves out are opened (decrypted)
	// but never decoded. Set before Run.
	Namespace string
	Fields    fields.Selector

	mu       sync.RWMutex
	rev      int64 // every change up to this revision is applied
	whole    bool  // the cache holds every object: not during a relist, nor after a value that did not read
	objs     map[string]catalog.Object
	versions map[string]string // Lean: key → resourceVersion
	handlers []Handler
	synced   chan struct{}
	once     sync.Once
}

// New returns an informer for res; call Run to fill it.
func New(store *store.Store, res *catalog.Resource, log *slog.Logger) *Informer {
	return &Informer{Store: store, Resource: res, Log: log, objs: map[string]catalog.Object{}, versions: map[string]string{}, synced: make(chan struct{})}
}

// Key is how objects are indexed: namespace/name, or name.
func Key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// AddHandler registers h; register before Run so no event is missed.
func (i *Informer) AddHandler(h Handler) {
	i.mu.Lock()
	i.handlers = append(i.handlers, h)
	i.mu.Unlock()
}

// Get returns the cached object.
func (i *Informer) Get(namespace, name string) (catalog.Object, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	o, ok := i.objs[Key(namespace, name)]
	return o, ok
}

// List returns every cached object.
func (i *Informer) List() []catalog.Object {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]catalog.Object, 0, len(i.objs))
	for _, o := range i.objs {
		out = append(out, o)
	}
	return out
}

// ListIn returns the cached objects of namespace, and the revision the
// cache is complete as of: every change up to it has been applied, so an
// object of the namespace created or changed since has a later
// resourceVersion. ok is false until the cache has synced, and always for
// a Lean informer or one narrowed by Fields or to another namespace. The
// objects are shared: not to be changed.
func (i *Informer) ListIn(namespace string) (objs []catalog.Object, rev int64, ok bool) {
	select {
	case <-i.synced:
	default:
		return nil, 0, false
	}
	if i.Lean || i.Fields != nil && !i.Fields.Empty() || i.Namespace != "" && i.Namespace != namespace {
		return nil, 0, false
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if !i.whole {
		return nil, 0, false
	}
	for _, o := range i.objs {
		if o.GetNamespace() == namespace {
			objs = append(objs, o)
		}
	}
	return objs, i.rev, i.rev > 0
}

// Synced is closed once the cache holds the complete initial state.
func (i *Informer) Synced() <-chan struct{} { return i.synced }

// WaitForSync blocks until the cache is synced or ctx ends.
func (i *Informer) WaitForSync(ctx context.Context) bool {
	select {
	case <-i.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// Run keeps the cache current until ctx ends. It resumes its watch from the
// last revision seen and relists when that revision has expired.
func (i *Informer) Run(ctx context.Context) {
	var from int64
	for ctx.Err() == nil {
		if from == 0 {
			i.setWhole(false)
		}
		wctx, cancel := context.WithCancel(ctx)
		events, err := i.Store.Watch(wctx, i.Resource, store.WatchOptions{
			ListOptions: store.ListOptions{Namespace: i.Namespace, Fields: i.Fields},
			FromRev:     from, FailOnUnreadable: i.Strict,
		})
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			cancel()
			from = 0
			continue
		}
		if err != nil {
			cancel()
			i.Log.Warn("informer: watch failed", "resource", i.Resource.Name, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		relist := from == 0
		var fresh map[string]catalog.Object
		if relist {
			fresh = map[string]catalog.Object{}
		}
		for ev := range events {
			if ev.Type == store.WatchError {
				// A value that does not read ended the watch: resuming
				// would meet it again, so relist.
				i.Log.Warn("informer: watch ended with an error; relisting", "resource", i.Resource.Name, "err", ev.Status.Message)
				from = 0
				continue
			}
			if ev.Type == store.WatchBookmark {
				if relist {
					i.replace(fresh, ev.Rev)
					relist, fresh = false, nil
				} else {
					i.advance(ev.Rev)
				}
				from = max(from, ev.Rev)
				continue
			}
			shared, err := ev.Entry.Object()
			if err != nil {
				if i.Strict {
					i.Log.Warn("informer: a value does not read; relisting", "resource", i.Resource.Name, "err", err)
					i.setWhole(false)
					from = 0
					break
				}
				continue
			}
			// A watch event's object is shared with every other watcher
			// of it: the cache keeps its own copy.
			obj := shared.DeepCopyObject().(catalog.Object)
			from = max(from, ev.Rev)
			if relist {
				fresh[Key(obj.GetNamespace(), obj.GetName())] = obj
				continue
			}
			rev := ev.Rev
			if ev.More {
				rev-- // the transaction is whole only with its last event
			}
			i.apply(ev.Type, obj, rev)
		}
		cancel() // ends the watch, whether or not it ended itself
		if ctx.Err() == nil {
			sleep(ctx, 100*time.Millisecond)
		}
	}
}

func (i *Informer) setWhole(whole bool) {
	i.mu.Lock()
	i.whole = whole
	i.mu.Unlock()
}

// advance records that nothing changed up to rev.
func (i *Informer) advance(rev int64) {
	i.mu.Lock()
	i.rev = max(i.rev, rev)
	i.mu.Unlock()
}

// replace installs a complete list as of rev, telling handlers what
// changed.
func (i *Informer) replace(fresh map[string]catalog.Object, rev int64) {
	i.mu.Lock()
	i.rev, i.whole = rev, true
	old, oldVersions := i.objs, i.versions
	if i.Lean {
		i.versions = make(map[string]string, len(fresh))
		for k, o := range fresh {
			i.versions[k] = o.GetResourceVersion()
		}
	} else {
		i.objs = fresh
	}
	handlers := i.handlers
	i.mu.Unlock()
	for k, o := range fresh {
		var prevVersion string
		var prev catalog.Object
		existed := false
		if i.Lean {
			prevVersion, existed = oldVersions[k]
		} else if prev, existed = old[k]; existed {
			prevVersion = prev.GetResourceVersion()
		}
		switch {
		case !existed:
			notify(handlers, store.WatchAdded, o, nil)
		case prevVersion != o.GetResourceVersion():
			notify(handlers, store.WatchModified, o, prev)
		}
	}
	if i.Lean {
		for k := range oldVersions {
			if _, ok := fresh[k]; !ok {
				notify(handlers, store.WatchDeleted, i.stub(k), nil)
			}
		}
	} else {
		for k, o := range old {
			if _, ok := fresh[k]; !ok {
				notify(handlers, store.WatchDeleted, o, nil)
			}
		}
	}
	i.once.Do(func() { close(i.synced) })
}

// stub is an empty object carrying only the namespace and name of key.
func (i *Informer) stub(key string) catalog.Object {
	o := i.Resource.New()
	ns, name, ok := strings.Cut(key, "/")
	if !ok {
		ns, name = "", key
	}
	o.SetNamespace(ns)
	o.SetName(name)
	return o
}

// apply applies one change; every change up to rev is then applied.
func (i *Informer) apply(eventType string, obj catalog.Object, rev int64) {
	k := Key(obj.GetNamespace(), obj.GetName())
	i.mu.Lock()
	i.rev = max(i.rev, rev)
	var old catalog.Object
	switch {
	case i.Lean && eventType == store.WatchDeleted:
		delete(i.versions, k)
	case i.Lean:
		i.versions[k] = obj.GetResourceVersion()
	case eventType == store.WatchDeleted:
		old = i.objs[k]
		delete(i.objs, k)
	default:
		old = i.objs[k]
		i.objs[k] = obj
	}
	handlers := i.handlers
	i.mu.Unlock()
	if eventType == store.WatchDeleted {
		old = nil
	}
	notify(handlers, eventType, obj, old)
}

func notify(handlers []Handler, eventType string, obj, old catalog.Object) {
	for _, h := range handlers {
		h(eventType, obj, old)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Changes returns a channel that receives a value after changes to the
// cache; changes that arrive before the value is taken are coalesced into
// it. Call before Run so that no change is missed.
func (i *Informer) Changes() <-chan struct{} {
	ch := make(chan struct{}, 1)
	i.AddHandler(func(string, catalog.Object, catalog.Object) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return ch
}

// RunOnChange drives a controller that reconciles everything at once:
// once i has synced it calls sync, then again after each value of changes
// and, if resync is positive, at that interval. A sync that fails is
// retried after a second. It returns when ctx ends.
func RunOnChange(ctx context.Context, i *Informer, changes <-chan struct{}, resync time.Duration, sync func(context.Context) error) {
	if !i.WaitForSync(ctx) {
		return
	}
	var tick <-chan time.Time
	if resync > 0 {
		t := time.NewTicker(resync)
		defer t.Stop()
		tick = t.C
	}
	for {
		if err := sync(ctx); err != nil && ctx.Err() == nil {
			sleep(ctx, time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick:
		}
	}
}
