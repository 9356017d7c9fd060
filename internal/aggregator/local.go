package aggregator

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// AutomanagedLabel marks the APIServices the server registers for its own
// versions, as kube-apiserver marks them.
const AutomanagedLabel = "kube-aggregator.kubernetes.io/automanaged"

// priority is an APIService's groupPriorityMinimum and versionPriority.
type priority struct{ group, version int32 }

// localPriorities are the priorities kube-apiserver v1.37.2 gives the
// Local APIServices of the versions it serves with default flags (read
// from a running one; test/compat compares the lists).
var localPriorities = map[schema.GroupVersion]priority{
	{Group: "", Version: "v1"}:                             {18000, 1},
	{Group: "events.k8s.io", Version: "v1"}:                {17750, 15},
	{Group: "apps", Version: "v1"}:                         {17800, 15},
	{Group: "authentication.k8s.io", Version: "v1"}:        {17700, 15},
	{Group: "authorization.k8s.io", Version: "v1"}:         {17600, 15},
	{Group: "autoscaling", Version: "v1"}:                  {17500, 15},
	{Group: "autoscaling", Version: "v2"}:                  {17500, 30},
	{Group: "batch", Version: "v1"}:                        {17400, 15},
	{Group: "certificates.k8s.io", Version: "v1"}:          {17300, 15},
	{Group: "networking.k8s.io", Version: "v1"}:            {17200, 15},
	{Group: "policy", Version: "v1"}:                       {17100, 15},
	{Group: "rbac.authorization.k8s.io", Version: "v1"}:    {17000, 15},
	{Group: "storage.k8s.io", Version: "v1"}:               {16800, 15},
	{Group: "admissionregistration.k8s.io", Version: "v1"}: {16700, 15},
	{Group: "scheduling.k8s.io", Version: "v1"}:            {16600, 15},
	{Group: "coordination.k8s.io", Version: "v1"}:          {16500, 15},
	{Group: "node.k8s.io", Version: "v1"}:                  {16300, 15},
	{Group: "discovery.k8s.io", Version: "v1"}:             {16200, 15},
	{Group: "resource.k8s.io", Version: "v1"}:              {16200, 21},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"}: {16100, 21},
	{Group: "storagemigration.k8s.io", Version: "v1"}:      {15800, 15},
}

// LocalAPIServices are the APIServices of the versions served here that
// kube-apiserver registers for itself: Local (no service), labelled
// automanaged "onstart", with kube-apiserver's priorities. A version
// kube-apiserver has no priority for gets none, as there.
func LocalAPIServices(served []schema.GroupVersion) []*apiregistrationv1.APIService {
	var out []*apiregistrationv1.APIService
	for _, gv := range served {
		p, ok := localPriorities[gv]
		if !ok {
			continue
		}
		out = append(out, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Version + "." + gv.Group, Labels: map[string]string{AutomanagedLabel: "onstart"}},
			Spec: apiregistrationv1.APIServiceSpec{
				Group: gv.Group, Version: gv.Version,
				GroupPriorityMinimum: p.group, VersionPriority: p.version,
			},
		})
	}
	return out
}

// LocalGroupPriority is kube-apiserver's groupPriorityMinimum for one of
// its own groups, which orders discovery; false for a group it has none
// for.
func LocalGroupPriority(group string) (int32, bool) {
	var best int32
	found := false
	for gv, p := range localPriorities {
		if gv.Group == group && (!found || p.group > best) {
			best, found = p.group, true
		}
	}
	return best, found
}
