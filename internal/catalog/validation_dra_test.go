package catalog

import (
	"context"
	"testing"

	resourcev1 "k8s.io/api/resource/v1"
)

func TestDeviceClassValidation(t *testing.T) {
	runValidationCases(t, DeviceClasses(), []admissionCase{
		{"valid", `spec: {selectors: [{cel: {expression: 'device.driver == "a" && device.attributes["a"].x >= 8'}}], config: [{opaque: {driver: a.example.com, parameters: {a: b}}}], extendedResourceName: example.com/gpu}`, nil},
		{"syntax", `spec: {selectors: [{cel: {expression: 'device.driver =='}}]}`, []string{"FieldValueInvalid spec.selectors[0].cel.expression"}},
		{"not bool", `spec: {selectors: [{cel: {expression: 'device.driver'}}]}`, []string{"FieldValueInvalid spec.selectors[0].cel.expression"}},
		{"unknown field", `spec: {selectors: [{cel: {expression: 'device.nothing'}}]}`, []string{"FieldValueInvalid spec.selectors[0].cel.expression"}},
		{"driver", `spec: {config: [{opaque: {driver: "Not A Driver", parameters: {}}}]}`, []string{"FieldValueInvalid spec.config[0].opaque.driver"}},
		{"parameters", `spec: {config: [{opaque: {driver: a, parameters: [1]}}, {}]}`,
			[]string{"FieldValueInvalid spec.config[0].opaque.parameters", "FieldValueRequired spec.config[1].opaque"}},
		{"empty selector", `spec: {selectors: [{}]}`, []string{"FieldValueRequired spec.selectors[0].cel"}},
		{"extended resource", `spec: {extendedResourceName: gpu}`, []string{"FieldValueInvalid spec.extendedResourceName"}},
	})
}

func TestDeviceTaintRuleValidation(t *testing.T) {
	runValidationCases(t, DeviceTaintRules(), []admissionCase{
		{"valid", `spec: {deviceSelector: {driver: a.b, pool: p/q, device: d}, taint: {key: example.com/x, value: "y", effect: NoSchedule}}`, nil},
		{"effect", `spec: {taint: {key: example.com/x, effect: Sometimes}}`, []string{"FieldValueNotSupported spec.taint.effect"}},
		{"no key", `spec: {taint: {effect: NoSchedule}}`, []string{"FieldValueInvalid spec.taint.key", "FieldValueInvalid spec.taint.key"}},
	})
}

func TestResourceClaimValidation(t *testing.T) {
	runValidationCases(t, ResourceClaims(), []admissionCase{
		{"valid", `spec: {devices: {requests: [{name: g, exactly: {deviceClassName: c, tolerations: [{operator: Exists}]}}, {name: nic, firstAvailable: [{name: a, deviceClassName: c, allocationMode: All}, {name: b, deviceClassName: c}]}],
			constraints: [{requests: [g, nic/a], matchAttribute: a.b/numa}], config: [{requests: [g], opaque: {driver: a.b, parameters: {x: 1}}}]}}`, nil},
		{"no class", `spec: {devices: {requests: [{name: r, exactly: {}}]}}`, []string{"FieldValueRequired spec.devices.requests[0].exactly.deviceClassName"}},
		{"both", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c}, firstAvailable: [{name: a, deviceClassName: c}]}]}}`,
			[]string{"FieldValueInvalid spec.devices.requests[0]"}},
		{"neither", `spec: {devices: {requests: [{name: r}]}}`, []string{"FieldValueRequired spec.devices.requests[0]"}},
		{"all with count", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c, allocationMode: All, count: 2}}]}}`,
			[]string{"FieldValueInvalid spec.devices.requests[0].exactly.count"}},
		{"negative count", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c, count: -1}}]}}`,
			[]string{"FieldValueInvalid spec.devices.requests[0].exactly.count"}},
		{"mode", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c, allocationMode: Some}}]}}`,
			[]string{"FieldValueNotSupported spec.devices.requests[0].exactly.allocationMode"}},
		{"duplicate", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c}}, {name: r, exactly: {deviceClassName: c}}]}}`,
			[]string{"FieldValueDuplicate spec.devices.requests[1]"}},
		{"unknown request", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c}}], constraints: [{requests: [nope, r/x], matchAttribute: a.b/c}]}}`,
			[]string{"FieldValueInvalid spec.devices.constraints[0].requests[0]", "FieldValueInvalid spec.devices.constraints[0].requests[1]"}},
		{"request name", `spec: {devices: {requests: [{name: Bad_Name, exactly: {deviceClassName: c}}]}}`,
			[]string{"FieldValueInvalid spec.devices.requests[0].name"}},
		{"toleration", `spec: {devices: {requests: [{name: r, exactly: {deviceClassName: c, tolerations: [{operator: Exists, value: x}]}}]}}`,
			[]string{"FieldValueInvalid spec.devices.requests[0].exactly.tolerations[0].value"}},
	})
}

func TestResourceClaimDefaults(t *testing.T) {
	r := ResourceClaims()
	c := &resourcev1.ResourceClaim{Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{
		{Name: "a", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "c"}},
		{Name: "b", FirstAvailable: []resourcev1.DeviceSubRequest{{Name: "x", AllocationMode: resourcev1.DeviceAllocationModeAll}, {Name: "y", Count: 3}}},
	}}}}
	for range 2 { // idempotent
		r.Default(c)
	}
	reqs := c.Spec.Devices.Requests
	if e := reqs[0].Exactly; e.AllocationMode != resourcev1.DeviceAllocationModeExactCount || e.Count != 1 {
		t.Errorf("exactly: %+v", e)
	}
	if s := reqs[1].FirstAvailable; s[0].Count != 0 || s[1].AllocationMode != resourcev1.DeviceAllocationModeExactCount || s[1].Count != 3 {
		t.Errorf("firstAvailable: %+v", s)
	}
	empty := &resourcev1.ResourceClaim{Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{}}}}
	if r.PrepareForCreate(context.Background(), empty); empty.Spec.Devices.Requests != nil {
		t.Error("empty requests kept")
	}
	rule := &resourcev1.DeviceTaintRule{}
	DeviceTaintRules().Default(rule)
	if rule.Spec.Taint.TimeAdded == nil {
		t.Error("taint time not defaulted")
	}
}

func TestResourceSliceValidation(t *testing.T) {
	runValidationCases(t, ResourceSlices(), []admissionCase{
		{"valid", `spec: {driver: a.b, nodeName: n, pool: {name: p, generation: 1, resourceSliceCount: 1}, devices: [{name: d, attributes: {model: {string: x}, a.b/ok: {bool: true}, v: {version: 1.2.3}}, capacity: {mem: {value: 1Gi}}, taints: [{key: k, effect: NoSchedule}]}]}`, nil},
		{"no node choice", `spec: {driver: a.b, pool: {name: p, resourceSliceCount: 1}}`, []string{"FieldValueRequired spec"}},
		{"two node choices", `spec: {driver: a.b, nodeName: n, allNodes: true, pool: {name: p, resourceSliceCount: 1}}`, []string{"FieldValueInvalid spec"}},
		{"zero count", `spec: {driver: a.b, allNodes: true, pool: {name: p, resourceSliceCount: 0}}`, []string{"FieldValueInvalid spec.pool.resourceSliceCount"}},
		{"two values", `spec: {driver: a.b, allNodes: true, pool: {name: p, resourceSliceCount: 1}, devices: [{name: d, attributes: {a: {int: 1, string: x}}}]}`,
			[]string{"FieldValueInvalid spec.devices[0].attributes[a]"}},
		{"bad driver", `spec: {driver: "Bad Driver", allNodes: true, pool: {name: p, resourceSliceCount: 1}}`, []string{"FieldValueInvalid spec.driver"}},
		{"bad version", `spec: {driver: a, allNodes: true, pool: {name: p, resourceSliceCount: 1}, devices: [{name: d, attributes: {v: {version: "1.2"}}}, {name: d}]}`,
			[]string{"FieldValueInvalid spec.devices[0].attributes[v].version", "FieldValueDuplicate spec.devices[1]"}},
	})
}
