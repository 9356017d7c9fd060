package rbacescalation

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

// The escalation check does not depend on RBAC being an authorization
// mode: here the server's authorizer is a stand-in for a webhook that
// grants only what the test lists, and RBAC's rules come from the index.
func escalationFixture(granted ...string) (*Escalation, *authn.User) {
	x := rbac.NewIndex()
	x.SetRole(rbac.RoleRef{Kind: "Role", Namespace: "team", Name: "pods"}, []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}},
	})
	x.SetBinding(rbac.BindingRef{Kind: "RoleBinding", Namespace: "team", Name: "dana"}, rbacv1.RoleRef{Kind: "Role", Name: "pods"},
		[]rbacv1.Subject{{Kind: "User", Name: "dana"}})
	x.SetRole(rbac.RoleRef{Kind: "ClusterRole", Name: "secrets"}, []rbacv1.PolicyRule{
		{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}},
	})
	webhook := authz.AuthorizerFunc(func(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
		for _, g := range granted {
			if g == a.Verb+" "+a.Resource+"/"+a.Name {
				return authz.Allow, "", nil
			}
		}
		return authz.NoOpinion, "", nil
	})
	return &Escalation{Index: x, Authorizer: webhook}, &authn.User{Name: "dana", Groups: []string{"system:authenticated"}}
}

func roleWrite(u *authn.User, op admission.Operation, role *rbacv1.Role) *admission.Attributes {
	return &admission.Attributes{Operation: op, Resource: rbacv1.SchemeGroupVersion.WithResource("roles"),
		Namespace: role.Namespace, Name: role.Name, Object: role, User: u}
}

func TestEscalationRoles(t *testing.T) {
	ctx := context.Background()
	e, dana := escalationFixture()
	within := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "r"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
	if err := e.Validate(ctx, roleWrite(dana, admission.Create, within)); err != nil {
		t.Errorf("role within her rights: %v", err)
	}
	beyond := within.DeepCopy()
	beyond.Rules[0].Verbs = []string{"get", "delete"}
	err := e.Validate(ctx, roleWrite(dana, admission.Create, beyond))
	want := `roles.rbac.authorization.k8s.io "r" is forbidden: user "dana" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("escalating role:\n got %v\nwant %s", err, want)
	}
	// The same role in another namespace: her rules there are none.
	elsewhere := within.DeepCopy()
	elsewhere.Namespace = "other"
	if err := e.Validate(ctx, roleWrite(dana, admission.Create, elsewhere)); !apierrors.IsForbidden(err) {
		t.Errorf("role in a namespace where she holds nothing: %v", err)
	}
	// system:masters is exempt.
	master := &authn.User{Name: "root", Groups: []string{authn.GroupMasters}}
	if err := e.Validate(ctx, roleWrite(master, admission.Create, beyond)); err != nil {
		t.Errorf("system:masters: %v", err)
	}
	// An update that only changes finalizers and owner references passes.
	old := beyond.DeepCopy()
	upd := beyond.DeepCopy()
	upd.Finalizers = []string{"example.com/keep"}
	a := roleWrite(dana, admission.Update, upd)
	a.OldObject = old
	if err := e.Validate(ctx, a); err != nil {
		t.Errorf("finalizer-only update: %v", err)
	}
	upd.Labels = map[string]string{"x": "y"}
	if err := e.Validate(ctx, a); !apierrors.IsForbidden(err) {
		t.Errorf("label update of a role beyond her rights: %v", err)
	}
	// escalate on roles lifts the check for updates (named) and creates
	// (which name nothing, as in Kubernetes).
	e, dana = escalationFixture("escalate roles/r")
	a = roleWrite(dana, admission.Update, beyond)
	a.OldObject = within
	if err := e.Validate(ctx, a); err != nil {
		t.Errorf("update with escalate on r: %v", err)
	}
	if err := e.Validate(ctx, roleWrite(dana, admission.Create, beyond)); err == nil {
		t.Error("create allowed by escalate limited to the name r")
	}
	e, dana = escalationFixture("escalate roles/")
	if err := e.Validate(ctx, roleWrite(dana, admission.Create, beyond)); err != nil {
		t.Errorf("create with escalate on roles: %v", err)
	}
}

func TestEscalationBindings(t *testing.T) {
	ctx := context.Background()
	bind := func(u *authn.User, ref rbacv1.RoleRef) *admission.Attributes {
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "b"}, RoleRef: ref,
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "eve"}}}
		return &admission.Attributes{Operation: admission.Create, Resource: rbacv1.SchemeGroupVersion.WithResource("rolebindings"),
			Namespace: "team", Name: "b", Object: b, User: u}
	}
	e, dana := escalationFixture()
	if err := e.Validate(ctx, bind(dana, rbacv1.RoleRef{Kind: "Role", Name: "pods"})); err != nil {
		t.Errorf("binding a role she holds: %v", err)
	}
	err := e.Validate(ctx, bind(dana, rbacv1.RoleRef{Kind: "ClusterRole", Name: "secrets"}))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`) {
		t.Errorf("binding a role she lacks: %v", err)
	}
	if err := e.Validate(ctx, bind(dana, rbacv1.RoleRef{Kind: "ClusterRole", Name: "missing"})); !apierrors.IsNotFound(err) {
		t.Errorf("binding a missing role: %v", err)
	}
	e, dana = escalationFixture("bind clusterroles/secrets")
	if err := e.Validate(ctx, bind(dana, rbacv1.RoleRef{Kind: "ClusterRole", Name: "secrets"})); err != nil {
		t.Errorf("bind on the role: %v", err)
	}
	if err := e.Validate(ctx, bind(dana, rbacv1.RoleRef{Kind: "ClusterRole", Name: "missing"})); err == nil {
		t.Error("bind on secrets allowed binding another role")
	}
}

func TestEscalationAggregationRule(t *testing.T) {
	ctx := context.Background()
	e, dana := escalationFixture()
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gather"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}}
	a := &admission.Attributes{Operation: admission.Create, Resource: rbacv1.SchemeGroupVersion.WithResource("clusterroles"), Name: "gather", Object: cr, User: dana}
	if err := e.Validate(ctx, a); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "must have cluster-admin privileges to use the aggregationRule") {
		t.Errorf("aggregation rule: %v", err)
	}
	e.Index.SetRole(rbac.RoleRef{Kind: "ClusterRole", Name: "all"}, fullAuthority)
	e.Index.SetBinding(rbac.BindingRef{Kind: "ClusterRoleBinding", Name: "dana-all"}, rbacv1.RoleRef{Kind: "ClusterRole", Name: "all"}, []rbacv1.Subject{{Kind: "User", Name: "dana"}})
	if err := e.Validate(ctx, a); err != nil {
		t.Errorf("aggregation rule with full authority: %v", err)
	}
}
