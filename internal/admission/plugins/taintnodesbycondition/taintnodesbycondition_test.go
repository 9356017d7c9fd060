package taintnodesbycondition

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

func TestAdmit(t *testing.T) {
	nodes := corev1.SchemeGroupVersion.WithResource("nodes")
	for _, c := range []struct {
		what   string
		op     admission.Operation
		sub    string
		taints []corev1.Taint
		want   int
	}{
		{"a new node", admission.Create, "", nil, 1},
		{"a new node with other taints", admission.Create, "", []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoExecute}}, 2},
		{"a new node already tainted", admission.Create, "", []corev1.Taint{NotReady}, 1},
		{"an update", admission.Update, "", nil, 0},
		{"a status write", admission.Create, "status", nil, 0},
	} {
		n := &corev1.Node{Spec: corev1.NodeSpec{Taints: c.taints}}
		if err := (Plugin{}).Admit(context.Background(), &admission.Attributes{Operation: c.op, Resource: nodes, Subresource: c.sub, Object: n}); err != nil {
			t.Fatal(err)
		}
		if len(n.Spec.Taints) != c.want || c.want > 0 && n.Spec.Taints[len(n.Spec.Taints)-1] != NotReady {
			t.Errorf("%s: taints %v", c.what, n.Spec.Taints)
		}
	}
}
