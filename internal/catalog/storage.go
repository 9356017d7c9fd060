package catalog

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var storageV1 = storagev1.SchemeGroupVersion

// StorageClasses is storage.k8s.io/v1 storageclasses. What provisioning
// depends on (provisioner, parameters, reclaim policy, binding mode) may
// not change.
func StorageClasses() *Resource {
	return stored(storageV1, "storageclasses", "StorageClass", false, func() Object { return &storagev1.StorageClass{} }).
		short("sc").
		defaulted(func(obj Object) {
			c := obj.(*storagev1.StorageClass)
			defaultTo(&c.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)
			defaultTo(&c.VolumeBindingMode, storagev1.VolumeBindingImmediate)
		}).
		validated(func(obj Object) field.ErrorList {
			return stoValidateStorageClass(obj.(*storagev1.StorageClass))
		}, func(obj, old Object) field.ErrorList {
			return stoValidateStorageClassUpdate(obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass))
		})
}

// CSIDrivers is storage.k8s.io/v1 csidrivers. attachRequired and
// volumeLifecycleModes may not change.
func CSIDrivers() *Resource {
	return stored(storageV1, "csidrivers", "CSIDriver", false, func() Object { return &storagev1.CSIDriver{} }).
		defaulted(func(obj Object) { stoDefaultCSIDriver(&obj.(*storagev1.CSIDriver).Spec) }).
		validated(func(obj Object) field.ErrorList {
			return stoValidateCSIDriverSpec(&obj.(*storagev1.CSIDriver).Spec, field.NewPath("spec"))
		}, func(obj, old Object) field.ErrorList {
			n, o := &obj.(*storagev1.CSIDriver).Spec, &old.(*storagev1.CSIDriver).Spec
			errs := immutable(n.AttachRequired, o.AttachRequired, field.NewPath("spec", "attachedRequired"))
			return append(errs, immutable(n.VolumeLifecycleModes, o.VolumeLifecycleModes, field.NewPath("spec", "volumeLifecycleModes"))...)
		})
}

// CSINodes is storage.k8s.io/v1 csinodes; kubelets write their own. An
// empty drivers list is stored as none, as kube-apiserver's protobuf
// storage does.
func CSINodes() *Resource {
	noEmptyDrivers := func(obj Object) {
		if s := &obj.(*storagev1.CSINode).Spec; len(s.Drivers) == 0 {
			s.Drivers = nil
		}
	}
	return stored(storageV1, "csinodes", "CSINode", false, func() Object { return &storagev1.CSINode{} }).withStatus().
		prepared(noEmptyDrivers, func(obj, _ Object) { noEmptyDrivers(obj) }).
		validated(func(obj Object) field.ErrorList {
			return stoValidateCSINodeDrivers(obj.(*storagev1.CSINode).Spec.Drivers, field.NewPath("spec", "drivers"))
		}, func(obj, old Object) field.ErrorList {
			return stoValidateCSINodeUpdate(obj.(*storagev1.CSINode), old.(*storagev1.CSINode))
		})
}

// CSIStorageCapacities is storage.k8s.io/v1 csistoragecapacities. The
// storage class and node topology may not change.
func CSIStorageCapacities() *Resource {
	return stored(storageV1, "csistoragecapacities", "CSIStorageCapacity", true, func() Object { return &storagev1.CSIStorageCapacity{} }).
		validated(func(obj Object) field.ErrorList {
			return stoValidateCSIStorageCapacity(obj.(*storagev1.CSIStorageCapacity))
		}, func(obj, old Object) field.ErrorList {
			return stoValidateCSIStorageCapacityUpdate(obj.(*storagev1.CSIStorageCapacity), old.(*storagev1.CSIStorageCapacity))
		})
}

// VolumeAttachments is storage.k8s.io/v1 volumeattachments, with status.
// The spec may not change.
func VolumeAttachments() *Resource {
	return stored(storageV1, "volumeattachments", "VolumeAttachment", false, func() Object { return &storagev1.VolumeAttachment{} }).
		withStatus().
		validated(func(obj Object) field.ErrorList {
			return stoValidateVolumeAttachment(obj.(*storagev1.VolumeAttachment))
		}, func(obj, old Object) field.ErrorList {
			return immutable(obj.(*storagev1.VolumeAttachment).Spec, old.(*storagev1.VolumeAttachment).Spec, field.NewPath("spec"))
		})
}

// VolumeAttributesClasses is storage.k8s.io/v1 volumeattributesclasses:
// a driver and at least one parameter, neither of which may change.
func VolumeAttributesClasses() *Resource {
	return stored(storageV1, "volumeattributesclasses", "VolumeAttributesClass", false, func() Object { return &storagev1.VolumeAttributesClass{} }).
		short("vac").
		validated(func(obj Object) field.ErrorList {
			c := obj.(*storagev1.VolumeAttributesClass)
			errs := stoValidateProvisioner(c.DriverName, field.NewPath("driverName"))
			return append(errs, stoValidateParameters(c.Parameters, false, field.NewPath("parameters"))...)
		}, func(obj, old Object) field.ErrorList {
			return stoValidateVolumeAttributesClassUpdate(obj.(*storagev1.VolumeAttributesClass), old.(*storagev1.VolumeAttributesClass))
		})
}
