package rbac

import (
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestSourceWording: the allow reason reads as kube-apiserver's, which
// formats each name with %q; the hand-built string must match that for
// plain names and for names that need escaping.
func TestSourceWording(t *testing.T) {
	reference := func(g Grant) string {
		name := g.Binding.Name
		if g.Binding.Kind == "RoleBinding" {
			name += "/" + g.Binding.Namespace
		}
		subject := g.Subject.Name
		if g.Subject.Kind == rbacv1.ServiceAccountKind {
			ns := g.Subject.Namespace
			if ns == "" {
				ns = g.Binding.Namespace
			}
			subject += "/" + ns
		}
		return fmt.Sprintf("%s %q of %s %q to %s %q", g.Binding.Kind, name, g.Role.Kind, g.Role.Name, g.Subject.Kind, subject)
	}
	for _, g := range []Grant{
		{Binding: BindingRef{Kind: "ClusterRoleBinding", Name: "cluster-admin"}, Role: RoleRef{Kind: "ClusterRole", Name: "cluster-admin"},
			Subject: rbacv1.Subject{Kind: "Group", Name: "system:masters"}},
		{Binding: BindingRef{Kind: "RoleBinding", Namespace: "dev", Name: "edit-alice"}, Role: RoleRef{Kind: "ClusterRole", Name: "edit"},
			Subject: rbacv1.Subject{Kind: "User", Name: "alice"}},
		{Binding: BindingRef{Kind: "RoleBinding", Namespace: "ci", Name: "builder"}, Role: RoleRef{Kind: "Role", Namespace: "ci", Name: "push"},
			Subject: rbacv1.Subject{Kind: "ServiceAccount", Name: "builder"}},
		{Binding: BindingRef{Kind: "ClusterRoleBinding", Name: "sa"}, Role: RoleRef{Kind: "ClusterRole", Name: "view"},
			Subject: rbacv1.Subject{Kind: "ServiceAccount", Namespace: "kube-system", Name: "reader"}},
		{Binding: BindingRef{Kind: "ClusterRoleBinding", Name: `odd"name\`}, Role: RoleRef{Kind: "ClusterRole", Name: "tab\there"},
			Subject: rbacv1.Subject{Kind: "User", Name: "ユーザー"}},
		{Binding: BindingRef{Kind: "ClusterRoleBinding", Name: ""}, Role: RoleRef{Kind: "ClusterRole", Name: "x\x7f"},
			Subject: rbacv1.Subject{Kind: "User", Name: "oidc:https://example.com#123"}},
	} {
		if got, want := g.source(), reference(g); got != want {
			t.Errorf("source()\n got %s\nwant %s", got, want)
		}
	}
}
