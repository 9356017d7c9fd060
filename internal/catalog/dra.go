package catalog

import (
	"fmt"

	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var resourceV1 = resourcev1.SchemeGroupVersion

// The dynamic resource allocation types (resource.k8s.io/v1) are stored,
// defaulted and validated; their controllers are left out.

// DeviceClasses is resource.k8s.io/v1 deviceclasses.
func DeviceClasses() *Resource {
	validate := func(obj Object) field.ErrorList {
		return draValidateDeviceClassSpec(&obj.(*resourcev1.DeviceClass).Spec, field.NewPath("spec"))
	}
	return stored(resourceV1, "deviceclasses", "DeviceClass", false, func() Object { return &resourcev1.DeviceClass{} }).withGeneration().
		validated(validate, func(obj, _ Object) field.ErrorList { return validate(obj) })
}

// DeviceTaintRules is resource.k8s.io/v1 devicetaintrules, with status.
func DeviceTaintRules() *Resource {
	validate := func(obj Object) field.ErrorList {
		return draValidateTaintRuleSpec(&obj.(*resourcev1.DeviceTaintRule).Spec, field.NewPath("spec"))
	}
	return stored(resourceV1, "devicetaintrules", "DeviceTaintRule", false, func() Object { return &resourcev1.DeviceTaintRule{} }).
		withStatus().withGeneration().
		defaulted(func(obj Object) { draDefaultTaint(&obj.(*resourcev1.DeviceTaintRule).Spec.Taint) }).
		validated(validate, func(obj, _ Object) field.ErrorList { return validate(obj) })
}

// ResourceClaims is resource.k8s.io/v1 resourceclaims, with status. The
// spec cannot change.
func ResourceClaims() *Resource {
	return stored(resourceV1, "resourceclaims", "ResourceClaim", true, func() Object { return &resourcev1.ResourceClaim{} }).withStatus().
		defaulted(func(obj Object) { draDefaultClaimSpec(&obj.(*resourcev1.ResourceClaim).Spec) }).
		prepared(func(obj Object) { draCompactClaimSpec(&obj.(*resourcev1.ResourceClaim).Spec) },
			func(obj, _ Object) { draCompactClaimSpec(&obj.(*resourcev1.ResourceClaim).Spec) }).
		validated(func(obj Object) field.ErrorList {
			return draValidateClaimSpec(&obj.(*resourcev1.ResourceClaim).Spec, field.NewPath("spec"))
		}, func(obj, old Object) field.ErrorList {
			return immutable(obj.(*resourcev1.ResourceClaim).Spec, old.(*resourcev1.ResourceClaim).Spec, field.NewPath("spec"))
		})
}

// ResourceClaimTemplates is resource.k8s.io/v1 resourceclaimtemplates. The
// spec cannot change.
func ResourceClaimTemplates() *Resource {
	return stored(resourceV1, "resourceclaimtemplates", "ResourceClaimTemplate", true, func() Object { return &resourcev1.ResourceClaimTemplate{} }).
		defaulted(func(obj Object) { draDefaultClaimSpec(&obj.(*resourcev1.ResourceClaimTemplate).Spec.Spec) }).
		prepared(func(obj Object) { draCompactClaimSpec(&obj.(*resourcev1.ResourceClaimTemplate).Spec.Spec) },
			func(obj, _ Object) { draCompactClaimSpec(&obj.(*resourcev1.ResourceClaimTemplate).Spec.Spec) }).
		validated(func(obj Object) field.ErrorList {
			return draValidateClaimSpec(&obj.(*resourcev1.ResourceClaimTemplate).Spec.Spec, field.NewPath("spec", "spec"))
		}, func(obj, old Object) field.ErrorList {
			return immutable(obj.(*resourcev1.ResourceClaimTemplate).Spec, old.(*resourcev1.ResourceClaimTemplate).Spec, field.NewPath("spec"))
		})
}

// ResourceSlices is resource.k8s.io/v1 resourceslices.
func ResourceSlices() *Resource {
	validate := func(obj Object) field.ErrorList {
		return draValidateSliceSpec(&obj.(*resourcev1.ResourceSlice).Spec, field.NewPath("spec"))
	}
	r := stored(resourceV1, "resourceslices", "ResourceSlice", false, func() Object { return &resourcev1.ResourceSlice{} }).
		withGeneration().
		defaulted(func(obj Object) {
			devices := obj.(*resourcev1.ResourceSlice).Spec.Devices
			for i := range devices {
				for j := range devices[i].Taints {
					draDefaultTaint(&devices[i].Taints[j])
				}
			}
		}).
		validated(validate, func(obj, old Object) field.ErrorList {
			s, o := &obj.(*resourcev1.ResourceSlice).Spec, &old.(*resourcev1.ResourceSlice).Spec
			errs := validate(obj)
			errs = append(errs, immutable(s.Pool.Name, o.Pool.Name, field.NewPath("spec", "pool", "name"))...)
			errs = append(errs, immutable(s.Driver, o.Driver, field.NewPath("spec", "driver"))...)
			return append(errs, immutable(s.NodeName, o.NodeName, field.NewPath("spec", "nodeName"))...)
		}).
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
