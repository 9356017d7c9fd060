package catalog

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Computer answers get and list of a computed resource (Resource.Computed):
// its objects are worked out when read and never stored.
type Computer interface {
	// Get returns the named object, or a NotFound error.
	Get(ctx context.Context, name string) (Object, error)
	// List returns every object, in any order.
	List(ctx context.Context) ([]Object, error)
}

// ComponentStatuses is core/v1 componentstatuses: the health of the
// control plane's parts, probed on each read. Kubernetes deprecated it in
// 1.19 and still serves it; kubectl get cs reads it.
func ComponentStatuses() *Resource {
	return &Resource{
		GroupVersion: coreV1, Name: "componentstatuses", SingularName: "componentstatus", Kind: "ComponentStatus",
		ShortNames: []string{"cs"},
		New:        func() Object { return &corev1.ComponentStatus{} },
		Computed:   true,
	}
}

// ServedRelease is the Kubernetes minor release whose API the catalogue
// describes. Deprecation warnings are reckoned against it, as
// kube-apiserver reckons them against its own version.
var ServedRelease = struct{ Major, Minor int }{1, 37}

type lifecycleDeprecated interface {
	APILifecycleDeprecated() (major, minor int)
}

type lifecycleRemoved interface {
	APILifecycleRemoved() (major, minor int)
}

type lifecycleReplacement interface {
	APILifecycleReplacement() schema.GroupVersionKind
}

// DeprecationWarning is the warning kube-apiserver sends with every
// request to a resource whose type its release deprecates ("v1 Endpoints is
// deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"), or "".
// k8s.io/api records each type's lifecycle.
func (r *Resource) DeprecationWarning() string {
	r.deprecationOnce.Do(func() {
		obj := r.New()
		d, ok := obj.(lifecycleDeprecated)
		if !ok {
			return
		}
		major, minor := d.APILifecycleDeprecated()
		if major == 0 && minor == 0 || major > ServedRelease.Major || major == ServedRelease.Major && minor > ServedRelease.Minor {
			return
		}
		msg := fmt.Sprintf("%s %s is deprecated in v%d.%d+", r.GroupVersion, r.Kind, major, minor)
		if rm, ok := obj.(lifecycleRemoved); ok {
			if major, minor := rm.APILifecycleRemoved(); major != 0 || minor != 0 {
				msg += fmt.Sprintf(", unavailable in v%d.%d+", major, minor)
			}
		}
		if rp, ok := obj.(lifecycleReplacement); ok {
			if gvk := rp.APILifecycleReplacement(); !gvk.Empty() {
				msg += "; use " + gvk.GroupVersion().String() + " " + gvk.Kind
			}
		}
		r.deprecation = msg
	})
	return r.deprecation
}
