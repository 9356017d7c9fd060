package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// appsNonNegative refuses a negative count, as kube-apiserver words it.
func appsNonNegative(v int64, p *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(p, v, "must be greater than or equal to 0")}
	}
	return nil
}

// appsIntOrPercent requires a non-negative integer or a percent string
// such as "25%".
func appsIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
		return errs
	case intstr.Int:
		return appsNonNegative(int64(v.IntValue()), p)
	}
	return field.ErrorList{field.Invalid(p, v, "must be an integer or percentage (e.g '5%%')")}
}

// appsPercent returns the number of a valid percent string.
func appsPercent(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) > 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

// appsIntOrPercentValue is the number an int or percent carries, 0 when
// it carries none.
func appsIntOrPercentValue(v intstr.IntOrString) int {
	if n, ok := appsPercent(v); ok {
		return n
	}
	return v.IntValue()
}

// appsAtMost100Percent refuses a percentage over 100%.
func appsAtMost100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, ok := appsPercent(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

// appsWorkloadTemplate checks what a workload's pods must be: pods that
// restart always and run without a deadline. what names the workload
// in messages ("ReplicaSet", "DaemonSet", "StatefulSet").
func appsWorkloadTemplate(s *corev1.PodSpec, p *field.Path, what string) field.ErrorList {
	var errs field.ErrorList
	if s.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), s.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in "+what+" is not Supported"))
	}
	return errs
}

// appsRevisionHistoryLimit refuses a negative history limit; zero keeps none.
func appsRevisionHistoryLimit(n *int32, p *field.Path) field.ErrorList {
	if n == nil {
		return nil
	}
	return appsNonNegative(int64(*n), p)
}

// appsDeploymentSpec checks the parts of a Deployment's spec besides its
// selector and template: strategy, minReadySeconds, history and the
// progress deadline.
func appsDeploymentSpec(s *appsv1.DeploymentSpec, p *field.Path) field.ErrorList {
	errs := appsDeploymentStrategy(&s.Strategy, p.Child("strategy"))
	errs = append(errs, appsNonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, appsRevisionHistoryLimit(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if d := s.ProgressDeadlineSeconds; d != nil {
		dp := p.Child("progressDeadlineSeconds")
		errs = append(errs, appsNonNegative(int64(*d), dp)...)
		if *d <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(dp, *d, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// appsDeploymentStrategy checks a Deployment's strategy: rollingUpdate
// only with RollingUpdate, and a rolling update that can make progress.
func appsDeploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return appsRollingUpdateDeployment(s.RollingUpdate, p.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(p, s, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func appsRollingUpdateDeployment(r *appsv1.RollingUpdateDeployment, p *field.Path) field.ErrorList {
	var unavailable, surge intstr.IntOrString
	if r.MaxUnavailable != nil {
		unavailable = *r.MaxUnavailable
	}
	if r.MaxSurge != nil {
		surge = *r.MaxSurge
	}
	errs := appsIntOrPercent(unavailable, p.Child("maxUnavailable"))
	errs = append(errs, appsIntOrPercent(surge, p.Child("maxSurge"))...)
	if appsIntOrPercentValue(unavailable) == 0 && appsIntOrPercentValue(surge) == 0 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return append(errs, appsAtMost100Percent(unavailable, p.Child("maxUnavailable"))...)
}

// appsStatefulSetSpec checks the parts of a StatefulSet's spec besides
// its selector and template.
func appsStatefulSetSpec(s *appsv1.StatefulSetSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), s.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}
	errs = append(errs, appsStatefulSetStrategy(&s.UpdateStrategy, p.Child("updateStrategy"))...)
	if r := s.PersistentVolumeClaimRetentionPolicy; r != nil {
		rp := p.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, appsRetentionPolicyType(r.WhenDeleted, rp.Child("whenDeleted"))...)
		errs = append(errs, appsRetentionPolicyType(r.WhenScaled, rp.Child("whenScaled"))...)
	}
	for i := range s.VolumeClaimTemplates {
		errs = append(errs, validateClaimSpec(&s.VolumeClaimTemplates[i].Spec, p.Child("volumeClaimTemplates").Index(i).Child("spec"))...)
	}
	errs = append(errs, appsNonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	if s.Ordinals != nil {
		errs = append(errs, appsNonNegative(int64(s.Ordinals.Start), p.Child("ordinals", "start"))...)
	}
	if s.ServiceName != "" {
		errs = append(errs, validateDNSLabel(s.ServiceName, p.Child("serviceName"))...)
	}
	return errs
}

// appsStatefulSetStrategy checks a StatefulSet's updateStrategy:
// rollingUpdate only with RollingUpdate, and within bounds.
func appsStatefulSetStrategy(s *appsv1.StatefulSetUpdateStrategy, p *field.Path) field.ErrorList {
	only := "only allowed for updateStrategy 'RollingUpdate'"
	switch s.Type {
	case "":
		return field.ErrorList{field.Required(p, "")}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Invalid(p.Child("rollingUpdate"), s.RollingUpdate, only)}
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return appsRollingUpdateStatefulSet(s.RollingUpdate, p.Child("rollingUpdate"))
		}
	default:
		return field.ErrorList{field.Invalid(p, s, "must be 'RollingUpdate' or 'OnDelete'")}
	}
	return nil
}

func appsRollingUpdateStatefulSet(r *appsv1.RollingUpdateStatefulSetStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Partition != nil {
		errs = append(errs, appsNonNegative(int64(*r.Partition), p.Child("partition"))...)
	}
	if m := r.MaxUnavailable; m != nil {
		mp := p.Child("maxUnavailable")
		errs = append(errs, appsIntOrPercent(*m, mp)...)
		if appsIntOrPercentValue(*m) == 0 {
			errs = append(errs, field.Invalid(mp, *m, "cannot be 0"))
		}
		errs = append(errs, appsAtMost100Percent(*m, mp)...)
	}
	return errs
}

func appsRetentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, p *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return field.ErrorList{field.NotSupported(p, t, []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)})}
}

// appsDaemonSetSpec checks the parts of a DaemonSet's spec besides its
// selector and template.
func appsDaemonSetSpec(s *appsv1.DaemonSetSpec, p *field.Path) field.ErrorList {
	errs := appsNonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))
	errs = append(errs, appsDaemonSetStrategy(&s.UpdateStrategy, p.Child("updateStrategy"))...)
	return append(errs, appsRevisionHistoryLimit(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
}

func appsDaemonSetStrategy(s *appsv1.DaemonSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "")}
		}
		return appsRollingUpdateDaemonSet(s.RollingUpdate, p.Child("rollingUpdate"))
	}
	return field.ErrorList{field.NotSupported(p, s, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)})}
}

// appsRollingUpdateDaemonSet requires exactly one of maxUnavailable and
// maxSurge to be non-zero, each within bounds.
func appsRollingUpdateDaemonSet(r *appsv1.RollingUpdateDaemonSet, p *field.Path) field.ErrorList {
	var unavailable, surge intstr.IntOrString
	if r.MaxUnavailable != nil {
		unavailable = *r.MaxUnavailable
	}
	if r.MaxSurge != nil {
		surge = *r.MaxSurge
	}
	up, sp := p.Child("maxUnavailable"), p.Child("maxSurge")
	errs := appsIntOrPercent(unavailable, up)
	errs = append(errs, appsIntOrPercent(surge, sp)...)
	errs = append(errs, appsAtMost100Percent(unavailable, up)...)
	errs = append(errs, appsAtMost100Percent(surge, sp)...)
	hasUnavailable, hasSurge := appsIntOrPercentValue(unavailable) != 0, appsIntOrPercentValue(surge) != 0
	switch {
	case hasUnavailable && hasSurge:
		errs = append(errs, field.Invalid(sp, surge, "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		errs = append(errs, field.Required(up, "cannot be 0 when maxSurge is 0"))
	}
	return errs
}

// appsControllerRevision checks a ControllerRevision: a non-negative
// revision and, when create is set, data that is a JSON object.
func appsControllerRevision(c *appsv1.ControllerRevision, create bool) field.ErrorList {
	errs := appsNonNegative(c.Revision, field.NewPath("revision"))
	if !create {
		return errs
	}
	dp := field.NewPath("data")
	var v any
	switch raw := c.Data.Raw; {
	case raw == nil && c.Data.Object == nil:
		errs = append(errs, field.Required(dp, "data is mandatory"))
	case raw == nil:
		// Data set as an object: it is JSON by construction.
	default:
		if err := json.Unmarshal(raw, &v); err != nil {
			errs = append(errs, field.Invalid(dp, "<value omitted>", fmt.Sprintf("error parsing data: %v", err)))
		} else if v == nil {
			errs = append(errs, field.Required(dp, "data is mandatory"))
		} else if _, ok := v.(map[string]any); !ok {
			errs = append(errs, field.Required(dp, "data must be a valid JSON object"))
		}
	}
	return errs
}

// appsReplicaSetSpec checks what a ReplicaSet's spec needs besides its
// replicas, selector and template labels.
func appsReplicaSetSpec(s *appsv1.ReplicaSetSpec, p *field.Path) field.ErrorList {
	errs := appsNonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))
	return append(errs, appsWorkloadTemplate(&s.Template.Spec, p.Child("template", "spec"), "ReplicaSet")...)
}

// appsStatefulSetPodTemplate is the template a StatefulSet's pods are
// validated as: with a volume for each claim template, and without the
// hostname and subdomain the controller sets.
func appsStatefulSetPodTemplate(s *appsv1.StatefulSetSpec) *corev1.PodTemplateSpec {
	t := &s.Template
	if t.Spec.Hostname == "" && t.Spec.Subdomain == "" && len(s.VolumeClaimTemplates) == 0 {
		return t
	}
	t = t.DeepCopy()
	t.Spec.Hostname, t.Spec.Subdomain = "", ""
	claims := map[string]bool{}
	var volumes []corev1.Volume
	for _, c := range s.VolumeClaimTemplates {
		if claims[c.Name] {
			continue
		}
		claims[c.Name] = true
		volumes = append(volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
	}
	for _, v := range t.Spec.Volumes {
		if !claims[v.Name] {
			volumes = append(volumes, v)
		}
	}
	t.Spec.Volumes = volumes
	return t
}
