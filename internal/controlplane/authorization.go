package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/node"
	"github.com/sekisho/sekisho/internal/authz/rbac"
	"github.com/sekisho/sekisho/internal/authz/rbac/defaultpolicy"
	"github.com/sekisho/sekisho/internal/authz/webhook"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/store"
)

// Authorization modes, as --authorization-mode names them.
const (
	ModeNode        = "Node"
	ModeRBAC        = "RBAC"
	ModeWebhook     = "Webhook"
	ModeAlwaysAllow = "AlwaysAllow"
	ModeAlwaysDeny  = "AlwaysDeny"
)

var authorizationModes = []string{ModeNode, ModeRBAC, ModeWebhook, ModeAlwaysAllow, ModeAlwaysDeny}

// authorization is the assembled authorizer chain and what it is built
// from.
type authorization struct {
	chain authz.Chain
	// index holds RBAC's objects. It exists whatever the modes, because
	// escalation checks and access reviews need it.
	index *rbac.Index
	graph *node.Graph
	// The RBAC informers feed the index; the server waits for them before
	// it serves, so that no request is refused for want of a loaded binding.
	roles, clusterRoles, roleBindings, clusterRoleBindings *informer.Informer
}

func (z *authorization) rbacInformers() []*informer.Informer {
	return []*informer.Informer{z.roles, z.clusterRoles, z.roleBindings, z.clusterRoleBindings}
}

// buildAuthorization assembles system:masters first, then the modes in the
// order given.
func buildAuthorization(o Options, log *slog.Logger, reg *catalog.Catalog, st *store.Store, inf *informers) (*authorization, error) {
	z := &authorization{index: rbac.NewIndex(), chain: authz.Chain{authz.SystemMasters}}
	lookup := func(resource string) *informer.Informer {
		res, _ := reg.Lookup(rbacv1.SchemeGroupVersion.WithResource(resource))
		return informer.New(st, res, log)
	}
	z.roles, z.clusterRoles, z.roleBindings, z.clusterRoleBindings = lookup("roles"), lookup("clusterroles"), lookup("rolebindings"), lookup("clusterrolebindings")
	// The index is the cache of roles and bindings; only ClusterRoles are
	// also kept whole, for the aggregation controller.
	z.roles.Lean, z.roleBindings.Lean, z.clusterRoleBindings.Lean = true, true, true
	feedRBAC(z.index, z.roles, z.clusterRoles, z.roleBindings, z.clusterRoleBindings)
	for _, mode := range o.AuthorizationModes {
		switch mode {
		case ModeNode:
			z.graph = node.NewGraph()
			feedGraph(z.graph, inf.pods, nil)
			z.chain = append(z.chain, node.New(z.graph, defaultpolicy.NodeRules()))
		case ModeRBAC:
			z.chain = append(z.chain, &rbac.Authorizer{Index: z.index})
		case ModeWebhook:
			w, err := webhook.NewFromFile(o.AuthorizationWebhookConfigFile, webhook.Options{
				Version:         o.AuthorizationWebhookVersion,
				AuthorizedTTL:   ttlOption(o.AuthorizationWebhookCacheAuthorizedTTL),
				UnauthorizedTTL: ttlOption(o.AuthorizationWebhookCacheUnauthorizedTTL),
			})
			if err != nil {
				return nil, fmt.Errorf("--authorization-webhook-config-file: %w", err)
			}
			z.chain = append(z.chain, w)
		case ModeAlwaysAllow:
			z.chain = append(z.chain, authz.AlwaysAllow)
		case ModeAlwaysDeny:
			z.chain = append(z.chain, authz.AlwaysDeny)
		}
	}
	return z, nil
}

// ttlOption maps a flag's TTL to the webhook's: the flag's 0 means "do not
// cache", the webhook's zero means "the default".
func ttlOption(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// policyMarker records that kubeadm's one-time objects were created in
// this store, so that deleting one of them (the kubeadm:cluster-admins
// binding, which revokes every admin.conf) is never undone.
const policyMarker = "/sekisho/bootstrap/kubeadm-policy"

// reconcileDefaultPolicy creates the default roles and bindings, and adds
// to them what an upgrade brought, leaving objects annotated
// rbac.authorization.kubernetes.io/autoupdate=false alone. kubeadm's
// objects are created only once per store.
func reconcileDefaultPolicy(ctx context.Context, reg *catalog.Catalog, st *store.Writer, log *slog.Logger) error {
	res := func(name string) *catalog.Resource {
		r, _ := reg.Lookup(rbacv1.SchemeGroupVersion.WithResource(name))
		return r
	}
	p := defaultpolicy.Kubernetes()
	own := defaultpolicy.Sekisho()
	p.ClusterRoles = append(p.ClusterRoles, own.ClusterRoles...)
	p.ClusterRoleBindings = append(p.ClusterRoleBindings, own.ClusterRoleBindings...)
	for i := range p.ClusterRoles {
		want := &p.ClusterRoles[i]
		if err := reconcileObject(ctx, st, res("clusterroles"), "", want.Name, func(cur catalog.Object) (catalog.Object, bool, bool) {
			existing, _ := cur.(*rbacv1.ClusterRole)
			out, changed := defaultpolicy.ReconcileClusterRole(existing, want)
			return out, changed, false
		}); err != nil {
			return err
		}
	}
	for i := range p.ClusterRoleBindings {
		want := &p.ClusterRoleBindings[i]
		if err := reconcileObject(ctx, st, res("clusterrolebindings"), "", want.Name, func(cur catalog.Object) (catalog.Object, bool, bool) {
			existing, _ := cur.(*rbacv1.ClusterRoleBinding)
			return defaultpolicy.ReconcileClusterRoleBinding(existing, want)
		}); err != nil {
			return err
		}
	}
	for i := range p.Roles {
		want := &p.Roles[i]
		if err := reconcileObject(ctx, st, res("roles"), want.Namespace, want.Name, func(cur catalog.Object) (catalog.Object, bool, bool) {
			existing, _ := cur.(*rbacv1.Role)
			out, changed := defaultpolicy.ReconcileRole(existing, want)
			return out, changed, false
		}); err != nil {
			return err
		}
	}
	for i := range p.RoleBindings {
		want := &p.RoleBindings[i]
		if err := reconcileObject(ctx, st, res("rolebindings"), want.Namespace, want.Name, func(cur catalog.Object) (catalog.Object, bool, bool) {
			existing, _ := cur.(*rbacv1.RoleBinding)
			return defaultpolicy.ReconcileRoleBinding(existing, want)
		}); err != nil {
			return err
		}
	}
	return createKubeadmPolicy(ctx, st, res, log)
}

// reconcileObject applies a reconcile function to the stored object (nil
// when absent): create it, update it, or delete and recreate it when an
// immutable field (a binding's roleRef) must change.
func reconcileObject(ctx context.Context, st *store.Writer, res *catalog.Resource, namespace, name string,
	reconcile func(cur catalog.Object) (out catalog.Object, changed, recreate bool)) error {
	for range 5 {
		cur, err := st.GetObject(ctx, res, namespace, name)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err != nil {
			cur = nil
		}
		out, changed, recreate := reconcile(cur)
		switch {
		case !changed:
			return nil
		case cur == nil:
			_, err = st.Create(ctx, res, out, store.Options{})
		case recreate:
			_, _, err = st.Delete(ctx, store.ObjectTarget(res, namespace, name), store.DeleteOptions{Preconditions: store.Preconditions{ResourceVersion: cur.GetResourceVersion()}})
			if err == nil {
				out.SetResourceVersion("")
				_, err = st.Create(ctx, res, out, store.Options{})
			}
		default:
			_, err = st.Update(ctx, store.ObjectTarget(res, namespace, name), store.Options{}, func(latest catalog.Object) (catalog.Object, error) {
				if latest.GetResourceVersion() != cur.GetResourceVersion() {
					return nil, store.ErrConflict(res, name)
				}
				return out, nil
			})
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) {
			continue // changed under us: reconcile against the new state
		}
		if err != nil {
			return fmt.Errorf("default RBAC policy: %s %s: %w", res.Kind, name, err)
		}
		return nil
	}
	return fmt.Errorf("default RBAC policy: %s %s kept changing", res.Kind, name)
}

// createKubeadmPolicy creates kubeadm's objects the first time this store
// is started, then records that it did.
func createKubeadmPolicy(ctx context.Context, st *store.Writer, res func(string) *catalog.Resource, log *slog.Logger) error {
	if _, err := st.KV.Get(ctx, policyMarker); err == nil {
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	k := defaultpolicy.Kubeadm()
	var objs []struct {
		res *catalog.Resource
		obj catalog.Object
	}
	add := func(r string, o catalog.Object) {
		objs = append(objs, struct {
			res *catalog.Resource
			obj catalog.Object
		}{res(r), o})
	}
	for i := range k.ClusterRoles {
		add("clusterroles", &k.ClusterRoles[i])
	}
	for i := range k.ClusterRoleBindings {
		add("clusterrolebindings", &k.ClusterRoleBindings[i])
	}
	for i := range k.Roles {
		add("roles", &k.Roles[i])
	}
	for i := range k.RoleBindings {
		add("rolebindings", &k.RoleBindings[i])
	}
	for _, o := range objs {
		if _, err := st.Create(ctx, o.res, o.obj, store.Options{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("kubeadm RBAC policy: %s %s: %w", o.res.Kind, o.obj.GetName(), err)
		}
	}
	if _, err := st.KV.Create(ctx, policyMarker, []byte("created")); err != nil && !errors.Is(err, storage.ErrExists) {
		return err
	}
	log.Info("created kubeadm's RBAC objects; deleting ClusterRoleBinding kubeadm:cluster-admins revokes every admin.conf")
	return nil
}
