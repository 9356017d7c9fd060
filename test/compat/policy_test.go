package compat

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// bootstrapPolicy is every RBAC object an API server creates for itself,
// keyed by kind, namespace and name, reduced to what grants access.
func bootstrapPolicy(t *testing.T, client *kubernetes.Clientset) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: "kubernetes.io/bootstrapping=rbac-defaults"}
	out := map[string]string{}
	add := func(key string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[key] = string(data)
	}
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
	crs, err := client.RbacV1().ClusterRoles().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range crs.Items {
		rules := r.Rules
		if r.AggregationRule != nil {
			rules = nil // filled by the aggregation controller, in whatever order
		}
		add("ClusterRole "+r.Name, role{r.Labels, r.Annotations, rules, r.AggregationRule})
	}
	crbs, err := client.RbacV1().ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range crbs.Items {
		add("ClusterRoleBinding "+b.Name, binding{b.Labels, b.Annotations, b.RoleRef, b.Subjects})
	}
	rs, err := client.RbacV1().Roles("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Items {
		add("Role "+r.Namespace+"/"+r.Name, role{r.Labels, r.Annotations, r.Rules, nil})
	}
	rbs, err := client.RbacV1().RoleBindings("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rbs.Items {
		add("RoleBinding "+b.Namespace+"/"+b.Name, binding{b.Labels, b.Annotations, b.RoleRef, b.Subjects})
	}
	return out
}

// TestDefaultPolicyMatchesKubeAPIServer requires sekisho's default RBAC
// policy (the roles and bindings labelled kubernetes.io/bootstrapping=
// rbac-defaults) to be kube-apiserver's, object for object and rule for
// rule: kube-controller-manager, kube-scheduler and kubelets are written
// against exactly those grants.
func TestDefaultPolicyMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	want := bootstrapPolicy(t, c.clientset(kube))
	got := bootstrapPolicy(t, c.clientset(sekisho))
	if len(want) < 100 {
		t.Fatalf("kube-apiserver has only %d bootstrap RBAC objects", len(want))
	}
	for _, k := range sortedKeys(want, got) {
		w, inKube := want[k]
		g, inSekisho := got[k]
		switch {
		case !inKube && sekishoOwn[k]:
		case !inKube:
			t.Errorf("%s: sekisho has it, kube-apiserver does not:\n%s", k, g)
		case !inSekisho:
			t.Errorf("%s: missing from sekisho; kube-apiserver has\n%s", k, w)
		case w != g:
			t.Errorf("%s differs\n got %s\nwant %s", k, g, w)
		}
	}
	record(t, policyFile, want)
}

// sekishoOwn are the default RBAC objects sekisho adds to Kubernetes'.
var sekishoOwn = map[string]bool{
	"ClusterRole sekisho.io:self-review":        true,
	"ClusterRoleBinding sekisho.io:self-review": true,
}

// policyFile records kube-apiserver's default policy for the unit test of
// internal/authz/rbac/defaultpolicy.
var policyFile = filepath.Join("..", "..", "internal", "authz", "rbac", "defaultpolicy", "testdata", "kube-apiserver-1.37-policy.json")

func sortedKeys(maps ...map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
