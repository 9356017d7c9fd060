package catalog

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// HorizontalPodAutoscalers is autoscaling/v2 horizontalpodautoscalers,
// with status. Without metrics, one targets 80% CPU utilization.
func HorizontalPodAutoscalers() *Resource {
	return stored(autoscalingv2.SchemeGroupVersion, "horizontalpodautoscalers", "HorizontalPodAutoscaler", true,
		func() Object { return &autoscalingv2.HorizontalPodAutoscaler{} }).
		short("hpa").inAll().withStatus().withGeneration().
		defaulted(func(obj Object) {
			h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			defaultTo(&h.Spec.MinReplicas, 1)
			if len(h.Spec.Metrics) == 0 {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{{
					Type: autoscalingv2.ResourceMetricSourceType,
					Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptrTo[int32](80)}},
				}}
			}
		}).
		validated(func(obj Object) field.ErrorList {
			h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			spec := field.NewPath("spec")
			var errs field.ErrorList
			if h.Spec.MinReplicas != nil && *h.Spec.MinReplicas < 1 {
				errs = append(errs, field.Invalid(spec.Child("minReplicas"), *h.Spec.MinReplicas, "must be greater than or equal to 1"))
			}
			if h.Spec.MaxReplicas < 1 {
				errs = append(errs, field.Invalid(spec.Child("maxReplicas"), h.Spec.MaxReplicas, "must be greater than or equal to 1"))
			}
			if h.Spec.MinReplicas != nil && h.Spec.MaxReplicas < *h.Spec.MinReplicas {
				errs = append(errs, field.Invalid(spec.Child("maxReplicas"), h.Spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
			}
			if h.Spec.ScaleTargetRef.Kind == "" {
				errs = append(errs, field.Required(spec.Child("scaleTargetRef", "kind"), ""))
			}
			if h.Spec.ScaleTargetRef.Name == "" {
				errs = append(errs, field.Required(spec.Child("scaleTargetRef", "name"), ""))
			}
			return errs
		}, nil)
}

// PodDisruptionBudgets is policy/v1 poddisruptionbudgets, with status.
func PodDisruptionBudgets() *Resource {
	return stored(policyv1.SchemeGroupVersion, "poddisruptionbudgets", "PodDisruptionBudget", true,
		func() Object { return &policyv1.PodDisruptionBudget{} }).
		short("pdb").withStatus().withGeneration().
		validated(func(obj Object) field.ErrorList {
			b := obj.(*policyv1.PodDisruptionBudget)
			spec := field.NewPath("spec")
			var errs field.ErrorList
			if b.Spec.MinAvailable != nil && b.Spec.MaxUnavailable != nil {
				errs = append(errs, field.Invalid(spec, b.Spec, "minAvailable and maxUnavailable cannot be both set"))
			}
			if b.Spec.Selector != nil {
				errs = append(errs, validateLabelSelector(b.Spec.Selector, spec.Child("selector"))...)
			}
			if p := b.Spec.UnhealthyPodEvictionPolicy; p != nil {
				errs = append(errs, validateEnum(string(*p), []string{"AlwaysAllow", "IfHealthyBudget"}, spec.Child("unhealthyPodEvictionPolicy"))...)
			}
			return errs
		}, nil)
}
