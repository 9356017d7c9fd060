// Package defaultingressclass is kube-apiserver's DefaultIngressClass
// plugin: a new Ingress that names no class, by field or by the older
// kubernetes.io/ingress.class annotation, gets the cluster's default
// IngressClass, the one annotated
// ingressclass.kubernetes.io/is-default-class: "true" (the newest, should
// there be several).
package defaultingressclass

import (
	"context"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	networkingv1beta1 "k8s.io/api/networking/v1beta1"

	"github.com/sekisho/sekisho/internal/admission"
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
	var defaults []*networkingv1.IngressClass
	for _, c := range list {
		if c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			defaults = append(defaults, c)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	slices.SortFunc(defaults, func(x, y *networkingv1.IngressClass) int {
		if c := y.CreationTimestamp.Compare(x.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	})
	name := defaults[0].Name
	ing.Spec.IngressClassName = &name
	return nil
}
