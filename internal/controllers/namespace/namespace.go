// Package namespace finishes namespace deletion: once a namespace is marked
// for deletion it deletes everything in it, then releases the namespace's
// "kubernetes" finalizer so that the namespace itself goes.
package namespace

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// Controller deletes the contents of terminating namespaces.
type Controller struct {
	Catalog *catalog.Catalog
	Store   *store.Writer
	Log     *slog.Logger
	// Retry is how long to wait before looking again at a namespace whose
	// contents are not all gone yet (objects with finalizers).
	Retry time.Duration

	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	if c.Retry == 0 {
		c.Retry = 2 * time.Second
	}
	c.pending = map[string]bool{}
	c.wake = make(chan struct{}, 1)
	go c.worker(ctx)
	namespaces := c.namespaces()
	for ctx.Err() == nil {
		events, err := c.Store.Watch(ctx, namespaces, store.WatchOptions{})
		if err != nil {
			c.Log.Warn("namespace controller: watch failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for ev := range events {
			if ev.Entry == nil || ev.Type == store.WatchDeleted {
				continue
			}
			obj, err := ev.Entry.Object()
			if err != nil {
				continue
			}
			if obj.GetDeletionTimestamp() != nil {
				c.enqueue(obj.GetName())
			}
		}
	}
}

func (c *Controller) namespaces() *catalog.Resource {
	res, _ := c.Catalog.Lookup(corev1.SchemeGroupVersion.WithResource("namespaces"))
	return res
}

func (c *Controller) enqueue(name string) {
	c.mu.Lock()
	c.pending[name] = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
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
		names := make([]string, 0, len(c.pending))
		for n := range c.pending {
			names = append(names, n)
		}
		clear(c.pending)
		c.mu.Unlock()
		for _, name := range names {
			done, err := c.finalize(ctx, name)
			if err != nil {
				c.Log.Warn("namespace controller: cleanup failed; will retry", "namespace", name, "err", err)
			}
			if !done && ctx.Err() == nil {
				time.AfterFunc(c.Retry, func() { c.enqueue(name) })
			}
		}
	}
}

// finalize deletes the contents of a terminating namespace and, when it is
// empty, removes the "kubernetes" finalizer. It reports whether the
// namespace needs no more work.
func (c *Controller) finalize(ctx context.Context, name string) (bool, error) {
	nsRes := c.namespaces()
	obj, err := c.Store.GetObject(ctx, nsRes, "", name)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	ns := obj.(*corev1.Namespace)
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, catalog.FinalizerKubernetes) {
		return true, nil
	}
	remaining := 0
	for _, res := range c.Catalog.Resources() {
		if !res.Namespaced {
			continue
		}
		list, err := c.Store.List(ctx, res, store.ListOptions{Namespace: name})
		if err != nil {
			return false, err
		}
		for _, e := range list.Items {
			item, err := e.Object()
			if err != nil {
				return false, err
			}
			// In the background, as kube-controller-manager's namespace
			// controller deletes: nothing in the namespace is orphaned.
			background := metav1.DeletePropagationBackground
			_, deleted, err := c.Store.Delete(ctx, store.ObjectTarget(res, name, item.GetName()), store.DeleteOptions{Propagation: &background})
			if err != nil && !apierrors.IsNotFound(err) {
				return false, err
			}
			if err == nil && !deleted {
				remaining++ // held by its own finalizers
			}
		}
	}
	if remaining > 0 {
		c.Log.Info("namespace controller: waiting for finalizers", "namespace", name, "objects", remaining)
		return false, nil
	}
	_, err = c.Store.Update(ctx, store.Target{Resource: nsRes, Subresource: nsRes.Subresource("finalize"), Name: name}, store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		n := cur.(*corev1.Namespace)
		n.Spec.Finalizers = slices.DeleteFunc(n.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == catalog.FinalizerKubernetes })
		return n, nil
	})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return err == nil, err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
