package defaultpolicy

import (
	"reflect"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Object counts of kube-apiserver v1.37.2's bootstrap policy (see
// TestMatchesKubeAPIServer for the objects themselves): cluster roles 32,
// cluster role bindings 13, controller roles 41 with one binding each,
// namespaced roles 7 and role bindings 7.
const (
	fixtureClusterRoles           = 32
	fixtureClusterRoleBindings    = 13
	fixtureControllerRoles        = 41
	fixtureControllerRoleBindings = 41
	fixtureNamespaceRoles         = 7
	fixtureNamespaceRoleBindings  = 7
)

func TestCounts(t *testing.T) {
	p := Kubernetes()
	if got, want := len(p.ClusterRoles), fixtureClusterRoles+fixtureControllerRoles; got != want {
		t.Errorf("cluster roles: %d, want %d", got, want)
	}
	if got, want := len(p.ClusterRoleBindings), fixtureClusterRoleBindings+fixtureControllerRoleBindings; got != want {
		t.Errorf("cluster role bindings: %d, want %d", got, want)
	}
	if got := len(clusterRoles()); got != fixtureClusterRoles {
		t.Errorf("cluster-roles.yaml roles: %d, want %d", got, fixtureClusterRoles)
	}
	if got := len(clusterRoleBindings()); got != fixtureClusterRoleBindings {
		t.Errorf("cluster-role-bindings.yaml bindings: %d, want %d", got, fixtureClusterRoleBindings)
	}
	roles, bindings := controllerRoles()
	if len(roles) != fixtureControllerRoles || len(bindings) != fixtureControllerRoleBindings {
		t.Errorf("controller roles/bindings: %d/%d, want %d/%d", len(roles), len(bindings), fixtureControllerRoles, fixtureControllerRoleBindings)
	}
	if len(p.Roles) != fixtureNamespaceRoles || len(p.RoleBindings) != fixtureNamespaceRoleBindings {
		t.Errorf("namespaced roles/bindings: %d/%d, want %d/%d", len(p.Roles), len(p.RoleBindings), fixtureNamespaceRoles, fixtureNamespaceRoleBindings)
	}
	k := Kubeadm()
	if len(k.ClusterRoles) != 1 || len(k.ClusterRoleBindings) != 5 || len(k.Roles) != 1 || len(k.RoleBindings) != 1 {
		t.Errorf("kubeadm: %d/%d/%d/%d objects, want 1/5/1/1", len(k.ClusterRoles), len(k.ClusterRoleBindings), len(k.Roles), len(k.RoleBindings))
	}
}

// inNameOrder checks the fixture order: by namespace, then by name.
func inNameOrder(t *testing.T, what string, keys []string) {
	t.Helper()
	if !slices.IsSorted(keys) {
		t.Errorf("%s are not in fixture (name) order: %q", what, keys)
	}
}

func TestNamesUniqueAndOrdered(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
	}{{"kubernetes", Kubernetes()}, {"kubeadm", Kubeadm()}, {"both", merged()}} {
		seen := map[string]bool{}
		check := func(kind, ns, name string) {
			key := kind + "/" + ns + "/" + name
			if seen[key] {
				t.Errorf("%s: duplicate %s", tc.name, key)
			}
			seen[key] = true
		}
		for _, r := range tc.p.ClusterRoles {
			check("ClusterRole", "", r.Name)
		}
		for _, b := range tc.p.ClusterRoleBindings {
			check("ClusterRoleBinding", "", b.Name)
		}
		for _, r := range tc.p.Roles {
			check("Role", r.Namespace, r.Name)
		}
		for _, b := range tc.p.RoleBindings {
			check("RoleBinding", b.Namespace, b.Name)
		}
	}

	var names []string
	for _, r := range clusterRoles() {
		names = append(names, r.Name)
	}
	inNameOrder(t, "cluster roles", names)
	names = nil
	for _, b := range clusterRoleBindings() {
		names = append(names, b.Name)
	}
	inNameOrder(t, "cluster role bindings", names)
	roles, bindings := controllerRoles()
	names = nil
	for i, r := range roles {
		names = append(names, r.Name)
		if bindings[i].Name != r.Name {
			t.Errorf("controller binding %d is %q, want %q", i, bindings[i].Name, r.Name)
		}
	}
	inNameOrder(t, "controller roles", names)
	names = nil
	for _, r := range namespacedRoles() {
		names = append(names, r.Namespace+"/"+r.Name)
	}
	inNameOrder(t, "namespaced roles", names)
	names = nil
	for _, b := range namespacedRoleBindings() {
		names = append(names, b.Namespace+"/"+b.Name)
	}
	inNameOrder(t, "namespaced role bindings", names)
}

func merged() Policy {
	k, a := Kubernetes(), Kubeadm()
	return Policy{
		ClusterRoles:        append(k.ClusterRoles, a.ClusterRoles...),
		ClusterRoleBindings: append(k.ClusterRoleBindings, a.ClusterRoleBindings...),
		Roles:               append(k.Roles, a.Roles...),
		RoleBindings:        append(k.RoleBindings, a.RoleBindings...),
	}
}

func TestBindingsReferToRoles(t *testing.T) {
	p := merged()
	clusterRoleNames := map[string]bool{}
	for _, r := range p.ClusterRoles {
		clusterRoleNames[r.Name] = true
	}
	roleNames := map[string]bool{}
	for _, r := range p.Roles {
		roleNames[r.Namespace+"/"+r.Name] = true
	}
	for _, b := range p.ClusterRoleBindings {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.APIGroup != rbacv1.GroupName || !clusterRoleNames[b.RoleRef.Name] {
			t.Errorf("ClusterRoleBinding %s refers to %+v, which is not in the policy", b.Name, b.RoleRef)
		}
	}
	for _, b := range p.RoleBindings {
		ok := b.RoleRef.APIGroup == rbacv1.GroupName
		switch b.RoleRef.Kind {
		case "Role":
			ok = ok && roleNames[b.Namespace+"/"+b.RoleRef.Name]
		case "ClusterRole":
			ok = ok && clusterRoleNames[b.RoleRef.Name]
		default:
			ok = false
		}
		if !ok {
			t.Errorf("RoleBinding %s/%s refers to %+v, which is not in the policy", b.Namespace, b.Name, b.RoleRef)
		}
	}
}

func TestDefaultMetadata(t *testing.T) {
	p := Kubernetes()
	check := func(kind, name string, labels, annotations map[string]string) {
		if labels[bootstrapLabel] != bootstrapLabelValue {
			t.Errorf("%s %s: label %s=%q", kind, name, bootstrapLabel, labels[bootstrapLabel])
		}
		if len(annotations) != 1 || annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("%s %s: annotations %v", kind, name, annotations)
		}
	}
	for _, r := range p.ClusterRoles {
		check("ClusterRole", r.Name, r.Labels, r.Annotations)
	}
	for _, b := range p.ClusterRoleBindings {
		check("ClusterRoleBinding", b.Name, b.Labels, b.Annotations)
		if len(b.Labels) != 1 {
			t.Errorf("ClusterRoleBinding %s: labels %v", b.Name, b.Labels)
		}
	}
	for _, r := range p.Roles {
		check("Role", r.Name, r.Labels, r.Annotations)
		if r.Namespace != "kube-system" && r.Namespace != "kube-public" {
			t.Errorf("Role %s in namespace %q", r.Name, r.Namespace)
		}
	}
	for _, b := range p.RoleBindings {
		check("RoleBinding", b.Name, b.Labels, b.Annotations)
	}
	k := Kubeadm()
	for _, r := range k.ClusterRoles {
		if r.Labels != nil || r.Annotations != nil {
			t.Errorf("kubeadm ClusterRole %s has metadata %v %v", r.Name, r.Labels, r.Annotations)
		}
	}
	for _, b := range k.ClusterRoleBindings {
		if b.Labels != nil || b.Annotations != nil {
			t.Errorf("kubeadm ClusterRoleBinding %s has metadata %v %v", b.Name, b.Labels, b.Annotations)
		}
	}
}

// Rules are in stored form: lists sorted without repeats, and each rule is
// either about resources or about URLs.
func TestRulesNormalized(t *testing.T) {
	p := merged()
	var all [][]rbacv1.PolicyRule
	var who []string
	for _, r := range p.ClusterRoles {
		all, who = append(all, r.Rules), append(who, r.Name)
	}
	for _, r := range p.Roles {
		all, who = append(all, r.Rules), append(who, r.Namespace+"/"+r.Name)
	}
	for i, rs := range all {
		for j, r := range rs {
			for _, l := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs} {
				if !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
					t.Errorf("%s rule %d: list %q not sorted and unique", who[i], j, l)
				}
			}
			if len(r.Verbs) == 0 {
				t.Errorf("%s rule %d has no verbs", who[i], j)
			}
			isURL := len(r.NonResourceURLs) > 0
			isResource := len(r.APIGroups) > 0 && len(r.Resources) > 0
			if isURL == isResource {
				t.Errorf("%s rule %d is not exactly one of resource/URL rule: %+v", who[i], j, r)
			}
		}
	}
}

func findClusterRole(t *testing.T, p Policy, name string) rbacv1.ClusterRole {
	t.Helper()
	for _, r := range p.ClusterRoles {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no cluster role %q", name)
	return rbacv1.ClusterRole{}
}

func findClusterRoleBinding(t *testing.T, p Policy, name string) rbacv1.ClusterRoleBinding {
	t.Helper()
	for _, b := range p.ClusterRoleBindings {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no cluster role binding %q", name)
	return rbacv1.ClusterRoleBinding{}
}

func allows(rs []rbacv1.PolicyRule, verb, group, resource string) bool {
	return covers(rs, rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{group}, Resources: []string{resource}})
}

func allowsURL(rs []rbacv1.PolicyRule, verb, url string) bool {
	return covers(rs, rbacv1.PolicyRule{Verbs: []string{verb}, NonResourceURLs: []string{url}})
}

func TestAggregation(t *testing.T) {
	p := Kubernetes()
	for _, tc := range []struct{ role, selector, label string }{
		{"admin", aggregateToAdmin, ""},
		{"edit", aggregateToEdit, aggregateToAdmin},
		{"view", aggregateToView, aggregateToEdit},
	} {
		r := findClusterRole(t, p, tc.role)
		want := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{tc.selector: "true"}},
		}}
		if !reflect.DeepEqual(r.AggregationRule, want) {
			t.Errorf("%s aggregation rule %+v", tc.role, r.AggregationRule)
		}
		if r.Rules != nil {
			t.Errorf("%s has rules %v, want none", tc.role, r.Rules)
		}
		wantLabels := map[string]string{bootstrapLabel: bootstrapLabelValue}
		if tc.label != "" {
			wantLabels[tc.label] = "true"
		}
		if !reflect.DeepEqual(r.Labels, wantLabels) {
			t.Errorf("%s labels %v, want %v", tc.role, r.Labels, wantLabels)
		}
	}
	for _, tc := range []struct{ role, label string }{
		{"system:aggregate-to-admin", aggregateToAdmin},
		{"system:aggregate-to-edit", aggregateToEdit},
		{"system:aggregate-to-view", aggregateToView},
	} {
		r := findClusterRole(t, p, tc.role)
		if r.Labels[tc.label] != "true" || len(r.Labels) != 2 || r.AggregationRule != nil || len(r.Rules) == 0 {
			t.Errorf("%s: labels %v, aggregation %v, %d rules", tc.role, r.Labels, r.AggregationRule, len(r.Rules))
		}
	}
}

// aggregated computes what the aggregation controller would give a role:
// the rules of every cluster role its selectors match, transitively.
func aggregated(t *testing.T, p Policy, name string) []rbacv1.PolicyRule {
	r := findClusterRole(t, p, name)
	if r.AggregationRule == nil {
		return r.Rules
	}
	var out []rbacv1.PolicyRule
	for _, sel := range r.AggregationRule.ClusterRoleSelectors {
		for _, other := range p.ClusterRoles {
			match := other.Name != name
			for k, v := range sel.MatchLabels {
				match = match && other.Labels[k] == v
			}
			if match {
				out = append(out, aggregated(t, p, other.Name)...)
			}
		}
	}
	return out
}

func TestAggregatedPermissions(t *testing.T) {
	p := Kubernetes()
	view, edit, admin := aggregated(t, p, "view"), aggregated(t, p, "edit"), aggregated(t, p, "admin")
	for _, v := range []string{"get", "list", "watch"} {
		if allows(view, v, "", "secrets") {
			t.Errorf("view may %s secrets", v)
		}
		if !allows(view, v, "", "pods") || !allows(view, v, "apps", "deployments") {
			t.Errorf("view may not %s pods and deployments", v)
		}
		if !allows(edit, v, "", "secrets") {
			t.Errorf("edit may not %s secrets", v)
		}
	}
	if !allows(edit, "create", "", "secrets") || !allows(edit, "delete", "apps", "deployments") {
		t.Error("edit may not write secrets or deployments")
	}
	if allows(edit, "create", "rbac.authorization.k8s.io", "roles") {
		t.Error("edit may create roles")
	}
	for _, res := range []string{"roles", "rolebindings"} {
		if !allows(admin, "create", "rbac.authorization.k8s.io", res) {
			t.Errorf("admin may not create %s", res)
		}
	}
	if !allows(admin, "create", "", "secrets") || !allows(admin, "get", "", "pods") {
		t.Error("admin lacks edit's or view's permissions")
	}
}

func TestSpotChecks(t *testing.T) {
	p := Kubernetes()

	basic := findClusterRole(t, p, "system:basic-user").Rules
	for _, c := range []struct{ group, resource string }{
		{"authorization.k8s.io", "selfsubjectaccessreviews"},
		{"authorization.k8s.io", "selfsubjectrulesreviews"},
		{"authentication.k8s.io", "selfsubjectreviews"},
	} {
		if !allows(basic, "create", c.group, c.resource) {
			t.Errorf("system:basic-user may not create %s", c.resource)
		}
	}
	if allows(basic, "get", "", "pods") {
		t.Error("system:basic-user may get pods")
	}

	disc := findClusterRole(t, p, "system:discovery").Rules
	wantURLs := []string{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"}
	if len(disc) != 1 || !reflect.DeepEqual(disc[0].NonResourceURLs, wantURLs) || !reflect.DeepEqual(disc[0].Verbs, []string{"get"}) {
		t.Errorf("system:discovery rules %+v", disc)
	}
	if !allowsURL(disc, "get", "/apis/apps/v1") || allowsURL(disc, "get", "/metrics") || allowsURL(disc, "post", "/api") {
		t.Error("system:discovery URL checks")
	}

	piv := findClusterRoleBinding(t, p, "system:public-info-viewer")
	if !reflect.DeepEqual(piv.Subjects, groups("system:authenticated", "system:unauthenticated")) {
		t.Errorf("system:public-info-viewer subjects %+v", piv.Subjects)
	}
	if got := findClusterRoleBinding(t, p, "system:discovery").Subjects; !reflect.DeepEqual(got, groups("system:authenticated")) {
		t.Errorf("system:discovery subjects %+v", got)
	}

	admin := findClusterRole(t, p, "cluster-admin").Rules
	wantAdmin := []rbacv1.PolicyRule{
		{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
		{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
	}
	if !reflect.DeepEqual(admin, wantAdmin) {
		t.Errorf("cluster-admin rules %+v", admin)
	}
	if b := findClusterRoleBinding(t, p, "cluster-admin"); !reflect.DeepEqual(b.Subjects, groups("system:masters")) {
		t.Errorf("cluster-admin subjects %+v", b.Subjects)
	}

	if b := findClusterRoleBinding(t, p, "system:node"); b.Subjects != nil {
		t.Errorf("system:node binding has subjects %+v", b.Subjects)
	}
	if b := findClusterRoleBinding(t, p, "system:volume-scheduler"); b.RoleRef.Name != "system:volume-scheduler" ||
		!reflect.DeepEqual(b.Subjects, users("system:kube-scheduler")) {
		t.Errorf("system:volume-scheduler binding %+v", b)
	}
	if b := findClusterRoleBinding(t, p, "system:kube-dns"); !reflect.DeepEqual(b.Subjects,
		[]rbacv1.Subject{{Kind: "ServiceAccount", Name: "kube-dns", Namespace: "kube-system"}}) {
		t.Errorf("system:kube-dns subjects %+v", b.Subjects)
	}

	mon := findClusterRole(t, p, "system:monitoring").Rules
	for _, u := range []string{"/metrics", "/metrics/slis", "/healthz/etcd", "/livez", "/readyz/ping", "/statusz"} {
		if !allowsURL(mon, "get", u) {
			t.Errorf("system:monitoring may not get %s", u)
		}
	}
	if allowsURL(mon, "get", "/api") {
		t.Error("system:monitoring may get /api")
	}

	// The first rules of system:kube-controller-manager, exactly as stored.
	kcm := findClusterRole(t, p, "system:kube-controller-manager").Rules
	wantKCM := []rbacv1.PolicyRule{
		{Verbs: []string{"create", "patch", "update"}, APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}},
		{Verbs: []string{"create"}, APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}},
		{Verbs: []string{"get", "update"}, APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"kube-controller-manager"}},
	}
	if !reflect.DeepEqual(kcm[:3], wantKCM) || len(kcm) != 11 {
		t.Errorf("system:kube-controller-manager rules %+v", kcm)
	}

	// Controller bindings name the controller's service account.
	b := findClusterRoleBinding(t, p, "system:controller:namespace-controller")
	if !reflect.DeepEqual(b.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "namespace-controller", Namespace: "kube-system"}}) {
		t.Errorf("namespace-controller binding subjects %+v", b.Subjects)
	}
	gc := findClusterRole(t, p, "system:controller:generic-garbage-collector").Rules
	if !allows(gc, "delete", "apps", "deployments") || allows(gc, "create", "", "pods") {
		t.Error("generic-garbage-collector permissions")
	}
	hpa := findClusterRole(t, p, "system:controller:horizontal-pod-autoscaler").Rules
	if !allows(hpa, "update", "apps", "deployments/scale") || allows(hpa, "update", "apps", "deployments") {
		t.Error("horizontal-pod-autoscaler */scale handling")
	}

	// Namespaced objects.
	var found bool
	for _, rb := range p.RoleBindings {
		if rb.Namespace == "kube-system" && rb.Name == "system::extension-apiserver-authentication-reader" {
			found = true
			if rb.RoleRef.Name != "extension-apiserver-authentication-reader" || rb.RoleRef.Kind != "Role" ||
				!reflect.DeepEqual(rb.Subjects, users("system:kube-controller-manager", "system:kube-scheduler")) {
				t.Errorf("extension-apiserver-authentication-reader binding %+v", rb)
			}
		}
	}
	if !found {
		t.Error("no system::extension-apiserver-authentication-reader binding")
	}
}

func TestNodeRules(t *testing.T) {
	p := Kubernetes()
	if !reflect.DeepEqual(NodeRules(), findClusterRole(t, p, "system:node").Rules) {
		t.Error("NodeRules differ from system:node")
	}
	rs := NodeRules()
	for _, c := range []struct{ verb, group, resource string }{
		{"create", "", "nodes"}, {"patch", "", "nodes/status"}, {"get", "", "secrets"},
		{"create", "", "serviceaccounts/token"}, {"create", "certificates.k8s.io", "certificatesigningrequests"},
		{"update", "coordination.k8s.io", "leases"}, {"get", "resource.k8s.io", "resourceclaims"},
	} {
		if !allows(rs, c.verb, c.group, c.resource) {
			t.Errorf("node may not %s %s/%s", c.verb, c.group, c.resource)
		}
	}
	if allows(rs, "delete", "", "nodes") || allows(rs, "create", "", "secrets") {
		t.Error("node rules too broad")
	}
	rs[0].Verbs[0] = "mutated"
	if NodeRules()[0].Verbs[0] == "mutated" {
		t.Error("NodeRules shares memory between calls")
	}
}

func TestFreshObjects(t *testing.T) {
	a := Kubernetes()
	a.ClusterRoles[0].Labels["x"] = "y"
	a.ClusterRoleBindings[0].Subjects[0].Name = "mallory"
	for i := range a.ClusterRoles {
		for j := range a.ClusterRoles[i].Rules {
			if len(a.ClusterRoles[i].Rules[j].Verbs) > 0 {
				a.ClusterRoles[i].Rules[j].Verbs[0] = "mutated"
			}
		}
	}
	b := Kubernetes()
	if b.ClusterRoles[0].Labels["x"] == "y" || b.ClusterRoleBindings[0].Subjects[0].Name == "mallory" {
		t.Error("Kubernetes shares metadata or subjects between calls")
	}
	for _, r := range b.ClusterRoles {
		for _, rule := range r.Rules {
			if slices.Contains(rule.Verbs, "mutated") {
				t.Fatalf("Kubernetes shares rules between calls (%s)", r.Name)
			}
		}
	}
}

func TestKubeadm(t *testing.T) {
	k := Kubeadm()
	bootstrappers := []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "system:bootstrappers:kubeadm:default-node-token"}}
	want := map[string]struct {
		role     string
		subjects []rbacv1.Subject
	}{
		"kubeadm:cluster-admins":                        {"cluster-admin", []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "kubeadm:cluster-admins"}}},
		"kubeadm:get-nodes":                             {"kubeadm:get-nodes", bootstrappers},
		"kubeadm:kubelet-bootstrap":                     {"system:node-bootstrapper", bootstrappers},
		"kubeadm:node-autoapprove-bootstrap":            {"system:certificates.k8s.io:certificatesigningrequests:nodeclient", bootstrappers},
		"kubeadm:node-autoapprove-certificate-rotation": {"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "system:nodes"}}},
	}
	for _, b := range k.ClusterRoleBindings {
		w, ok := want[b.Name]
		if !ok {
			t.Errorf("unexpected kubeadm binding %s", b.Name)
			continue
		}
		delete(want, b.Name)
		if b.RoleRef != clusterRoleRef(w.role) || !reflect.DeepEqual(b.Subjects, w.subjects) {
			t.Errorf("kubeadm binding %s: %+v %+v", b.Name, b.RoleRef, b.Subjects)
		}
	}
	for name := range want {
		t.Errorf("kubeadm binding %s missing", name)
	}
	if r := k.ClusterRoles[0]; r.Name != "kubeadm:get-nodes" ||
		!reflect.DeepEqual(r.Rules, []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}) {
		t.Errorf("kubeadm:get-nodes role %+v", r)
	}
	r, rb := k.Roles[0], k.RoleBindings[0]
	if r.Namespace != "kube-public" || r.Name != "kubeadm:bootstrap-signer-clusterinfo" ||
		!reflect.DeepEqual(r.Rules, []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cluster-info"}}}) {
		t.Errorf("cluster-info role %+v", r)
	}
	if rb.Namespace != "kube-public" || rb.Name != r.Name || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != r.Name ||
		!reflect.DeepEqual(rb.Subjects, []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "system:anonymous"}}) {
		t.Errorf("cluster-info binding %+v", rb)
	}
}
