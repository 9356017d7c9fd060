package catalog

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

func TestHorizontalPodAutoscalerRules(t *testing.T) {
	hpa := func(spec string) string {
		return `{metadata: {name: h}, spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 3, ` + spec + `}}`
	}
	runWorkloadCases(t, HorizontalPodAutoscalers(), []workloadCase{
		{"defaults", hpa(""), nil},
		{"all metrics", hpa(`metrics: [
			{type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: "10"}}},
			{type: Object, object: {describedObject: {apiVersion: v1, kind: Service, name: s}, metric: {name: r}, target: {type: Value, value: 2k}}},
			{type: External, external: {metric: {name: q}, target: {type: AverageValue, averageValue: 30}}},
			{type: ContainerResource, containerResource: {name: memory, container: app, target: {type: AverageValue, averageValue: 500Mi}}}]`), nil},
		{"no api version", `{metadata: {name: h}, spec: {scaleTargetRef: {kind: Deployment, name: web}, maxReplicas: 2}}`,
			[]string{`spec.scaleTargetRef.apiVersion: Invalid value: "": apiVersion must specify API group`}},
		{"replication controller", `{metadata: {name: h}, spec: {scaleTargetRef: {apiVersion: v1, kind: ReplicationController, name: web}, maxReplicas: 2}}`, nil},
		{"utilization without a value", hpa(`metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization}}}]`),
			[]string{"spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"}},
		{"two sources", hpa(`metrics: [{type: Pods, pods: {metric: {name: q}, target: {type: AverageValue, averageValue: 1}}, resource: {name: cpu, target: {type: Utilization, averageUtilization: 5}}}]`),
			[]string{"spec.metrics[0].resource: Forbidden: must populate the given metric source only"}},
		{"bad policy", hpa(`behavior: {scaleDown: {selectPolicy: Middle, policies: [{type: Percent, value: 0, periodSeconds: 4000}]}}`),
			[]string{`spec.behavior.scaleDown.selectPolicy: Unsupported value: "Middle": supported values: "Disabled", "Max", "Min"`,
				"spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero",
				"spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value: 4000: must be less than or equal to 1800"}},
		{"long window", hpa(`behavior: {scaleUp: {stabilizationWindowSeconds: 4000}}`),
			[]string{"spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600"}},
		{"zero max", `{metadata: {name: h}, spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}}}`,
			[]string{"spec.maxReplicas: Required value: must be set and greater than 0", "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"}},
		{"zero min without an outside metric", hpa(`minReplicas: 0`),
			[]string{"spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas"}},
	})
	// An update that keeps the target is not held to the apiVersion rule.
	r := HorizontalPodAutoscalers()
	old := workloadObject(t, r, `{metadata: {name: h}, spec: {scaleTargetRef: {kind: Deployment, name: web}, maxReplicas: 2}}`)
	n := old.DeepCopyObject().(*autoscalingv2.HorizontalPodAutoscaler)
	n.Spec.MaxReplicas = 4
	if errs := r.ValidateUpdate(n, old); len(errs) != 0 {
		t.Errorf("update keeping the target refused: %v", errs)
	}
}

// A behavior, once given, has both directions filled as Kubernetes does.
func TestHorizontalPodAutoscalerBehaviorDefaults(t *testing.T) {
	h := checkDefaultsIdempotent(t, HorizontalPodAutoscalers(), `{metadata: {name: h}, spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web},
		maxReplicas: 4, behavior: {scaleUp: {stabilizationWindowSeconds: 30}}}}`).(*autoscalingv2.HorizontalPodAutoscaler)
	up, down := h.Spec.Behavior.ScaleUp, h.Spec.Behavior.ScaleDown
	if *up.StabilizationWindowSeconds != 30 || *up.SelectPolicy != autoscalingv2.MaxChangePolicySelect || len(up.Policies) != 2 {
		t.Errorf("scaleUp: %+v", up)
	}
	if down == nil || down.StabilizationWindowSeconds != nil || *down.SelectPolicy != autoscalingv2.MaxChangePolicySelect ||
		len(down.Policies) != 1 || down.Policies[0].Value != 100 || down.Policies[0].PeriodSeconds != 15 {
		t.Errorf("scaleDown: %+v", down)
	}
	plain := checkDefaultsIdempotent(t, HorizontalPodAutoscalers(), `{metadata: {name: h}, spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 4}}`)
	if b := plain.(*autoscalingv2.HorizontalPodAutoscaler).Spec.Behavior; b != nil {
		t.Errorf("behavior defaulted without one: %+v", b)
	}
}

func TestPodDisruptionBudgetRules(t *testing.T) {
	runWorkloadCases(t, PodDisruptionBudgets(), []workloadCase{
		{"percent", `{metadata: {name: p}, spec: {maxUnavailable: 25%, selector: {matchLabels: {app: web}}}}`, nil},
		{"negative", `{metadata: {name: p}, spec: {minAvailable: -1}}`, []string{"spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"}},
		{"over 100%", `{metadata: {name: p}, spec: {maxUnavailable: 101%}}`, []string{`spec.maxUnavailable: Invalid value: "101%": must not be greater than 100%`}},
		{"bad string", `{metadata: {name: p}, spec: {minAvailable: three}}`, []string{`spec.minAvailable: Invalid value: "three": a valid percent string must be`}},
		{"both", `{metadata: {name: p}, spec: {minAvailable: 1, maxUnavailable: 1}}`, []string{"minAvailable and maxUnavailable cannot be both set"}},
	})
}
