// Package serviceaccount runs the service-account controllers: every
// namespace gets a "default" ServiceAccount, and every Secret of type
// kubernetes.io/service-account-token gets a signed token.
package serviceaccount

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// LegacySigner signs tokens for service-account token Secrets.
type LegacySigner interface {
	IssueLegacy(namespace, serviceAccount, serviceAccountUID, secretName string) (string, error)
}

// Controller creates default service accounts and fills token Secrets.
type Controller struct {
	Store           *store.Writer
	Namespaces      *informer.Informer
	ServiceAccounts *informer.Informer
	Secrets         *informer.Informer
	// Signer fills token Secrets; nil leaves them alone.
	Signer LegacySigner
	// RootCA is the bundle written to each token Secret as ca.crt, read
	// when the Secret is filled; nil writes none.
	RootCA func() []byte
	// DefaultAccounts makes a "default" ServiceAccount in every namespace
	// (kube-controller-manager's serviceaccount-controller); the token
	// filling is its serviceaccount-token-controller, on when Signer is set.
	DefaultAccounts bool
	Log             *slog.Logger

	saRes, secretRes *catalog.Resource
	work             chan func(context.Context)
	// running is set while Run works: events are queued only then, and
	// a new term begins with a pass over everything.
	running atomic.Bool
}

// Register subscribes the controller to its informers; call it before
// the informers start, then Run.
func (c *Controller) Register(serviceAccounts, secrets *catalog.Resource) {
	c.saRes, c.secretRes = serviceAccounts, secrets
	c.work = make(chan func(context.Context), 1024)
	enqueue := func(f func(context.Context)) {
		if !c.running.Load() {
			return // the next term's first pass covers it
		}
		select {
		case c.work <- f:
		default:
			go func() { c.work <- f }()
		}
	}
	c.Namespaces.AddHandler(func(t string, obj, _ catalog.Object) {
		if c.DefaultAccounts && t != store.WatchDeleted && obj.GetDeletionTimestamp() == nil {
			ns := obj.GetName()
			enqueue(func(ctx context.Context) { c.ensureDefault(ctx, ns) })
		}
	})
	c.ServiceAccounts.AddHandler(func(t string, obj, _ catalog.Object) {
		ns, name := obj.GetNamespace(), obj.GetName()
		if c.DefaultAccounts && t == store.WatchDeleted && name == "default" {
			enqueue(func(ctx context.Context) { c.ensureDefault(ctx, ns) })
		}
		if t == store.WatchAdded && c.Signer != nil {
			// Token Secrets made before their account can be filled now.
			enqueue(func(ctx context.Context) {
				for _, o := range c.Secrets.List() {
					s := o.(*corev1.Secret)
					if s.Namespace == ns && s.Annotations[corev1.ServiceAccountNameKey] == name {
						c.fillToken(ctx, s.Namespace, s.Name)
					}
				}
			})
		}
	})
	if c.Signer != nil {
		c.Secrets.AddHandler(func(t string, obj, _ catalog.Object) {
			s := obj.(*corev1.Secret)
			if t != store.WatchDeleted && s.Type == corev1.SecretTypeServiceAccountToken && len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
				ns, name := s.Namespace, s.Name
				enqueue(func(ctx context.Context) { c.fillToken(ctx, ns, name) })
			}
		})
	}
}

// Run works until ctx ends. It may run again later (a new term as
// leader): each run starts with a pass over every namespace and token
// Secret, since events while it was stopped were not queued.
func (c *Controller) Run(ctx context.Context) {
	c.running.Store(true)
	defer c.running.Store(false)
	if !c.Namespaces.WaitForSync(ctx) || !c.ServiceAccounts.WaitForSync(ctx) || !c.Secrets.WaitForSync(ctx) {
		return
	}
	if c.DefaultAccounts {
		for _, ns := range c.Namespaces.List() {
			c.ensureDefault(ctx, ns.GetName())
		}
	}
	if c.Signer != nil {
		for _, o := range c.Secrets.List() {
			if s := o.(*corev1.Secret); s.Type == corev1.SecretTypeServiceAccountToken && len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
				c.fillToken(ctx, s.Namespace, s.Name)
			}
		}
	}
	// The CA bundle changes during a CA rotation: token Secrets follow
	// it, as kube-controller-manager's tokens controller keeps their
	// ca.crt equal to its root CA. Each check compares every Secret (in
	// memory), so one whose update failed is tried again.
	if c.Signer != nil && c.RootCA != nil {
		c.refreshRootCA(ctx, c.RootCA())
	}
	tick := time.NewTicker(rootCACheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-c.work:
			f(ctx)
		case <-tick.C:
			if c.Signer == nil || c.RootCA == nil {
				continue
			}
			c.refreshRootCA(ctx, c.RootCA())
		}
	}
}

// rootCACheck is how often the token Secrets are compared with the CA
// bundle in force.
const rootCACheck = time.Second

// refreshRootCA sets ca.crt of every filled token Secret to root.
func (c *Controller) refreshRootCA(ctx context.Context, root []byte) {
	if len(root) == 0 {
		return
	}
	for _, o := range c.Secrets.List() {
		s := o.(*corev1.Secret)
		if s.Type != corev1.SecretTypeServiceAccountToken || len(s.Data[corev1.ServiceAccountTokenKey]) == 0 ||
			bytes.Equal(s.Data[corev1.ServiceAccountRootCAKey], root) {
			continue
		}
		_, err := c.Store.Update(ctx, store.ObjectTarget(c.secretRes, s.Namespace, s.Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
			sec := cur.(*corev1.Secret)
			if sec.Data == nil {
				sec.Data = map[string][]byte{}
			}
			sec.Data[corev1.ServiceAccountRootCAKey] = root
			return sec, nil
		})
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			c.Log.Warn("serviceaccount controller: cannot update the CA of a token Secret", "secret", s.Namespace+"/"+s.Name, "err", err)
		}
	}
}

// ensureDefault creates the namespace's "default" ServiceAccount.
func (c *Controller) ensureDefault(ctx context.Context, namespace string) {
	if ns, ok := c.Namespaces.Get("", namespace); !ok || ns.GetDeletionTimestamp() != nil {
		return
	}
	if _, ok := c.ServiceAccounts.Get(namespace, "default"); ok {
		return
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	if _, err := c.Store.Create(ctx, c.saRes, sa, store.Options{}); err != nil && !apierrors.IsAlreadyExists(err) {
		c.Log.Warn("serviceaccount controller: cannot create the default service account", "namespace", namespace, "err", err)
	}
}

// fillToken signs a token for a service-account token Secret whose service
// account exists, and records the account's UID.
func (c *Controller) fillToken(ctx context.Context, namespace, name string) {
	obj, ok := c.Secrets.Get(namespace, name)
	if !ok {
		return
	}
	secret := obj.(*corev1.Secret)
	if secret.Type != corev1.SecretTypeServiceAccountToken || len(secret.Data[corev1.ServiceAccountTokenKey]) > 0 {
		return
	}
	saName := secret.Annotations[corev1.ServiceAccountNameKey]
	saObj, ok := c.ServiceAccounts.Get(namespace, saName)
	if !ok {
		return // filled when the account appears
	}
	sa := saObj.(*corev1.ServiceAccount)
	if uid := secret.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && uid != string(sa.UID) {
		c.Log.Warn("serviceaccount controller: token Secret names another incarnation of its service account", "secret", namespace+"/"+name)
		return
	}
	token, err := c.Signer.IssueLegacy(namespace, sa.Name, string(sa.UID), name)
	if err != nil {
		c.Log.Error("serviceaccount controller: cannot sign a token", "secret", namespace+"/"+name, "err", err)
		return
	}
	_, err = c.Store.Update(ctx, store.ObjectTarget(c.secretRes, namespace, name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		s := cur.(*corev1.Secret)
		if len(s.Data[corev1.ServiceAccountTokenKey]) > 0 {
			return s, nil
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[corev1.ServiceAccountTokenKey] = []byte(token)
		s.Data[corev1.ServiceAccountNamespaceKey] = []byte(namespace)
		if c.RootCA != nil {
			if root := c.RootCA(); len(root) > 0 {
				s.Data[corev1.ServiceAccountRootCAKey] = root
			}
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
		return s, nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		c.Log.Warn("serviceaccount controller: cannot fill the token Secret", "secret", namespace+"/"+name, "err", err)
	}
}
