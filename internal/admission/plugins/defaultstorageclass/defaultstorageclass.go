// Package defaultstorageclass is kube-apiserver's DefaultStorageClass
// plugin: a new PersistentVolumeClaim that names no storage class gets the
// cluster's default one, the StorageClass annotated
// storageclass.kubernetes.io/is-default-class: "true" (the newest, should
// there be several). A claim that sets storageClassName, even to "", keeps
// it.
package defaultstorageclass

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/internal/newest"
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
	name := newest.Default(list, func(c *storagev1.StorageClass) bool {
		return c.Annotations[defaultAnnotation] == "true" || c.Annotations[betaDefaultAnnotation] == "true"
	})
	if name == "" {
		return nil
	}
	claim.Spec.StorageClassName = &name
	return nil
}
