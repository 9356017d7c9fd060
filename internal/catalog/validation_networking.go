package catalog

import (
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rules of networking.k8s.io objects, as kube-apiserver words them.

const ingressClassAnnotation = "kubernetes.io/ingress.class"

// netIngressPathTypes are the values of an Ingress path's pathType.
var netIngressPathTypes = []string{"Exact", "ImplementationSpecific", "Prefix"}

// nameIsCanonicalIP is the name rule of IPAddresses: the canonical
// form of an IPv4 or IPv6 address.
func nameIsCanonicalIP(name string, _ bool) []string {
	var msgs []string
	for _, e := range validation.IsValidIP(&field.Path{}, name) {
		msgs = append(msgs, e.Detail)
	}
	return msgs
}

// netEachInvalid turns messages about a value into Invalid errors at p.
func netEachInvalid(p *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, value, msg))
	}
	return errs
}

// netValidatePathSegment checks a string that becomes part of a URL path.
func netValidatePathSegment(s string, p *field.Path) field.ErrorList {
	if s == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return netEachInvalid(p, s, content.IsPathSegmentName(s))
}

// netValidateIngressClassSpec checks an IngressClass's controller and
// parameters.
func netValidateIngressClassSpec(s *networkingv1.IngressClassSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Controller) > 250 {
		errs = append(errs, field.TooLong(p.Child("controller"), "", 250))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(p.Child("controller"), s.Controller)...)
	if s.Parameters != nil {
		errs = append(errs, netValidateIngressClassParameters(s.Parameters, p.Child("parameters"))...)
	}
	return errs
}

func netValidateIngressClassParameters(r *networkingv1.IngressClassParametersReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIGroup != nil {
		errs = append(errs, netEachInvalid(p.Child("apiGroup"), *r.APIGroup, validation.IsDNS1123Subdomain(*r.APIGroup))...)
	}
	errs = append(errs, netValidatePathSegment(r.Kind, p.Child("kind"))...)
	errs = append(errs, netValidatePathSegment(r.Name, p.Child("name"))...)
	if r.Scope == nil {
		return append(errs, field.Required(p.Child("scope"), ""))
	}
	switch *r.Scope {
	case networkingv1.IngressClassParametersReferenceScopeNamespace:
		if r.Namespace == nil {
			errs = append(errs, field.Required(p.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			errs = append(errs, netEachInvalid(p.Child("namespace"), *r.Namespace, apivalidation.NameIsDNSLabel(*r.Namespace, false))...)
		}
	case networkingv1.IngressClassParametersReferenceScopeCluster:
		if r.Namespace != nil {
			errs = append(errs, field.Forbidden(p.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("scope"), *r.Scope, []string{"Cluster", "Namespace"}))
	}
	return errs
}

// netDefaultIngressClass makes parameters without a scope cluster-scoped.
func netDefaultIngressClass(c *networkingv1.IngressClass) {
	if c.Spec.Parameters != nil {
		defaultTo(&c.Spec.Parameters.Scope, networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

// netValidateIngress checks an Ingress on create and update.
func netValidateIngress(in *networkingv1.Ingress) field.ErrorList {
	errs := netValidateIngressSpec(&in.Spec, field.NewPath("spec"))
	if v, ok := in.Annotations[ingressClassAnnotation]; ok && in.Spec.IngressClassName != nil && v != *in.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(ingressClassAnnotation), v, "must match `ingressClassName` when both are specified"))
	}
	return errs
}

func netValidateIngressSpec(s *networkingv1.IngressSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, s.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, netValidateIngressBackend(s.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i := range s.Rules {
		errs = append(errs, netValidateIngressRule(&s.Rules[i], p.Child("rules").Index(i))...)
	}
	for i, tls := range s.TLS {
		tp := p.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			errs = append(errs, netEachInvalid(tp.Child("hosts").Index(j), host, netHostErrors(host))...)
		}
		if tls.SecretName != "" {
			errs = append(errs, netEachInvalid(tp.Child("secretName"), tls.SecretName, apivalidation.NameIsDNSSubdomain(tls.SecretName, false))...)
		}
	}
	if s.IngressClassName != nil {
		errs = append(errs, netEachInvalid(p.Child("ingressClassName"), *s.IngressClassName, apivalidation.NameIsDNSSubdomain(*s.IngressClassName, false))...)
	}
	return errs
}

// netHostErrors checks a host name that may start with a "*." wildcard.
func netHostErrors(host string) []string {
	if strings.Contains(host, "*") {
		return validation.IsWildcardDNS1123Subdomain(host)
	}
	return validation.IsDNS1123Subdomain(host)
}

func netValidateIngressRule(r *networkingv1.IngressRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Host != "" {
		if net.ParseIP(r.Host) != nil {
			errs = append(errs, field.Invalid(p.Child("host"), r.Host, "must be a DNS name, not an IP address"))
		}
		errs = append(errs, netEachInvalid(p.Child("host"), r.Host, netHostErrors(r.Host))...)
	}
	if r.HTTP == nil {
		return errs
	}
	hp := p.Child("http")
	if len(r.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(hp.Child("paths"), ""))
	}
	for i := range r.HTTP.Paths {
		errs = append(errs, netValidateIngressPath(&r.HTTP.Paths[i], hp.Child("paths").Index(i))...)
	}
	return errs
}

func netValidateIngressPath(path *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		errs = append(errs, netValidateHTTPPath(path.Path, p.Child("path"))...)
	case networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *path.PathType, netIngressPathTypes))
	}
	return append(errs, netValidateIngressBackend(&path.Backend, p.Child("backend"))...)
}

// netValidateHTTPPath checks the path of an Exact or Prefix rule.
func netValidateHTTPPath(s string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !strings.HasPrefix(s, "/") {
		errs = append(errs, field.Invalid(p, s, "must be an absolute path"))
	}
	for _, seq := range []string{"//", "/./", "/../", "%2f", "%2F"} {
		if strings.Contains(s, seq) {
			errs = append(errs, field.Invalid(p, s, fmt.Sprintf("must not contain '%s'", seq)))
		}
	}
	for _, suffix := range []string{"/..", "/."} {
		if strings.HasSuffix(s, suffix) {
			errs = append(errs, field.Invalid(p, s, fmt.Sprintf("cannot end with '%s'", suffix)))
		}
	}
	return errs
}

func netValidateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return netValidateTypedReference(b.Resource, p.Child("resource"))
	case b.Service != nil:
		return netValidateServiceBackend(b.Service, p)
	}
	return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
}

func netValidateTypedReference(r *corev1.TypedLocalObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIGroup != nil {
		errs = append(errs, netEachInvalid(p.Child("apiGroup"), *r.APIGroup, validation.IsDNS1123Subdomain(*r.APIGroup))...)
	}
	errs = append(errs, netValidatePathSegment(r.Kind, p.Child("kind"))...)
	return append(errs, netValidatePathSegment(r.Name, p.Child("name"))...)
}

// netValidateServiceBackend checks a service backend; p is the backend's
// path, as kube-apiserver reports it.
func netValidateServiceBackend(s *networkingv1.IngressServiceBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("service", "name"), ""))
	} else {
		errs = append(errs, netEachInvalid(p.Child("service", "name"), s.Name, apivalidation.NameIsDNSLabel(s.Name, false))...)
	}
	switch {
	case s.Port.Name != "" && s.Port.Number != 0:
		errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
	case s.Port.Name != "":
		errs = append(errs, netEachInvalid(p.Child("service", "port", "name"), s.Port.Name, validation.IsValidPortName(s.Port.Name))...)
	case s.Port.Number != 0:
		errs = append(errs, netEachInvalid(p.Child("service", "port", "number"), s.Port.Number, validation.IsValidPortNum(int(s.Port.Number)))...)
	default:
		errs = append(errs, field.Required(p, "port name or number is required"))
	}
	return errs
}

// netValidateIPAddressSpec checks an IPAddress's parentRef.
func netValidateIPAddressSpec(s *networkingv1.IPAddressSpec, p *field.Path) field.ErrorList {
	p = p.Child("parentRef")
	r := s.ParentRef
	if r == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if r.Group != "" {
		errs = append(errs, netEachInvalid(p.Child("group"), r.Group, validation.IsDNS1123Subdomain(r.Group))...)
	}
	errs = append(errs, netValidatePathSegment(r.Resource, p.Child("resource"))...)
	errs = append(errs, netValidatePathSegment(r.Name, p.Child("name"))...)
	if r.Namespace != "" {
		errs = append(errs, netEachInvalid(p.Child("namespace"), r.Namespace, content.IsPathSegmentName(r.Namespace))...)
	}
	return errs
}

// netValidateServiceCIDRSpec checks a ServiceCIDR's cidrs: one or two
// canonical CIDRs, of different IP families.
func netValidateServiceCIDRSpec(s *networkingv1.ServiceCIDRSpec, p *field.Path) field.ErrorList {
	switch {
	case len(s.CIDRs) == 0:
		return field.ErrorList{field.Required(p, "at least one CIDR required")}
	case len(s.CIDRs) > 2:
		return field.ErrorList{field.Invalid(p, s, "may only hold up to 2 values")}
	}
	var errs field.ErrorList
	for i, c := range s.CIDRs {
		errs = append(errs, validation.IsValidCIDR(p.Index(i), c)...)
	}
	if len(s.CIDRs) == 2 {
		a, b := netCIDRFamily(s.CIDRs[0]), netCIDRFamily(s.CIDRs[1])
		if a != "" && a == b {
			errs = append(errs, field.Invalid(p, s.CIDRs, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	return errs
}

// netCIDRFamily is "4" or "6", or "" for a value that is not a CIDR.
func netCIDRFamily(cidr string) string {
	ip, _, err := net.ParseCIDR(cidr)
	switch {
	case err != nil:
		return ""
	case ip.To4() != nil:
		return "4"
	}
	return "6"
}

// netValidateServiceCIDRUpdate allows only adding a second CIDR.
func netValidateServiceCIDRUpdate(n, o *networkingv1.ServiceCIDR) field.ErrorList {
	p := field.NewPath("spec", "cidrs")
	switch {
	case len(n.Spec.CIDRs) == len(o.Spec.CIDRs):
		var errs field.ErrorList
		for i, c := range o.Spec.CIDRs {
			if n.Spec.CIDRs[i] != c {
				errs = append(errs, field.Invalid(p.Index(i), n.Spec.CIDRs[i], apivalidation.FieldImmutableErrorMsg))
			}
		}
		return errs
	case len(o.Spec.CIDRs) == 1 && len(n.Spec.CIDRs) == 2:
		if n.Spec.CIDRs[0] != o.Spec.CIDRs[0] {
			return field.ErrorList{field.Invalid(p.Index(0), n.Spec.CIDRs[0], apivalidation.FieldImmutableErrorMsg)}
		}
		return nil
	}
	return field.ErrorList{field.Invalid(p, n.Spec.CIDRs, apivalidation.FieldImmutableErrorMsg)}
}

// netValidatePolicyPort checks a NetworkPolicy port and its endPort.
func netValidatePolicyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil {
		errs = append(errs, validateProtocol(string(*port.Protocol), p.Child("protocol"))...)
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		errs = append(errs, netEachInvalid(p.Child("port"), port.Port.IntVal, validation.IsValidPortNum(int(port.Port.IntVal)))...)
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "must be greater than or equal to `port`"))
			}
			errs = append(errs, netEachInvalid(p.Child("endPort"), *port.EndPort, validation.IsValidPortNum(int(*port.EndPort)))...)
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		errs = append(errs, netEachInvalid(p.Child("port"), port.Port.StrVal, validation.IsValidPortName(port.Port.StrVal))...)
	}
	return errs
}

// netValidatePolicyPeer checks a NetworkPolicy peer: at least one
// selector or an ipBlock, never an ipBlock with anything else.
func netValidatePolicyPeer(peer *networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, validateLabelSelector(peer.PodSelector, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, validateLabelSelector(peer.NamespaceSelector, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, netValidateIPBlock(peer.IPBlock, p.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a peer"))
	case n > 1 && peer.IPBlock != nil:
		errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

// netValidateIPBlock checks an ipBlock's cidr and that each except is a
// strict subset of it.
func netValidateIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "")}
	}
	errs := validation.IsValidCIDRForLegacyField(p.Child("cidr"), b.CIDR, true, nil)
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil {
		return errs
	}
	for i, s := range b.Except {
		ep := p.Child("except").Index(i)
		errs = append(errs, validation.IsValidCIDRForLegacyField(ep, s, true, nil)...)
		_, except, err := net.ParseCIDR(s)
		if err != nil {
			continue
		}
		outer, _ := cidr.Mask.Size()
		inner, _ := except.Mask.Size()
		if !cidr.Contains(except.IP) || outer >= inner {
			errs = append(errs, field.Invalid(ep, s, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
