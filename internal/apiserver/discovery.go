package apiserver

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
)

// The verbs every served resource supports.

// discovery holds the pre-encoded discovery documents: they only change
// when the catalog does, which is never while the server runs.
type discovery struct {
	apiVersions  []byte // /api
	apiGroups    []byte // /apis
	groups       map[string][]byte
	resources    map[schema.GroupVersion][]byte
	aggregated   map[string][]byte // "api" and "apis": apidiscovery.k8s.io/v2
	aggregatedET map[string]string
}

func newDiscovery(reg *catalog.Catalog, serverAddress string) (*discovery, error) {
	d := &discovery{
		groups:       map[string][]byte{},
		resources:    map[schema.GroupVersion][]byte{},
		aggregated:   map[string][]byte{},
		aggregatedET: map[string]string{},
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
	groupList := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	coreDisc := apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	groupsDisc := coreDisc
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
			coreDisc.Items = append(coreDisc.Items, apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{version}})
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		group := metav1.APIGroup{
			TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:             gv.Group,
			Versions:         []metav1.GroupVersionForDiscovery{gvd},
			PreferredVersion: gvd,
		}
		groupList.Groups = append(groupList.Groups, group)
		if d.groups[gv.Group], err = json.Marshal(group); err != nil {
			return nil, err
		}
		item := apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{version}}
		item.Name = gv.Group
		groupsDisc.Items = append(groupsDisc.Items, item)
	}
	if d.apiGroups, err = json.Marshal(groupList); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"api": coreDisc, "apis": groupsDisc} {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		d.aggregated[name] = data
		d.aggregatedET[name] = fmt.Sprintf("%q", fmt.Sprintf("%X", sha512.Sum512(data)))
	}
	return d, nil
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
	d := s.discovery
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
