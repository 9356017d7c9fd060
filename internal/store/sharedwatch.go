package store

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/watchhub"
)

// watchHubs hold a watchhub.Hub per resource once EnableSharedWatches
// has been called.
type watchHubs struct {
	enabled atomic.Bool
	// hubs are by storage prefix: resources stored together (events and
	// events.k8s.io's view of them) share one.
	hubs sync.Map // Prefix(r, "") → *watchhub.Hub
}

// EnableSharedWatches makes every watch of a resource (in-process
// informers, the list caches, clients' watches) share one storage watch,
// as kube-apiserver's watch cache shares one etcd watch per resource.
// Worth it where each storage watch costs the storage a copy of every
// change (etcd); bbolt's watches are in-process already.
func (s *Store) EnableSharedWatches() { s.hubs.enabled.Store(true) }

// SharedWatchCounts returns, over every resource, how many watches were
// served by a shared storage watch, and how many needed one of their
// own (they started before the shared watch's recent history).
func (s *Store) SharedWatchCounts() (shared, own int64) {
	s.hubs.hubs.Range(func(_, v any) bool {
		sh, ow := v.(*watchhub.Hub).Counts()
		shared, own = shared+sh, own+ow
		return true
	})
	return shared, own
}

func (h *watchHubs) watch(ctx context.Context, kv storage.KV, r *catalog.Resource, prefix string, from int64) (<-chan storage.Event, error) {
	if !h.enabled.Load() {
		return kv.Watch(ctx, prefix, from)
	}
	root := Prefix(r, "")
	v, ok := h.hubs.Load(root)
	if !ok {
		v, _ = h.hubs.LoadOrStore(root, watchhub.New(kv, root))
	}
	return v.(*watchhub.Hub).Watch(ctx, prefix, from)
}
