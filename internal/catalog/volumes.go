package catalog

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PersistentVolumeClaims is core/v1 persistentvolumeclaims, with status.
// A new claim is Pending until a volume is bound to it.
func PersistentVolumeClaims() *Resource {
	r := stored(coreV1, "persistentvolumeclaims", "PersistentVolumeClaim", true, func() Object { return &corev1.PersistentVolumeClaim{} }).
		short("pvc").withStatus().
		defaulted(func(obj Object) { defaultClaimSpec(&obj.(*corev1.PersistentVolumeClaim).Spec) }).
		// kube-apiserver defaults the phase as it reads: a claim it
		// stored without one reads as Pending.
		decoded(func(obj Object) {
			if c := obj.(*corev1.PersistentVolumeClaim); c.Status.Phase == "" {
				c.Status.Phase = corev1.ClaimPending
			}
		}).
		validated(func(obj Object) field.ErrorList {
			c := obj.(*corev1.PersistentVolumeClaim)
			return validateClaimSpec(&c.Spec, field.NewPath("spec"))
		}, nil)
	prepare := r.PrepareForCreate
	r.PrepareForCreate = func(ctx context.Context, obj Object) {
		prepare(ctx, obj)
		c := obj.(*corev1.PersistentVolumeClaim)
		c.Status.Phase = corev1.ClaimPending
		normalizeDataSources(&c.Spec)
	}
	prepareUpdate := r.PrepareForUpdate
	r.PrepareForUpdate = func(obj, old Object) {
		prepareUpdate(obj, old)
		c, o := obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim)
		if o.Spec.DataSource == nil && o.Spec.DataSourceRef == nil {
			normalizeDataSources(&c.Spec)
		}
	}
	return r
}

func defaultClaimSpec(s *corev1.PersistentVolumeClaimSpec) {
	defaultTo(&s.VolumeMode, corev1.PersistentVolumeFilesystem)
}

// PersistentVolumes is core/v1 persistentvolumes, with status. A new
// volume is Pending until the binder makes it Available.
func PersistentVolumes() *Resource {
	r := stored(coreV1, "persistentvolumes", "PersistentVolume", false, func() Object { return &corev1.PersistentVolume{} }).
		short("pv").withStatus().
		defaulted(func(obj Object) {
			v := obj.(*corev1.PersistentVolume)
			if v.Spec.PersistentVolumeReclaimPolicy == "" {
				v.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
			}
			defaultTo(&v.Spec.VolumeMode, corev1.PersistentVolumeFilesystem)
			if v.Spec.HostPath != nil {
				defaultTo(&v.Spec.HostPath.Type, corev1.HostPathUnset)
			}
		}).
		validated(func(obj Object) field.ErrorList {
			return validatePersistentVolumeSpec(&obj.(*corev1.PersistentVolume).Spec)
		}, nil)
	prepare := r.PrepareForCreate
	r.PrepareForCreate = func(ctx context.Context, obj Object) {
		prepare(ctx, obj)
		now := metav1.Now().Rfc3339Copy()
		obj.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
	}
	return r
}

// PodTemplates is core/v1 podtemplates.
func PodTemplates() *Resource {
	return stored(coreV1, "podtemplates", "PodTemplate", true, func() Object { return &corev1.PodTemplate{} }).
		withGeneration().
		defaulted(func(obj Object) { defaultPodSpec(&obj.(*corev1.PodTemplate).Template.Spec) }).
		validated(func(obj Object) field.ErrorList {
			t := &obj.(*corev1.PodTemplate).Template
			return append(validateTemplateMeta(&t.ObjectMeta, field.NewPath("template", "metadata")), validatePodSpec(&t.Spec, field.NewPath("template", "spec"))...)
		}, nil)
}

// ReplicationControllers is core/v1 replicationcontrollers, with status
// and scale. Without a selector, the template's labels are the selector,
// and the controller's own labels.
func ReplicationControllers() *Resource {
	return stored(coreV1, "replicationcontrollers", "ReplicationController", true, func() Object { return &corev1.ReplicationController{} }).
		short("rc").inAll().withStatus().withGeneration().orphanByDefault().
		withScale(func(obj Object) (**int32, string, int32) {
			rc := obj.(*corev1.ReplicationController)
			return &rc.Spec.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String(), rc.Status.Replicas
		}).
		defaulted(func(obj Object) {
			rc := obj.(*corev1.ReplicationController)
			defaultTo(&rc.Spec.Replicas, 1)
			if t := rc.Spec.Template; t != nil {
				if len(rc.Spec.Selector) == 0 {
					rc.Spec.Selector = t.Labels
				}
				if len(rc.Labels) == 0 {
					rc.Labels = t.Labels
				}
				defaultPodSpec(&t.Spec)
			}
		}).
		validated(func(obj Object) field.ErrorList {
			rc := obj.(*corev1.ReplicationController)
			spec := field.NewPath("spec")
			errs := validateReplicas(rc.Spec.Replicas, spec.Child("replicas"))
			if len(rc.Spec.Selector) == 0 {
				errs = append(errs, field.Required(spec.Child("selector"), ""))
			}
			if rc.Spec.Template == nil {
				return append(errs, field.Required(spec.Child("template"), ""))
			}
			for k, v := range rc.Spec.Selector {
				if rc.Spec.Template.Labels[k] != v {
					errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), rc.Spec.Template.Labels, "`selector` does not match template `labels`"))
					break
				}
			}
			if rp := rc.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyAlways {
				errs = append(errs, field.NotSupported(spec.Child("template", "spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
			}
			errs = append(errs, validateTemplateMeta(&rc.Spec.Template.ObjectMeta, spec.Child("template", "metadata"))...)
			return append(errs, validatePodSpec(&rc.Spec.Template.Spec, spec.Child("template", "spec"))...)
		}, nil).
		withFields(func(obj Object) map[string]string {
			return map[string]string{"status.replicas": strconv.Itoa(int(obj.(*corev1.ReplicationController).Status.Replicas))}
		}, "status.replicas")
}
