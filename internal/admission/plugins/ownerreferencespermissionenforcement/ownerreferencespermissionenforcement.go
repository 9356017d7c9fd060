// Package ownerreferencespermissionenforcement is kube-apiserver's
// OwnerReferencesPermissionEnforcement plugin. An owner reference lets the
// garbage collector delete an object, and blockOwnerDeletion holds its
// owner's deletion; so changing an object's owner references needs
// permission to delete the object, and a new blocking reference needs
// permission to update the owner's finalizers.
package ownerreferencespermissionenforcement

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authz"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "OwnerReferencesPermissionEnforcement"

// Mapping is one resource a kind is served as.
type Mapping struct {
	Resource   schema.GroupVersionResource
	Namespaced bool
}

// Plugin is the OwnerReferencesPermissionEnforcement admission plugin.
type Plugin struct {
	Authorizer authz.Authorizer
	// Mappings are the resources an owner reference's kind is served as,
	// in its version; none when the server does not serve it.
	Mappings func(gk schema.GroupKind, version string) []Mapping
}

var _ admission.Validator = (*Plugin)(nil)

// Validate refuses owner references the user may not set.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	if a.Resource.GroupResource() == corev1.Resource("pods") && a.Subresource == "status" {
		return nil
	}
	if a.Object == nil || !changesOwners(a.Object, a.OldObject) {
		return nil
	}
	if a.Operation != admission.Create {
		attrs := authz.Attributes{User: a.User, Verb: "delete", Namespace: a.Namespace, Group: a.Resource.Group, Version: a.Resource.Version,
			Resource: a.Resource.Resource, Subresource: a.Subresource, Name: a.Name, ResourceRequest: true}
		if d, reason, err := p.Authorizer.Authorize(ctx, attrs); d != authz.Allow {
			return admission.NewForbidden(a, fmt.Errorf("cannot set an ownerRef on a resource you can't delete: %s, %v", reason, err))
		}
	}
	refs := newBlockingRefs(a.Object, a.OldObject)
	if len(refs) == 0 {
		return nil
	}
	anything := authz.Attributes{User: a.User, Verb: "update", Group: "*", Version: "*", Resource: "*", Subresource: "finalizers", Name: "*", ResourceRequest: true}
	if d, _, _ := p.Authorizer.Authorize(ctx, anything); d == authz.Allow {
		return nil
	}
	for _, ref := range refs {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		var mappings []Mapping
		if err == nil {
			mappings = p.Mappings(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version)
		}
		if len(mappings) == 0 {
			if err == nil {
				err = fmt.Errorf("no matches for kind %q in version %q", ref.Kind, ref.APIVersion)
			}
			return admission.NewForbidden(a, fmt.Errorf("cannot set blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion %s Kind %s: %v", ref.APIVersion, ref.Kind, err))
		}
		for _, m := range mappings {
			attrs := authz.Attributes{User: a.User, Verb: "update", Group: m.Resource.Group, Version: m.Resource.Version,
				Resource: m.Resource.Resource, Subresource: "finalizers", Name: ref.Name, ResourceRequest: true}
			if m.Namespaced {
				attrs.Namespace = a.Namespace
			}
			if d, reason, err := p.Authorizer.Authorize(ctx, attrs); d != authz.Allow {
				return admission.NewForbidden(a, fmt.Errorf("cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: %s, %v", reason, err))
			}
		}
	}
	return nil
}

func owners(obj runtime.Object) ([]metav1.OwnerReference, bool) {
	if obj == nil {
		return nil, false
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false
	}
	return m.GetOwnerReferences(), true
}

// changesOwners reports whether a write sets or changes owner
// references.
func changesOwners(obj, old runtime.Object) bool {
	refs, ok := owners(obj)
	if !ok {
		return false
	}
	before, had := owners(old)
	if !had {
		return old == nil && len(refs) > 0
	}
	if len(refs) != len(before) {
		return true
	}
	for i := range refs {
		if !equality.Semantic.DeepEqual(refs[i], before[i]) {
			return true
		}
	}
	return false
}

// newBlockingRefs are the references of obj that block their owner's
// deletion and did not in old.
func newBlockingRefs(obj, old runtime.Object) []metav1.OwnerReference {
	refs, _ := owners(obj)
	before, _ := owners(old)
	blocked := map[types.UID]bool{}
	for _, r := range before {
		if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			blocked[r.UID] = true
		}
	}
	var out []metav1.OwnerReference
	for _, r := range refs {
		if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion && !blocked[r.UID] {
			out = append(out, r)
		}
	}
	return out
}
