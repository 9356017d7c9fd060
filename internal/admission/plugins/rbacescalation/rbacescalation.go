// Package rbacescalation keeps RBAC writes from granting more than the
// writer holds. Kubernetes makes this check in its RBAC storage, whatever
// the authorization mode, so it cannot be turned off; here it is an
// admission plugin that every chain includes.
package rbacescalation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

// fullAuthority is what setting an aggregationRule requires, since the
// rule can gather any permission.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// PluginName is the plugin's name in the admission registry. It is not a
// kube-apiserver plugin name: Kubernetes has no flag for this check.
const PluginName = "RBACEscalation"

// Escalation refuses RBAC writes that would grant more than the writer
// holds, as Kubernetes does whatever the authorization mode:
//
//   - a Role or ClusterRole may be written by a user who holds every one of
//     its rules at its scope, or who may "escalate" on it;
//   - an aggregationRule needs full authority (* on everything);
//   - a binding may be written by a user who holds the referenced role's
//     rules in the binding's scope, or who may "bind" that role;
//   - members of system:masters are exempt.
//
// The refusal is a 403 that lists the missing rules.
type Escalation struct {
	Index *rbac.Index
	// Authorizer answers the "escalate" and "bind" checks: the server's
	// whole chain, so that a Webhook or AlwaysAllow mode can grant them.
	Authorizer authz.Authorizer
}

// Validate implements admission.Validator.
func (e *Escalation) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Resource.Group != rbacv1.GroupName || a.Subresource != "" || (a.Operation != admission.Create && a.Operation != admission.Update) {
		return nil
	}
	u := a.User
	if u == nil {
		return admission.NewForbidden(a, errors.New("a write with no user cannot be checked for escalation"))
	}
	if u.InGroup(authn.GroupMasters) {
		return nil
	}
	if a.Operation == admission.Update && onlyGCFieldsChanged(a.Object, a.OldObject) {
		return nil
	}
	gr := a.Resource.GroupResource()
	switch obj := a.Object.(type) {
	case *rbacv1.Role:
		if e.allowed(ctx, u, "escalate", gr.Resource, a.Namespace, requestName(a)) {
			return nil
		}
		return e.confirm(u, a.Namespace, obj.Rules, gr, a.Name)
	case *rbacv1.ClusterRole:
		if e.allowed(ctx, u, "escalate", gr.Resource, "", requestName(a)) {
			return nil
		}
		if err := e.confirm(u, "", obj.Rules, gr, a.Name); err != nil {
			return err
		}
		old, _ := a.OldObject.(*rbacv1.ClusterRole)
		if hasAggregationRule(obj) || (old != nil && hasAggregationRule(old)) {
			if ok, _ := rbac.Covers(e.Index.RulesFor(u, ""), fullAuthority); !ok {
				return apierrors.NewForbidden(gr, a.Name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
			}
		}
		return nil
	case *rbacv1.RoleBinding:
		return e.checkBinding(ctx, u, obj.RoleRef, a.Namespace, gr, a.Name)
	case *rbacv1.ClusterRoleBinding:
		return e.checkBinding(ctx, u, obj.RoleRef, "", gr, a.Name)
	}
	return nil
}

// requestName is the name kube-apiserver's request info carries: none for
// a create, which is a POST to the collection.
func requestName(a *admission.Attributes) string {
	if a.Operation == admission.Create {
		return ""
	}
	return a.Name
}

func (e *Escalation) checkBinding(ctx context.Context, u *authn.User, ref rbacv1.RoleRef, namespace string, gr schema.GroupResource, name string) error {
	resource := "clusterroles"
	role := rbac.RoleRef{Kind: ref.Kind, Name: ref.Name}
	if ref.Kind == "Role" {
		resource, role.Namespace = "roles", namespace
	}
	if e.allowed(ctx, u, "bind", resource, namespace, ref.Name) {
		return nil
	}
	rules, ok := e.Index.Role(role)
	if !ok {
		return apierrors.NewNotFound(rbacv1.Resource(resource), ref.Name)
	}
	return e.confirm(u, namespace, rules, gr, name)
}

// allowed asks the authorizer whether u may use verb on a role resource.
func (e *Escalation) allowed(ctx context.Context, u *authn.User, verb, resource, namespace, name string) bool {
	if e.Authorizer == nil {
		return false
	}
	d, _, err := e.Authorizer.Authorize(ctx, authz.Attributes{
		User: u, Verb: verb, Group: rbacv1.GroupName, Version: "*", Resource: resource,
		Namespace: namespace, Name: name, ResourceRequest: true,
	})
	return err == nil && d == authz.Allow
}

// confirm refuses rules the user does not hold in namespace.
func (e *Escalation) confirm(u *authn.User, namespace string, rules []rbacv1.PolicyRule, gr schema.GroupResource, name string) error {
	ok, missing := rbac.Covers(e.Index.RulesFor(u, namespace), rules)
	if ok {
		return nil
	}
	seen := map[string]bool{}
	var lines []string
	for _, m := range missing {
		if s := rbac.FormatRule(m); !seen[s] {
			seen[s] = true
			lines = append(lines, s)
		}
	}
	slices.Sort(lines)
	return apierrors.NewForbidden(gr, name, fmt.Errorf("user %q (groups=%s) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, rbac.Quoted(u.Groups), strings.Join(lines, "\n")))
}

func hasAggregationRule(r *rbacv1.ClusterRole) bool {
	return r.AggregationRule != nil && len(r.AggregationRule.ClusterRoleSelectors) > 0
}

// onlyGCFieldsChanged reports whether an update changes nothing but owner
// references and finalizers, which the garbage collector must be able to
// write whoever owns the object.
func onlyGCFieldsChanged(obj, old runtime.Object) bool {
	if _, err := meta(obj); err != nil {
		return false
	}
	p, err := meta(old)
	if err != nil {
		return false
	}
	a := obj.DeepCopyObject()
	ma, _ := meta(a)
	ma.SetOwnerReferences(p.GetOwnerReferences())
	ma.SetFinalizers(p.GetFinalizers())
	ma.SetResourceVersion(p.GetResourceVersion())
	ma.SetManagedFields(p.GetManagedFields())
	ma.SetGeneration(p.GetGeneration())
	return equality.Semantic.DeepEqual(a, old)
}

func meta(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, errors.New("no object metadata")
	}
	return m, nil
}
