package plugins

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
)

// restrictedPod is a typical pod a team runs under the restricted Pod
// Security Standard: one container with requests and limits, non-root,
// no privilege escalation, no capabilities, the runtime's seccomp profile.
func restrictedPod() *corev1.Pod {
	no, yes := false, true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9c-x2k8p", Namespace: "team", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "web", Image: "registry.example.com/team/web:1.4.2",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

// teamDeps are the plugins' reads for a namespace enforcing restricted,
// with a ResourceQuota and a LimitRange.
func teamDeps() Deps {
	d := deps(grants())
	d.Namespace = func(context.Context, string) (*corev1.Namespace, error) {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted", "kubernetes.io/metadata.name": "team"}}}, nil
	}
	d.ServiceAccount = func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, nil
	}
	ranges := []*corev1.LimitRange{{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "team"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Max:            corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
			DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}
	d.LimitRanges = func(context.Context, string) ([]*corev1.LimitRange, error) { return ranges, nil }
	hard := corev1.ResourceList{"pods": resource.MustParse("100"), "requests.cpu": resource.MustParse("20"), "requests.memory": resource.MustParse("40Gi"),
		"limits.cpu": resource.MustParse("40"), "limits.memory": resource.MustParse("80Gi")}
	used := corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("1"), "requests.memory": resource.MustParse("2Gi"),
		"limits.cpu": resource.MustParse("5"), "limits.memory": resource.MustParse("4Gi")}
	quotas := []*corev1.ResourceQuota{{ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "team", ResourceVersion: "42"},
		Spec: corev1.ResourceQuotaSpec{Hard: hard}, Status: corev1.ResourceQuotaStatus{Hard: hard, Used: used}}}
	d.ResourceQuotas = func(context.Context, string, bool) ([]*corev1.ResourceQuota, int64, error) { return quotas, 42, nil }
	return d
}

// BenchmarkDefaultChainPodCreate runs the whole default chain over a
// typical pod create in a namespace that enforces restricted and has a
// ResourceQuota and a LimitRange: mutating, then validating admission,
// the quota charge included. The readers answer from memory, so this is
// the chain's own cost. p50-ns is the median of the timed admissions
// (the pod's copy is not timed); allocations include the copy.
func BenchmarkDefaultChainPodCreate(b *testing.B) {
	chain, err := New(teamDeps()).Build(DefaultNames())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	user := &authn.User{Name: "dev", Groups: []string{authn.GroupAuthenticated}}
	base := restrictedPod()
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		pod := base.DeepCopy()
		a := &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"),
			Kind: corev1.SchemeGroupVersion.WithKind("Pod"), Namespace: "team", Name: pod.Name, Object: pod, User: user}
		start := time.Now()
		if err := chain.Mutate(ctx, a); err != nil {
			b.Fatal(err)
		}
		if err := chain.Validate(ctx, a); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		if len(a.Charges) != 1 {
			b.Fatalf("the pod was charged to %d quotas, want 1", len(a.Charges))
		}
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
}
