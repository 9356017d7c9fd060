package defaultpolicy

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func wantRole(t *testing.T, name string) *rbacv1.ClusterRole {
	t.Helper()
	r := findClusterRole(t, Kubernetes(), name)
	return &r
}

func wantBinding(t *testing.T, name string) *rbacv1.ClusterRoleBinding {
	t.Helper()
	b := findClusterRoleBinding(t, Kubernetes(), name)
	return &b
}

func TestReconcileClusterRoleAbsent(t *testing.T) {
	want := wantRole(t, "system:discovery")
	out, changed := ReconcileClusterRole(nil, want)
	if !changed || !reflect.DeepEqual(out, want) {
		t.Fatalf("absent: changed=%v out=%+v", changed, out)
	}
	out.Rules[0].Verbs[0] = "mutated"
	if want.Rules[0].Verbs[0] == "mutated" {
		t.Error("result shares memory with the default")
	}
}

func TestReconcileClusterRoleProtected(t *testing.T) {
	want := wantRole(t, "system:discovery")
	existing := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: want.Name, Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/version"}}},
	}
	before := existing.DeepCopy()
	out, changed := ReconcileClusterRole(existing, want)
	if changed || !reflect.DeepEqual(out, before) || !reflect.DeepEqual(existing, before) {
		t.Errorf("protected role touched: changed=%v out=%+v", changed, out)
	}
}

func TestReconcileClusterRoleAddsMissingKeepsExtra(t *testing.T) {
	want := wantRole(t, "system:kube-dns")
	extra := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}
	existing := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{
			Name:            want.Name,
			ResourceVersion: "7",
			Labels:          map[string]string{bootstrapLabel: "custom", "team": "dns"},
		},
		Rules: []rbacv1.PolicyRule{
			extra,
			// Part of the default: list only.
			{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"endpoints", "services"}},
		},
	}
	out, changed := ReconcileClusterRole(existing, want)
	if !changed {
		t.Fatal("missing watch rule not reported")
	}
	if !reflect.DeepEqual(out.Rules[0], extra) {
		t.Errorf("user rule lost: %+v", out.Rules)
	}
	if len(out.Rules) != 3 || !reflect.DeepEqual(out.Rules[2], want.Rules[0]) {
		t.Errorf("default rule not added: %+v", out.Rules)
	}
	if out.Labels[bootstrapLabel] != "custom" || out.Labels["team"] != "dns" {
		t.Errorf("existing labels overwritten: %v", out.Labels)
	}
	if out.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
		t.Errorf("annotation not added: %v", out.Annotations)
	}
	if out.ResourceVersion != "7" {
		t.Errorf("resourceVersion %q, want the existing one for an update", out.ResourceVersion)
	}
	if len(existing.Rules) != 2 || existing.Annotations != nil {
		t.Error("existing object modified")
	}
	again, changed := ReconcileClusterRole(out, want)
	if changed || !reflect.DeepEqual(again, out) {
		t.Errorf("not idempotent: changed=%v", changed)
	}
}

func TestReconcileClusterRoleCoveredNotDuplicated(t *testing.T) {
	want := wantRole(t, "system:kube-dns")
	// Broader rules that together grant the default.
	existing := &rbacv1.ClusterRole{
		ObjectMeta: want.ObjectMeta,
		Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"list"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"endpoints", "services"}},
		},
	}
	out, changed := ReconcileClusterRole(existing, want)
	if changed || len(out.Rules) != 2 {
		t.Errorf("covered rules duplicated: changed=%v %+v", changed, out.Rules)
	}
	// Named access does not cover access to every object.
	existing.Rules = []rbacv1.PolicyRule{{Verbs: []string{"list", "watch"}, APIGroups: []string{""}, Resources: []string{"endpoints", "services"}, ResourceNames: []string{"kube-dns"}}}
	if _, changed := ReconcileClusterRole(existing, want); !changed {
		t.Error("rule limited to names taken as covering all names")
	}
}

func TestReconcileEveryDefaultIsIdempotent(t *testing.T) {
	p := Kubernetes()
	for i := range p.ClusterRoles {
		want := &p.ClusterRoles[i]
		out, changed := ReconcileClusterRole(nil, want)
		if !changed {
			t.Errorf("%s: create not reported", want.Name)
		}
		if _, changed := ReconcileClusterRole(out, want); changed {
			t.Errorf("%s: reconciling the default reports a change", want.Name)
		}
	}
	for i := range p.ClusterRoleBindings {
		want := &p.ClusterRoleBindings[i]
		out, _, _ := ReconcileClusterRoleBinding(nil, want)
		if _, changed, recreate := ReconcileClusterRoleBinding(out, want); changed || recreate {
			t.Errorf("%s: reconciling the default binding reports a change", want.Name)
		}
	}
	for i := range p.Roles {
		want := &p.Roles[i]
		out, _ := ReconcileRole(nil, want)
		if _, changed := ReconcileRole(out, want); changed {
			t.Errorf("%s: reconciling the default role reports a change", want.Name)
		}
	}
	for i := range p.RoleBindings {
		want := &p.RoleBindings[i]
		out, _, _ := ReconcileRoleBinding(nil, want)
		if _, changed, recreate := ReconcileRoleBinding(out, want); changed || recreate {
			t.Errorf("%s: reconciling the default role binding reports a change", want.Name)
		}
	}
}

func TestReconcileAggregatedRole(t *testing.T) {
	want := wantRole(t, "view")
	userRule := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	userSelector := metav1.LabelSelector{MatchLabels: map[string]string{"example.com/aggregate-to-view": "true"}}
	existing := &rbacv1.ClusterRole{
		ObjectMeta:      metav1.ObjectMeta{Name: "view"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{userSelector}},
		Rules:           []rbacv1.PolicyRule{userRule}, // filled by the aggregation controller
	}
	out, changed := ReconcileClusterRole(existing, want)
	if !changed {
		t.Fatal("missing selector not reported")
	}
	wantSelectors := []metav1.LabelSelector{userSelector, want.AggregationRule.ClusterRoleSelectors[0]}
	if !reflect.DeepEqual(out.AggregationRule.ClusterRoleSelectors, wantSelectors) {
		t.Errorf("selectors %+v, want %+v", out.AggregationRule.ClusterRoleSelectors, wantSelectors)
	}
	if !reflect.DeepEqual(out.Rules, []rbacv1.PolicyRule{userRule}) {
		t.Errorf("aggregated role's rules changed: %+v", out.Rules)
	}
	if out.Labels[aggregateToEdit] != "true" {
		t.Errorf("aggregate-to-edit label not added: %v", out.Labels)
	}
	if _, changed := ReconcileClusterRole(out, want); changed {
		t.Error("not idempotent")
	}

	// A role the default does not aggregate gets the default's rules.
	plain := wantRole(t, "system:kube-dns")
	existing = &rbacv1.ClusterRole{
		ObjectMeta:      plain.ObjectMeta,
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{userSelector}},
	}
	out, changed = ReconcileClusterRole(existing, plain)
	if !changed || out.AggregationRule != nil || !reflect.DeepEqual(out.Rules, plain.Rules) {
		t.Errorf("non-aggregated default: changed=%v %+v", changed, out)
	}
}

func TestReconcileRole(t *testing.T) {
	var want *rbacv1.Role
	for _, r := range Kubernetes().Roles {
		if r.Name == "system:controller:token-cleaner" {
			want = &r
		}
	}
	if want == nil {
		t.Fatal("no token-cleaner role")
	}
	existing := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace},
		Rules:      want.Rules[:1],
	}
	out, changed := ReconcileRole(existing, want)
	if !changed || !reflect.DeepEqual(out.Rules, want.Rules) || !reflect.DeepEqual(out.Labels, want.Labels) {
		t.Errorf("role: changed=%v %+v", changed, out)
	}
	existing.Annotations = map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}
	if out, changed := ReconcileRole(existing, want); changed || out != existing {
		t.Error("protected role touched")
	}
}

func TestReconcileClusterRoleBinding(t *testing.T) {
	want := wantBinding(t, "system:public-info-viewer")

	out, changed, recreate := ReconcileClusterRoleBinding(nil, want)
	if !changed || recreate || !reflect.DeepEqual(out, want) {
		t.Errorf("absent: changed=%v recreate=%v", changed, recreate)
	}

	alice := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}
	existing := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: want.Name, ResourceVersion: "3"},
		RoleRef:    want.RoleRef,
		Subjects:   []rbacv1.Subject{alice, want.Subjects[1]},
	}
	out, changed, recreate = ReconcileClusterRoleBinding(existing, want)
	wantSubjects := []rbacv1.Subject{alice, want.Subjects[1], want.Subjects[0]}
	if !changed || recreate || !reflect.DeepEqual(out.Subjects, wantSubjects) || out.ResourceVersion != "3" {
		t.Errorf("missing subject: changed=%v recreate=%v subjects=%+v", changed, recreate, out.Subjects)
	}
	if _, changed, _ := ReconcileClusterRoleBinding(out, want); changed {
		t.Error("not idempotent")
	}

	// A changed roleRef cannot be updated in place.
	existing.RoleRef = clusterRoleRef("cluster-admin")
	existing.UID = "u1"
	out, changed, recreate = ReconcileClusterRoleBinding(existing, want)
	if !changed || !recreate || out.RoleRef != want.RoleRef {
		t.Errorf("roleRef change: changed=%v recreate=%v ref=%+v", changed, recreate, out.RoleRef)
	}
	if out.ResourceVersion != "" || out.UID != "" || out.Name != want.Name {
		t.Errorf("recreated binding keeps server metadata: %+v", out.ObjectMeta)
	}
	if existing.RoleRef.Name != "cluster-admin" {
		t.Error("existing object modified")
	}

	existing.Annotations = map[string]string{rbacv1.AutoUpdateAnnotationKey: "false"}
	if out, changed, recreate := ReconcileClusterRoleBinding(existing, want); changed || recreate || out != existing {
		t.Error("protected binding touched")
	}

	// The default system:node binding has no subjects: what an
	// administrator bound stays, and nothing is added.
	node := wantBinding(t, "system:node")
	existing = &rbacv1.ClusterRoleBinding{ObjectMeta: node.ObjectMeta, RoleRef: node.RoleRef, Subjects: groups("system:nodes")}
	if out, changed, _ := ReconcileClusterRoleBinding(existing, node); changed || !reflect.DeepEqual(out.Subjects, groups("system:nodes")) {
		t.Errorf("system:node binding: changed=%v %+v", changed, out.Subjects)
	}
}

func TestReconcileRoleBinding(t *testing.T) {
	var want *rbacv1.RoleBinding
	for _, b := range Kubernetes().RoleBindings {
		if b.Name == "system::leader-locking-kube-scheduler" {
			want = &b
		}
	}
	if want == nil {
		t.Fatal("no leader-locking binding")
	}
	existing := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace},
		RoleRef:    want.RoleRef,
		Subjects:   want.Subjects[:1],
	}
	out, changed, recreate := ReconcileRoleBinding(existing, want)
	if !changed || recreate || !reflect.DeepEqual(out.Subjects, want.Subjects) {
		t.Errorf("role binding: changed=%v recreate=%v %+v", changed, recreate, out.Subjects)
	}
	existing.RoleRef.Name = "other"
	if out, _, recreate := ReconcileRoleBinding(existing, want); !recreate || out.RoleRef != want.RoleRef || out.Namespace != want.Namespace {
		t.Error("roleRef change not a recreate")
	}
}
