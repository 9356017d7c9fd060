package catalog

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var storageV1 = storagev1.SchemeGroupVersion

// StorageClasses is storage.k8s.io/v1 storageclasses.
func StorageClasses() *Resource {
	return stored(storageV1, "storageclasses", "StorageClass", false, func() Object { return &storagev1.StorageClass{} }).
		short("sc").
		defaulted(func(obj Object) {
			c := obj.(*storagev1.StorageClass)
			defaultTo(&c.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)
			defaultTo(&c.VolumeBindingMode, storagev1.VolumeBindingImmediate)
		}).
		validated(func(obj Object) field.ErrorList {
			c := obj.(*storagev1.StorageClass)
			if c.Provisioner == "" {
				return field.ErrorList{field.Required(field.NewPath("provisioner"), "")}
			}
			return nil
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
			if n.Provisioner != o.Provisioner {
				return field.ErrorList{field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden.")}
			}
			return nil
		})
}

// CSIDrivers is storage.k8s.io/v1 csidrivers.
func CSIDrivers() *Resource {
	return stored(storageV1, "csidrivers", "CSIDriver", false, func() Object { return &storagev1.CSIDriver{} }).
		defaulted(func(obj Object) {
			s := &obj.(*storagev1.CSIDriver).Spec
			defaultTo(&s.AttachRequired, true)
			defaultTo(&s.PodInfoOnMount, false)
			defaultTo(&s.StorageCapacity, false)
			defaultTo(&s.RequiresRepublish, false)
			defaultTo(&s.SELinuxMount, false)
			defaultTo(&s.FSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
			if len(s.VolumeLifecycleModes) == 0 {
				s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
			}
		})
}

// CSINodes is storage.k8s.io/v1 csinodes; kubelets write their own.
func CSINodes() *Resource {
	return stored(storageV1, "csinodes", "CSINode", false, func() Object { return &storagev1.CSINode{} }).withStatus()
}

// CSIStorageCapacities is storage.k8s.io/v1 csistoragecapacities.
func CSIStorageCapacities() *Resource {
	return stored(storageV1, "csistoragecapacities", "CSIStorageCapacity", true, func() Object { return &storagev1.CSIStorageCapacity{} })
}

// VolumeAttachments is storage.k8s.io/v1 volumeattachments, with status.
func VolumeAttachments() *Resource {
	return stored(storageV1, "volumeattachments", "VolumeAttachment", false, func() Object { return &storagev1.VolumeAttachment{} }).
		withStatus().
		validated(func(obj Object) field.ErrorList {
			v := obj.(*storagev1.VolumeAttachment)
			var errs field.ErrorList
			if v.Spec.Attacher == "" {
				errs = append(errs, field.Required(field.NewPath("spec", "attacher"), ""))
			}
			if v.Spec.NodeName == "" {
				errs = append(errs, field.Required(field.NewPath("spec", "nodeName"), ""))
			}
			return errs
		}, nil)
}

// VolumeAttributesClasses is storage.k8s.io/v1 volumeattributesclasses.
func VolumeAttributesClasses() *Resource {
	return stored(storageV1, "volumeattributesclasses", "VolumeAttributesClass", false, func() Object { return &storagev1.VolumeAttributesClass{} }).
		short("vac").
		validated(func(obj Object) field.ErrorList {
			if obj.(*storagev1.VolumeAttributesClass).DriverName == "" {
				return field.ErrorList{field.Required(field.NewPath("driverName"), "")}
			}
			return nil
		}, nil)
}
