// Package defaultstorageclass is kube-apiserver's DefaultStorageClass
// plugin: a new PersistentVolumeClaim that names no storage class gets the
// cluster's default one, the StorageClass annotated
// storageclass.kubernetes.io/is-default-class: "true" (the newest, should
// there be several). A claim that sets storageClassName, even to "", keeps
// it.
package defaultstorageclass

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "DefaultStorageClass"

const (
	defaultAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
	betaClassAnnotation   = "volume.beta.kubernetes.io/storage-class"
)

// Plugin is the DefaultStorageClass admission plugin.
type Plugin struct {
	// Classes lists the stored storage classes.
	Classes func(ctx context.Context) ([]*storagev1.StorageClass, error)
}

var _ admission.Mutator = (*Plugin)(nil)

// Admit implements admission.Mutator on claim creates.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	claim, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if !ok || a.Operation != admission.Create || a.Subresource != "" || a.Resource != corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims") {
		return nil
	}
	if _, annotated := claim.Annotations[betaClassAnnotation]; annotated || claim.Spec.StorageClassName != nil {
		return nil
	}
	list, err := p.Classes(ctx)
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	var defaults []*storagev1.StorageClass
	for _, c := range list {
		if c.Annotations[defaultAnnotation] == "true" || c.Annotations[betaDefaultAnnotation] == "true" {
			defaults = append(defaults, c)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	// The newest first; in the same instant, by name.
	slices.SortFunc(defaults, func(x, y *storagev1.StorageClass) int {
		if c := y.CreationTimestamp.Compare(x.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	})
	name := defaults[0].Name
	claim.Spec.StorageClassName = &name
	return nil
}
