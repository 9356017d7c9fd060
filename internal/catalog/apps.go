package catalog

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var appsV1 = appsv1.SchemeGroupVersion

func ptrTo[T any](v T) *T { return &v }

// defaultTo sets *p to v when it is nil.
func defaultTo[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}

// Deployments is apps/v1 deployments, with status and scale.
func Deployments() *Resource {
	return stored(appsV1, "deployments", "Deployment", true, func() Object { return &appsv1.Deployment{} }).
		short("deploy").inAll().withStatus().withGeneration().
		withScale(replicasOf[*appsv1.Deployment](func(d *appsv1.Deployment) (**int32, *metav1.LabelSelector, int32) {
			return &d.Spec.Replicas, d.Spec.Selector, d.Status.Replicas
		})).
		defaulted(func(obj Object) {
			d := obj.(*appsv1.Deployment)
			defaultTo(&d.Spec.Replicas, 1)
			if d.Spec.Strategy.Type == "" {
				d.Spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
			}
			if d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
				if d.Spec.Strategy.RollingUpdate == nil {
					d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
				}
				defaultTo(&d.Spec.Strategy.RollingUpdate.MaxUnavailable, intstr.FromString("25%"))
				defaultTo(&d.Spec.Strategy.RollingUpdate.MaxSurge, intstr.FromString("25%"))
			}
			defaultTo(&d.Spec.RevisionHistoryLimit, 10)
			defaultTo(&d.Spec.ProgressDeadlineSeconds, 600)
			defaultPodSpec(&d.Spec.Template.Spec)
		}).
		validated(func(obj Object) field.ErrorList {
			d := obj.(*appsv1.Deployment)
			spec := field.NewPath("spec")
			errs := validateReplicas(d.Spec.Replicas, spec.Child("replicas"))
			errs = append(errs, validateTemplateSelector(d.Spec.Selector, &d.Spec.Template, spec, "deployment")...)
			errs = append(errs, appsWorkloadTemplate(&d.Spec.Template.Spec, spec.Child("template", "spec"), "ReplicaSet")...)
			return append(errs, appsDeploymentSpec(&d.Spec, spec)...)
		}, func(obj, old Object) field.ErrorList {
			d := obj.(*appsv1.Deployment)
			spec := field.NewPath("spec")
			errs := immutableSelector(d.Spec.Selector, old.(*appsv1.Deployment).Spec.Selector)
			errs = append(errs, appsWorkloadTemplate(&d.Spec.Template.Spec, spec.Child("template", "spec"), "ReplicaSet")...)
			return append(errs, appsDeploymentSpec(&d.Spec, spec)...)
		})
}

// ReplicaSets is apps/v1 replicasets, with status and scale.
func ReplicaSets() *Resource {
	return stored(appsV1, "replicasets", "ReplicaSet", true, func() Object { return &appsv1.ReplicaSet{} }).
		short("rs").inAll().withStatus().withGeneration().
		withScale(replicasOf[*appsv1.ReplicaSet](func(r *appsv1.ReplicaSet) (**int32, *metav1.LabelSelector, int32) {
			return &r.Spec.Replicas, r.Spec.Selector, r.Status.Replicas
		})).
		defaulted(func(obj Object) {
			r := obj.(*appsv1.ReplicaSet)
			defaultTo(&r.Spec.Replicas, 1)
			defaultPodSpec(&r.Spec.Template.Spec)
		}).
		validated(func(obj Object) field.ErrorList {
			r := obj.(*appsv1.ReplicaSet)
			spec := field.NewPath("spec")
			errs := validateReplicas(r.Spec.Replicas, spec.Child("replicas"))
			errs = append(errs, appsReplicaSetSpec(&r.Spec, spec)...)
			return append(errs, validateTemplateSelector(r.Spec.Selector, &r.Spec.Template, spec, "deployment")...)
		}, func(obj, old Object) field.ErrorList {
			r := obj.(*appsv1.ReplicaSet)
			errs := immutableSelector(r.Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector)
			return append(errs, appsReplicaSetSpec(&r.Spec, field.NewPath("spec"))...)
		})
}

// claimTemplatesKind gives a StatefulSet's claim templates their kind and
// apiVersion, as kube-apiserver's defaulting does.
func claimTemplatesKind(s *appsv1.StatefulSet) {
	for i := range s.Spec.VolumeClaimTemplates {
		t := &s.Spec.VolumeClaimTemplates[i]
		t.APIVersion, t.Kind = "v1", "PersistentVolumeClaim"
	}
}

// StatefulSets is apps/v1 statefulsets, with status and scale.
func StatefulSets() *Resource {
	return stored(appsV1, "statefulsets", "StatefulSet", true, func() Object { return &appsv1.StatefulSet{} }).
		short("sts").inAll().withStatus().withGeneration().
		withScale(replicasOf[*appsv1.StatefulSet](func(s *appsv1.StatefulSet) (**int32, *metav1.LabelSelector, int32) {
			return &s.Spec.Replicas, s.Spec.Selector, s.Status.Replicas
		})).
		defaulted(func(obj Object) {
			s := obj.(*appsv1.StatefulSet)
			defaultTo(&s.Spec.Replicas, 1)
			if s.Spec.PodManagementPolicy == "" {
				s.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
			}
			if s.Spec.UpdateStrategy.Type == "" {
				s.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
			}
			if s.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType {
				if s.Spec.UpdateStrategy.RollingUpdate == nil {
					s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
				}
				defaultTo(&s.Spec.UpdateStrategy.RollingUpdate.Partition, 0)
				// MaxUnavailableStatefulSet is on by default in 1.37.
				defaultTo(&s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(1))
			}
			defaultTo(&s.Spec.RevisionHistoryLimit, 10)
			defaultTo(&s.Spec.PersistentVolumeClaimRetentionPolicy, appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{})
			if p := s.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
				p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
			}
			if p := s.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
				p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
			}
			claimTemplatesKind(s)
			for i := range s.Spec.VolumeClaimTemplates {
				t := &s.Spec.VolumeClaimTemplates[i]
				defaultClaimSpec(&t.Spec)
				zeroTo(&t.Status.Phase, corev1.ClaimPending)
			}
			defaultPodSpec(&s.Spec.Template.Spec)
		}).
		decoded(func(obj Object) { claimTemplatesKind(obj.(*appsv1.StatefulSet)) }).
		validated(func(obj Object) field.ErrorList {
			s := obj.(*appsv1.StatefulSet)
			spec := field.NewPath("spec")
			errs := validateReplicas(s.Spec.Replicas, spec.Child("replicas"))
			errs = append(errs, appsStatefulSetSpec(&s.Spec, spec)...)
			errs = append(errs, validateTemplateSelector(s.Spec.Selector, appsStatefulSetPodTemplate(&s.Spec), spec, "statefulset")...)
			return append(errs, appsWorkloadTemplate(&s.Spec.Template.Spec, spec.Child("template", "spec"), "StatefulSet")...)
		}, func(obj, old Object) field.ErrorList {
			s := obj.(*appsv1.StatefulSet)
			spec := field.NewPath("spec")
			errs := immutableSelector(s.Spec.Selector, old.(*appsv1.StatefulSet).Spec.Selector)
			errs = append(errs, appsStatefulSetSpec(&s.Spec, spec)...)
			return append(errs, appsWorkloadTemplate(&s.Spec.Template.Spec, spec.Child("template", "spec"), "StatefulSet")...)
		})
}

// daemonSetTemplateGeneration records the generation of a DaemonSet's
// current template.
const daemonSetTemplateGeneration = "deprecated.daemonset.template.generation"

// withAnnotation returns annotations with key set to value.
func withAnnotation(annotations map[string]string, key, value string) map[string]string {
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[key] = value
	return annotations
}

// DaemonSets is apps/v1 daemonsets, with status.
func DaemonSets() *Resource {
	return stored(appsV1, "daemonsets", "DaemonSet", true, func() Object { return &appsv1.DaemonSet{} }).
		short("ds").inAll().withStatus().withGeneration().
		defaulted(func(obj Object) {
			d := obj.(*appsv1.DaemonSet)
			if d.Spec.UpdateStrategy.Type == "" {
				d.Spec.UpdateStrategy.Type = appsv1.RollingUpdateDaemonSetStrategyType
			}
			if d.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
				if d.Spec.UpdateStrategy.RollingUpdate == nil {
					d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
				}
				defaultTo(&d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(1))
				defaultTo(&d.Spec.UpdateStrategy.RollingUpdate.MaxSurge, intstr.FromInt32(0))
			}
			defaultTo(&d.Spec.RevisionHistoryLimit, 10)
			defaultPodSpec(&d.Spec.Template.Spec)
			// kube-apiserver decodes the annotation into a field and
			// writes it back, "0" when absent, before its strategy sets
			// the real generation: the writer owns it.
			if _, ok := d.Annotations[daemonSetTemplateGeneration]; !ok {
				d.Annotations = withAnnotation(d.Annotations, daemonSetTemplateGeneration, "0")
			}
		}).
		prepared(func(obj Object) {
			// The generation whose template the pods run, for clients
			// older than ControllerRevisions.
			obj.SetAnnotations(withAnnotation(obj.GetAnnotations(), daemonSetTemplateGeneration, "1"))
		}, func(obj, old Object) {
			n, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			gen := o.Annotations[daemonSetTemplateGeneration]
			if !apiequality.Semantic.DeepEqual(n.Spec.Template, o.Spec.Template) {
				gen = strconv.FormatInt(o.Generation+1, 10)
			}
			if gen != "" {
				n.Annotations = withAnnotation(n.Annotations, daemonSetTemplateGeneration, gen)
			}
		}).
		validated(func(obj Object) field.ErrorList {
			d := obj.(*appsv1.DaemonSet)
			spec := field.NewPath("spec")
			errs := validateTemplateSelector(d.Spec.Selector, &d.Spec.Template, spec, "daemonset")
			errs = append(errs, appsWorkloadTemplate(&d.Spec.Template.Spec, spec.Child("template", "spec"), "DaemonSet")...)
			return append(errs, appsDaemonSetSpec(&d.Spec, spec)...)
		}, func(obj, old Object) field.ErrorList {
			d := obj.(*appsv1.DaemonSet)
			spec := field.NewPath("spec")
			errs := immutableSelector(d.Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector)
			errs = append(errs, appsWorkloadTemplate(&d.Spec.Template.Spec, spec.Child("template", "spec"), "DaemonSet")...)
			return append(errs, appsDaemonSetSpec(&d.Spec, spec)...)
		})
}

// ControllerRevisions is apps/v1 controllerrevisions.
func ControllerRevisions() *Resource {
	return stored(appsV1, "controllerrevisions", "ControllerRevision", true, func() Object { return &appsv1.ControllerRevision{} }).
		validated(func(obj Object) field.ErrorList {
			return appsControllerRevision(obj.(*appsv1.ControllerRevision), true)
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
			errs := appsControllerRevision(n, false)
			if !apiequality.Semantic.DeepEqual(n.Data, o.Data) {
				errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable"))
			}
			return errs
		})
}

func validateReplicas(n *int32, p *field.Path) field.ErrorList {
	if n != nil && *n < 0 {
		return field.ErrorList{field.Invalid(p, *n, "must be greater than or equal to 0")}
	}
	return nil
}

// validateTemplateSelector requires a non-empty selector that the
// template's labels match, and a valid template; what names the
// workload in the message about an empty selector.
func validateTemplateSelector(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, spec *field.Path, what string) field.ErrorList {
	var errs field.ErrorList
	switch {
	case sel == nil:
		errs = append(errs, field.Required(spec.Child("selector"), ""))
	case len(sel.MatchLabels)+len(sel.MatchExpressions) == 0:
		errs = append(errs, field.Invalid(spec.Child("selector"), sel, "empty selector is invalid for "+what))
	default:
		errs = append(errs, validateLabelSelector(sel, spec.Child("selector"))...)
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && !s.Matches(labels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
	}
	return append(errs, validatePodSpec(&t.Spec, spec.Child("template", "spec"))...)
}

func immutableSelector(sel, old *metav1.LabelSelector) field.ErrorList {
	if !apiequality.Semantic.DeepEqual(sel, old) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), sel, "field is immutable")}
	}
	return nil
}

// replicasOf adapts a workload's replica fields to the scale subresource:
// where spec.replicas lives, its selector and status.replicas.
func replicasOf[T Object](fields func(T) (**int32, *metav1.LabelSelector, int32)) func(Object) (**int32, string, int32) {
	return func(obj Object) (**int32, string, int32) {
		replicas, sel, status := fields(obj.(T))
		selector := ""
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && sel != nil {
			selector = s.String()
		}
		return replicas, selector, status
	}
}

// withScale adds the scale subresource: an autoscaling/v1 Scale view of
// spec.replicas, status.replicas and the selector. Writing it changes
// spec.replicas only.
func (r *Resource) withScale(fields func(Object) (**int32, string, int32)) *Resource {
	r.Subresources = append(r.Subresources, &Subresource{
		Name:             "scale",
		New:              func() Object { return &autoscalingv1.Scale{} },
		GroupVersionKind: autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
		View: func(obj Object) Object {
			replicas, selector, status := fields(obj)
			s := &autoscalingv1.Scale{
				TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
				ObjectMeta: metav1.ObjectMeta{Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: obj.GetUID(),
					ResourceVersion: obj.GetResourceVersion(), CreationTimestamp: obj.GetCreationTimestamp()},
				Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
			}
			if *replicas != nil {
				s.Spec.Replicas = **replicas
			}
			return s
		},
		Apply: func(obj, old Object) Object {
			out := old.DeepCopyObject().(Object)
			replicas, _, _ := fields(out)
			*replicas = ptrTo(obj.(*autoscalingv1.Scale).Spec.Replicas)
			return out
		},
		Validate: func(obj, old Object) field.ErrorList {
			replicas, _, _ := fields(obj)
			return validateReplicas(*replicas, field.NewPath("spec", "replicas"))
		},
		Verbs: []string{"get", "patch", "update"},
	})
	return r
}
