package catalog

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var networkingV1 = networkingv1.SchemeGroupVersion

// Ingresses is networking.k8s.io/v1 ingresses, with status.
func Ingresses() *Resource {
	return stored(networkingV1, "ingresses", "Ingress", true, func() Object { return &networkingv1.Ingress{} }).
		short("ing").withStatus().withGeneration().
		validated(func(obj Object) field.ErrorList {
			return netValidateIngress(obj.(*networkingv1.Ingress))
		}, nil)
}

// IngressClasses is networking.k8s.io/v1 ingressclasses. The controller
// may not change.
func IngressClasses() *Resource {
	return stored(networkingV1, "ingressclasses", "IngressClass", false, func() Object { return &networkingv1.IngressClass{} }).
		withGeneration().
		defaulted(func(obj Object) { netDefaultIngressClass(obj.(*networkingv1.IngressClass)) }).
		validated(func(obj Object) field.ErrorList {
			return netValidateIngressClassSpec(&obj.(*networkingv1.IngressClass).Spec, field.NewPath("spec"))
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass)
			return immutable(n.Spec.Controller, o.Spec.Controller, field.NewPath("spec", "controller"))
		})
}

// IPAddresses is networking.k8s.io/v1 ipaddresses: an object per
// allocated service IP, named by the address in canonical form. The
// parentRef may not change.
func IPAddresses() *Resource {
	r := stored(networkingV1, "ipaddresses", "IPAddress", false, func() Object { return &networkingv1.IPAddress{} }).
		short("ip").
		validated(func(obj Object) field.ErrorList {
			return netValidateIPAddressSpec(&obj.(*networkingv1.IPAddress).Spec, field.NewPath("spec"))
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*networkingv1.IPAddress), old.(*networkingv1.IPAddress)
			return immutable(n.Spec.ParentRef, o.Spec.ParentRef, field.NewPath("spec", "parentRef"))
		})
	r.ValidateName = nameIsCanonicalIP
	return r
}

// ServiceCIDRs is networking.k8s.io/v1 servicecidrs, with status: one
// CIDR, or two of different families; an update may only add the second.
func ServiceCIDRs() *Resource {
	return stored(networkingV1, "servicecidrs", "ServiceCIDR", false, func() Object { return &networkingv1.ServiceCIDR{} }).
		withStatus().
		validated(func(obj Object) field.ErrorList {
			return netValidateServiceCIDRSpec(&obj.(*networkingv1.ServiceCIDR).Spec, field.NewPath("spec", "cidrs"))
		}, func(obj, old Object) field.ErrorList {
			return netValidateServiceCIDRUpdate(obj.(*networkingv1.ServiceCIDR), old.(*networkingv1.ServiceCIDR))
		})
}
