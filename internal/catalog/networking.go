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
			in := obj.(*networkingv1.Ingress)
			var errs field.ErrorList
			for i, rule := range in.Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for j, p := range rule.HTTP.Paths {
					pp := field.NewPath("spec", "rules").Index(i).Child("http", "paths").Index(j)
					if p.PathType == nil {
						errs = append(errs, field.Required(pp.Child("pathType"), "pathType must be specified"))
					} else {
						errs = append(errs, validateEnum(string(*p.PathType), []string{"Exact", "ImplementationSpecific", "Prefix"}, pp.Child("pathType"))...)
					}
				}
			}
			return errs
		}, nil)
}

// IngressClasses is networking.k8s.io/v1 ingressclasses.
func IngressClasses() *Resource {
	return stored(networkingV1, "ingressclasses", "IngressClass", false, func() Object { return &networkingv1.IngressClass{} })
}

// IPAddresses is networking.k8s.io/v1 ipaddresses: an object per
// allocated service IP, named by the address.
func IPAddresses() *Resource {
	return stored(networkingV1, "ipaddresses", "IPAddress", false, func() Object { return &networkingv1.IPAddress{} }).
		short("ip")
}

// ServiceCIDRs is networking.k8s.io/v1 servicecidrs, with status.
func ServiceCIDRs() *Resource {
	return stored(networkingV1, "servicecidrs", "ServiceCIDR", false, func() Object { return &networkingv1.ServiceCIDR{} }).
		withStatus()
}
