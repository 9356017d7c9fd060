package catalog

import (
	"context"
	"reflect"
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"sigs.k8s.io/yaml"
)

// objectFrom decodes a YAML object of r's type and applies r's defaults
// and create preparation, as a create does.
func objectFrom(t *testing.T, r *Resource, doc string) Object {
	t.Helper()
	obj := r.New()
	if err := yaml.Unmarshal([]byte(doc), obj); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if r.Namespaced {
		obj.SetNamespace("default")
	}
	if r.Default != nil {
		r.Default(obj)
	}
	if r.PrepareForCreate != nil {
		r.PrepareForCreate(context.Background(), obj)
	}
	return obj
}

// createErrors is what a create of doc reports: "" when it is valid.
func createErrors(t *testing.T, r *Resource, doc string) string {
	t.Helper()
	obj := objectFrom(t, r, doc)
	errs := r.ValidateMeta(obj)
	if r.Validate != nil {
		errs = append(errs, r.Validate(obj)...)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "\n")
}

type createCase struct {
	what string
	doc  string
	// want is a substring of each error, one per error, in order; none
	// means the object is valid.
	want []string
}

func runCreateCases(t *testing.T, r *Resource, cases []createCase) {
	t.Helper()
	for _, c := range cases {
		got := createErrors(t, r, c.doc)
		lines := strings.Split(got, "\n")
		if got == "" {
			lines = nil
		}
		ok := len(lines) == len(c.want)
		for i := 0; ok && i < len(lines); i++ {
			ok = strings.Contains(lines[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s %s: got errors\n%s\nwant %q", r.Kind, c.what, got, c.want)
		}
	}
}

// checkIdempotentDefaults applies r's defaults twice to doc.
func checkIdempotentDefaults(t *testing.T, r *Resource, doc string) {
	t.Helper()
	once := objectFrom(t, r, doc)
	twice := once.DeepCopyObject().(Object)
	r.Default(twice)
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("%s: defaults not idempotent:\n%#v\n%#v", r.Kind, once, twice)
	}
}

func TestPriorityLevelConfigurationRules(t *testing.T) {
	runCreateCases(t, PriorityLevelConfigurations(), []createCase{
		{"queue", `{metadata: {name: q}, spec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {}}}}}`, nil},
		{"reject", `{metadata: {name: r}, spec: {type: Limited, limited: {limitResponse: {type: Reject}}}}`, nil},
		{"the exempt level", `{metadata: {name: exempt}, spec: {type: Exempt}}`, nil},
		{"no limit response type", `{metadata: {name: a}, spec: {type: Limited, limited: {}}}`, []string{"spec.limited.limitResponse.type: Required value"}},
		{"queue without queuing", `{metadata: {name: a}, spec: {type: Limited, limited: {limitResponse: {type: Queue}}}}`,
			[]string{"spec.limited.limitResponse.queuing: Required value"}},
		{"exempt by another name", `{metadata: {name: a}, spec: {type: Exempt, limited: {}}}`,
			[]string{"spec.type: Invalid value: \"Exempt\"", "spec.limited: Forbidden"}},
		{"limited without config", `{metadata: {name: a}, spec: {type: Limited}}`, []string{"spec.limited: Required value"}},
		{"no type", `{metadata: {name: a}, spec: {}}`, []string{"spec.type: Required value"}},
		{"reject with queuing", `{metadata: {name: a}, spec: {type: Limited, limited: {limitResponse: {type: Reject, queuing: {queues: 1}}}}}`,
			[]string{"spec.limited.limitResponse.queuing: Forbidden"}},
		{"hand bigger than queues", `{metadata: {name: a}, spec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {queues: 4, handSize: 8}}}}}`,
			[]string{"spec.limited.limitResponse.queuing.handSize: Invalid value: 8: should not be greater than queues (4)"}},
		{"too much entropy", `{metadata: {name: a}, spec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {queues: 1000000, handSize: 10}}}}}`,
			[]string{"required entropy bits of deckSize 1000000 and handSize 10 should not be greater than 60"}},
		{"lendable over 100", `{metadata: {name: a}, spec: {type: Limited, limited: {lendablePercent: 101, limitResponse: {type: Reject}}}}`,
			[]string{"spec.limited.lendablePercent: Invalid value: 101"}},
		{"negative borrowing", `{metadata: {name: a}, spec: {type: Limited, limited: {borrowingLimitPercent: -1, limitResponse: {type: Reject}}}}`,
			[]string{"spec.limited.borrowingLimitPercent: Invalid value: -1"}},
	})
}

func TestPriorityLevelConfigurationDefaults(t *testing.T) {
	r := PriorityLevelConfigurations()
	pl := objectFrom(t, r, `{metadata: {name: a}, spec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {queues: 16}}}}}`).(*flowcontrolv1.PriorityLevelConfiguration)
	l := pl.Spec.Limited
	if *l.NominalConcurrencyShares != 30 || *l.LendablePercent != 0 || *l.LimitResponse.Queuing != (flowcontrolv1.QueuingConfiguration{Queues: 16, HandSize: 8, QueueLengthLimit: 50}) {
		t.Errorf("limited defaults: %+v %+v", l, l.LimitResponse.Queuing)
	}
	ex := objectFrom(t, r, `{metadata: {name: exempt}, spec: {type: Exempt, exempt: {}}}`).(*flowcontrolv1.PriorityLevelConfiguration)
	if ex.Spec.Exempt.NominalConcurrencyShares == nil || ex.Spec.Exempt.LendablePercent == nil {
		t.Errorf("exempt defaults: %+v", ex.Spec.Exempt)
	}
	checkIdempotentDefaults(t, r, `{metadata: {name: a}, spec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {}}}}}`)
}

func TestFlowSchemaRules(t *testing.T) {
	const plc = `priorityLevelConfiguration: {name: p}`
	runCreateCases(t, FlowSchemas(), []createCase{
		{"full", `{metadata: {name: a}, spec: {` + plc + `, distinguisherMethod: {type: ByUser}, rules: [{subjects: [{kind: Group, group: {name: g}},
			{kind: ServiceAccount, serviceAccount: {namespace: ns, name: "*"}}], resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true}],
			nonResourceRules: [{verbs: [get], nonResourceURLs: [/healthz, "/api/*"]}]}]}}`, nil},
		{"no priority level", `{metadata: {name: a}, spec: {matchingPrecedence: 100}}`, []string{"spec.priorityLevelConfiguration.name: Required value"}},
		{"precedence too high", `{metadata: {name: a}, spec: {` + plc + `, matchingPrecedence: 10001}}`, []string{"spec.matchingPrecedence: Invalid value: 10001"}},
		{"precedence 1", `{metadata: {name: a}, spec: {` + plc + `, matchingPrecedence: 1}}`, []string{"only the schema named 'exempt'"}},
		{"bad subject kind", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: Robot}], nonResourceRules: [{verbs: [get], nonResourceURLs: [/x]}]}]}}`,
			[]string{"spec.rules[0].subjects[0].kind: Unsupported value: \"Robot\""}},
		{"user with group", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: User, user: {name: u}, group: {name: g}}], nonResourceRules: [{verbs: [get], nonResourceURLs: [/x]}]}]}}`,
			[]string{"spec.rules[0].subjects[0].group: Forbidden"}},
		{"no targets", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: User, user: {name: u}}]}]}}`,
			[]string{"spec.rules[0]: Required value: at least one of resourceRules and nonResourceRules"}},
		{"bad distinguisher", `{metadata: {name: a}, spec: {` + plc + `, distinguisherMethod: {type: ByColour}}}`, []string{"spec.distinguisherMethod.type: Unsupported value"}},
		{"mixed wildcard verbs", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: User, user: {name: u}}],
			resourceRules: [{verbs: [get, "*"], apiGroups: [""], resources: [pods], namespaces: [default]}]}]}}`,
			[]string{"spec.rules[0].resourceRules[0].verbs: Invalid value"}},
		{"unknown verb", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: User, user: {name: u}}], nonResourceRules: [{verbs: [fly], nonResourceURLs: [/x]}]}]}}`,
			[]string{"spec.rules[0].nonResourceRules[0].verbs: Unsupported value"}},
		{"bad URL", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: User, user: {name: u}}], nonResourceRules: [{verbs: [get], nonResourceURLs: ["/a*"]}]}]}}`,
			[]string{"wildcard can only do suffix matching"}},
		{"no namespaces", `{metadata: {name: a}, spec: {` + plc + `, rules: [{subjects: [{kind: User, user: {name: u}}], resourceRules: [{verbs: [get], apiGroups: [""], resources: [pods]}]}]}}`,
			[]string{"spec.rules[0].resourceRules[0].namespaces: Required value"}},
	})
}

func TestEndpointSliceRules(t *testing.T) {
	runCreateCases(t, EndpointSlices(), []createCase{
		{"ipv6", `{metadata: {name: a}, addressType: IPv6, endpoints: [{addresses: ["2001:db8::1"]}], ports: [{port: 443}]}`, nil},
		{"fqdn", `{metadata: {name: a}, addressType: FQDN, endpoints: [{addresses: [db.example.com]}]}`, nil},
		{"v6 in v4", `{metadata: {name: a}, addressType: IPv4, endpoints: [{addresses: ["2001:db8::1"]}]}`, []string{"endpoints[0].addresses: Invalid value: \"2001:db8::1\": must be an IPv4 address"}},
		{"loopback", `{metadata: {name: a}, addressType: IPv4, endpoints: [{addresses: [127.0.0.1]}]}`, []string{"endpoints[0].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range"}},
		{"no addresses", `{metadata: {name: a}, addressType: IPv4, endpoints: [{addresses: []}]}`, []string{"endpoints[0].addresses: Required value"}},
		{"duplicate port name", `{metadata: {name: a}, addressType: IPv4, ports: [{name: a, port: 1}, {name: a, port: 2}]}`, []string{"ports[1].name: Duplicate value: \"a\""}},
		{"bad protocol", `{metadata: {name: a}, addressType: IPv4, ports: [{protocol: ICMP}]}`, []string{"ports[0].protocol: Unsupported value: \"ICMP\""}},
		{"bad hostname", `{metadata: {name: a}, addressType: IPv4, endpoints: [{addresses: [10.1.0.5], hostname: "Bad.Host"}]}`, []string{"endpoints[0].hostname: Invalid value"}},
	})
}

func TestEndpointSliceStoresNoEmptyEndpoints(t *testing.T) {
	s := objectFrom(t, EndpointSlices(), `{metadata: {name: a}, addressType: IPv4, endpoints: []}`).(*discoveryv1.EndpointSlice)
	if s.Endpoints != nil {
		t.Errorf("endpoints %#v, want nil", s.Endpoints)
	}
}

func TestRuntimeClassRules(t *testing.T) {
	runCreateCases(t, RuntimeClasses(), []createCase{
		{"kata", `{metadata: {name: a}, handler: kata, overhead: {podFixed: {cpu: 250m}}, scheduling: {nodeSelector: {runtime: kata}, tolerations: [{key: kata, operator: Exists, effect: NoSchedule}]}}`, nil},
		{"no handler", `{metadata: {name: a}}`, []string{"handler: Required value"}},
		{"negative overhead", `{metadata: {name: a}, handler: runc, overhead: {podFixed: {cpu: "-1"}}}`, []string{"overhead.limits[cpu]: Invalid value: \"-1\""}},
		{"exists with value", `{metadata: {name: a}, handler: runc, scheduling: {tolerations: [{key: a, operator: Exists, value: b}]}}`,
			[]string{"scheduling.tolerations[0].operator: Invalid value: \"b\": value must be empty when `operator` is 'Exists'"}},
		{"duplicate toleration", `{metadata: {name: a}, handler: runc, scheduling: {tolerations: [{key: a, operator: Exists}, {key: a, operator: Exists}]}}`,
			[]string{"scheduling.tolerations[1]: Duplicate value"}},
		{"bad effect", `{metadata: {name: a}, handler: runc, scheduling: {tolerations: [{key: a, operator: Exists, effect: Sometimes}]}}`,
			[]string{"scheduling.tolerations[0].effect: Unsupported value"}},
	})
}

func TestStorageVersionMigrationRules(t *testing.T) {
	runCreateCases(t, StorageVersionMigrations(), []createCase{
		{"configmaps", `{metadata: {name: a}, spec: {resource: {resource: configmaps}}}`, nil},
		{"no resource", `{metadata: {name: a}, spec: {resource: {group: apps}}}`, []string{"spec.resource.resource: Required value"}},
		{"bad group", `{metadata: {name: a}, spec: {resource: {group: "A_B", resource: things}}}`, []string{"spec.resource.group: Invalid value"}},
	})
}

func TestAPIServiceRules(t *testing.T) {
	runCreateCases(t, APIServices(), []createCase{
		{"local", `{metadata: {name: v1.example.com}, spec: {group: example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 10}}`, nil},
		{"skip and ca", `{metadata: {name: v1.example.com}, spec: {group: example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 10,
			insecureSkipTLSVerify: true, caBundle: Y2E=, service: {namespace: default, name: api}}}`, []string{"spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present"}},
		{"local with ca", `{metadata: {name: v1.example.com}, spec: {group: example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 10, caBundle: Y2E=}}`,
			[]string{"spec.caBundle: Invalid value: \"2 bytes\": local APIServices may not have a caBundle"}},
		{"service without name", `{metadata: {name: v1.example.com}, spec: {group: example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 10, service: {namespace: default}}}`,
			[]string{"spec.service.name: Required value"}},
		{"empty group", `{metadata: {name: v2.}, spec: {version: v2, groupPriorityMinimum: 100, versionPriority: 10}}`, []string{"spec.group: Required value"}},
	})
}

func TestPriorityClassGeneration(t *testing.T) {
	if !PriorityClasses().TracksGeneration || !EndpointSlices().TracksGeneration {
		t.Error("PriorityClasses and EndpointSlices must set metadata.generation")
	}
}
