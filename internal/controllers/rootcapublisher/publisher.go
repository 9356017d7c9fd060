// Package rootcapublisher keeps a kube-root-ca.crt ConfigMap in every
// namespace holding the CA bundle that verifies the API server, as
// kube-controller-manager's root-ca-certificate-publisher does. Pods read
// it through the projected service-account volume. The bundle follows the
// CA file: during a CA rotation every namespace gets the bundle that
// trusts both CAs, then the new one alone.
package rootcapublisher

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// Name, Key and Description are kube-controller-manager's.
const (
	Name        = "kube-root-ca.crt"
	Key         = "ca.crt"
	Description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
	annotation  = "kubernetes.io/description"
)

// Controller publishes the bundle.
type Controller struct {
	Store      *store.Writer
	ConfigMaps *catalog.Resource
	Namespaces *informer.Informer
	// Maps is an informer of the ConfigMaps named Name in every namespace
	// (it may hold others too).
	Maps *informer.Informer
	// RootCA is the PEM bundle in force; nil or empty publishes nothing.
	RootCA func() []byte
	// Resync is how often the bundle is compared with what is published,
	// so that a reloaded CA file reaches every namespace.
	Resync time.Duration
	Log    *slog.Logger

	changes chan struct{}
}

// Register subscribes to changes; call before the informers run.
func (c *Controller) Register() {
	c.changes = make(chan struct{}, 1)
	poke := func(string, catalog.Object, catalog.Object) {
		select {
		case c.changes <- struct{}{}:
		default:
		}
	}
	c.Namespaces.AddHandler(poke)
	c.Maps.AddHandler(func(t string, obj, old catalog.Object) {
		if obj.GetName() == Name {
			poke(t, obj, old)
		}
	})
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	if !c.Maps.WaitForSync(ctx) {
		return
	}
	resync := c.Resync
	if resync <= 0 {
		resync = time.Second
	}
	informer.RunOnChange(ctx, c.Namespaces, c.changes, resync, func(ctx context.Context) error {
		c.SyncAll(ctx)
		return nil
	})
}

// SyncAll makes every live namespace's ConfigMap hold the bundle.
func (c *Controller) SyncAll(ctx context.Context) {
	root := c.RootCA()
	if len(root) == 0 {
		return
	}
	for _, ns := range c.Namespaces.List() {
		if ns.GetDeletionTimestamp() != nil {
			continue
		}
		if err := c.sync(ctx, ns.GetName(), root); err != nil && ctx.Err() == nil {
			c.Log.Warn("root CA publisher: cannot publish", "namespace", ns.GetName(), "err", err)
		}
	}
}

func current(cm *corev1.ConfigMap, root []byte) bool {
	return len(cm.Data) == 1 && cm.Data[Key] == string(root) && cm.Annotations[annotation] == Description
}

func (c *Controller) sync(ctx context.Context, namespace string, root []byte) error {
	obj, ok := c.Maps.Get(namespace, Name)
	if !ok {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: namespace, Annotations: map[string]string{annotation: Description}},
			Data:       map[string]string{Key: string(root)},
		}
		_, err := c.Store.Create(ctx, c.ConfigMaps, cm, store.Options{})
		if apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return nil // seen at the next change; a terminating namespace refuses
		}
		return err
	}
	if current(obj.(*corev1.ConfigMap), root) {
		return nil
	}
	_, err := c.Store.Update(ctx, store.ObjectTarget(c.ConfigMaps, namespace, Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cm := cur.(*corev1.ConfigMap)
		if current(cm, root) {
			return cm, nil
		}
		// As kube-controller-manager does: the data is exactly the bundle,
		// and the description annotation is put back.
		cm.Data = map[string]string{Key: string(root)}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[annotation] = Description
		return cm, nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
