package catalog

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// workloadCase is an object, as YAML, and the errors its create reports:
// each want is a substring of one error, in order; none means valid.
type workloadCase struct {
	what string
	doc  string
	want []string
}

// workloadObject decodes doc as r's object and applies r's defaults and
// create preparation, as a create does before validation.
func workloadObject(t *testing.T, r *Resource, doc string) Object {
	t.Helper()
	obj := r.New()
	if err := yaml.Unmarshal([]byte(doc), obj); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	obj.SetNamespace("default")
	obj.SetUID("6b9d1c7e-0000-4000-8000-000000000001")
	if r.Default != nil {
		r.Default(obj)
	}
	if r.PrepareForCreate != nil {
		r.PrepareForCreate(context.Background(), obj)
	}
	return obj
}

func runWorkloadCases(t *testing.T, r *Resource, cases []workloadCase) {
	t.Helper()
	for _, c := range cases {
		obj := workloadObject(t, r, c.doc)
		errs := append(r.ValidateMeta(obj), r.Validate(obj)...)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s %s: got errors\n%s\nwant %q", r.Kind, c.what, strings.Join(got, "\n"), c.want)
		}
	}
}

// checkDefaultsIdempotent applies r's defaults a second time to doc.
func checkDefaultsIdempotent(t *testing.T, r *Resource, doc string) Object {
	t.Helper()
	once := workloadObject(t, r, doc)
	twice := once.DeepCopyObject().(Object)
	r.Default(twice)
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("%s: defaults not idempotent:\n%#v\n%#v", r.Kind, once, twice)
	}
	return once
}

const appsTemplate = `template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: busybox}]}}`

func TestDeploymentRules(t *testing.T) {
	spec := func(s string) string {
		return `{metadata: {name: d}, spec: {selector: {matchLabels: {app: a}}, ` + s + appsTemplate + `}}`
	}
	runWorkloadCases(t, Deployments(), []workloadCase{
		{"defaults", spec(""), nil},
		{"both zero", spec(`strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}, `),
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"}},
		{"over 100%", spec(`strategy: {rollingUpdate: {maxUnavailable: 150%}}, `),
			[]string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`}},
		{"bad percent", spec(`strategy: {rollingUpdate: {maxSurge: "x"}}, `),
			[]string{`spec.strategy.rollingUpdate.maxSurge: Invalid value: "x": a valid percent string`}},
		{"negative surge", spec(`strategy: {rollingUpdate: {maxSurge: -1}}, `),
			[]string{"spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"}},
		{"deadline below minReady", spec(`progressDeadlineSeconds: 5, minReadySeconds: 10, `),
			[]string{"spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"}},
		{"negative history", spec(`revisionHistoryLimit: -1, `),
			[]string{"spec.revisionHistoryLimit: Invalid value: -1"}},
		{"bad strategy", spec(`strategy: {type: BlueGreen}, `), []string{"spec.strategy: Unsupported value"}},
		{"recreate with rolling", spec(`strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}, `),
			[]string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"restart never", `{metadata: {name: d}, spec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: a}}, spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}`,
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"deadline", `{metadata: {name: d}, spec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: a}}, spec: {activeDeadlineSeconds: 5, containers: [{name: c, image: busybox}]}}}}`,
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"}},
	})
}

func TestReplicaSetRules(t *testing.T) {
	runWorkloadCases(t, ReplicaSets(), []workloadCase{
		{"valid", `{metadata: {name: r}, spec: {selector: {matchLabels: {app: a}}, ` + appsTemplate + `}}`, nil},
		{"negative minReady", `{metadata: {name: r}, spec: {minReadySeconds: -1, selector: {matchLabels: {app: a}}, ` + appsTemplate + `}}`,
			[]string{"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"}},
		{"empty selector", `{metadata: {name: r}, spec: {selector: {}, ` + appsTemplate + `}}`,
			[]string{"empty selector is invalid for deployment"}},
	})
}

func TestStatefulSetRules(t *testing.T) {
	spec := func(s string) string {
		return `{metadata: {name: s}, spec: {selector: {matchLabels: {app: a}}, ` + s + appsTemplate + `}}`
	}
	runWorkloadCases(t, StatefulSets(), []workloadCase{
		{"defaults", spec(""), nil},
		{"full", spec(`serviceName: s, ordinals: {start: 5}, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1, maxUnavailable: 2}},
			persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain},
			volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}], `), nil},
		{"OnDelete with partition", spec(`updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}, `),
			[]string{"only allowed for updateStrategy 'RollingUpdate'"}},
		{"negative ordinal", spec(`ordinals: {start: -1}, `), []string{"spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0"}},
		{"bad retention", spec(`persistentVolumeClaimRetentionPolicy: {whenDeleted: Keep}, `),
			[]string{`spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"`}},
		{"claim without size", spec(`volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce]}}], `),
			[]string{"spec.volumeClaimTemplates[0].spec.resources[storage]: Required value"}},
		{"zero maxUnavailable", spec(`updateStrategy: {rollingUpdate: {maxUnavailable: 0}}, `),
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"}},
		{"bad policy", spec(`podManagementPolicy: Random, `),
			[]string{`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`}},
	})
}

func TestDaemonSetRules(t *testing.T) {
	spec := func(s string) string {
		return `{metadata: {name: d}, spec: {selector: {matchLabels: {app: a}}, ` + s + appsTemplate + `}}`
	}
	runWorkloadCases(t, DaemonSets(), []workloadCase{
		{"defaults", spec(""), nil},
		{"surge only", spec(`updateStrategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 10%}}, `), nil},
		{"both zero", spec(`updateStrategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 0}}, `),
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"}},
		{"both set", spec(`updateStrategy: {rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}, `),
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"}},
		{"negative minReady", spec(`minReadySeconds: -2, `), []string{"spec.minReadySeconds: Invalid value: -2"}},
		{"restart OnFailure", `{metadata: {name: d}, spec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: a}}, spec: {restartPolicy: OnFailure, containers: [{name: c, image: busybox}]}}}}`,
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure"`}},
	})
}

func TestControllerRevisionRules(t *testing.T) {
	runWorkloadCases(t, ControllerRevisions(), []workloadCase{
		{"valid", `{metadata: {name: c}, revision: 1, data: {a: b}}`, nil},
		{"no data", `{metadata: {name: c}, revision: 3}`, []string{"data: Required value: data is mandatory"}},
		{"array data", `{metadata: {name: c}, revision: 3, data: [1]}`, []string{"data: Required value: data must be a valid JSON object"}},
		{"negative revision", `{metadata: {name: c}, revision: -1, data: {a: b}}`, []string{"revision: Invalid value: -1: must be greater than or equal to 0"}},
	})
}
