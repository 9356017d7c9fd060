package controlplane

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authz/node"
	"github.com/sekisho/sekisho/internal/authz/rbac"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// The authorizers know nothing of storage: they keep what they decide
// from (RBAC's index, the Node authorizer's graph) in memory, and the
// control plane feeds them from informers here. Register the handlers
// before the informers run, so that no event is missed.

// feedRBAC keeps the index current: each watch event of a role or binding
// updates one entry.
func feedRBAC(x *rbac.Index, roles, clusterRoles, roleBindings, clusterRoleBindings *informer.Informer) {
	roles.AddHandler(func(ev string, obj, _ catalog.Object) {
		r := obj.(*rbacv1.Role)
		ref := rbac.RoleRef{Kind: "Role", Namespace: r.Namespace, Name: r.Name}
		if ev == store.WatchDeleted {
			x.DeleteRole(ref)
			return
		}
		x.SetRole(ref, r.Rules)
	})
	clusterRoles.AddHandler(func(ev string, obj, _ catalog.Object) {
		r := obj.(*rbacv1.ClusterRole)
		ref := rbac.RoleRef{Kind: "ClusterRole", Name: r.Name}
		if ev == store.WatchDeleted {
			x.DeleteRole(ref)
			return
		}
		x.SetRole(ref, r.Rules)
	})
	roleBindings.AddHandler(func(ev string, obj, _ catalog.Object) {
		b := obj.(*rbacv1.RoleBinding)
		ref := rbac.BindingRef{Kind: "RoleBinding", Namespace: b.Namespace, Name: b.Name}
		if ev == store.WatchDeleted {
			x.DeleteBinding(ref)
			return
		}
		x.SetBinding(ref, b.RoleRef, b.Subjects)
	})
	clusterRoleBindings.AddHandler(func(ev string, obj, _ catalog.Object) {
		b := obj.(*rbacv1.ClusterRoleBinding)
		ref := rbac.BindingRef{Kind: "ClusterRoleBinding", Name: b.Name}
		if ev == store.WatchDeleted {
			x.DeleteBinding(ref)
			return
		}
		x.SetBinding(ref, b.RoleRef, b.Subjects)
	})
}

// feedGraph keeps the Node authorizer's graph current from pods and, when
// given, persistent volume claims.
func feedGraph(g *node.Graph, pods, pvcs *informer.Informer) {
	pods.AddHandler(graphPods(g))
	if pvcs != nil {
		pvcs.AddHandler(graphClaims(g))
	}
}

func graphPods(g *node.Graph) informer.Handler {
	return func(ev string, obj, _ catalog.Object) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		if ev == store.WatchDeleted {
			g.DeletePod(pod.Namespace, pod.Name)
			return
		}
		g.SetPod(pod)
	}
}

func graphClaims(g *node.Graph) informer.Handler {
	return func(ev string, obj, _ catalog.Object) {
		pvc, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok {
			return
		}
		if ev == store.WatchDeleted {
			g.DeletePVC(pvc.Namespace, pvc.Name)
			return
		}
		g.SetPVC(pvc.Namespace, pvc.Name, pvc.Spec.VolumeName)
	}
}
