package catalog

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // CronJob time zones must not depend on the host's zoneinfo

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of a Job's spec, as kube-apiserver sets them.
const (
	batchMaxParallelismIndexed = 100000
	batchMaxFailedIndexes      = 100_000
	batchMaxFailurePolicyRules = 20
	batchMaxExitCodeValues     = 255
	batchMaxConditionPatterns  = 20
	batchMaxManagedByLength    = 63
	batchMaxSuccessPolicyRules = 20
)

// Values a pod failure policy may name, sorted as kube-apiserver lists them.
var (
	batchFailurePolicyActions   = []string{"Count", "FailIndex", "FailJob", "Ignore"}
	batchExitCodeOperators      = []string{"In", "NotIn"}
	batchConditionStatuses      = []string{"False", "True", "Unknown"}
	batchPodReplacementPolicies = []string{"Failed", "TerminatingOrFailed"}
)

// batchDefaultJobLabels gives a Job without labels its pods' labels, as
// kube-apiserver does while decoding (so the writer owns them).
func batchDefaultJobLabels(j *batchv1.Job) {
	if j.Spec.Template.Labels != nil && len(j.Labels) == 0 {
		j.Labels = maps.Clone(j.Spec.Template.Labels)
	}
}

// batchDefaultPodFailurePolicy makes a condition pattern without a status
// match the condition being True.
func batchDefaultPodFailurePolicy(p *batchv1.PodFailurePolicy) {
	if p == nil {
		return
	}
	for i := range p.Rules {
		for j := range p.Rules[i].OnPodConditions {
			zeroTo(&p.Rules[i].OnPodConditions[j].Status, corev1.ConditionTrue)
		}
	}
}

// batchJobCreate checks a new Job: its generated selector, its spec and
// that its indexed pods can be named.
func batchJobCreate(j *batchv1.Job) field.ErrorList {
	errs := batchGeneratedSelector(j)
	errs = append(errs, batchJobSpec(&j.Spec, field.NewPath("spec"))...)
	s := &j.Spec
	if s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion && s.Completions != nil && *s.Completions > 0 {
		host := fmt.Sprintf("%s-%d", j.Name, *s.Completions-1)
		if len(validation.IsDNS1123Label(host)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name, "will not able to create pod with invalid DNS label: "+host))
		}
	}
	return errs
}

// batchGeneratedSelector requires, unless spec.manualSelector is true,
// the selector and template labels the job strategy generates.
func batchGeneratedSelector(j *batchv1.Job) field.ErrorList {
	if (j.Spec.ManualSelector != nil && *j.Spec.ManualSelector) || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	meta := field.NewPath("spec", "template", "metadata")
	expected := map[string]string{
		legacyControllerUID: string(j.UID), legacyJobName: j.Name,
		labelJobControllerUID: string(j.UID), labelJobName: j.Name,
	}
	for _, k := range []string{legacyControllerUID, legacyJobName, labelJobControllerUID, labelJobName} {
		errs = append(errs, batchHasLabel(j.Spec.Template.Labels, meta, k, expected[k])...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(labels.Set(expected)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

func batchHasLabel(l map[string]string, meta *field.Path, key, want string) field.ErrorList {
	got, ok := l[key]
	switch {
	case !ok:
		return field.ErrorList{field.Required(meta.Child("labels").Key(key), "must be '"+want+"'")}
	case got != want:
		return field.ErrorList{field.Invalid(meta.Child("labels").Key(key), l, "must be '"+want+"'")}
	}
	return nil
}

// batchJobSpec checks a Job's spec with its selector: a Job's own.
func batchJobSpec(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := batchJobTemplateSpec(s, p)
	if s.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, validateLabelSelector(s.Selector, p.Child("selector"))...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// batchJobTemplateSpec checks a Job's spec without its selector, as a
// Job's and a CronJob's job template share.
func batchJobTemplateSpec(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{
		{"parallelism", s.Parallelism}, {"completions", s.Completions}, {"backoffLimit", s.BackoffLimit},
		{"ttlSecondsAfterFinished", s.TTLSecondsAfterFinished}, {"backoffLimitPerIndex", s.BackoffLimitPerIndex},
		{"maxFailedIndexes", s.MaxFailedIndexes},
	} {
		if f.v != nil {
			errs = append(errs, appsNonNegative(int64(*f.v), p.Child(f.name))...)
		}
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, appsNonNegative(*s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	if s.MaxFailedIndexes != nil && s.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	if m := s.ManagedBy; m != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(p.Child("managedBy"), *m)...)
		if len(*m) > batchMaxManagedByLength {
			errs = append(errs, field.TooLong(p.Child("managedBy"), "", batchMaxManagedByLength))
		}
	}
	errs = append(errs, batchCompletionMode(s, p)...)
	if s.PodFailurePolicy != nil {
		errs = append(errs, batchPodFailurePolicy(s, p.Child("podFailurePolicy"))...)
	}
	if s.SuccessPolicy != nil {
		errs = append(errs, batchSuccessPolicy(s, p.Child("successPolicy"))...)
	}
	errs = append(errs, batchPodReplacementPolicy(s, p.Child("podReplacementPolicy"))...)
	errs = append(errs, validatePodSpec(&s.Template.Spec, p.Child("template", "spec"))...)
	return append(errs, batchRestartPolicy(s, p.Child("template", "spec", "restartPolicy"))...)
}

// batchCompletionMode checks the completion mode and what goes with it:
// per-index limits only for Indexed Jobs, bounds for Indexed ones.
func batchCompletionMode(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if m := s.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && !indexed {
		errs = append(errs, field.NotSupported(p.Child("completionMode"), *m, []string{"NonIndexed", "Indexed"}))
	}
	if indexed {
		if s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
		}
		if s.Parallelism != nil && *s.Parallelism > batchMaxParallelismIndexed {
			errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", batchMaxParallelismIndexed)))
		}
		if s.Completions != nil && s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > *s.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
		}
		if s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > batchMaxFailedIndexes {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", batchMaxFailedIndexes)))
		}
		return errs
	}
	if s.CompletionMode == nil || *s.CompletionMode == batchv1.NonIndexedCompletion {
		if s.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if s.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	return errs
}

// batchRestartPolicy requires pods that do not restart always, and that
// never restart when a pod failure policy judges their failures.
func batchRestartPolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		return field.ErrorList{field.Required(p, `valid values: "OnFailure", "Never"`)}
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		return field.ErrorList{field.NotSupported(p, rp, []string{"OnFailure", "Never"})}
	case s.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		return field.ErrorList{field.Invalid(p, rp, `only "Never" is supported when podFailurePolicy is specified`)}
	}
	return nil
}

func batchPodReplacementPolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	r := s.PodReplacementPolicy
	switch {
	case r == nil:
	case s.PodFailurePolicy != nil:
		if *r != batchv1.Failed {
			return field.ErrorList{field.NotSupported(p, *r, []string{"Failed"})}
		}
	case *r != batchv1.Failed && *r != batchv1.TerminatingOrFailed:
		return field.ErrorList{field.NotSupported(p, *r, batchPodReplacementPolicies)}
	}
	return nil
}

// batchQuoted lists values as Go would print a []string with %q.
func batchQuoted(values []string) string {
	return fmt.Sprintf("%q", values)
}

// batchPodFailurePolicy checks the rules of a pod failure policy.
func batchPodFailurePolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := p.Child("rules")
	if n := len(s.PodFailurePolicy.Rules); n > batchMaxFailurePolicyRules {
		errs = append(errs, field.TooMany(rules, n, batchMaxFailurePolicyRules))
	}
	containers := map[string]bool{}
	for _, c := range s.Template.Spec.Containers {
		containers[c.Name] = true
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers[c.Name] = true
	}
	for i := range s.PodFailurePolicy.Rules {
		errs = append(errs, batchPodFailurePolicyRule(s, &s.PodFailurePolicy.Rules[i], rules.Index(i), containers)...)
	}
	return errs
}

func batchPodFailurePolicyRule(s *batchv1.JobSpec, r *batchv1.PodFailurePolicyRule, p *field.Path, containers map[string]bool) field.ErrorList {
	var errs field.ErrorList
	action := p.Child("action")
	switch {
	case r.Action == "":
		errs = append(errs, field.Required(action, "valid values: "+batchQuoted(batchFailurePolicyActions)))
	case r.Action == batchv1.PodFailurePolicyActionFailIndex:
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(action, r.Action, "requires the backoffLimitPerIndex to be set"))
		}
	case !batchOneOf(string(r.Action), batchFailurePolicyActions):
		errs = append(errs, field.NotSupported(action, r.Action, batchFailurePolicyActions))
	}
	if r.OnExitCodes != nil {
		errs = append(errs, batchOnExitCodes(r.OnExitCodes, p.Child("onExitCodes"), containers)...)
	}
	if len(r.OnPodConditions) > 0 {
		errs = append(errs, batchOnPodConditions(r.OnPodConditions, p.Child("onPodConditions"))...)
	}
	switch {
	case r.OnExitCodes != nil && len(r.OnPodConditions) > 0:
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
	case r.OnExitCodes == nil && len(r.OnPodConditions) == 0:
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
	}
	return errs
}

func batchOneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func batchOnPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(patterns) > batchMaxConditionPatterns {
		errs = append(errs, field.TooMany(p, len(patterns), batchMaxConditionPatterns))
	}
	for i, pat := range patterns {
		pp := p.Index(i)
		errs = append(errs, validateQualifiedName(string(pat.Type), pp.Child("type"))...)
		switch {
		case pat.Status == "":
			errs = append(errs, field.Required(pp.Child("status"), "valid values: "+batchQuoted(batchConditionStatuses)))
		case !batchOneOf(string(pat.Status), batchConditionStatuses):
			errs = append(errs, field.NotSupported(pp.Child("status"), pat.Status, batchConditionStatuses))
		}
	}
	return errs
}

// batchOnExitCodes checks an exit code requirement: a known operator and
// container, and distinct, ordered values, none 0 for In.
func batchOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, p *field.Path, containers map[string]bool) field.ErrorList {
	var errs field.ErrorList
	switch {
	case r.Operator == "":
		errs = append(errs, field.Required(p.Child("operator"), "valid values: "+batchQuoted(batchExitCodeOperators)))
	case !batchOneOf(string(r.Operator), batchExitCodeOperators):
		errs = append(errs, field.NotSupported(p.Child("operator"), r.Operator, batchExitCodeOperators))
	}
	if r.ContainerName != nil && !containers[*r.ContainerName] {
		errs = append(errs, field.Invalid(p.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	values := p.Child("values")
	switch n := len(r.Values); {
	case n == 0:
		errs = append(errs, field.Invalid(values, r.Values, "at least one value is required"))
	case n > batchMaxExitCodeValues:
		errs = append(errs, field.TooMany(values, n, batchMaxExitCodeValues))
	}
	seen, ordered := map[int32]bool{}, true
	for i, v := range r.Values {
		if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(values.Index(i), v, "must not be 0 for the In operator"))
		}
		if seen[v] {
			errs = append(errs, field.Duplicate(values.Index(i), v))
		}
		seen[v] = true
		if i > 0 && r.Values[i-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, field.Invalid(values, r.Values, "must be ordered"))
	}
	return errs
}

// batchSuccessPolicy checks a success policy: only for Indexed Jobs, with
// between one and twenty rules, each saying what counts.
func batchSuccessPolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		return field.ErrorList{field.Invalid(p, *s.SuccessPolicy, "requires indexed completion mode")}
	}
	var errs field.ErrorList
	rules := p.Child("rules")
	switch n := len(s.SuccessPolicy.Rules); {
	case n == 0:
		errs = append(errs, field.Required(rules, "at least one rules must be specified when the successPolicy is specified"))
	case n > batchMaxSuccessPolicyRules:
		errs = append(errs, field.TooMany(rules, n, batchMaxSuccessPolicyRules))
	}
	for i, r := range s.SuccessPolicy.Rules {
		rp := rules.Index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			errs = append(errs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		if c := r.SucceededCount; c != nil {
			errs = append(errs, appsNonNegative(int64(*c), rp.Child("succeededCount"))...)
			if s.Completions != nil && *c > *s.Completions {
				errs = append(errs, field.Invalid(rp.Child("succeededCount"), *c, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", *s.Completions)))
			}
		}
	}
	return errs
}

// batchCronJobSpec checks a CronJob's spec besides its schedule and
// concurrency policy: time zone, deadlines, history limits and the job
// template, whose selector is always generated.
func batchCronJobSpec(s *batchv1.CronJobSpec, p *field.Path, checkTimeZone bool) field.ErrorList {
	var errs field.ErrorList
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, appsNonNegative(*s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	if checkTimeZone {
		errs = append(errs, batchTimeZone(s.TimeZone, p.Child("timeZone"))...)
	}
	js, jp := &s.JobTemplate.Spec, p.Child("jobTemplate", "spec")
	errs = append(errs, batchJobTemplateSpec(js, jp)...)
	if js.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("selector"), js.Selector, "`selector` will be auto-generated"))
	}
	if js.ManualSelector != nil && *js.ManualSelector {
		errs = append(errs, field.NotSupported(jp.Child("manualSelector"), js.ManualSelector, []string{"nil", "false"}))
	}
	if n := s.SuccessfulJobsHistoryLimit; n != nil {
		errs = append(errs, appsNonNegative(int64(*n), p.Child("successfulJobsHistoryLimit"))...)
	}
	if n := s.FailedJobsHistoryLimit; n != nil {
		errs = append(errs, appsNonNegative(int64(*n), p.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

// batchTimeZoneComponent is what one part of an IANA zone name may be.
var batchTimeZoneComponent = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

// batchTimeZone requires a time zone the IANA database knows, by an
// explicit name.
func batchTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !batchTimeZoneComponent.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, "unknown time zone "+*tz)}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}

// batchCronJob checks a CronJob's spec; old is the stored CronJob on an
// update, nil on a create. An update may keep a TZ in a schedule that
// had one, and an unchanged time zone is not checked again.
func batchCronJob(c, old *batchv1.CronJob) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	allowTZ := old != nil && strings.Contains(old.Spec.Schedule, "TZ")
	switch schedule := c.Spec.Schedule; {
	case schedule == "":
		errs = append(errs, field.Required(spec.Child("schedule"), ""))
	default:
		if err := checkCronSchedule(schedule); err != nil {
			errs = append(errs, field.Invalid(spec.Child("schedule"), schedule, err.Error()))
		}
		switch hasTZ := strings.Contains(schedule, "TZ"); {
		case allowTZ && hasTZ && c.Spec.TimeZone != nil:
			errs = append(errs, field.Invalid(spec.Child("schedule"), schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ && hasTZ:
			errs = append(errs, field.Invalid(spec.Child("schedule"), schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	errs = append(errs, validateEnum(string(c.Spec.ConcurrencyPolicy), []string{"Allow", "Forbid", "Replace"}, spec.Child("concurrencyPolicy"))...)
	checkTZ := old == nil || !batchSameString(old.Spec.TimeZone, c.Spec.TimeZone)
	return append(errs, batchCronJobSpec(&c.Spec, spec, checkTZ)...)
}

func batchSameString(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
