// Package defaultingressclass is kube-apiserver's DefaultIngressClass
// plugin: a new Ingress that names no class, by field or by the older
// kubernetes.io/ingress.class annotation, gets the cluster's default
// IngressClass, the one annotated
// ingressclass.kubernetes.io/is-default-class: "true" (the newest, should
// there be several).
package defaultingressclass

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	networkingv1beta1 "k8s.io/api/networking/v1beta1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/internal/newest"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "DefaultIngressClass"

// Plugin is the DefaultIngressClass admission plugin.
type Plugin struct {
	// Classes lists the stored ingress classes.
	Classes func(ctx context.Context) ([]*networkingv1.IngressClass, error)
}

var _ admission.Mutator = (*Plugin)(nil)

// Admit gives a new Ingress without a class the default one.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "" || a.Resource.GroupResource() != networkingv1.Resource("ingresses") {
		return nil
	}
	ing, ok := a.Object.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	if ing.Spec.IngressClassName != nil {
		return nil
	}
	if _, ok := ing.Annotations[networkingv1beta1.AnnotationIngressClass]; ok {
		return nil
	}
	list, err := p.Classes(ctx)
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	name := newest.Default(list, func(c *networkingv1.IngressClass) bool {
		return c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true"
	})
	if name == "" {
		return nil
	}
	ing.Spec.IngressClassName = &name
	return nil
}
