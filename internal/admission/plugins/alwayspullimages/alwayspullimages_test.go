package alwayspullimages

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

var pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func everyKind() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		InitContainers:      []corev1.Container{{Name: "init", Image: "a", ImagePullPolicy: corev1.PullNever}},
		Containers:          []corev1.Container{{Name: "main", Image: "b", ImagePullPolicy: corev1.PullIfNotPresent}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "c"}}},
		Volumes:             []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "d", PullPolicy: corev1.PullNever}}}},
	}}
}

func TestEveryImageIsPulledAlways(t *testing.T) {
	pod := everyKind()
	a := &admission.Attributes{Operation: admission.Create, Resource: pods, Name: "p", Object: pod}
	if err := (Plugin{}).Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s := pod.Spec
	if s.InitContainers[0].ImagePullPolicy != corev1.PullAlways || s.Containers[0].ImagePullPolicy != corev1.PullAlways ||
		s.EphemeralContainers[0].ImagePullPolicy != corev1.PullAlways || s.Volumes[0].Image.PullPolicy != corev1.PullAlways {
		t.Errorf("policies: %+v", s)
	}
	if err := (Plugin{}).Validate(context.Background(), a); err != nil {
		t.Errorf("after admit: %v", err)
	}
	// A policy changed after this plugin's turn is refused, naming the field.
	a.Object = everyKind()
	err := (Plugin{}).Validate(context.Background(), a)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `spec.initContainers[0].imagePullPolicy: Unsupported value: "Never": supported values: "Always"`) ||
		!strings.Contains(err.Error(), "spec.volumes[0].image.pullPolicy") {
		t.Errorf("validate: %v", err)
	}
}

func TestUpdatesWithoutNewImagesAndOtherWritesAreLeftAlone(t *testing.T) {
	old := everyKind()
	same := everyKind()
	if err := (Plugin{}).Validate(context.Background(), &admission.Attributes{Operation: admission.Update, Resource: pods, Object: same, OldObject: old}); err != nil {
		t.Errorf("update with the same images: %v", err)
	}
	changed := everyKind()
	changed.Spec.Containers[0].Image = "new"
	a := &admission.Attributes{Operation: admission.Update, Resource: pods, Object: changed, OldObject: old}
	if err := (Plugin{}).Admit(context.Background(), a); err != nil || changed.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("update with a new image: %v %v", err, changed.Spec.Containers[0].ImagePullPolicy)
	}
	status := everyKind()
	if err := (Plugin{}).Validate(context.Background(), &admission.Attributes{Operation: admission.Update, Resource: pods, Subresource: "status", Object: status, OldObject: old}); err != nil {
		t.Errorf("status: %v", err)
	}
}
