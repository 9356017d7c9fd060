package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// Attach keeps the index current from informers of roles, clusterroles,
// rolebindings and clusterrolebindings: each watch event updates one entry.
// Register before the informers run so that no event is missed.
func (x *Index) Attach(roles, clusterRoles, roleBindings, clusterRoleBindings *informer.Informer) {
	roles.AddHandler(func(ev string, obj, _ catalog.Object) {
		r := obj.(*rbacv1.Role)
		ref := RoleRef{Kind: "Role", Namespace: r.Namespace, Name: r.Name}
		if ev == store.WatchDeleted {
			x.DeleteRole(ref)
			return
		}
		x.SetRole(ref, r.Rules)
	})
	clusterRoles.AddHandler(func(ev string, obj, _ catalog.Object) {
		r := obj.(*rbacv1.ClusterRole)
		ref := RoleRef{Kind: "ClusterRole", Name: r.Name}
		if ev == store.WatchDeleted {
			x.DeleteRole(ref)
			return
		}
		x.SetRole(ref, r.Rules)
	})
	roleBindings.AddHandler(func(ev string, obj, _ catalog.Object) {
		b := obj.(*rbacv1.RoleBinding)
		ref := BindingRef{Kind: "RoleBinding", Namespace: b.Namespace, Name: b.Name}
		if ev == store.WatchDeleted {
			x.DeleteBinding(ref)
			return
		}
		x.SetBinding(ref, b.RoleRef, b.Subjects)
	})
	clusterRoleBindings.AddHandler(func(ev string, obj, _ catalog.Object) {
		b := obj.(*rbacv1.ClusterRoleBinding)
		ref := BindingRef{Kind: "ClusterRoleBinding", Name: b.Name}
		if ev == store.WatchDeleted {
			x.DeleteBinding(ref)
			return
		}
		x.SetBinding(ref, b.RoleRef, b.Subjects)
	})
}
