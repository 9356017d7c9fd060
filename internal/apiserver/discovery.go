package apiserver

import (
	"cmp"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/sekisho/sekisho/internal/aggregator"
	"github.com/sekisho/sekisho/internal/catalog"
)

// discoveryBase is what the catalog serves, fixed while the server runs.
type discoveryBase struct {
	apiVersions []byte // /api
	groupList   metav1.APIGroupList
	groups      map[string][]byte
	resources   map[schema.GroupVersion][]byte
	coreDisc    apidiscoveryv2.APIGroupDiscoveryList
	groupsDisc  apidiscoveryv2.APIGroupDiscoveryList
}

// discovery holds the pre-encoded discovery documents: the catalog's,
// merged with the aggregated versions of one generation.
type discovery struct {
	*discoveryBase
	generation   uint64
	apiGroups    []byte // /apis
	groups       map[string][]byte
	aggregated   map[string][]byte // "api" and "apis": apidiscovery.k8s.io/v2
	aggregatedET map[string]string
}

func newDiscoveryBase(reg *catalog.Catalog, serverAddress string) (*discoveryBase, error) {
	d := &discoveryBase{
		groups:    map[string][]byte{},
		resources: map[schema.GroupVersion][]byte{},
	}
	var err error
	d.apiVersions, err = json.Marshal(metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: serverAddress},
		},
	})
	if err != nil {
		return nil, err
	}
	d.groupList = metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	d.coreDisc = apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	d.groupsDisc = d.coreDisc
	for _, gv := range reg.GroupVersions() {
		var list metav1.APIResourceList
		list.Kind, list.APIVersion, list.GroupVersion = "APIResourceList", "v1", gv.String()
		var discResources []apidiscoveryv2.APIResourceDiscovery
		for _, res := range reg.Resources() {
			if res.GroupVersion != gv {
				continue
			}
			list.APIResources = append(list.APIResources, apiResource(res, ""))
			for _, sub := range res.Subresources {
				list.APIResources = append(list.APIResources, apiResource(res, sub.Name))
			}
			discResources = append(discResources, discoveryResource(res))
		}
		if d.resources[gv], err = json.Marshal(list); err != nil {
			return nil, err
		}
		version := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Resources: discResources, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		if gv.Group == "" {
			d.coreDisc.Items = append(d.coreDisc.Items, apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{version}})
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		group := metav1.APIGroup{
			TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:             gv.Group,
			Versions:         []metav1.GroupVersionForDiscovery{gvd},
			PreferredVersion: gvd,
		}
		d.groupList.Groups = append(d.groupList.Groups, group)
		if d.groups[gv.Group], err = json.Marshal(group); err != nil {
			return nil, err
		}
		item := apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{version}}
		item.Name = gv.Group
		d.groupsDisc.Items = append(d.groupsDisc.Items, item)
	}
	sortGroups(d.groupList.Groups, d.groupsDisc.Items, nil)
	return d, nil
}

// sortGroups orders the groups as kube-apiserver's discovery orders them:
// by group priority, highest first (kube-apiserver's own for its groups,
// the highest of its APIServices' for an aggregated one; extra gives
// those), then by name. The aggregated discovery items follow the same
// order.
func sortGroups(groups []metav1.APIGroup, items []apidiscoveryv2.APIGroupDiscovery, extra map[string]int32) {
	rank := func(name string) int32 {
		if name == "apiregistration.k8s.io" {
			return math.MaxInt32 // the aggregator's own group leads, as in kube-apiserver
		}
		p, _ := aggregator.LocalGroupPriority(name)
		if e, ok := extra[name]; ok && e > p {
			p = e
		}
		return p
	}
	byRank := func(x, y, tieX, tieY string) int {
		if rx, ry := rank(x), rank(y); rx != ry {
			return cmp.Compare(ry, rx)
		}
		return strings.Compare(tieX, tieY)
	}
	// At equal priority kube-apiserver's group list follows the APIServices'
	// names (<version>.<group>), its aggregated discovery the groups' names.
	slices.SortStableFunc(groups, func(x, y metav1.APIGroup) int {
		return byRank(x.Name, y.Name, x.PreferredVersion.Version+"."+x.Name, y.PreferredVersion.Version+"."+y.Name)
	})
	slices.SortStableFunc(items, func(x, y apidiscoveryv2.APIGroupDiscovery) int { return byRank(x.Name, y.Name, x.Name, y.Name) })
}

// merge builds the documents with the aggregated versions added: a
// version of a group the catalog serves joins that group after its own
// versions; every group is ordered as kube-aggregator orders them (a
// group's highest priority, then name), and a group's aggregated
// versions by version priority, then Kubernetes' version order. In aggregated discovery a version appears
// once its server's resources have been read, stale while it is
// unavailable.
func (b *discoveryBase) merge(generation uint64, versions []aggregator.Version) (*discovery, error) {
	d := &discovery{discoveryBase: b, generation: generation, groups: b.groups,
		aggregated: map[string][]byte{}, aggregatedET: map[string]string{}}
	groupList := b.groupList
	groupsDisc := b.groupsDisc
	if len(versions) > 0 {
		// A group ranks by the highest groupPriorityMinimum of its
		// versions, as kube-aggregator ranks it.
		groupPriority := map[string]int32{}
		for _, v := range versions {
			if p, ok := groupPriority[v.Group]; !ok || v.GroupPriorityMinimum > p {
				groupPriority[v.Group] = v.GroupPriorityMinimum
			}
		}
		versions = slices.Clone(versions)
		slices.SortStableFunc(versions, func(x, y aggregator.Version) int {
			if px, py := groupPriority[x.Group], groupPriority[y.Group]; px != py {
				return cmp.Compare(py, px)
			}
			if x.Group != y.Group {
				return strings.Compare(x.Group, y.Group)
			}
			if x.VersionPriority != y.VersionPriority {
				return cmp.Compare(y.VersionPriority, x.VersionPriority)
			}
			return -version.CompareKubeAwareVersionStrings(x.Version, y.Version)
		})
		groupList.Groups = slices.Clone(b.groupList.Groups)
		groupsDisc.Items = slices.Clone(b.groupsDisc.Items)
		d.groups = maps.Clone(b.groups)
		changed := map[string]bool{}
		for _, v := range versions {
			gvd := metav1.GroupVersionForDiscovery{GroupVersion: v.Group + "/" + v.Version, Version: v.Version}
			i := slices.IndexFunc(groupList.Groups, func(g metav1.APIGroup) bool { return g.Name == v.Group })
			if i < 0 {
				groupList.Groups = append(groupList.Groups, metav1.APIGroup{
					TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
					Name:     v.Group, PreferredVersion: gvd,
				})
				i = len(groupList.Groups) - 1
			}
			g := &groupList.Groups[i]
			g.Versions = append(slices.Clip(g.Versions), gvd)
			changed[v.Group] = true
			// A version whose resources were never read is listed stale,
			// with none, as kube-aggregator lists it.
			freshness := apidiscoveryv2.DiscoveryFreshnessCurrent
			if !v.Available || v.Resources == nil {
				freshness = apidiscoveryv2.DiscoveryFreshnessStale
			}
			vd := apidiscoveryv2.APIVersionDiscovery{Version: v.Version, Freshness: freshness}
			if v.Resources != nil {
				vd.Resources = resourcesForDiscovery(v.Resources)
			}
			j := slices.IndexFunc(groupsDisc.Items, func(g apidiscoveryv2.APIGroupDiscovery) bool { return g.Name == v.Group })
			if j < 0 {
				item := apidiscoveryv2.APIGroupDiscovery{}
				item.Name = v.Group
				groupsDisc.Items = append(groupsDisc.Items, item)
				j = len(groupsDisc.Items) - 1
			}
			groupsDisc.Items[j].Versions = append(slices.Clip(groupsDisc.Items[j].Versions), vd)
		}
		sortGroups(groupList.Groups, groupsDisc.Items, groupPriority)
		for _, g := range groupList.Groups {
			if !changed[g.Name] {
				continue
			}
			data, err := json.Marshal(g)
			if err != nil {
				return nil, err
			}
			d.groups[g.Name] = data
		}
	}
	var err error
	if d.apiGroups, err = json.Marshal(groupList); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"api": b.coreDisc, "apis": groupsDisc} {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		d.aggregated[name] = data
		d.aggregatedET[name] = fmt.Sprintf("%q", fmt.Sprintf("%X", sha512.Sum512(data)))
	}
	return d, nil
}

// resourcesForDiscovery turns a server's APIResourceList into aggregated
// discovery's form: each resource with its subresources under it.
func resourcesForDiscovery(list *metav1.APIResourceList) []apidiscoveryv2.APIResourceDiscovery {
	var out []apidiscoveryv2.APIResourceDiscovery
	index := map[string]int{}
	// As kube-aggregator converts it: the kind's group and version are
	// the resource's own, empty (the version's) unless it names them.
	kindOf := func(r metav1.APIResource) *metav1.GroupVersionKind {
		return &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
	}
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		index[r.Name] = len(out)
		out = append(out, apidiscoveryv2.APIResourceDiscovery{
			Resource: r.Name, ResponseKind: kindOf(r), Scope: scope, SingularResource: r.SingularName,
			Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
	}
	for _, r := range list.APIResources {
		parent, sub, ok := strings.Cut(r.Name, "/")
		if !ok {
			continue
		}
		i, found := index[parent]
		if !found {
			continue
		}
		out[i].Subresources = append(out[i].Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource: sub, ResponseKind: kindOf(r), Verbs: r.Verbs,
		})
	}
	return out
}

// currentDiscovery returns the documents of the aggregated versions in
// force, building them when those have changed.
func (s *Server) currentDiscovery() *discovery {
	d := s.discovery.Load()
	if s.cfg.Aggregator == nil {
		return d
	}
	gen, versions := s.cfg.Aggregator.Versions()
	if d.generation == gen {
		return d
	}
	s.discoveryMu.Lock()
	defer s.discoveryMu.Unlock()
	// Read again under the lock: a merge that waited must not replace a
	// newer one with the versions it read before.
	gen, versions = s.cfg.Aggregator.Versions()
	if d = s.discovery.Load(); d.generation == gen {
		return d
	}
	next, err := d.discoveryBase.merge(gen, versions)
	if err != nil {
		s.log.Error("discovery: cannot merge the aggregated API versions", "err", err)
		return d
	}
	s.discovery.Store(next)
	return next
}

func apiResource(res *catalog.Resource, sub string) metav1.APIResource {
	r := metav1.APIResource{
		Name:         res.Name,
		SingularName: res.SingularName,
		Namespaced:   res.Namespaced,
		Kind:         res.Kind,
		Verbs:        res.Verbs(),
		ShortNames:   res.ShortNames,
		Categories:   res.Categories,
	}
	if sub != "" {
		s := res.Subresource(sub)
		r.Name += "/" + sub
		r.SingularName, r.ShortNames, r.Categories = "", nil, nil
		r.Verbs = s.Verbs
		if gvk := s.GroupVersionKind; !gvk.Empty() {
			r.Group, r.Version, r.Kind = gvk.Group, gvk.Version, gvk.Kind
		}
	}
	return r
}

func discoveryResource(res *catalog.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if res.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	gvk := res.GroupVersionKind()
	kind := &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	d := apidiscoveryv2.APIResourceDiscovery{
		Resource:         res.Name,
		ResponseKind:     kind,
		Scope:            scope,
		SingularResource: res.SingularName,
		Verbs:            res.Verbs(),
		ShortNames:       res.ShortNames,
		Categories:       res.Categories,
	}
	for _, sub := range res.Subresources {
		subKind := kind
		if gvk := sub.GroupVersionKind; !gvk.Empty() {
			subKind = &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
		}
		d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource: sub.Name, ResponseKind: subKind, Verbs: sub.Verbs,
		})
	}
	return d
}

// serveDiscovery answers /api, /api/v1, /apis, /apis/{group} and
// /apis/{group}/{version}. It reports whether the path was a discovery path.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) bool {
	parts := splitPath(r.URL.Path)
	if len(parts) == 0 || len(parts) > 3 || (parts[0] != "api" && parts[0] != "apis") {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, errNotFoundPath())
		return true
	}
	d := s.currentDiscovery()
	switch {
	case len(parts) == 1:
		neg, err := negotiate(r, false, true)
		if err != nil {
			s.writeError(w, r, err)
			return true
		}
		if neg.format == formatDiscoveryV2 {
			w.Header().Set("Vary", "Accept")
			w.Header().Set("ETag", d.aggregatedET[parts[0]])
			if r.Header.Get("If-None-Match") == d.aggregatedET[parts[0]] {
				w.WriteHeader(http.StatusNotModified)
				return true
			}
			writeBytes(w, http.StatusOK, neg.contentType, d.aggregated[parts[0]])
			return true
		}
		body := d.apiVersions
		if parts[0] == "apis" {
			body = d.apiGroups
		}
		writeBytes(w, http.StatusOK, "application/json", body)
	case parts[0] == "api" && len(parts) == 2:
		body, ok := d.resources[schema.GroupVersion{Version: parts[1]}]
		if !ok {
			s.writeError(w, r, errNotFoundPath())
			return true
		}
		writeBytes(w, http.StatusOK, "application/json", body)
	case parts[0] == "apis" && len(parts) == 2:
		body, ok := d.groups[parts[1]]
		if !ok {
			s.writeError(w, r, errNotFoundPath())
			return true
		}
		writeBytes(w, http.StatusOK, "application/json", body)
	case parts[0] == "apis" && len(parts) == 3:
		body, ok := d.resources[schema.GroupVersion{Group: parts[1], Version: parts[2]}]
		if !ok {
			s.writeError(w, r, errNotFoundPath())
			return true
		}
		writeBytes(w, http.StatusOK, "application/json", body)
	default:
		return false
	}
	return true
}
