package defaultpolicy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestMatchesKubeAPIServer requires Kubernetes() to be, object for object
// and rule for rule, the default policy a real kube-apiserver v1.37.2
// creates, as test/compat's TestDefaultPolicyMatchesKubeAPIServer recorded
// it (and checks the recording is current). Aggregated roles are compared
// by their aggregation rule; their rules are the controller's to fill.
func TestMatchesKubeAPIServer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "kube-apiserver-1.37-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got := reduced(t, Kubernetes())
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: missing; kube-apiserver has\n%s", k, w)
		case g != w:
			t.Errorf("%s differs\n got %s\nwant %s", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: kube-apiserver has no such object", k)
		}
	}
}

// reduced is the policy in the recording's form: each object's labels,
// annotations and grants, as JSON, keyed by kind, namespace and name.
func reduced(t *testing.T, p Policy) map[string]string {
	type role struct {
		Labels, Annotations map[string]string
		Rules               []rbacv1.PolicyRule
		Aggregation         *rbacv1.AggregationRule
	}
	type binding struct {
		Labels, Annotations map[string]string
		RoleRef             rbacv1.RoleRef
		Subjects            []rbacv1.Subject
	}
	out := map[string]string{}
	add := func(key string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[key] = string(data)
	}
	for _, r := range p.ClusterRoles {
		rules := r.Rules
		if r.AggregationRule != nil {
			rules = nil
		}
		add("ClusterRole "+r.Name, role{r.Labels, r.Annotations, rules, r.AggregationRule})
	}
	for _, b := range p.ClusterRoleBindings {
		add("ClusterRoleBinding "+b.Name, binding{b.Labels, b.Annotations, b.RoleRef, b.Subjects})
	}
	for _, r := range p.Roles {
		add("Role "+r.Namespace+"/"+r.Name, role{r.Labels, r.Annotations, r.Rules, nil})
	}
	for _, b := range p.RoleBindings {
		add("RoleBinding "+b.Namespace+"/"+b.Name, binding{b.Labels, b.Annotations, b.RoleRef, b.Subjects})
	}
	return out
}
