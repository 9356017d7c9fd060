// Package namespacelifecycle refuses new objects in a namespace that does
// not exist or is being deleted, as Kubernetes' NamespaceLifecycle plugin does.
package namespacelifecycle

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

// NamespaceGetter reads a namespace.
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "NamespaceLifecycle"

// New returns the plugin. namespaced reports whether a resource lives in namespaces.
func New(get NamespaceGetter, namespaced func(schema.GroupVersionResource) bool) admission.Validator {
	return admission.ValidatorFunc(func(ctx context.Context, a *admission.Attributes) error {
		if a.Operation != admission.Create || a.Subresource != "" || a.Namespace == "" || !namespaced(a.Resource) {
			return nil
		}
		ns, err := get(ctx, a.Namespace)
		if apierrors.IsNotFound(err) {
			return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, a.Namespace)
		}
		if err != nil {
			return err
		}
		if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
			err := apierrors.NewForbidden(a.Resource.GroupResource(), a.Name,
				fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
			// Clients recognise this refusal by its cause, as Kubernetes gives it.
			err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
				Type:    corev1.NamespaceTerminatingCause,
				Message: fmt.Sprintf("namespace %s is being terminated", a.Namespace),
				Field:   "metadata.namespace",
			})
			return err
		}
		return nil
	})
}
