// Package alwayspullimages is the AlwaysPullImages admission plugin: every
// container and image volume of a pod pulls its image on each start, so a
// pod cannot use an image that another tenant's pull left on the node
// without credentials of its own (CIS Kubernetes Benchmark 1.2.11).
package alwayspullimages

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/podspec"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "AlwaysPullImages"

// Plugin sets and checks image pull policies.
type Plugin struct{}

// ignored reports whether the plugin leaves a write alone: anything but a
// pod itself, and pod updates that bring no image the pod did not have.
func ignored(a *admission.Attributes) (*corev1.Pod, bool) {
	if a.Subresource != "" || a.Resource.Group != "" || a.Resource.Resource != "pods" {
		return nil, true
	}
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil, true
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil, true
	}
	if old, ok := a.OldObject.(*corev1.Pod); ok && a.Operation == admission.Update && !newImages(old, pod) {
		return nil, true
	}
	return pod, false
}

func newImages(old, pod *corev1.Pod) bool {
	had := map[string]bool{}
	podspec.VisitContainers(&old.Spec, field.NewPath("spec"), func(c *corev1.Container, _ podspec.ContainerKind, _ *field.Path) bool {
		had[c.Image] = true
		return true
	})
	return !podspec.VisitContainers(&pod.Spec, field.NewPath("spec"), func(c *corev1.Container, _ podspec.ContainerKind, _ *field.Path) bool {
		return had[c.Image]
	})
}

// Admit sets imagePullPolicy Always on every container of every kind and
// on every image volume.
func (Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	pod, skip := ignored(a)
	if skip {
		return nil
	}
	podspec.VisitContainers(&pod.Spec, field.NewPath("spec"), func(c *corev1.Container, _ podspec.ContainerKind, _ *field.Path) bool {
		c.ImagePullPolicy = corev1.PullAlways
		return true
	})
	for i := range pod.Spec.Volumes {
		if img := pod.Spec.Volumes[i].Image; img != nil {
			img.PullPolicy = corev1.PullAlways
		}
	}
	return nil
}

// Validate refuses a pod with any other pull policy: one a plugin after
// this one changed.
func (Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	pod, skip := ignored(a)
	if skip {
		return nil
	}
	var errs field.ErrorList
	always := []string{string(corev1.PullAlways)}
	podspec.VisitContainers(&pod.Spec, field.NewPath("spec"), func(c *corev1.Container, _ podspec.ContainerKind, p *field.Path) bool {
		if c.ImagePullPolicy != corev1.PullAlways {
			errs = append(errs, field.NotSupported(p.Child("imagePullPolicy"), c.ImagePullPolicy, always))
		}
		return true
	})
	for i, v := range pod.Spec.Volumes {
		if v.Image != nil && v.Image.PullPolicy != corev1.PullAlways {
			errs = append(errs, field.NotSupported(field.NewPath("spec", "volumes").Index(i).Child("image", "pullPolicy"), v.Image.PullPolicy, always))
		}
	}
	if len(errs) > 0 {
		return admission.NewForbidden(a, errors.New(errs.ToAggregate().Error()))
	}
	return nil
}
