package apiserver

import (
	"encoding/json"
	"strings"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/aggregator"
	"github.com/sekisho/sekisho/internal/catalog"
)

func TestDiscoveryMergesAggregatedVersions(t *testing.T) {
	base, err := newDiscoveryBase(catalog.Builtin(), "127.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	widgets := &metav1.APIResourceList{GroupVersion: "widgets.example.com/v1", APIResources: []metav1.APIResource{
		{Name: "widgets", Namespaced: true, Kind: "Widget", Verbs: []string{"get", "list"}},
		{Name: "widgets/status", Namespaced: true, Kind: "Widget", Verbs: []string{"get"}},
	}}
	d, err := base.merge(3, []aggregator.Version{
		{Group: "widgets.example.com", Version: "v1", GroupPriorityMinimum: 100, VersionPriority: 10, Resources: widgets, Available: true},
		// A version's lower group priority does not reorder the group's
		// versions: versionPriority does.
		{Group: "widgets.example.com", Version: "v2beta1", GroupPriorityMinimum: 50, VersionPriority: 20},
		{Group: "metrics.k8s.io", Version: "v1beta1", GroupPriorityMinimum: 100, VersionPriority: 100,
			Resources: &metav1.APIResourceList{APIResources: []metav1.APIResource{{Name: "nodes", Kind: "NodeMetrics", Verbs: []string{"get", "list"}}}}},
		{Group: "apps", Version: "v2", GroupPriorityMinimum: 100, VersionPriority: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	var groups metav1.APIGroupList
	if err := json.Unmarshal(d.apiGroups, &groups); err != nil {
		t.Fatal(err)
	}
	byName := map[string]metav1.APIGroup{}
	var order []string
	for _, g := range groups.Groups {
		byName[g.Name] = g
		order = append(order, g.Name)
	}
	// kube-apiserver's order: its aggregator's group, then by group
	// priority (apps 17800 ... storagemigration.k8s.io 15800), the
	// aggregated groups at 100 by name, sekisho's own group (no priority)
	// last.
	want := []string{"apiregistration.k8s.io", "apps", "events.k8s.io"}
	if len(order) < 6 || strings.Join(order[:3], " ") != strings.Join(want, " ") ||
		strings.Join(order[len(order)-4:], " ") != "storagemigration.k8s.io metrics.k8s.io widgets.example.com sekisho.io" {
		t.Errorf("group order: %v", order)
	}
	var aggOrder []string
	var aggList apidiscoveryv2.APIGroupDiscoveryList
	json.Unmarshal(d.aggregated["apis"], &aggList)
	for _, g := range aggList.Items {
		aggOrder = append(aggOrder, g.Name)
	}
	if strings.Join(aggOrder[:3], " ") != strings.Join(want, " ") {
		t.Errorf("aggregated discovery's group order: %v", aggOrder)
	}
	w := byName["widgets.example.com"]
	if len(w.Versions) != 2 || w.Versions[0].Version != "v2beta1" || w.PreferredVersion.Version != "v2beta1" {
		t.Errorf("widgets group = %+v, want v2beta1 (higher versionPriority) preferred", w)
	}
	apps := byName["apps"]
	if len(apps.Versions) != 2 || apps.Versions[0].Version != "v1" || apps.PreferredVersion.Version != "v1" || apps.Versions[1].Version != "v2" {
		t.Errorf("apps group = %+v, want the built-in v1 preferred and v2 after it", apps)
	}
	var group metav1.APIGroup
	if err := json.Unmarshal(d.groups["widgets.example.com"], &group); err != nil || len(group.Versions) != 2 {
		t.Errorf("/apis/widgets.example.com = %s", d.groups["widgets.example.com"])
	}
	var agg apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(d.aggregated["apis"], &agg); err != nil {
		t.Fatal(err)
	}
	found := map[string]apidiscoveryv2.APIVersionDiscovery{}
	for _, g := range agg.Items {
		for _, v := range g.Versions {
			found[g.Name+"/"+v.Version] = v
		}
	}
	v := found["widgets.example.com/v1"]
	if v.Freshness != apidiscoveryv2.DiscoveryFreshnessCurrent || len(v.Resources) != 1 || v.Resources[0].Scope != apidiscoveryv2.ScopeNamespace ||
		len(v.Resources[0].Subresources) != 1 || v.Resources[0].Subresources[0].Subresource != "status" || v.Resources[0].ResponseKind.Kind != "Widget" {
		t.Errorf("aggregated widgets.example.com/v1 = %+v", v)
	}
	if v, ok := found["widgets.example.com/v2beta1"]; !ok || v.Freshness != apidiscoveryv2.DiscoveryFreshnessStale || len(v.Resources) != 0 {
		t.Errorf("a version whose resources were never read, in aggregated discovery: %v %+v; want it stale, with none", ok, v)
	}
	if found["metrics.k8s.io/v1beta1"].Freshness != apidiscoveryv2.DiscoveryFreshnessStale {
		t.Errorf("an unavailable version is not stale: %+v", found["metrics.k8s.io/v1beta1"])
	}
	if _, ok := found["apps/v1"]; !ok {
		t.Error("the built-in apps/v1 is missing")
	}
	// The catalog's own documents are untouched by a merge.
	plain, _ := base.merge(0, nil)
	if len(plain.apiGroups) >= len(d.apiGroups) || string(plain.groups["apps"]) == string(d.groups["apps"]) {
		t.Error("merging changed the catalog's documents")
	}
}
