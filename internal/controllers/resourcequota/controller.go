// Package resourcequota keeps every ResourceQuota's status current, as
// kube-controller-manager's resourcequota controller does: status.hard
// follows spec.hard, and status.used is recounted from the objects in the
// namespace when a quota is created or changed, when an object it counts
// is deleted or stops consuming (a pod that finished), and every few
// minutes. The ResourceQuota admission plugin refuses writes against a
// quota until its usage is known, and charges admitted writes itself.
//
// A recount reads the quota and the objects at one storage revision and
// writes status.used only if the quota is still as it was then, so it can
// never undo a charge it did not count: the admission charge and the
// object it paid for are written at one revision.
package resourcequota

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/quota"
	"github.com/sekisho/sekisho/internal/store"
)

// Manager is the field manager of the status the controller writes.
const Manager = "resourcequota-controller"

// Controller recounts the usage of ResourceQuotas.
type Controller struct {
	Catalog  *catalog.Catalog
	Store    *store.Writer
	Registry quota.Registry
	Log      *slog.Logger
	// Resync is how often every quota is recounted; 0 is five minutes,
	// kube-controller-manager's --resource-quota-sync-period.
	Resync time.Duration

	quotas *catalog.Resource
	ctx    context.Context // Run's, for the watches started later

	mu       sync.Mutex
	pending  map[key]bool
	known    map[string]map[string]bool // namespace -> quota names
	watching map[schema.GroupResource]bool
	wake     chan struct{}
}

type key struct{ namespace, name string }

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	if c.Resync == 0 {
		c.Resync = 5 * time.Minute
	}
	c.quotas, _ = c.Catalog.Lookup(corev1.SchemeGroupVersion.WithResource("resourcequotas"))
	c.ctx = ctx
	c.pending = map[key]bool{}
	c.known = map[string]map[string]bool{}
	c.watching = map[schema.GroupResource]bool{}
	c.wake = make(chan struct{}, 1)
	go c.worker(ctx)
	go c.resync(ctx)
	c.watch(ctx, c.quotas, c.quotaEvent)
}

// watch follows a resource's changes until ctx ends, starting again
// after a broken watch.
func (c *Controller) watch(ctx context.Context, res *catalog.Resource, handle func(store.WatchEvent)) {
	for ctx.Err() == nil {
		events, err := c.Store.Watch(ctx, res, store.WatchOptions{ListOptions: store.ListOptions{Shared: true}})
		if err != nil {
			c.Log.Warn("resourcequota controller: watch failed", "resource", res.Name, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for ev := range events {
			if ev.Entry != nil {
				handle(ev)
			}
		}
	}
}

func (c *Controller) quotaEvent(ev store.WatchEvent) {
	obj, err := ev.Entry.Object()
	if err != nil {
		return
	}
	q := obj.(*corev1.ResourceQuota)
	c.mu.Lock()
	if ev.Type == store.WatchDeleted {
		delete(c.known[q.Namespace], q.Name)
		c.mu.Unlock()
		return
	}
	if c.known[q.Namespace] == nil {
		c.known[q.Namespace] = map[string]bool{}
	}
	c.known[q.Namespace][q.Name] = true
	var start []*catalog.Resource
	for gr := range c.Registry.Measured(quota.Names(q.Spec.Hard)) {
		if c.watching[gr] || gr == c.quotas.GroupResource() {
			continue
		}
		if res := c.resource(gr); res != nil {
			c.watching[gr] = true
			start = append(start, res)
		}
	}
	c.mu.Unlock()
	for _, res := range start {
		go c.watch(c.ctx, res, c.objectEvent(res))
	}
	if q.Status.Used == nil || !quota.Equal(q.Spec.Hard, q.Status.Hard) {
		c.enqueue(key{q.Namespace, q.Name})
	}
}

// objectEvent returns the handler of a counted resource's events: a
// deletion, or a change after which the object may consume less, has the
// quotas of its namespace recounted. What an object consumes more is
// charged by admission.
func (c *Controller) objectEvent(res *catalog.Resource) func(store.WatchEvent) {
	return func(ev store.WatchEvent) {
		if ev.Type == store.WatchAdded {
			return
		}
		obj, err := ev.Entry.Object()
		if err != nil {
			return
		}
		if ev.Type == store.WatchModified && !mayRelease(obj) {
			return
		}
		c.enqueueNamespace(obj.GetNamespace())
	}
}

// mayRelease reports whether a change may have lowered what an object
// consumes: a pod that finished or is being deleted, a claim or service
// changed.
func mayRelease(obj runtime.Object) bool {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o.DeletionTimestamp != nil || o.Status.Phase == corev1.PodSucceeded || o.Status.Phase == corev1.PodFailed
	case *corev1.PersistentVolumeClaim, *corev1.Service:
		return true
	}
	return false
}

func (c *Controller) resource(gr schema.GroupResource) *catalog.Resource {
	for _, r := range c.Catalog.Resources() {
		if r.GroupResource() == gr && !r.Virtual {
			return r
		}
	}
	return nil
}

func (c *Controller) enqueueNamespace(ns string) {
	c.mu.Lock()
	names := make([]string, 0, len(c.known[ns]))
	for name := range c.known[ns] {
		names = append(names, name)
	}
	c.mu.Unlock()
	for _, name := range names {
		c.enqueue(key{ns, name})
	}
}

func (c *Controller) enqueue(k key) {
	c.mu.Lock()
	c.pending[k] = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Controller) resync(ctx context.Context) {
	t := time.NewTicker(c.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		var all []key
		for ns, names := range c.known {
			for name := range names {
				all = append(all, key{ns, name})
			}
		}
		c.mu.Unlock()
		for _, k := range all {
			c.enqueue(k)
		}
	}
}

func (c *Controller) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		c.mu.Lock()
		keys := make([]key, 0, len(c.pending))
		for k := range c.pending {
			keys = append(keys, k)
		}
		clear(c.pending)
		c.mu.Unlock()
		for _, k := range keys {
			err := c.Recount(ctx, k.namespace, k.name)
			switch {
			case err == nil:
			case apierrors.IsConflict(err):
				c.enqueue(k) // charged or changed meanwhile: count again
			case ctx.Err() == nil:
				c.Log.Warn("resourcequota controller: recount failed; will retry", "namespace", k.namespace, "name", k.name, "err", err)
				time.AfterFunc(time.Second, func() { c.enqueue(k) })
			}
		}
	}
}

// Recount sets a quota's status.hard to its spec.hard and its status.used
// to what the objects of its namespace use, read at the revision the
// quota was read at. It answers a Conflict when the quota changed since.
func (c *Controller) Recount(ctx context.Context, namespace, name string) error {
	list, err := c.Store.List(ctx, c.quotas, store.ListOptions{Namespace: namespace, Shared: true})
	if err != nil {
		return err
	}
	var q *corev1.ResourceQuota
	for _, e := range list.Items {
		obj, err := e.Object()
		if err != nil {
			return err
		}
		if obj.GetName() == name {
			q = obj.(*corev1.ResourceQuota)
		}
	}
	if q == nil {
		return nil // deleted
	}
	used := quota.Add(corev1.ResourceList{}, q.Status.Used)
	for gr := range c.Registry.Measured(quota.Names(q.Spec.Hard)) {
		res := c.resource(gr)
		if res == nil {
			continue // not served: its usage stays as it was
		}
		objs, err := c.objects(ctx, res, namespace, list.Rev)
		if err != nil {
			return err
		}
		u, err := quota.Usage(c.Registry.For(gr), q, objs)
		if err != nil {
			return err
		}
		for n, v := range u {
			used[n] = v
		}
	}
	used = quota.Mask(used, quota.Names(q.Spec.Hard))
	if q.Status.Used != nil && quota.Equal(used, q.Status.Used) && quota.Equal(q.Spec.Hard, q.Status.Hard) {
		return nil
	}
	hard := quota.Add(corev1.ResourceList{}, q.Spec.Hard)
	rv := q.ResourceVersion
	t := store.Target{Resource: c.quotas, Subresource: c.quotas.Subresource("status"), Namespace: namespace, Name: name}
	_, err = c.Store.Update(ctx, t, store.Options{Manager: Manager}, func(cur catalog.Object) (catalog.Object, error) {
		next := cur.(*corev1.ResourceQuota)
		next.ResourceVersion = rv // the revision counted at, or a Conflict
		next.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
		return next, nil
	})
	return err
}

// objects lists a resource's objects in a namespace at revision rev.
func (c *Controller) objects(ctx context.Context, res *catalog.Resource, namespace string, rev int64) ([]runtime.Object, error) {
	list, err := c.Store.List(ctx, res, store.ListOptions{Namespace: namespace, Rev: rev, Shared: true})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, 0, len(list.Items))
	for _, e := range list.Items {
		obj, err := e.Object()
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
