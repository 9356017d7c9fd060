package catalog

import (
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// admissionCase is an object, as YAML, and the errors its validation
// gives as "Type path" strings, sorted as reported.
type admissionCase struct {
	name string
	yaml string
	want []string
}

// runValidationCases defaults and validates each case's object with r.
func runValidationCases(t *testing.T, r *Resource, cases []admissionCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := r.New()
			if err := yaml.UnmarshalStrict([]byte(c.yaml), obj); err != nil {
				t.Fatal(err)
			}
			if r.Default != nil {
				r.Default(obj)
			}
			var got []string
			for _, e := range r.Validate(obj) {
				got = append(got, string(e.Type)+" "+e.Field)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

const vwcHook = "{name: a.example.com, clientConfig: {service: {namespace: d, name: w}}, sideEffects: None, admissionReviewVersions: [v1]"

func TestValidatingWebhookValidation(t *testing.T) {
	hook := func(extra string) string { return "webhooks: [" + vwcHook + extra + "}]" }
	runValidationCases(t, ValidatingWebhookConfigurations(), []admissionCase{
		{"valid", hook(`, rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods, pods/status]}], matchConditions: [{name: c, expression: "request.userInfo.username != ''"}]`), nil},
		{"unqualified name", `webhooks: [{name: w, clientConfig: {service: {namespace: d, name: w}}, sideEffects: None, admissionReviewVersions: [v1]}]`,
			[]string{"FieldValueInvalid webhooks[0].name"}},
		{"http url", `webhooks: [{name: a.b.c, clientConfig: {url: "http://x/y"}, sideEffects: None, admissionReviewVersions: [v1]}]`,
			[]string{"FieldValueInvalid webhooks[0].clientConfig.url"}},
		{"duplicate names", "webhooks: [" + vwcHook + "}, " + vwcHook + "}]", []string{"FieldValueDuplicate webhooks[1].name"}},
		{"timeout", hook(", timeoutSeconds: 31"), []string{"FieldValueInvalid webhooks[0].timeoutSeconds"}},
		{"review version", `webhooks: [{name: a.b.c, clientConfig: {service: {namespace: d, name: w}}, sideEffects: None, admissionReviewVersions: [v2]}]`,
			[]string{"FieldValueInvalid webhooks[0].admissionReviewVersions"}},
		{"operation", hook(`, rules: [{operations: [READ], apiGroups: [""], apiVersions: [v1], resources: [pods]}]`),
			[]string{"FieldValueNotSupported webhooks[0].rules[0].operations[0]"}},
		{"wildcards", hook(`, rules: [{operations: ["*", CREATE], apiGroups: [], apiVersions: [v1], resources: ["*/*", pods]}]`),
			[]string{"FieldValueInvalid webhooks[0].rules[0].operations", "FieldValueRequired webhooks[0].rules[0].apiGroups", "FieldValueInvalid webhooks[0].rules[0].resources"}},
		{"scope", hook(`, rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: Global}]`),
			[]string{"FieldValueNotSupported webhooks[0].rules[0].scope"}},
		{"match condition syntax", hook(`, matchConditions: [{name: c, expression: "request.nothing +"}]`),
			[]string{"FieldValueInvalid webhooks[0].matchConditions[0].expression"}},
		{"match condition type", hook(`, matchConditions: [{name: c, expression: "'x'"}, {name: c, expression: "params != null"}]`),
			[]string{"FieldValueInvalid webhooks[0].matchConditions[0].expression", "FieldValueInvalid webhooks[0].matchConditions[1].expression", "FieldValueDuplicate webhooks[0].matchConditions[1].name"}},
		{"failure policy", hook(", failurePolicy: Retry"), []string{"FieldValueNotSupported webhooks[0].failurePolicy"}},
	})
}

func TestMutatingWebhookValidation(t *testing.T) {
	hook := func(extra string) string { return "webhooks: [" + vwcHook + extra + "}]" }
	runValidationCases(t, MutatingWebhookConfigurations(), []admissionCase{
		{"valid", hook(", reinvocationPolicy: IfNeeded"), nil},
		{"reinvocation", hook(", reinvocationPolicy: Always"), []string{"FieldValueNotSupported webhooks[0].reinvocationPolicy"}},
		{"port", `webhooks: [{name: a.b.c, clientConfig: {service: {namespace: d, name: w, port: 0}}, sideEffects: None, admissionReviewVersions: [v1]}]`,
			[]string{"FieldValueInvalid webhooks[0].clientConfig.service.port"}},
		{"path", `webhooks: [{name: a.b.c, clientConfig: {service: {namespace: d, name: w, path: "/a//B"}}, sideEffects: None, admissionReviewVersions: [v1]}]`,
			[]string{"FieldValueInvalid webhooks[0].clientConfig.service.path", "FieldValueInvalid webhooks[0].clientConfig.service.path"}},
	})
}

const admissionRules = "matchConstraints: {resourceRules: [{operations: [CREATE], apiGroups: [example.com], apiVersions: [v1], resources: [widgets]}]}"

func TestValidatingAdmissionPolicyValidation(t *testing.T) {
	spec := func(s string) string { return "metadata: {name: p}\nspec: {" + s + "}" }
	runValidationCases(t, ValidatingAdmissionPolicies(), []admissionCase{
		{"valid", spec(admissionRules + `, paramKind: {apiVersion: v1, kind: ConfigMap}, variables: [{name: v, expression: "params.data.x"}],
			validations: [{expression: "object.spec.x == variables.v", messageExpression: "'bad ' + variables.v", reason: Invalid}],
			auditAnnotations: [{key: k, valueExpression: "'v'"}]`), nil},
		{"no validations", spec(admissionRules), []string{"FieldValueRequired spec.validations", "FieldValueRequired spec.auditAnnotations"}},
		{"bad expression", spec(admissionRules + `, validations: [{expression: "object.metadata.name !="}]`),
			[]string{"FieldValueInvalid spec.validations[0].expression"}},
		{"not bool", spec(admissionRules + `, validations: [{expression: "1"}]`), []string{"FieldValueInvalid spec.validations[0].expression"}},
		{"no params", spec(admissionRules + `, validations: [{expression: "params != null"}]`), []string{"FieldValueInvalid spec.validations[0].expression"}},
		{"no match", spec(`validations: [{expression: "true"}]`), []string{"FieldValueRequired spec.matchConstraints"}},
		{"reason", spec(admissionRules + `, validations: [{expression: "true", reason: Teapot}]`), []string{"FieldValueNotSupported spec.validations[0].reason"}},
		{"variable name", spec(admissionRules + `, variables: [{name: "in", expression: "1"}], validations: [{expression: "true"}]`),
			[]string{"FieldValueInvalid spec.variables[0].name"}},
		{"param kind", spec(admissionRules + `, paramKind: {apiVersion: "a/b/c"}, validations: [{expression: "true"}]`),
			[]string{"FieldValueInvalid spec.paramKind.apiVersion", "FieldValueRequired spec.paramKind.kind"}},
	})
}

func TestAdmissionPolicyBindingValidation(t *testing.T) {
	runValidationCases(t, ValidatingAdmissionPolicyBindings(), []admissionCase{
		{"valid", "spec: {policyName: p, validationActions: [Warn, Audit], paramRef: {name: x, parameterNotFoundAction: Deny}}", nil},
		{"selector without action", "spec: {policyName: p, validationActions: [Deny], paramRef: {selector: {matchLabels: {a: b}}}}",
			[]string{"FieldValueRequired spec.paramRef.parameterNotFoundAction"}},
		{"no actions", "spec: {policyName: p}", []string{"FieldValueRequired spec.validationActions"}},
		{"deny and warn", "spec: {policyName: p, validationActions: [Deny, Warn, Deny]}",
			[]string{"FieldValueDuplicate spec.validationActions[2]", "FieldValueInvalid spec.validationActions"}},
		{"name and selector", "spec: {policyName: p, validationActions: [Deny], paramRef: {name: x, selector: {}, parameterNotFoundAction: Allow}}",
			[]string{"FieldValueForbidden spec.paramRef.name", "FieldValueForbidden spec.paramRef.selector"}},
		{"no policy", "spec: {validationActions: [Deny]}", []string{"FieldValueRequired spec.policyName"}},
	})
	runValidationCases(t, MutatingAdmissionPolicyBindings(), []admissionCase{
		{"valid", "spec: {policyName: p, paramRef: {name: p, namespace: d, parameterNotFoundAction: Allow}}", nil},
		{"param action", "spec: {policyName: p, paramRef: {name: p, parameterNotFoundAction: Maybe}}",
			[]string{"FieldValueNotSupported spec.paramRef.parameterNotFoundAction"}},
		{"delete", "spec: {policyName: p, matchResources: {resourceRules: [{operations: [DELETE], apiGroups: [a], apiVersions: [v1], resources: [b]}]}}",
			[]string{"FieldValueNotSupported spec.matchResources.resourceRules.operations"}},
	})
}

func TestMutatingAdmissionPolicyValidation(t *testing.T) {
	spec := func(s string) string { return "spec: {" + admissionRules + ", " + s + "}" }
	runValidationCases(t, MutatingAdmissionPolicies(), []admissionCase{
		{"apply", spec(`reinvocationPolicy: Never, mutations: [{patchType: ApplyConfiguration, applyConfiguration: {expression: "Object{metadata: Object.metadata{labels: {'a': 'b'}}}"}}]`), nil},
		{"json patch", spec(`reinvocationPolicy: IfNeeded, variables: [{name: v, expression: "'x'"}], mutations: [{patchType: JSONPatch, jsonPatch: {expression: "[JSONPatch{op: 'add', path: '/a', value: variables.v}]"}}]`), nil},
		{"no reinvocation", spec(`mutations: [{patchType: ApplyConfiguration, applyConfiguration: {expression: "Object{}"}}]`),
			[]string{"FieldValueRequired spec.reinvocationPolicy"}},
		{"patch type", spec(`reinvocationPolicy: Never, mutations: [{patchType: MergePatch}]`), []string{"FieldValueNotSupported spec.mutations[0].patchType"}},
		{"no mutations", spec(`reinvocationPolicy: Never`), []string{"FieldValueRequired spec.mutations"}},
		{"wrong type", spec(`reinvocationPolicy: Never, mutations: [{patchType: ApplyConfiguration, applyConfiguration: {expression: "'x'"}}]`),
			[]string{"FieldValueInvalid spec.mutations[0].applyConfiguration.expression"}},
	})
}

func TestAdmissionUpdateKeepsStoredConditions(t *testing.T) {
	r := ValidatingWebhookConfigurations()
	conds := admissionConditionSet(admissionValidatingHooks(nil))
	if len(conds) != 0 {
		t.Fatal(conds)
	}
	obj := r.New()
	if err := yaml.Unmarshal([]byte("webhooks: ["+vwcHook+`, matchConditions: [{name: c, expression: "nope("}]}]`), obj); err != nil {
		t.Fatal(err)
	}
	if errs := r.ValidateUpdate(obj, obj); len(errs) != 0 {
		t.Errorf("stored expression refused on update: %v", errs)
	}
	if errs := r.Validate(obj); len(errs) != 1 || !strings.Contains(errs[0].Detail, "compilation failed") {
		t.Errorf("got %v", errs)
	}
}
