package catalog

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func resizablePod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
		Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent, Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		}}}}, Status: corev1.PodStatus{QOSClass: corev1.PodQOSBurstable}}
}

// A resize keeps the new CPU and memory and nothing else it was sent.
func TestResizeKeepsOnlyResources(t *testing.T) {
	sub := ResizeSubresource()
	old := resizablePod()
	asked := old.DeepCopy()
	asked.Spec.Containers[0].Image = "busybox:1.37"
	asked.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("300m")
	asked.Spec.ActiveDeadlineSeconds = new(int64(5))
	got := sub.Apply(asked, old).(*corev1.Pod)
	if got.Spec.Containers[0].Image != "busybox:1.36" || got.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("resize kept more than resources: %+v", got.Spec)
	}
	if cpu := got.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU]; cpu.String() != "300m" {
		t.Errorf("resize lost the new limit: %s", cpu.String())
	}
	if errs := sub.Validate(got, old); len(errs) != 0 {
		t.Errorf("a valid resize refused: %v", errs)
	}
	for what, change := range map[string]func(p *corev1.Pod){
		"Pod QOS Class may not change": func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = p.Spec.Containers[0].Resources.Limits.DeepCopy()
		},
		"resource limits cannot be removed": func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits = nil },
		"only cpu and memory resources are mutable": func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
		},
		"containers may not be added or removed on resize": func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "more", Image: "busybox"})
		},
	} {
		asked := old.DeepCopy()
		change(asked)
		errs := sub.Validate(sub.Apply(asked, old), old)
		if !strings.Contains(errs.ToAggregate().Error(), what) {
			t.Errorf("%s: %v", what, errs)
		}
	}
}

// Ephemeral containers may be added, never changed or removed, and carry
// no ports, resources or probes.
func TestEphemeralContainers(t *testing.T) {
	sub := EphemeralContainersSubresource()
	old := resizablePod()
	asked := old.DeepCopy()
	asked.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox"}, TargetContainerName: "app"}}
	got := sub.Apply(asked, old).(*corev1.Pod)
	if ec := got.Spec.EphemeralContainers[0]; ec.TerminationMessagePath == "" || ec.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("ephemeral container not defaulted: %+v", ec)
	}
	if errs := sub.Validate(got, old); len(errs) != 0 {
		t.Errorf("a valid ephemeral container refused: %v", errs)
	}
	changed := got.DeepCopy()
	changed.Spec.EphemeralContainers[0].Image = "alpine"
	if errs := sub.Validate(sub.Apply(changed, got), got); !strings.Contains(errs.ToAggregate().Error(), `existing ephemeral containers "debugger" may not be changed`) {
		t.Errorf("a changed ephemeral container: %v", errs)
	}
	gone := got.DeepCopy()
	gone.Spec.EphemeralContainers = nil
	if errs := sub.Validate(sub.Apply(gone, got), got); !strings.Contains(errs.ToAggregate().Error(), "may not be removed") {
		t.Errorf("a removed ephemeral container: %v", errs)
	}
	porty := got.DeepCopy()
	porty.Spec.EphemeralContainers = append(porty.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "app", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}})
	msg := sub.Validate(sub.Apply(porty, got), got).ToAggregate().Error()
	for _, want := range []string{`spec.ephemeralContainers[1].name: Duplicate value: "app"`, "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container"} {
		if !strings.Contains(msg, want) {
			t.Errorf("want %q in %s", want, msg)
		}
	}
}
