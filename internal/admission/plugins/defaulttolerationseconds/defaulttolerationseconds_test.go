package defaulttolerationseconds

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

func TestAdmit(t *testing.T) {
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	for _, c := range []struct {
		what string
		have []corev1.Toleration
		want int
	}{
		{"none", nil, 2},
		{"tolerates everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, 1},
		{"its own not-ready toleration", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}, 2},
		{"a NoSchedule toleration only", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, 3},
	} {
		p := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: c.have}}
		if err := (Plugin{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: pods, Object: p}); err != nil {
			t.Fatal(err)
		}
		if len(p.Spec.Tolerations) != c.want {
			t.Errorf("%s: %+v", c.what, p.Spec.Tolerations)
		}
		for _, tol := range p.Spec.Tolerations[len(c.have):] {
			if tol.TolerationSeconds == nil || *tol.TolerationSeconds != 300 || tol.Effect != corev1.TaintEffectNoExecute {
				t.Errorf("%s: added %+v", c.what, tol)
			}
		}
	}
	// A status write is left alone.
	p := &corev1.Pod{}
	(Plugin{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Update, Resource: pods, Subresource: "status", Object: p})
	if len(p.Spec.Tolerations) != 0 {
		t.Errorf("status write changed: %+v", p.Spec.Tolerations)
	}
}
