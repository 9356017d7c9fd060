package catalog

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodLevelResources(t *testing.T) {
	q := resource.MustParse
	for _, c := range []struct {
		what       string
		spec       corev1.PodSpec
		wantCPU    string
		wantMemory string
		qos        corev1.PodQOSClass
	}{
		{"limits only: requests from limits", corev1.PodSpec{
			Resources:  &corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("2"), "memory": q("2Gi")}},
			Containers: []corev1.Container{{Name: "c"}},
		}, "2", "2Gi", corev1.PodQOSGuaranteed},
		{"containers' requests add up; init takes the larger", corev1.PodSpec{
			Resources:      &corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("4"), "memory": q("4Gi")}},
			InitContainers: []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("3")}}}},
			Containers: []corev1.Container{
				{Name: "a", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("1")}}},
				{Name: "b", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("500m")}}},
			},
		}, "3", "4Gi", corev1.PodQOSBurstable},
	} {
		spec := c.spec
		defaultPodLevelRequests(&spec)
		r := spec.Resources.Requests
		if cpu, mem := r[corev1.ResourceCPU], r[corev1.ResourceMemory]; cpu.String() != c.wantCPU || mem.String() != c.wantMemory {
			t.Errorf("%s: requests %v", c.what, r)
		}
		if got := qosClass(&spec); got != c.qos {
			t.Errorf("%s: QoS %s, want %s", c.what, got, c.qos)
		}
	}
}
