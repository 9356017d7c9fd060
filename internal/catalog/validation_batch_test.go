package catalog

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestJobRules(t *testing.T) {
	job := func(spec string) string {
		return `{metadata: {name: j}, spec: {` + spec + `template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}`
	}
	runWorkloadCases(t, Jobs(), []workloadCase{
		{"defaults", job(""), nil},
		{"manual selector", `{metadata: {name: j}, spec: {manualSelector: true, selector: {matchLabels: {job: m}},
			template: {metadata: {labels: {job: m}}, spec: {restartPolicy: OnFailure, containers: [{name: c, image: busybox}]}}}}`, nil},
		{"selector without manualSelector", `{metadata: {name: j}, spec: {selector: {matchLabels: {job: x}},
			template: {metadata: {labels: {job: x}}, spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}`,
			[]string{"spec.selector: Invalid value: {\"matchLabels\":{\"job\":\"x\"}}: `selector` not auto-generated"}},
		{"failure policy with OnFailure", `{metadata: {name: j}, spec: {podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [1]}}]},
			template: {spec: {restartPolicy: OnFailure, containers: [{name: c, image: busybox}]}}}}`,
			[]string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"restart Always", `{metadata: {name: j}, spec: {template: {spec: {restartPolicy: Always, containers: [{name: c, image: busybox}]}}}}`,
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"per-index not Indexed", job(`backoffLimitPerIndex: 1, `),
			[]string{"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"}},
		{"maxFailedIndexes alone", job(`completionMode: Indexed, completions: 2, maxFailedIndexes: 1, `),
			[]string{"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified"}},
		{"managedBy not a domain", job(`managedBy: "not a domain", `), []string{"spec.managedBy: Invalid value: \"not a domain\""}},
		{"managedBy", job(`managedBy: example.com/queue, `), nil},
		{"zero exit code with In", job(`podFailurePolicy: {rules: [{action: Ignore, onExitCodes: {operator: In, values: [0]}}]}, `),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"}},
		{"unordered exit codes", job(`podFailurePolicy: {rules: [{action: Ignore, onExitCodes: {operator: NotIn, values: [2, 1, 1]}}]}, `),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 1", "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [2,1,1]: must be ordered"}},
		{"unknown container", job(`podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {containerName: x, operator: In, values: [1]}}]}, `),
			[]string{"spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"x\""}},
		{"rule without a requirement", job(`podFailurePolicy: {rules: [{action: Count}]}, `),
			[]string{"spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"}},
		{"FailIndex without per-index limit", job(`podFailurePolicy: {rules: [{action: FailIndex, onPodConditions: [{type: DisruptionTarget}]}]}, `),
			[]string{"spec.podFailurePolicy.rules[0].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set"}},
		{"success policy not Indexed", job(`successPolicy: {rules: [{succeededCount: 1}]}, `),
			[]string{"requires indexed completion mode"}},
		{"negative ttl", job(`ttlSecondsAfterFinished: -1, `), []string{"spec.ttlSecondsAfterFinished: Invalid value: -1"}},
	})
}

// A condition pattern without a status matches True, in Jobs and in
// CronJobs' job templates; a Job without labels takes its pods'.
func TestJobDefaults(t *testing.T) {
	j := checkDefaultsIdempotent(t, Jobs(), `{metadata: {name: j}, spec: {manualSelector: true, selector: {matchLabels: {job: m}},
		podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}, {type: X, status: "False"}]}]},
		template: {metadata: {labels: {job: m}}, spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}`).(*batchv1.Job)
	if got := j.Spec.PodFailurePolicy.Rules[0].OnPodConditions; got[0].Status != corev1.ConditionTrue || got[1].Status != corev1.ConditionFalse {
		t.Errorf("condition statuses: %+v", got)
	}
	if j.Labels["job"] != "m" {
		t.Errorf("labels: %v", j.Labels)
	}
	c := checkDefaultsIdempotent(t, CronJobs(), `{metadata: {name: c}, spec: {schedule: "@hourly", jobTemplate: {spec: {
		podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]},
		template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}}`).(*batchv1.CronJob)
	if got := c.Spec.JobTemplate.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status; got != corev1.ConditionTrue {
		t.Errorf("cronjob condition status: %q", got)
	}
}

func TestCronJobRules(t *testing.T) {
	cj := func(spec string) string {
		return `{metadata: {name: c}, spec: {schedule: "0 0 * * *", ` + spec +
			`jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}}`
	}
	runWorkloadCases(t, CronJobs(), []workloadCase{
		{"defaults", cj(""), nil},
		{"time zone", cj(`timeZone: Europe/Berlin, `), nil},
		{"unknown time zone", cj(`timeZone: Mars/Olympus, `), []string{`spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"bad time zone characters", cj(`timeZone: "a b", `), []string{`spec.timeZone: Invalid value: "a b": unknown time zone a b`}},
		{"local time zone", cj(`timeZone: Local, `), []string{"timeZone must be an explicit time zone"}},
		{"negative history", cj(`successfulJobsHistoryLimit: -1, `), []string{"spec.successfulJobsHistoryLimit: Invalid value: -1"}},
		{"negative deadline", cj(`startingDeadlineSeconds: -1, `), []string{"spec.startingDeadlineSeconds: Invalid value: -1"}},
		{"TZ in schedule", `{metadata: {name: c}, spec: {schedule: "TZ=UTC 0 0 * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}}`,
			[]string{"cannot use TZ or CRON_TZ in schedule, use timeZone field instead"}},
		{"template selector", `{metadata: {name: c}, spec: {schedule: "0 0 * * *", jobTemplate: {spec: {selector: {matchLabels: {a: b}}, template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}}`,
			[]string{"`selector` will be auto-generated"}},
	})
	// An update keeps a time zone it had without checking it again.
	r := CronJobs()
	old := workloadObject(t, r, cj(`timeZone: Mars/Olympus, `))
	n := old.DeepCopyObject().(Object)
	if errs := r.ValidateUpdate(n, old); len(errs) != 0 {
		t.Errorf("unchanged time zone refused: %v", errs)
	}
}
