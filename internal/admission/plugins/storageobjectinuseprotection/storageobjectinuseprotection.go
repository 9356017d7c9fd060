// Package storageobjectinuseprotection is kube-apiserver's
// StorageObjectInUseProtection plugin: new PersistentVolumes,
// PersistentVolumeClaims and VolumeAttributesClasses get the finalizer
// that keeps them while in use. kube-controller-manager's protection
// controllers remove it once nothing uses the object; until then a delete
// leaves it Terminating.
package storageobjectinuseprotection

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "StorageObjectInUseProtection"

// Finalizers are the finalizer each protected resource gets.
var Finalizers = map[schema.GroupVersionResource]string{
	corev1.SchemeGroupVersion.WithResource("persistentvolumes"):          "kubernetes.io/pv-protection",
	corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"):     "kubernetes.io/pvc-protection",
	storagev1.SchemeGroupVersion.WithResource("volumeattributesclasses"): "kubernetes.io/vac-protection",
}

// Plugin is the StorageObjectInUseProtection admission plugin.
type Plugin struct{}

var _ admission.Mutator = Plugin{}

// Admit implements admission.Mutator: it adds the finalizer on create.
func (Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	finalizer, ok := Finalizers[a.Resource]
	if a.Operation != admission.Create || a.Subresource != "" || !ok || a.Object == nil {
		return nil
	}
	obj, err := meta.Accessor(a.Object)
	if err != nil {
		return nil
	}
	if !slices.Contains(obj.GetFinalizers(), finalizer) {
		obj.SetFinalizers(append(obj.GetFinalizers(), finalizer))
	}
	return nil
}
