// Package persistentvolumeclaimresize is kube-apiserver's
// PersistentVolumeClaimResize plugin: a claim may grow only once it is
// bound, and only when the StorageClass that provisioned it allows
// volume expansion. Shrinking is validation's to refuse.
package persistentvolumeclaimresize

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "PersistentVolumeClaimResize"

// Plugin is the PersistentVolumeClaimResize admission plugin.
type Plugin struct {
	// Class reads a stored storage class.
	Class func(ctx context.Context, name string) (*storagev1.StorageClass, error)
}

var _ admission.Validator = (*Plugin)(nil)

var claims = corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")

// Validate refuses a claim's growth that its class does not allow.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Resource.GroupResource() != claims.GroupResource() || a.Subresource != "" {
		return nil
	}
	claim, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	old, ok := a.OldObject.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	before, after := old.Spec.Resources.Requests[corev1.ResourceStorage], claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if after.Cmp(before) <= 0 {
		return nil
	}
	if old.Status.Phase != corev1.ClaimBound {
		return admission.NewForbidden(a, errors.New("Only bound persistent volume claims can be expanded"))
	}
	if !p.mayGrow(ctx, claim, old) {
		return admission.NewForbidden(a, errors.New("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"))
	}
	return nil
}

func (p *Plugin) mayGrow(ctx context.Context, claim, old *corev1.PersistentVolumeClaim) bool {
	class, oldClass := classOf(claim), classOf(old)
	if class == "" || class != oldClass {
		return false
	}
	sc, err := p.Class(ctx, class)
	if err != nil {
		return false
	}
	return sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
}

// classOf is the storage class a claim names, in the beta annotation that
// came first or in its spec.
func classOf(c *corev1.PersistentVolumeClaim) string {
	if name, ok := c.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return name
	}
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}
