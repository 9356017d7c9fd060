package catalog

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var batchV1 = batchv1.SchemeGroupVersion

// Labels a Job's generated selector and its pods carry.
const (
	labelJobControllerUID = "batch.kubernetes.io/controller-uid"
	labelJobName          = "batch.kubernetes.io/job-name"
	legacyControllerUID   = "controller-uid"
	legacyJobName         = "job-name"
)

// Jobs is batch/v1 jobs, with status. Unless spec.manualSelector is true,
// the selector is generated from the Job's uid and its template labelled
// to match, as kube-apiserver's job strategy does.
func Jobs() *Resource {
	r := stored(batchV1, "jobs", "Job", true, func() Object { return &batchv1.Job{} }).orphanByDefault().
		inAll().withStatus().withGeneration().
		defaulted(func(obj Object) {
			j := obj.(*batchv1.Job)
			batchDefaultJobLabels(j)
			defaultJobSpec(&j.Spec)
			defaultTo(&j.Spec.ManualSelector, false) // a Job's own default, not its CronJob template's
		}).
		// kube-apiserver defaults the labels from the template as it
		// reads, too: a Job it stored without labels reads with them.
		decoded(func(obj Object) { batchDefaultJobLabels(obj.(*batchv1.Job)) }).
		validated(func(obj Object) field.ErrorList {
			return batchJobCreate(obj.(*batchv1.Job))
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*batchv1.Job), old.(*batchv1.Job)
			errs := batchJobSpec(&n.Spec, field.NewPath("spec"))
			if !apiequality.Semantic.DeepEqual(n.Spec.Selector, o.Spec.Selector) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), n.Spec.Selector, "field is immutable"))
			}
			if !apiequality.Semantic.DeepEqual(n.Spec.Completions, o.Spec.Completions) && n.Spec.CompletionMode != nil && *n.Spec.CompletionMode == batchv1.IndexedCompletion {
				errs = append(errs, field.Invalid(field.NewPath("spec", "completions"), n.Spec.Completions, "field is immutable"))
			}
			if !apiequality.Semantic.DeepEqual(n.Spec.Template.Spec, o.Spec.Template.Spec) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "template"), n.Spec.Template, "field is immutable"))
			}
			return errs
		}).
		withFields(func(obj Object) map[string]string {
			return map[string]string{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		}, "status.successful")
	r.FieldLabelRefusal = func(label string) error { return fmt.Errorf("field label %q not supported for Job", label) }
	prepare := r.PrepareForCreate
	r.PrepareForCreate = func(ctx context.Context, obj Object) {
		prepare(ctx, obj)
		j := obj.(*batchv1.Job)
		generateJobSelector(j)
		// A Job without labels of its own carries its pods' (Kubernetes
		// defaults this on every read; here it is stored).
		if len(j.Labels) == 0 && len(j.Spec.Template.Labels) > 0 {
			j.Labels = maps.Clone(j.Spec.Template.Labels)
		}
	}
	return r
}

func defaultJobSpec(s *batchv1.JobSpec) {
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions, s.Parallelism = ptrTo[int32](1), ptrTo[int32](1)
	}
	defaultTo(&s.Parallelism, 1)
	if s.BackoffLimitPerIndex != nil {
		defaultTo(&s.BackoffLimit, math.MaxInt32)
	}
	defaultTo(&s.BackoffLimit, 6)
	defaultTo(&s.CompletionMode, batchv1.NonIndexedCompletion)
	defaultTo(&s.Suspend, false)
	if s.PodFailurePolicy == nil {
		defaultTo(&s.PodReplacementPolicy, batchv1.TerminatingOrFailed)
	} else {
		defaultTo(&s.PodReplacementPolicy, batchv1.Failed)
	}
	batchDefaultPodFailurePolicy(s.PodFailurePolicy)
	defaultPodSpec(&s.Template.Spec)
}

// generateJobSelector selects the Job's pods by its uid and labels the
// template so, unless the client chose its own selector.
func generateJobSelector(j *batchv1.Job) {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return
	}
	j.Spec.ManualSelector = ptrTo(false)
	uid := string(j.UID)
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range map[string]string{labelJobControllerUID: uid, labelJobName: j.Name, legacyControllerUID: uid, legacyJobName: j.Name} {
		if _, set := j.Spec.Template.Labels[k]; !set {
			j.Spec.Template.Labels[k] = v
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{labelJobControllerUID: uid}}
	}
}

// CronJobs is batch/v1 cronjobs, with status.
func CronJobs() *Resource {
	return stored(batchV1, "cronjobs", "CronJob", true, func() Object { return &batchv1.CronJob{} }).
		short("cj").inAll().withStatus().withGeneration().
		defaulted(func(obj Object) {
			c := obj.(*batchv1.CronJob)
			if c.Spec.ConcurrencyPolicy == "" {
				c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
			}
			defaultTo(&c.Spec.Suspend, false)
			defaultTo(&c.Spec.SuccessfulJobsHistoryLimit, 3)
			defaultTo(&c.Spec.FailedJobsHistoryLimit, 1)
			batchDefaultPodFailurePolicy(c.Spec.JobTemplate.Spec.PodFailurePolicy)
			defaultPodSpec(&c.Spec.JobTemplate.Spec.Template.Spec)
		}).
		validated(func(obj Object) field.ErrorList {
			c := obj.(*batchv1.CronJob)
			errs := batchCronJob(c, nil)
			if len(c.Name) > 52 {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name, "must be no more than 52 characters"))
			}
			return errs
		}, func(obj, old Object) field.ErrorList {
			return batchCronJob(obj.(*batchv1.CronJob), old.(*batchv1.CronJob))
		})
}
