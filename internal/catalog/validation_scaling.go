package catalog

import (
	"errors"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bounds of an HPA's scaling behavior, in seconds.
const (
	hpaMaxPeriodSeconds        int32 = 1800
	hpaMaxStabilizationSeconds int32 = 3600
)

// Values an HPA's behavior may name, sorted as kube-apiserver lists them.
var (
	hpaSelectPolicies = []string{"Disabled", "Max", "Min"}
	hpaPolicyTypes    = []string{"Percent", "Pods"}
	hpaMetricTypes    = []string{"ContainerResource", "External", "Object", "Pods", "Resource"}
)

// hpaDefaultBehavior fills the unset parts of both scaling rules once an
// HPA gives a behavior: scale up by 4 pods or 100% every 15s, scale down
// by 100% every 15s, the larger change winning, scale up without a
// stabilization window.
func hpaDefaultBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior) {
	if b == nil {
		return
	}
	if b.ScaleUp == nil {
		b.ScaleUp = &autoscalingv2.HPAScalingRules{}
	}
	defaultTo(&b.ScaleUp.StabilizationWindowSeconds, 0)
	defaultTo(&b.ScaleUp.SelectPolicy, autoscalingv2.MaxChangePolicySelect)
	if b.ScaleUp.Policies == nil {
		b.ScaleUp.Policies = []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		}
	}
	if b.ScaleDown == nil {
		b.ScaleDown = &autoscalingv2.HPAScalingRules{}
	}
	// The scale-down window stays unset: the controller's flag decides it.
	defaultTo(&b.ScaleDown.SelectPolicy, autoscalingv2.MaxChangePolicySelect)
	if b.ScaleDown.Policies == nil {
		b.ScaleDown.Policies = []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		}
	}
}

// hpaSpec checks an HPA's spec; old is the stored HPA on an update, nil
// on a create.
func hpaSpec(h, old *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	s, p := &h.Spec, field.NewPath("spec")
	var errs field.ErrorList
	// HPAScaleToZero is on by default in 1.37: minReplicas may be 0.
	if s.MinReplicas != nil && *s.MinReplicas < 0 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 0"))
	}
	switch {
	case s.MaxReplicas == 0:
		errs = append(errs, field.Required(p.Child("maxReplicas"), "must be set and greater than 0"))
	case s.MaxReplicas < 0:
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to 1"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	// An update that keeps the target's kind and apiVersion is not held
	// to the apiVersion rule; a ReplicationController is in the core group.
	ref := s.ScaleTargetRef
	keptTarget := old != nil && old.Spec.ScaleTargetRef.APIVersion == ref.APIVersion && old.Spec.ScaleTargetRef.Kind == ref.Kind
	errs = append(errs, hpaObjectReference(ref, p.Child("scaleTargetRef"), !keptTarget, ref.Kind == "ReplicationController")...)
	errs = append(errs, hpaMetrics(s.Metrics, p.Child("metrics"), s.MinReplicas, old)...)
	if b := s.Behavior; b != nil {
		errs = append(errs, hpaScalingRules(b.ScaleUp, p.Child("behavior", "scaleUp"))...)
		errs = append(errs, hpaScalingRules(b.ScaleDown, p.Child("behavior", "scaleDown"))...)
	}
	return errs
}

// hpaObjectReference checks a reference to a scale target or a described
// object; checkVersion says whether its apiVersion must parse, emptyGroup
// whether it may name the core group.
func hpaObjectReference(ref autoscalingv2.CrossVersionObjectReference, p *field.Path, checkVersion, emptyGroup bool) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"kind", ref.Kind}, {"name", ref.Name}} {
		if f.value == "" {
			errs = append(errs, field.Required(p.Child(f.name), ""))
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	if checkVersion {
		if err := hpaAPIVersion(ref.APIVersion, emptyGroup); err != nil {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), ref.APIVersion, err.Error()))
		}
	}
	return errs
}

func hpaAPIVersion(apiVersion string, emptyGroup bool) error {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return err
	}
	if !emptyGroup && gv.Group == "" {
		return errors.New("apiVersion must specify API group")
	}
	return nil
}

// hpaMetrics checks each metric; scaling to zero needs an Object or
// External metric, something that is there without pods.
func hpaMetrics(metrics []autoscalingv2.MetricSpec, p *field.Path, minReplicas *int32, old *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	checkVersion := true
	if old != nil {
		for _, m := range old.Spec.Metrics {
			if m.Type == autoscalingv2.ObjectMetricSourceType && m.Object != nil && hpaAPIVersion(m.Object.DescribedObject.APIVersion, true) != nil {
				checkVersion = false // already invalid
				break
			}
		}
	}
	var errs field.ErrorList
	outsidePods := false
	for i, m := range metrics {
		errs = append(errs, hpaMetric(m, p.Index(i), checkVersion)...)
		outsidePods = outsidePods || m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType
	}
	if minReplicas != nil && *minReplicas == 0 && !outsidePods {
		errs = append(errs, field.Forbidden(p, "must specify at least one Object or External metric to support scaling to zero replicas"))
	}
	return errs
}

// hpaMetric checks one metric: a known type whose source, and only that
// source, is given.
func hpaMetric(m autoscalingv2.MetricSpec, p *field.Path, checkVersion bool) field.ErrorList {
	var errs field.ErrorList
	if m.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	}
	if !batchOneOf(string(m.Type), hpaMetricTypes) {
		errs = append(errs, field.NotSupported(p.Child("type"), m.Type, hpaMetricTypes))
	}
	var present []string
	if m.Object != nil {
		if present = append(present, "object"); len(present) == 1 {
			errs = append(errs, hpaObjectSource(m.Object, p.Child("object"), checkVersion)...)
		}
	}
	if m.External != nil {
		if present = append(present, "external"); len(present) == 1 {
			errs = append(errs, hpaExternalSource(m.External, p.Child("external"))...)
		}
	}
	if m.Pods != nil {
		if present = append(present, "pods"); len(present) == 1 {
			errs = append(errs, hpaPodsSource(m.Pods, p.Child("pods"))...)
		}
	}
	if m.Resource != nil {
		if present = append(present, "resource"); len(present) == 1 {
			errs = append(errs, hpaResourceSource(string(m.Resource.Name), "", m.Resource.Target, p.Child("resource"), false)...)
		}
	}
	if c := m.ContainerResource; c != nil {
		if present = append(present, "containerResource"); len(present) == 1 {
			errs = append(errs, hpaResourceSource(string(c.Name), c.Container, c.Target, p.Child("containerResource"), true)...)
		}
	}
	expected := map[autoscalingv2.MetricSourceType]string{
		autoscalingv2.ObjectMetricSourceType: "object", autoscalingv2.PodsMetricSourceType: "pods",
		autoscalingv2.ResourceMetricSourceType: "resource", autoscalingv2.ExternalMetricSourceType: "external",
		autoscalingv2.ContainerResourceMetricSourceType: "containerResource",
	}[m.Type]
	if expected == "" {
		errs = append(errs, field.NotSupported(p.Child("type"), m.Type, hpaMetricTypes))
	} else if !batchOneOf(expected, present) {
		errs = append(errs, field.Required(p.Child(expected), "must populate information for the given metric source"))
	}
	if len(present) != 1 {
		for _, f := range present {
			if f != expected {
				errs = append(errs, field.Forbidden(p.Child(f), "must populate the given metric source only"))
			}
		}
	}
	return errs
}

func hpaObjectSource(s *autoscalingv2.ObjectMetricSource, p *field.Path, checkVersion bool) field.ErrorList {
	errs := hpaObjectReference(s.DescribedObject, p.Child("describedObject"), checkVersion, true)
	errs = append(errs, hpaMetricIdentifier(s.Metric, p.Child("metric"))...)
	errs = append(errs, hpaMetricTarget(s.Target, p.Child("target"))...)
	if s.Target.Value == nil && s.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must set either a target value or averageValue"))
	}
	return errs
}

func hpaExternalSource(s *autoscalingv2.ExternalMetricSource, p *field.Path) field.ErrorList {
	errs := hpaMetricIdentifier(s.Metric, p.Child("metric"))
	errs = append(errs, hpaMetricTarget(s.Target, p.Child("target"))...)
	if s.Target.Value == nil && s.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must set either a target value for metric or a per-pod target"))
	}
	if s.Target.Value != nil && s.Target.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "value"), "may not set both a target value for metric and a per-pod target"))
	}
	return errs
}

func hpaPodsSource(s *autoscalingv2.PodsMetricSource, p *field.Path) field.ErrorList {
	errs := hpaMetricIdentifier(s.Metric, p.Child("metric"))
	errs = append(errs, hpaMetricTarget(s.Target, p.Child("target"))...)
	if s.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must specify a positive target averageValue"))
	}
	return errs
}

// hpaResourceSource checks a resource metric, of the pods or, when
// perContainer is set, of one container of theirs.
func hpaResourceSource(name, container string, t autoscalingv2.MetricTarget, p *field.Path, perContainer bool) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	if perContainer {
		if container == "" {
			errs = append(errs, field.Required(p.Child("container"), "must specify a container"))
		} else {
			errs = append(errs, validateDNSLabel(container, p.Child("container"))...)
		}
	}
	errs = append(errs, hpaMetricTarget(t, p.Child("target"))...)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func hpaMetricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	}
	switch t.Type {
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	default:
		errs = append(errs, field.Invalid(p.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("averageValue"), t.AverageValue, "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func hpaMetricIdentifier(id autoscalingv2.MetricIdentifier, p *field.Path) field.ErrorList {
	if id.Name == "" {
		return field.ErrorList{field.Required(p.Child("name"), "must specify a metric name")}
	}
	var errs field.ErrorList
	for _, msg := range content.IsPathSegmentName(id.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), id.Name, msg))
	}
	return errs
}

// hpaScalingRules checks one direction of an HPA's behavior: a window
// within an hour, a known selectPolicy and at least one valid policy.
func hpaScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && *w < 0 {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
	} else if w != nil && *w > hpaMaxStabilizationSeconds {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %v", hpaMaxStabilizationSeconds)))
	}
	if sp := r.SelectPolicy; sp != nil && !batchOneOf(string(*sp), hpaSelectPolicies) {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *sp, hpaSelectPolicies))
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		errs = append(errs, hpaScalingPolicy(pol, p.Child("policies").Index(i))...)
	}
	if r.Tolerance != nil {
		errs = append(errs, validateNonNegativeQuantity(*r.Tolerance, p.Child("tolerance"))...)
	}
	return errs
}

func hpaScalingPolicy(pol autoscalingv2.HPAScalingPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !batchOneOf(string(pol.Type), hpaPolicyTypes) {
		errs = append(errs, field.NotSupported(p.Child("type"), pol.Type, hpaPolicyTypes))
	}
	if pol.Value <= 0 {
		errs = append(errs, field.Invalid(p.Child("value"), pol.Value, "must be greater than zero"))
	}
	if pol.PeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
	}
	if pol.PeriodSeconds > hpaMaxPeriodSeconds {
		errs = append(errs, field.Invalid(p.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %v", hpaMaxPeriodSeconds)))
	}
	return errs
}

// pdbSpec checks a PodDisruptionBudget's spec: one of minAvailable and
// maxUnavailable, each a count or a percentage up to 100%.
func pdbSpec(s *policyv1.PodDisruptionBudgetSpec) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(p, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := s.MinAvailable; v != nil {
		errs = append(errs, appsIntOrPercent(*v, p.Child("minAvailable"))...)
		errs = append(errs, appsAtMost100Percent(*v, p.Child("minAvailable"))...)
	}
	if v := s.MaxUnavailable; v != nil {
		errs = append(errs, appsIntOrPercent(*v, p.Child("maxUnavailable"))...)
		errs = append(errs, appsAtMost100Percent(*v, p.Child("maxUnavailable"))...)
	}
	if s.Selector != nil {
		errs = append(errs, validateLabelSelector(s.Selector, p.Child("selector"))...)
	}
	if u := s.UnhealthyPodEvictionPolicy; u != nil {
		errs = append(errs, validateEnum(string(*u), []string{"AlwaysAllow", "IfHealthyBudget"}, p.Child("unhealthyPodEvictionPolicy"))...)
	}
	return errs
}
