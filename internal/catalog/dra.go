package catalog

import (
	"fmt"

	resourcev1 "k8s.io/api/resource/v1"
)

var resourceV1 = resourcev1.SchemeGroupVersion

// The dynamic resource allocation types (resource.k8s.io/v1) are stored
// and validated for their metadata; their controllers are left out.

// DeviceClasses is resource.k8s.io/v1 deviceclasses.
func DeviceClasses() *Resource {
	return stored(resourceV1, "deviceclasses", "DeviceClass", false, func() Object { return &resourcev1.DeviceClass{} }).withGeneration()
}

// DeviceTaintRules is resource.k8s.io/v1 devicetaintrules, with status.
func DeviceTaintRules() *Resource {
	return stored(resourceV1, "devicetaintrules", "DeviceTaintRule", false, func() Object { return &resourcev1.DeviceTaintRule{} }).
		withStatus().withGeneration()
}

// ResourceClaims is resource.k8s.io/v1 resourceclaims, with status.
func ResourceClaims() *Resource {
	return stored(resourceV1, "resourceclaims", "ResourceClaim", true, func() Object { return &resourcev1.ResourceClaim{} }).withStatus()
}

// ResourceClaimTemplates is resource.k8s.io/v1 resourceclaimtemplates.
func ResourceClaimTemplates() *Resource {
	return stored(resourceV1, "resourceclaimtemplates", "ResourceClaimTemplate", true, func() Object { return &resourcev1.ResourceClaimTemplate{} })
}

// ResourceSlices is resource.k8s.io/v1 resourceslices.
func ResourceSlices() *Resource {
	r := stored(resourceV1, "resourceslices", "ResourceSlice", false, func() Object { return &resourcev1.ResourceSlice{} }).
		withGeneration().
		withFields(func(obj Object) map[string]string {
			s := obj.(*resourcev1.ResourceSlice)
			node := ""
			if s.Spec.NodeName != nil {
				node = *s.Spec.NodeName
			}
			return map[string]string{"spec.nodeName": node, "spec.driver": s.Spec.Driver, "spec.pool.name": s.Spec.Pool.Name}
		}, "spec.nodeName", "spec.driver", "spec.pool.name")
	r.FieldLabelRefusal = func(label string) error {
		return fmt.Errorf("field label not supported for %s: %s", r.GroupVersionKind(), label)
	}
	return r
}
