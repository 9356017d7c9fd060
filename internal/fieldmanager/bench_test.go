package fieldmanager

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"

	"github.com/sekisho/sekisho/internal/catalog"
)

// BenchmarkStatusUpdate is a kubelet's status update of a pod: sekisho's
// field manager, and kube-apiserver's (which checks every object against
// the schema) on the same objects.
func BenchmarkStatusUpdate(b *testing.B) {
	f := Shared()
	res := catalog.Pods()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "1"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}}},
			Tolerations: []corev1.Toleration{{Key: "k", Operator: "Exists"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}}
	live := f.Update(res, "", res.New(), pod, "creator")
	next := live.DeepCopyObject().(*corev1.Pod)
	next.Status.Phase = corev1.PodRunning
	next.Status.Conditions = append(next.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	next.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Ready: true, Image: "i", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	b.Run("sekisho", func(b *testing.B) {
		for b.Loop() {
			f.Update(res, "status", live, next.DeepCopy(), "kubelet")
		}
	})
	b.Run("checked", func(b *testing.B) {
		checked, err := managedfields.NewDefaultFieldManager(applyconfigurations.NewTypeConverter(f.scheme), f.scheme, noDefaults{}, f.scheme,
			res.GroupVersionKind(), res.GroupVersionKind().GroupVersion(), "status", nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			checked.UpdateNoErrors(live, next.DeepCopy(), "kubelet")
		}
	})
}
