package catalog

import (
	"encoding/json"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateCoreEvent is kube-apiserver's validation of an Event written
// through core/v1, kept loose for old clients: an event without an event
// time is checked only for its namespace; one with an event time needs
// its reporting component, instance, action and reason.
func validateCoreEvent(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	ns := field.NewPath("involvedObject", "namespace")
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != "" && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(ns, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(ns, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		return errs
	}
	if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(ns, e.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	component := field.NewPath("reportingComponent")
	if e.ReportingController == "" {
		errs = append(errs, field.Required(component, ""))
	}
	errs = append(errs, validateQualifiedName(e.ReportingController, component)...)
	limited := func(path, value string, limit int) {
		if value == "" {
			errs = append(errs, field.Required(field.NewPath(path), ""))
		}
		if len(value) > limit {
			errs = append(errs, field.Invalid(field.NewPath(path), "", fmt.Sprintf("can have at most %v characters", limit)))
		}
	}
	limited("reportingInstance", e.ReportingInstance, eventReportingInstanceLimit)
	limited("action", e.Action, eventActionLimit)
	limited("reason", e.Reason, eventReasonLimit)
	if len(e.Message) > eventNoteLimit {
		errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLimit)))
	}
	return errs
}

// validateDockerConfigSecret checks the payload of the docker config
// secret types: present and JSON.
func validateDockerConfigSecret(s *corev1.Secret) field.ErrorList {
	key := map[corev1.SecretType]string{corev1.SecretTypeDockercfg: corev1.DockerConfigKey, corev1.SecretTypeDockerConfigJson: corev1.DockerConfigJsonKey}[s.Type]
	if key == "" {
		return nil
	}
	p := field.NewPath("data").Key(key)
	data, ok := s.Data[key]
	if !ok {
		return field.ErrorList{field.Required(p, "")}
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		return field.ErrorList{field.Invalid(p, "<secret contents redacted>", err.Error())}
	}
	return nil
}

// validateNodeSpec checks a node's taints and pod CIDRs.
func validateNodeSpec(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	seen := map[string]bool{}
	for i, t := range n.Spec.Taints {
		tp := spec.Child("taints").Index(i)
		errs = append(errs, validateQualifiedName(t.Key, tp.Child("key"))...)
		if t.Value != "" {
			errs = append(errs, invalidBy(validation.IsValidLabelValue, t.Value, tp.Child("value"))...)
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(tp.Child("effect"), ""))
		} else {
			errs = append(errs, validateEnum(string(t.Effect), []string{"NoExecute", "NoSchedule", "PreferNoSchedule"}, tp.Child("effect"))...)
		}
		key := t.Key + "/" + string(t.Effect)
		if seen[key] {
			errs = append(errs, field.Duplicate(tp, t))
		}
		seen[key] = true
	}
	if n.Spec.PodCIDR != "" {
		if _, _, err := net.ParseCIDR(n.Spec.PodCIDR); err != nil {
			errs = append(errs, field.Invalid(spec.Child("podCIDR"), n.Spec.PodCIDR, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
		}
	}
	families := map[bool]bool{}
	for i, c := range n.Spec.PodCIDRs {
		ip, _, err := net.ParseCIDR(c)
		if err != nil {
			errs = append(errs, field.Invalid(spec.Child("podCIDRs").Index(i), c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
			continue
		}
		v4 := ip.To4() != nil
		if families[v4] {
			errs = append(errs, field.Invalid(spec.Child("podCIDRs"), n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			break
		}
		families[v4] = true
	}
	return errs
}

// validateEndpointAddress refuses the addresses an endpoint may not have:
// loopback and link-local ones, as kube-apiserver does.
func validateEndpointAddress(ip string, p *field.Path) field.ErrorList {
	parsed := net.ParseIP(ip)
	switch {
	case parsed == nil:
		return validateIP(ip, p)
	case parsed.IsUnspecified():
		return field.ErrorList{field.Invalid(p, ip, "may not be unspecified (0.0.0.0)")}
	case parsed.IsLoopback():
		return field.ErrorList{field.Invalid(p, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case parsed.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(p, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case parsed.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(p, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

// validateLimitRangeItem checks one item's quantities against each other:
// a default or default request within min and max, a ratio of at least 1,
// and no defaults for pod items.
func validateLimitRangeItem(item corev1.LimitRangeItem, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if item.Type == corev1.LimitTypePod {
		if len(item.Default) > 0 {
			errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
		}
		if len(item.DefaultRequest) > 0 {
			errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
		}
	}
	for name, q := range item.Default {
		if max, ok := item.Max[name]; ok && q.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), q.String(), fmt.Sprintf("default value %s is greater than max value %s", q.String(), max.String())))
		}
		if min, ok := item.Min[name]; ok && q.Cmp(min) < 0 {
			errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), q.String(), fmt.Sprintf("min value %s is greater than default value %s", min.String(), q.String())))
		}
	}
	for name, q := range item.DefaultRequest {
		if max, ok := item.Max[name]; ok && q.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), q.String(), fmt.Sprintf("default request value %s is greater than max value %s", q.String(), max.String())))
		}
		if min, ok := item.Min[name]; ok && q.Cmp(min) < 0 {
			errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), q.String(), fmt.Sprintf("min value %s is greater than default request value %s", min.String(), q.String())))
		}
	}
	for name, q := range item.MaxLimitRequestRatio {
		if q.CmpInt64(1) < 0 {
			errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(string(name)), q.String(), fmt.Sprintf("ratio %s is less than 1", q.String())))
		}
	}
	return errs
}

// quotaScopeResources are the resources a quota with a scope on
// best-effort or terminating pods may limit.
var quotaScopeResources = map[corev1.ResourceQuotaScope][]string{
	corev1.ResourceQuotaScopeBestEffort:    {"pods"},
	corev1.ResourceQuotaScopeNotBestEffort: {"pods", "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"},
}

// validateQuotaScopes refuses a quota whose scopes cannot govern one of
// its resources.
func validateQuotaScopes(q *corev1.ResourceQuota) field.ErrorList {
	var errs field.ErrorList
	for _, scope := range q.Spec.Scopes {
		allowed, ok := quotaScopeResources[scope]
		if !ok {
			continue
		}
		for name := range q.Spec.Hard {
			ok := false
			for _, a := range allowed {
				ok = ok || string(name) == a
			}
			if !ok {
				errs = append(errs, field.Invalid(field.NewPath("spec", "hard"), q.Spec.Hard, "unsupported scope applied to resource"))
				return errs
			}
		}
	}
	return errs
}

// validateServiceDetails checks what validateService leaves out: unique
// ports, the external name, the traffic policy of services not reachable
// from outside, named target ports and the affinity timeout.
func validateServiceDetails(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	type portKey struct {
		port     int32
		protocol corev1.Protocol
	}
	ports := map[portKey]bool{}
	for i, p := range s.Spec.Ports {
		pp := spec.Child("ports").Index(i)
		k := portKey{p.Port, p.Protocol}
		if ports[k] {
			errs = append(errs, field.Duplicate(pp, k))
		}
		ports[k] = true
		if p.TargetPort.Type == intstr.String {
			for _, msg := range validation.IsValidPortName(p.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), p.TargetPort, msg))
			}
		}
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName && s.Spec.ExternalName != "" {
		errs = append(errs, invalidBy(validation.IsDNS1123Subdomain, s.Spec.ExternalName, spec.Child("externalName"))...)
	}
	external := s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort ||
		s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0
	if !external && s.Spec.ExternalTrafficPolicy != "" {
		errs = append(errs, field.Invalid(spec.Child("externalTrafficPolicy"), s.Spec.ExternalTrafficPolicy,
			"may only be set for externally-accessible services"))
	}
	if c := s.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(spec.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds)))
		}
	}
	return errs
}

// validateTemplateMeta checks a pod template's labels and annotations.
func validateTemplateMeta(m *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k, v := range m.Labels {
		errs = append(errs, validateQualifiedName(k, p.Child("labels"))...)
		errs = append(errs, invalidBy(validation.IsValidLabelValue, v, p.Child("labels"))...)
	}
	for k := range m.Annotations {
		errs = append(errs, validateQualifiedName(k, p.Child("annotations"))...)
	}
	return errs
}

// maxClientIPAffinitySeconds is the longest client IP session affinity.
const maxClientIPAffinitySeconds = 86400
