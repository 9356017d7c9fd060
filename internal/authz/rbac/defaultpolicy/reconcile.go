package defaultpolicy

import (
	"reflect"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/authz/rbac"
)

// The reconcilers below mirror what kube-apiserver does with its bootstrap
// policy at every start: it never takes away what an administrator added,
// it adds what the default has and the stored object lacks, and it leaves
// alone any object annotated rbac.authorization.kubernetes.io/autoupdate:
// "false". They are pure: they read their arguments and return new
// objects, and the caller does the writes.

// protected reports whether an object opted out of reconciliation.
func protected(m metav1.ObjectMeta) bool {
	return m.Annotations[rbacv1.AutoUpdateAnnotationKey] == "false"
}

// mergeMeta adds want's labels and annotations that out lacks; values
// out already has win. It reports whether out changed.
func mergeMeta(out *metav1.ObjectMeta, want metav1.ObjectMeta) bool {
	var changed bool
	out.Labels, changed = addMissingKeys(out.Labels, want.Labels)
	var c bool
	out.Annotations, c = addMissingKeys(out.Annotations, want.Annotations)
	return changed || c
}

func addMissingKeys(have, want map[string]string) (map[string]string, bool) {
	changed := false
	for k, v := range want {
		if _, ok := have[k]; ok {
			continue
		}
		if have == nil {
			have = map[string]string{}
		}
		have[k] = v
		changed = true
	}
	return have, changed
}

// addMissingRules appends every rule of want that have does not already
// grant in full. The whole default rule is appended, not just its missing
// part: the permissions granted are the same, and the stored rules stay
// readable.
func addMissingRules(have, want []rbacv1.PolicyRule) ([]rbacv1.PolicyRule, bool) {
	changed := false
	for _, r := range want {
		if !covers(have, r) {
			have = append(have, *r.DeepCopy())
			changed = true
		}
	}
	return have, changed
}

// reconcileAggregation adds want's cluster role selectors that have lacks.
// As kube-apiserver does, a role the default does not aggregate loses its
// aggregation rule (its rules stay, and the default's are added).
func reconcileAggregation(have, want *rbacv1.AggregationRule) (*rbacv1.AggregationRule, bool) {
	if want == nil {
		return nil, have != nil
	}
	out := have
	if out == nil {
		out = &rbacv1.AggregationRule{}
	}
	changed := have == nil
	for _, sel := range want.ClusterRoleSelectors {
		if !slices.ContainsFunc(out.ClusterRoleSelectors, func(s metav1.LabelSelector) bool { return reflect.DeepEqual(s, sel) }) {
			out.ClusterRoleSelectors = append(out.ClusterRoleSelectors, *sel.DeepCopy())
			changed = true
		}
	}
	return out, changed
}

// ReconcileClusterRole returns what to store given the existing object
// (nil if absent) and the default. changed=false means leave it alone. An
// existing object annotated rbac.authorization.kubernetes.io/autoupdate:
// "false" is left alone. Otherwise missing rules are added (rules the
// existing object already covers are not duplicated), missing labels and
// annotations are added, and for aggregated roles the aggregationRule's
// selectors are unioned (rules are then left to the aggregation
// controller).
func ReconcileClusterRole(existing *rbacv1.ClusterRole, want *rbacv1.ClusterRole) (out *rbacv1.ClusterRole, changed bool) {
	if existing == nil {
		return want.DeepCopy(), true
	}
	if protected(existing.ObjectMeta) {
		return existing, false
	}
	out = existing.DeepCopy()
	changed = mergeMeta(&out.ObjectMeta, want.ObjectMeta)
	var c bool
	out.AggregationRule, c = reconcileAggregation(out.AggregationRule, want.AggregationRule)
	changed = changed || c
	if out.AggregationRule == nil {
		out.Rules, c = addMissingRules(out.Rules, want.Rules)
		changed = changed || c
	}
	return out, changed
}

// ReconcileRole is ReconcileClusterRole for a namespaced Role.
func ReconcileRole(existing *rbacv1.Role, want *rbacv1.Role) (*rbacv1.Role, bool) {
	if existing == nil {
		return want.DeepCopy(), true
	}
	if protected(existing.ObjectMeta) {
		return existing, false
	}
	out := existing.DeepCopy()
	changed := mergeMeta(&out.ObjectMeta, want.ObjectMeta)
	var c bool
	out.Rules, c = addMissingRules(out.Rules, want.Rules)
	return out, changed || c
}

// addMissingSubjects appends want's subjects that have lacks.
func addMissingSubjects(have, want []rbacv1.Subject) ([]rbacv1.Subject, bool) {
	changed := false
	for _, s := range want {
		if !slices.Contains(have, s) {
			have = append(have, s)
			changed = true
		}
	}
	return have, changed
}

// forCreate clears what the server set on a stored object, so that the
// object can be created anew after the old one is deleted.
func forCreate(m *metav1.ObjectMeta) {
	*m = metav1.ObjectMeta{
		Name:        m.Name,
		Namespace:   m.Namespace,
		Labels:      m.Labels,
		Annotations: m.Annotations,
	}
}

// ReconcileClusterRoleBinding returns what to store given the existing
// binding (nil if absent) and the default: missing subjects are added,
// missing labels and annotations too; a different roleRef (immutable)
// means recreate=true (delete the existing binding, then create out, which
// has the default's roleRef and keeps the existing subjects); an existing
// binding annotated autoupdate "false" is left alone.
func ReconcileClusterRoleBinding(existing, want *rbacv1.ClusterRoleBinding) (out *rbacv1.ClusterRoleBinding, changed, recreate bool) {
	if existing == nil {
		return want.DeepCopy(), true, false
	}
	if protected(existing.ObjectMeta) {
		return existing, false, false
	}
	out = existing.DeepCopy()
	changed = mergeMeta(&out.ObjectMeta, want.ObjectMeta)
	if out.RoleRef != want.RoleRef {
		out.RoleRef = want.RoleRef
		forCreate(&out.ObjectMeta)
		changed, recreate = true, true
	}
	var c bool
	out.Subjects, c = addMissingSubjects(out.Subjects, want.Subjects)
	return out, changed || c, recreate
}

// ReconcileRoleBinding is ReconcileClusterRoleBinding for a namespaced
// RoleBinding.
func ReconcileRoleBinding(existing, want *rbacv1.RoleBinding) (*rbacv1.RoleBinding, bool, bool) {
	if existing == nil {
		return want.DeepCopy(), true, false
	}
	if protected(existing.ObjectMeta) {
		return existing, false, false
	}
	out := existing.DeepCopy()
	changed := mergeMeta(&out.ObjectMeta, want.ObjectMeta)
	recreate := false
	if out.RoleRef != want.RoleRef {
		out.RoleRef = want.RoleRef
		forCreate(&out.ObjectMeta)
		changed, recreate = true, true
	}
	var c bool
	out.Subjects, c = addMissingSubjects(out.Subjects, want.Subjects)
	return out, changed || c, recreate
}

// covers reports whether the rules in have together grant everything r
// grants, as RBAC's escalation check counts it.
func covers(have []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	ok, _ := rbac.Covers(have, []rbacv1.PolicyRule{r})
	return ok
}
