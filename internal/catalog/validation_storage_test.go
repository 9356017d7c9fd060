package catalog

import (
	"testing"

	storagev1 "k8s.io/api/storage/v1"
)

func TestStorageClassRules(t *testing.T) {
	r := StorageClasses()
	runCreateCases(t, r, []createCase{
		{"full", `{metadata: {name: a}, provisioner: kubernetes.io/no-provisioner, reclaimPolicy: Retain, volumeBindingMode: WaitForFirstConsumer,
			allowedTopologies: [{matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [a, b]}]}]}`, nil},
		{"no provisioner", `{metadata: {name: a}}`, []string{"provisioner: Required value"}},
		{"bad provisioner", `{metadata: {name: a}, provisioner: "bad provisioner"}`, []string{"provisioner: Invalid value: \"bad provisioner\""}},
		{"recycle", `{metadata: {name: a}, provisioner: p, reclaimPolicy: Recycle}`, []string{"reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""}},
		{"bad binding mode", `{metadata: {name: a}, provisioner: p, volumeBindingMode: Later}`, []string{"volumeBindingMode: Unsupported value: \"Later\""}},
		{"empty topology values", `{metadata: {name: a}, provisioner: p, allowedTopologies: [{matchLabelExpressions: [{key: zone, values: []}]}]}`,
			[]string{"allowedTopologies[0].matchLabelExpressions[0].values: Required value"}},
		{"duplicate terms", `{metadata: {name: a}, provisioner: p, allowedTopologies: [{matchLabelExpressions: [{key: z, values: [a]}]}, {matchLabelExpressions: [{key: z, values: [a]}]}]}`,
			[]string{"allowedTopologies[1].matchLabelExpressions: Duplicate value"}},
		{"empty parameter key", `{metadata: {name: a}, provisioner: p, parameters: {"": b}}`, []string{"parameters: Invalid value: \"\": field can not be empty."}},
	})
	n := objectFrom(t, r, `{metadata: {name: a}, provisioner: p, reclaimPolicy: Retain}`)
	o := objectFrom(t, r, `{metadata: {name: a}, provisioner: p}`)
	if errs := r.ValidateUpdate(n, o); len(errs) != 1 || errs[0].Field != "reclaimPolicy" {
		t.Errorf("reclaimPolicy change: %v", errs)
	}
}

func TestCSIDriverRules(t *testing.T) {
	r := CSIDrivers()
	runCreateCases(t, r, []createCase{
		{"empty spec", `{metadata: {name: a.example.com}, spec: {}}`, nil},
		{"full", `{metadata: {name: a.example.com}, spec: {volumeLifecycleModes: [Persistent, Ephemeral], fsGroupPolicy: File,
			tokenRequests: [{audience: a, expirationSeconds: 3600}, {audience: ""}], nodeAllocatableUpdatePeriodSeconds: 60, serviceAccountTokenInSecrets: true}}`, nil},
		{"bad mode", `{metadata: {name: a}, spec: {volumeLifecycleModes: [Transient]}}`, []string{"spec.volumeLifecycleModes: Unsupported value: \"Transient\""}},
		{"bad fsGroupPolicy", `{metadata: {name: a}, spec: {fsGroupPolicy: Sometimes}}`, []string{"spec.fsGroupPolicy: Unsupported value: \"Sometimes\""}},
		{"short token", `{metadata: {name: a}, spec: {tokenRequests: [{audience: a, expirationSeconds: 60}]}}`,
			[]string{"spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"}},
		{"duplicate audience", `{metadata: {name: a}, spec: {tokenRequests: [{audience: a}, {audience: a}]}}`, []string{"spec.tokenRequests[1].audience: Duplicate value"}},
		{"secrets without tokens", `{metadata: {name: a}, spec: {serviceAccountTokenInSecrets: true}}`, []string{"spec.serviceAccountTokenInSecrets: Invalid value: true"}},
		{"short update period", `{metadata: {name: a}, spec: {nodeAllocatableUpdatePeriodSeconds: 5}}`, []string{"spec.nodeAllocatableUpdatePeriodSeconds: Invalid value: 5"}},
	})
	d := objectFrom(t, r, `{metadata: {name: a}}`).(*storagev1.CSIDriver)
	if p := d.Spec.PreventPodSchedulingIfMissing; p == nil || *p {
		t.Errorf("preventPodSchedulingIfMissing %v, want false", p)
	}
	checkIdempotentDefaults(t, r, `{metadata: {name: a}}`)
}

func TestCSINodeRules(t *testing.T) {
	r := CSINodes()
	runCreateCases(t, r, []createCase{
		{"full", `{metadata: {name: n}, spec: {drivers: [{name: csi.example.com, nodeID: n, topologyKeys: [topology.kubernetes.io/zone], allocatable: {count: 16}}]}}`, nil},
		{"duplicate driver", `{metadata: {name: n}, spec: {drivers: [{name: csi.example.com, nodeID: a}, {name: csi.example.com, nodeID: b}]}}`,
			[]string{"spec.drivers[1].name: Duplicate value: \"csi.example.com\""}},
		{"no nodeID", `{metadata: {name: n}, spec: {drivers: [{name: csi.example.com}]}}`, []string{"spec.drivers[0].nodeID: Required value"}},
		{"negative count", `{metadata: {name: n}, spec: {drivers: [{name: csi.example.com, nodeID: a, allocatable: {count: -1}}]}}`,
			[]string{"spec.drivers[0].allocatable.count: Invalid value: -1"}},
		{"duplicate topology key", `{metadata: {name: n}, spec: {drivers: [{name: d, nodeID: a, topologyKeys: [z, z]}]}}`, []string{"spec.drivers[0]: Duplicate value: \"z\""}},
	})
	if n := objectFrom(t, r, `{metadata: {name: n}, spec: {drivers: []}}`).(*storagev1.CSINode); n.Spec.Drivers != nil {
		t.Errorf("drivers %#v, want nil", n.Spec.Drivers)
	}
	n := objectFrom(t, r, `{metadata: {name: n}, spec: {drivers: [{name: d, nodeID: a, allocatable: {count: 2}}]}}`)
	o := objectFrom(t, r, `{metadata: {name: n}, spec: {drivers: [{name: d, nodeID: a, allocatable: {count: 1}}]}}`)
	if errs := r.ValidateUpdate(n, o); len(errs) != 0 {
		t.Errorf("count change: %v", errs)
	}
	n = objectFrom(t, r, `{metadata: {name: n}, spec: {drivers: [{name: d, nodeID: b}]}}`)
	if errs := r.ValidateUpdate(n, o); len(errs) != 1 || errs[0].Field != "spec.drivers" {
		t.Errorf("nodeID change: %v", errs)
	}
}

func TestVolumeAttachmentRules(t *testing.T) {
	const head = `{metadata: {name: a}, spec: {attacher: csi.example.com, nodeName: n, source: `
	runCreateCases(t, VolumeAttachments(), []createCase{
		{"pv", head + `{persistentVolumeName: pv}}}`, nil},
		{"inline", head + `{inlineVolumeSpec: {accessModes: [ReadWriteOnce], csi: {driver: csi.example.com, volumeHandle: h}}}}}`, nil},
		{"inline with capacity", head + `{inlineVolumeSpec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], csi: {driver: d, volumeHandle: h}}}}}`,
			[]string{"spec.source.inlineVolumeSpec.capacity: Forbidden: may not be specified in the context of inline volumes"}},
		{"no source", head + `{}}}`, []string{"spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"}},
		{"two sources", head + `{persistentVolumeName: pv, inlineVolumeSpec: {csi: {driver: d, volumeHandle: h}}}}}`, []string{"spec.source: Forbidden"}},
		{"bad attacher", `{metadata: {name: a}, spec: {attacher: "Bad Attacher", nodeName: n, source: {persistentVolumeName: pv}}}`, []string{"spec.attacher: Invalid value"}},
		{"no node", `{metadata: {name: a}, spec: {attacher: a, source: {persistentVolumeName: pv}}}`, []string{"spec.nodeName: Invalid value: \"\""}},
	})
}

func TestCSIStorageCapacityRules(t *testing.T) {
	runCreateCases(t, CSIStorageCapacities(), []createCase{
		{"full", `{metadata: {name: a}, storageClassName: c, capacity: 100Gi, nodeTopology: {matchLabels: {zone: a}}}`, nil},
		{"no class", `{metadata: {name: a}, capacity: 1Gi}`, []string{"storageClassName: Invalid value: \"\""}},
		{"negative", `{metadata: {name: a}, storageClassName: c, capacity: -1Gi}`, []string{"capacity: Invalid value: \"-1Gi\": must be greater than or equal to 0"}},
		{"bad topology", `{metadata: {name: a}, storageClassName: c, nodeTopology: {matchExpressions: [{key: zone, operator: Within, values: [a]}]}}`,
			[]string{"nodeTopology.matchExpressions[0].operator: Invalid value: \"Within\""}},
	})
}

func TestVolumeAttributesClassRules(t *testing.T) {
	r := VolumeAttributesClasses()
	runCreateCases(t, r, []createCase{
		{"gold", `{metadata: {name: a}, driverName: csi.example.com, parameters: {iops: "3000"}}`, nil},
		{"no parameters", `{metadata: {name: a}, driverName: csi.example.com}`, []string{"parameters: Required value: must contain at least one key/value pair"}},
		{"bad driver", `{metadata: {name: a}, driverName: "bad driver!", parameters: {a: b}}`, []string{"driverName: Invalid value"}},
		{"empty key", `{metadata: {name: a}, driverName: d, parameters: {"": b}}`, []string{"parameters: Invalid value: \"\": field can not be empty."}},
	})
	n := objectFrom(t, r, `{metadata: {name: a}, driverName: d, parameters: {a: c}}`)
	o := objectFrom(t, r, `{metadata: {name: a}, driverName: d, parameters: {a: b}}`)
	if errs := r.ValidateUpdate(n, o); len(errs) != 1 || errs[0].Field != "parameters" {
		t.Errorf("parameters change: %v", errs)
	}
}
