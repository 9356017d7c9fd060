package storageobjectinuseprotection

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

func TestAdmit(t *testing.T) {
	for gvr, finalizer := range Finalizers {
		for _, existing := range [][]string{nil, {"x"}, {finalizer}} {
			obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Finalizers: slices.Clone(existing)}}
			if err := (Plugin{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: gvr, Object: obj}); err != nil {
				t.Fatal(err)
			}
			if n := len(slices.DeleteFunc(slices.Clone(obj.Finalizers), func(f string) bool { return f != finalizer })); n != 1 {
				t.Errorf("%s with %v: finalizers %v", gvr.Resource, existing, obj.Finalizers)
			}
		}
	}
	// Updates and other resources are left alone.
	pv := &corev1.PersistentVolume{}
	(Plugin{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Update, Resource: corev1.SchemeGroupVersion.WithResource("persistentvolumes"), Object: pv})
	pod := &corev1.Pod{}
	(Plugin{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"), Object: pod})
	if len(pv.Finalizers) != 0 || len(pod.Finalizers) != 0 {
		t.Errorf("finalizers added: %v %v", pv.Finalizers, pod.Finalizers)
	}
}
