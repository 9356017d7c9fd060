package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestCovers(t *testing.T) {
	r := func(verbs, groups, resources, names []string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
	}
	s := func(v ...string) []string { return v }
	for _, tc := range []struct {
		name string
		have []rbacv1.PolicyRule
		want rbacv1.PolicyRule
		ok   bool
	}{
		{"exact", []rbacv1.PolicyRule{r(s("get"), s(""), s("pods"), nil)}, r(s("get"), s(""), s("pods"), nil), true},
		{"verb missing", []rbacv1.PolicyRule{r(s("get"), s(""), s("pods"), nil)}, r(s("get", "list"), s(""), s("pods"), nil), false},
		{"split over rules", []rbacv1.PolicyRule{r(s("get"), s(""), s("pods"), nil), r(s("list"), s(""), s("pods"), nil)}, r(s("get", "list"), s(""), s("pods"), nil), true},
		{"star verb", []rbacv1.PolicyRule{r(s("*"), s(""), s("pods"), nil)}, r(s("delete"), s(""), s("pods"), nil), true},
		{"star group", []rbacv1.PolicyRule{r(s("get"), s("*"), s("pods"), nil)}, r(s("get"), s("apps"), s("pods"), nil), true},
		{"other group", []rbacv1.PolicyRule{r(s("get"), s(""), s("pods"), nil)}, r(s("get"), s("apps"), s("pods"), nil), false},
		{"star resource", []rbacv1.PolicyRule{r(s("get"), s(""), s("*"), nil)}, r(s("get"), s(""), s("pods/log"), nil), true},
		{"star subresource", []rbacv1.PolicyRule{r(s("get"), s("apps"), s("*/scale"), nil)}, r(s("get"), s("apps"), s("deployments/scale"), nil), true},
		{"star subresource not parent", []rbacv1.PolicyRule{r(s("get"), s("apps"), s("*/scale"), nil)}, r(s("get"), s("apps"), s("deployments"), nil), false},
		{"names cover names", []rbacv1.PolicyRule{r(s("get"), s(""), s("configmaps"), s("a", "b"))}, r(s("get"), s(""), s("configmaps"), s("a")), true},
		{"names not all", []rbacv1.PolicyRule{r(s("get"), s(""), s("configmaps"), s("a"))}, r(s("get"), s(""), s("configmaps"), nil), false},
		{"all covers names", []rbacv1.PolicyRule{r(s("get"), s(""), s("configmaps"), nil)}, r(s("get"), s(""), s("configmaps"), s("a")), true},
		{"literal star needs star", []rbacv1.PolicyRule{r(s("get", "list"), s(""), s("pods"), nil)}, r(s("*"), s(""), s("pods"), nil), false},
		{"url prefix", []rbacv1.PolicyRule{{Verbs: s("get"), NonResourceURLs: s("/apis/*")}}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/apis/apps")}, true},
		{"url prefix not parent", []rbacv1.PolicyRule{{Verbs: s("get"), NonResourceURLs: s("/apis/*")}}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/apis")}, false},
		{"url star", []rbacv1.PolicyRule{{Verbs: s("*"), NonResourceURLs: s("*")}}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, true},
		{"resource rule not url", []rbacv1.PolicyRule{r(s("*"), s("*"), s("*"), nil)}, rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, false},
	} {
		if got, _ := Covers(tc.have, []rbacv1.PolicyRule{tc.want}); got != tc.ok {
			t.Errorf("%s: covers = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestCoversListsMissingCompacted(t *testing.T) {
	owner := []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}
	wanted := []rbacv1.PolicyRule{{Verbs: []string{"get", "delete", "list"}, APIGroups: []string{""}, Resources: []string{"pods", "secrets"}}}
	ok, missing := Covers(owner, wanted)
	var got []string
	for _, m := range missing {
		got = append(got, FormatRule(m))
	}
	want := []string{
		`{APIGroups:[""], Resources:["pods"], Verbs:["delete" "list"]}`,
		`{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete" "list"]}`,
	}
	if ok || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Covers = %v, %q; want false, %q", ok, got, want)
	}
}
