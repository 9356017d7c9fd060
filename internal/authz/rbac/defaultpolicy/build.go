package defaultpolicy

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// API groups named by the tables.
const (
	core          = ""
	admissionreg  = "admissionregistration.k8s.io"
	apps          = "apps"
	authn         = "authentication.k8s.io"
	authz         = "authorization.k8s.io"
	autoscaling   = "autoscaling"
	batch         = "batch"
	certificates  = "certificates.k8s.io"
	coordination  = "coordination.k8s.io"
	discovery     = "discovery.k8s.io"
	eventsGroup   = "events.k8s.io"
	extensions    = "extensions"
	networking    = "networking.k8s.io"
	nodeGroup     = "node.k8s.io"
	policyGroup   = "policy"
	rbacGroup     = rbacv1.GroupName
	resourceGroup = "resource.k8s.io"
	storage       = "storage.k8s.io"
	metricsGroup  = "metrics.k8s.io"
	customMetrics = "custom.metrics.k8s.io"
	extMetrics    = "external.metrics.k8s.io"
	anyGroup      = "*"
)

// Verb sets used over and over.
var (
	read = []string{"get", "list", "watch"}
	// modify is every writing verb of a namespaced resource.
	modify = []string{"create", "update", "patch", "delete", "deletecollection"}
	// readWrite is read plus modify.
	readWrite = append(slices.Clone(read), modify...)
)

// Metadata kube-apiserver puts on every object of its bootstrap policy.
const (
	bootstrapLabel      = "kubernetes.io/bootstrapping"
	bootstrapLabelValue = "rbac-defaults"
	autoUpdateValue     = "true"
)

// Well-known names.
const (
	kubeSystem = "kube-system"
	kubePublic = "kube-public"

	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// ruleBuilder assembles one PolicyRule; rules() turns builders into the
// stored form (every list sorted, no repeats).
type ruleBuilder struct{ r rbacv1.PolicyRule }

// rule starts a rule granting the given verbs.
func rule(verbs ...string) ruleBuilder {
	return ruleBuilder{rbacv1.PolicyRule{Verbs: slices.Clone(verbs)}}
}

// verbs appends more verbs (handy to combine the verb sets).
func (b ruleBuilder) verbs(v ...string) ruleBuilder {
	b.r.Verbs = append(slices.Clone(b.r.Verbs), v...)
	return b
}

func (b ruleBuilder) groups(g ...string) ruleBuilder {
	b.r.APIGroups = append(slices.Clone(b.r.APIGroups), g...)
	return b
}

func (b ruleBuilder) resources(r ...string) ruleBuilder {
	b.r.Resources = append(slices.Clone(b.r.Resources), r...)
	return b
}

func (b ruleBuilder) names(n ...string) ruleBuilder {
	b.r.ResourceNames = append(slices.Clone(b.r.ResourceNames), n...)
	return b
}

func (b ruleBuilder) urls(u ...string) ruleBuilder {
	b.r.NonResourceURLs = append(slices.Clone(b.r.NonResourceURLs), u...)
	return b
}

// build returns the rule in stored form.
func (b ruleBuilder) build() rbacv1.PolicyRule {
	return rbacv1.PolicyRule{
		Verbs:           sortedSet(b.r.Verbs),
		APIGroups:       sortedSet(b.r.APIGroups),
		Resources:       sortedSet(b.r.Resources),
		ResourceNames:   sortedSet(b.r.ResourceNames),
		NonResourceURLs: sortedSet(b.r.NonResourceURLs),
	}
}

func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func rules(bs ...ruleBuilder) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(bs))
	for i, b := range bs {
		out[i] = b.build()
	}
	return out
}

// eventsRule lets a component record events through either events API.
func eventsRule() ruleBuilder {
	return rule("create", "update", "patch").groups(core, eventsGroup).resources("events")
}

// defaultMeta is the metadata of a bootstrap-policy object.
func defaultMeta(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   namespace,
		Labels:      map[string]string{bootstrapLabel: bootstrapLabelValue},
		Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: autoUpdateValue},
	}
}

func clusterRole(name string, rs ...ruleBuilder) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: defaultMeta("", name), Rules: rules(rs...)}
}

// aggregatedRole is a role whose rules the aggregation controller fills
// from every cluster role labelled selectorLabel="true".
func aggregatedRole(name, selectorLabel string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{
		ObjectMeta: defaultMeta("", name),
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{selectorLabel: "true"}},
		}},
	}
}

// labelled adds "label: true" to a role's labels.
func labelled(r rbacv1.ClusterRole, label string) rbacv1.ClusterRole {
	r.Labels[label] = "true"
	return r
}

func namespacedRole(namespace, name string, rs ...ruleBuilder) rbacv1.Role {
	return rbacv1.Role{ObjectMeta: defaultMeta(namespace, name), Rules: rules(rs...)}
}

func users(names ...string) []rbacv1.Subject  { return subjects(rbacv1.UserKind, names) }
func groups(names ...string) []rbacv1.Subject { return subjects(rbacv1.GroupKind, names) }

func subjects(kind string, names []string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(names))
	for i, n := range names {
		out[i] = rbacv1.Subject{Kind: kind, APIGroup: rbacv1.GroupName, Name: n}
	}
	return out
}

// serviceAccount names a service account; such subjects have no API group.
func serviceAccount(namespace, name string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: namespace}}
}

func join(lists ...[]rbacv1.Subject) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func clusterRoleRef(name string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
}

// clusterBinding binds the cluster role of the same name.
func clusterBinding(name string, subs ...[]rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: defaultMeta("", name), RoleRef: clusterRoleRef(name), Subjects: join(subs...)}
}

// roleBinding binds a Role of the same namespace.
func roleBinding(namespace, name, role string, subs ...[]rbacv1.Subject) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{
		ObjectMeta: defaultMeta(namespace, name),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   join(subs...),
	}
}
