package priority

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

func class(name string, value int32, global bool, policy corev1.PreemptionPolicy) *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, GlobalDefault: global, PreemptionPolicy: &policy}
}

func plugin(list ...*schedulingv1.PriorityClass) *Plugin {
	return &Plugin{Classes: func(context.Context) ([]*schedulingv1.PriorityClass, error) { return list, nil }}
}

func admitPod(p *Plugin, spec corev1.PodSpec) (*corev1.Pod, error) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: spec}
	return pod, p.Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: pods, Object: pod})
}

func TestPods(t *testing.T) {
	node := class("system-node-critical", 2000001000, false, corev1.PreemptLowerPriority)
	never := class("batch", 10, false, corev1.PreemptNever)
	i32 := func(v int32) *int32 { return &v }

	pod, err := admitPod(plugin(node), corev1.PodSpec{})
	if err != nil || *pod.Spec.Priority != 0 || *pod.Spec.PreemptionPolicy != corev1.PreemptLowerPriority || pod.Spec.PriorityClassName != "" {
		t.Errorf("no class, no default: %v %+v", err, pod.Spec)
	}
	pod, err = admitPod(plugin(node, never), corev1.PodSpec{PriorityClassName: "batch"})
	if err != nil || *pod.Spec.Priority != 10 || *pod.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("named class: %v %+v", err, pod.Spec)
	}
	pod, err = admitPod(plugin(node, class("b", 7, true, corev1.PreemptLowerPriority), class("a", 5, true, corev1.PreemptLowerPriority)), corev1.PodSpec{})
	if err != nil || pod.Spec.PriorityClassName != "a" || *pod.Spec.Priority != 5 {
		t.Errorf("global default (lowest of two): %v %+v", err, pod.Spec)
	}
	for what, c := range map[string]struct {
		spec corev1.PodSpec
		want string
	}{
		"unknown class": {corev1.PodSpec{PriorityClassName: "nope"}, "no PriorityClass with name nope was found"},
		"stated value":  {corev1.PodSpec{PriorityClassName: "batch", Priority: i32(99)}, "the integer value of priority (99) must not be provided in pod spec; priority admission controller computed 10"},
		"stated policy": {corev1.PodSpec{PriorityClassName: "batch", PreemptionPolicy: ptr(corev1.PreemptLowerPriority)}, "the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided"},
	} {
		if _, err := admitPod(plugin(node, never), c.spec); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", what, err)
		}
	}
	// An update keeps what the create set.
	old := &corev1.Pod{Spec: corev1.PodSpec{Priority: i32(10), PreemptionPolicy: ptr(corev1.PreemptNever)}}
	upd := &corev1.Pod{}
	if err := plugin().Admit(context.Background(), &admission.Attributes{Operation: admission.Update, Resource: pods, Object: upd, OldObject: old}); err != nil ||
		*upd.Spec.Priority != 10 || *upd.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("update: %v %+v", err, upd.Spec)
	}
}

func ptr[T any](v T) *T { return &v }

func TestOneGlobalDefault(t *testing.T) {
	p := plugin(class("a", 5, true, corev1.PreemptLowerPriority))
	validate := func(op admission.Operation, pc *schedulingv1.PriorityClass) error {
		return p.Validate(context.Background(), &admission.Attributes{Operation: op, Resource: classes, Object: pc})
	}
	if err := validate(admission.Create, class("b", 1, true, corev1.PreemptLowerPriority)); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PriorityClass a is already marked as default") {
		t.Errorf("second default: %v", err)
	}
	if err := validate(admission.Update, class("a", 5, true, corev1.PreemptLowerPriority)); err != nil {
		t.Errorf("the default itself: %v", err)
	}
	if err := validate(admission.Create, class("c", 1, false, corev1.PreemptLowerPriority)); err != nil {
		t.Errorf("not a default: %v", err)
	}
}
