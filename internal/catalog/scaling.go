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
			hpaDefaultBehavior(h.Spec.Behavior)
		}).
		validated(func(obj Object) field.ErrorList {
			return hpaSpec(obj.(*autoscalingv2.HorizontalPodAutoscaler), nil)
		}, func(obj, old Object) field.ErrorList {
			return hpaSpec(obj.(*autoscalingv2.HorizontalPodAutoscaler), old.(*autoscalingv2.HorizontalPodAutoscaler))
		})
}

// PodDisruptionBudgets is policy/v1 poddisruptionbudgets, with status.
func PodDisruptionBudgets() *Resource {
	return stored(policyv1.SchemeGroupVersion, "poddisruptionbudgets", "PodDisruptionBudget", true,
		func() Object { return &policyv1.PodDisruptionBudget{} }).
		short("pdb").withStatus().withGeneration().
		validated(func(obj Object) field.ErrorList {
			return pdbSpec(&obj.(*policyv1.PodDisruptionBudget).Spec)
		}, func(obj, old Object) field.ErrorList {
			return pdbSpec(&obj.(*policyv1.PodDisruptionBudget).Spec)
		})
}
