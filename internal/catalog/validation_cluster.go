package catalog

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	nodev1 "k8s.io/api/node/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// Rules of flowcontrol, discovery, node, storagemigration and
// apiregistration objects, as kube-apiserver words them.

const (
	fcMaxMatchingPrecedence = 10000
	fcMaxQueues             = 10 * 1000 * 1000
	fcMaxHashBits           = 60 // shuffle sharding's usable bits of a hash
)

var (
	fcVerbs        = []string{"create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch"}
	fcSubjectKinds = []string{"Group", "ServiceAccount", "User"}
)

// fcDefaultPriorityLevel fills in a PriorityLevelConfiguration's
// defaults: shares and lendable percent of either kind, and the queuing
// parameters wherever queuing is given.
func fcDefaultPriorityLevel(s *flowcontrolv1.PriorityLevelConfigurationSpec) {
	if e := s.Exempt; e != nil {
		defaultTo(&e.NominalConcurrencyShares, 0)
		defaultTo(&e.LendablePercent, 0)
	}
	l := s.Limited
	if l == nil {
		return
	}
	defaultTo(&l.NominalConcurrencyShares, 30)
	defaultTo(&l.LendablePercent, 0)
	if q := l.LimitResponse.Queuing; q != nil {
		zeroTo(&q.HandSize, 8)
		zeroTo(&q.Queues, 64)
		zeroTo(&q.QueueLengthLimit, 50)
	}
}

// fcValidatePriorityLevelSpec checks a PriorityLevelConfiguration's spec:
// only the one named exempt is Exempt, and each type has its own
// configuration only.
func fcValidatePriorityLevelSpec(name string, s *flowcontrolv1.PriorityLevelConfigurationSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if (name == flowcontrolv1.PriorityLevelConfigurationNameExempt) != (s.Type == flowcontrolv1.PriorityLevelEnablementExempt) {
		errs = append(errs, field.Invalid(p.Child("type"), s.Type, "must be 'Exempt' if and only if `name` is 'exempt'"))
	}
	switch s.Type {
	case flowcontrolv1.PriorityLevelEnablementExempt:
		if s.Limited != nil {
			errs = append(errs, field.Forbidden(p.Child("limited"), "must be nil if the type is not Limited"))
		}
		if s.Exempt != nil {
			errs = append(errs, fcValidateShares(s.Exempt.NominalConcurrencyShares, s.Exempt.LendablePercent, p.Child("exempt"))...)
		}
	case flowcontrolv1.PriorityLevelEnablementLimited:
		if s.Exempt != nil {
			errs = append(errs, field.Forbidden(p.Child("exempt"), "must be nil if the type is Limited"))
		}
		if s.Limited == nil {
			errs = append(errs, field.Required(p.Child("limited"), "must not be empty when type is Limited"))
		} else {
			errs = append(errs, fcValidateLimited(s.Limited, p.Child("limited"))...)
		}
	case "":
		errs = append(errs, field.Required(p.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), s.Type, []string{"Exempt", "Limited"}))
	}
	return errs
}

// fcValidateShares checks nominal concurrency shares and a lendable
// percent.
func fcValidateShares(shares, lendable *int32, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if shares != nil && *shares < 0 {
		errs = append(errs, field.Invalid(p.Child("nominalConcurrencyShares"), *shares, "must be a non-negative integer"))
	}
	if lendable != nil && (*lendable < 0 || *lendable > 100) {
		errs = append(errs, field.Invalid(p.Child("lendablePercent"), *lendable, "must be between 0 and 100, inclusive"))
	}
	return errs
}

func fcValidateLimited(l *flowcontrolv1.LimitedPriorityLevelConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if l.NominalConcurrencyShares != nil && *l.NominalConcurrencyShares < 0 {
		errs = append(errs, field.Invalid(p.Child("nominalConcurrencyShares"), *l.NominalConcurrencyShares, "must be a non-negative integer"))
	}
	errs = append(errs, fcValidateLimitResponse(&l.LimitResponse, p.Child("limitResponse"))...)
	errs = append(errs, fcValidateShares(nil, l.LendablePercent, p)...)
	if b := l.BorrowingLimitPercent; b != nil && *b < 0 {
		errs = append(errs, field.Invalid(p.Child("borrowingLimitPercent"), *b, "if specified, must be a non-negative integer"))
	}
	return errs
}

func fcValidateLimitResponse(r *flowcontrolv1.LimitResponse, p *field.Path) field.ErrorList {
	switch r.Type {
	case flowcontrolv1.LimitResponseTypeReject:
		if r.Queuing != nil {
			return field.ErrorList{field.Forbidden(p.Child("queuing"), "must be nil if limited.limitResponse.type is not Limited")}
		}
		return nil
	case flowcontrolv1.LimitResponseTypeQueue:
		if r.Queuing == nil {
			return field.ErrorList{field.Required(p.Child("queuing"), "must not be empty if limited.limitResponse.type is Limited")}
		}
		return fcValidateQueuing(r.Queuing, p.Child("queuing"))
	case "":
		return field.ErrorList{field.Required(p.Child("type"), "")}
	}
	return field.ErrorList{field.NotSupported(p.Child("type"), r.Type, []string{"Queue", "Reject"})}
}

// fcValidateQueuing checks queue counts and that shuffle sharding can
// deal the hand size from the queues.
func fcValidateQueuing(q *flowcontrolv1.QueuingConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.QueueLengthLimit <= 0 {
		errs = append(errs, field.Invalid(p.Child("queueLengthLimit"), q.QueueLengthLimit, "must be positive"))
	}
	if q.Queues <= 0 {
		errs = append(errs, field.Invalid(p.Child("queues"), q.Queues, "must be positive"))
	} else if q.Queues > fcMaxQueues {
		errs = append(errs, field.Invalid(p.Child("queues"), q.Queues, fmt.Sprintf("must not be greater than %d", fcMaxQueues)))
	}
	switch {
	case q.HandSize <= 0:
		errs = append(errs, field.Invalid(p.Child("handSize"), q.HandSize, "must be positive"))
	case q.HandSize > q.Queues:
		errs = append(errs, field.Invalid(p.Child("handSize"), q.HandSize, fmt.Sprintf("should not be greater than queues (%d)", q.Queues)))
	case int(math.Ceil(math.Log2(float64(q.Queues))*float64(q.HandSize))) > fcMaxHashBits:
		errs = append(errs, field.Invalid(p.Child("handSize"), q.HandSize,
			fmt.Sprintf("required entropy bits of deckSize %d and handSize %d should not be greater than %d", q.Queues, q.HandSize, fcMaxHashBits)))
	}
	return errs
}

// fcValidateFlowSchemaSpec checks a FlowSchema's spec.
func fcValidateFlowSchemaSpec(name string, s *flowcontrolv1.FlowSchemaSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	mp := p.Child("matchingPrecedence")
	if s.MatchingPrecedence <= 0 {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, "must be a positive value"))
	}
	if s.MatchingPrecedence > fcMaxMatchingPrecedence {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, fmt.Sprintf("must not be greater than %v", fcMaxMatchingPrecedence)))
	}
	if s.MatchingPrecedence == 1 && name != flowcontrolv1.FlowSchemaNameExempt {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, "only the schema named 'exempt' may have matchingPrecedence 1"))
	}
	if d := s.DistinguisherMethod; d != nil && d.Type != flowcontrolv1.FlowDistinguisherMethodByNamespaceType && d.Type != flowcontrolv1.FlowDistinguisherMethodByUserType {
		errs = append(errs, field.NotSupported(p.Child("distinguisherMethod", "type"), d, []string{"ByNamespace", "ByUser"}))
	}
	plc := s.PriorityLevelConfiguration.Name
	if plc == "" {
		errs = append(errs, field.Required(p.Child("priorityLevelConfiguration", "name"), "must reference a priority level"))
	} else {
		errs = append(errs, netEachInvalid(p.Child("priorityLevelConfiguration", "name"), plc, apivalidation.NameIsDNSSubdomain(plc, false))...)
	}
	for i := range s.Rules {
		errs = append(errs, fcValidateRule(&s.Rules[i], p.Child("rules").Index(i))...)
	}
	return errs
}

func fcValidateRule(r *flowcontrolv1.PolicyRulesWithSubjects, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.Subjects) == 0 {
		errs = append(errs, field.Required(p.Child("subjects"), "subjects must contain at least one value"))
	}
	for i := range r.Subjects {
		errs = append(errs, fcValidateSubject(&r.Subjects[i], p.Child("subjects").Index(i))...)
	}
	if len(r.ResourceRules) == 0 && len(r.NonResourceRules) == 0 {
		errs = append(errs, field.Required(p, "at least one of resourceRules and nonResourceRules has to be non-empty"))
	}
	for i := range r.ResourceRules {
		errs = append(errs, fcValidateResourceRule(&r.ResourceRules[i], p.Child("resourceRules").Index(i))...)
	}
	for i := range r.NonResourceRules {
		errs = append(errs, fcValidateNonResourceRule(&r.NonResourceRules[i], p.Child("nonResourceRules").Index(i))...)
	}
	return errs
}

// fcValidateSubject checks that a subject has the member its kind names
// and no other.
func fcValidateSubject(s *flowcontrolv1.Subject, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	notUser := field.Forbidden(p.Child("user"), "user is forbidden when subject kind is not 'User'")
	notGroup := field.Forbidden(p.Child("group"), "group is forbidden when subject kind is not 'Group'")
	notSA := field.Forbidden(p.Child("serviceAccount"), "serviceAccount is forbidden when subject kind is not 'ServiceAccount'")
	switch s.Kind {
	case flowcontrolv1.SubjectKindServiceAccount:
		errs = append(errs, fcValidateServiceAccountSubject(s.ServiceAccount, p.Child("serviceAccount"))...)
		errs = fcForbidIf(errs, s.User != nil, notUser)
		errs = fcForbidIf(errs, s.Group != nil, notGroup)
	case flowcontrolv1.SubjectKindUser:
		if s.User == nil {
			errs = append(errs, field.Required(p.Child("user"), "user is required when subject kind is 'User'"))
		} else if s.User.Name == "" {
			errs = append(errs, field.Required(p.Child("user", "name"), ""))
		}
		errs = fcForbidIf(errs, s.ServiceAccount != nil, notSA)
		errs = fcForbidIf(errs, s.Group != nil, notGroup)
	case flowcontrolv1.SubjectKindGroup:
		if s.Group == nil {
			errs = append(errs, field.Required(p.Child("group"), "group is required when subject kind is 'Group'"))
		} else if s.Group.Name == "" {
			errs = append(errs, field.Required(p.Child("group", "name"), ""))
		}
		errs = fcForbidIf(errs, s.ServiceAccount != nil, notSA)
		errs = fcForbidIf(errs, s.User != nil, notUser)
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, fcSubjectKinds))
	}
	return errs
}

func fcForbidIf(errs field.ErrorList, cond bool, e *field.Error) field.ErrorList {
	if cond {
		return append(errs, e)
	}
	return errs
}

func fcValidateServiceAccountSubject(s *flowcontrolv1.ServiceAccountSubject, p *field.Path) field.ErrorList {
	if s == nil {
		return field.ErrorList{field.Required(p, "serviceAccount is required when subject kind is 'ServiceAccount'")}
	}
	var errs field.ErrorList
	switch s.Name {
	case "":
		errs = append(errs, field.Required(p.Child("name"), ""))
	case flowcontrolv1.NameAll:
	default:
		errs = append(errs, netEachInvalid(p.Child("name"), s.Name, apivalidation.ValidateServiceAccountName(s.Name, false))...)
	}
	if s.Namespace == "" {
		errs = append(errs, field.Required(p.Child("namespace"), "must specify namespace for service account"))
	} else {
		errs = append(errs, netEachInvalid(p.Child("namespace"), s.Namespace, apivalidation.ValidateNamespaceName(s.Namespace, false))...)
	}
	return errs
}

// fcValidateVerbs checks a rule's verbs: "*" alone, or known verbs.
func fcValidateVerbs(verbs []string, p *field.Path) field.ErrorList {
	switch {
	case len(verbs) == 0:
		return field.ErrorList{field.Required(p, "verbs must contain at least one value")}
	case slices.Contains(verbs, "*"):
		if len(verbs) > 1 {
			return field.ErrorList{field.Invalid(p, verbs, "if '*' is present, must not specify other verbs")}
		}
		return nil
	}
	for _, v := range verbs {
		if !slices.Contains(fcVerbs, v) {
			return field.ErrorList{field.NotSupported(p, verbs, fcVerbs)}
		}
	}
	return nil
}

// fcValidateWildcardList checks a list that must not be empty and may
// hold "*" only alone.
func fcValidateWildcardList(list []string, p *field.Path, required, mixed string) field.ErrorList {
	switch {
	case len(list) == 0:
		return field.ErrorList{field.Required(p, required)}
	case len(list) > 1 && slices.Contains(list, "*"):
		return field.ErrorList{field.Invalid(p, list, mixed)}
	}
	return nil
}

func fcValidateResourceRule(r *flowcontrolv1.ResourcePolicyRule, p *field.Path) field.ErrorList {
	errs := fcValidateVerbs(r.Verbs, p.Child("verbs"))
	errs = append(errs, fcValidateWildcardList(r.APIGroups, p.Child("apiGroups"),
		"resource rules must supply at least one api group", "if '*' is present, must not specify other api groups")...)
	errs = append(errs, fcValidateWildcardList(r.Resources, p.Child("resources"),
		"resource rules must supply at least one resource", "if '*' is present, must not specify other resources")...)
	np := p.Child("namespaces")
	switch {
	case len(r.Namespaces) == 0 && !r.ClusterScope:
		errs = append(errs, field.Required(np, "resource rules that are not cluster scoped must supply at least one namespace"))
	case slices.Contains(r.Namespaces, "*"):
		if len(r.Namespaces) > 1 {
			errs = append(errs, field.Invalid(np, r.Namespaces, "if '*' is present, must not specify other namespaces"))
		}
	default:
		for i, ns := range r.Namespaces {
			for _, msg := range apivalidation.ValidateNamespaceName(ns, false) {
				errs = append(errs, field.Invalid(np.Index(i), ns, "each member of this list must be '*' or a DNS-1123 label; "+msg))
			}
		}
	}
	return errs
}

func fcValidateNonResourceRule(r *flowcontrolv1.NonResourcePolicyRule, p *field.Path) field.ErrorList {
	errs := fcValidateVerbs(r.Verbs, p.Child("verbs"))
	up := p.Child("nonResourceURLs")
	switch {
	case len(r.NonResourceURLs) == 0:
		errs = append(errs, field.Required(up, "nonResourceURLs must contain at least one value"))
	case slices.Contains(r.NonResourceURLs, "*"):
		if len(r.NonResourceURLs) > 1 {
			errs = append(errs, field.Invalid(up, r.NonResourceURLs, "if '*' is present, must not specify other non-resource URLs"))
		}
	default:
		for i, u := range r.NonResourceURLs {
			if msg := fcNonResourceURLError(u); msg != "" {
				errs = append(errs, field.Invalid(up.Index(i), u, msg))
			}
		}
	}
	return errs
}

// fcNonResourceURLError says what is wrong with a non-resource URL
// pattern, or "".
func fcNonResourceURLError(u string) string {
	switch {
	case u == "":
		return "must not be empty"
	case u == "/":
		return ""
	case !strings.HasPrefix(u, "/"):
		return "must start with slash"
	case strings.Contains(u, " "):
		return "must not contain white-space"
	case strings.Contains(u, "//"):
		return "must not contain double slash"
	}
	if n := strings.Count(u, "*"); n > 1 || (n == 1 && !strings.HasSuffix(u, "/*")) {
		return "wildcard can only do suffix matching"
	}
	return ""
}

// esNoEmptyEndpoints stores an empty endpoints list as none, as
// kube-apiserver's protobuf storage does.
func esNoEmptyEndpoints(obj Object) {
	if s := obj.(*discoveryv1.EndpointSlice); len(s.Endpoints) == 0 {
		s.Endpoints = nil
	}
}

// esValidatePorts checks an EndpointSlice's (defaulted) ports: distinct
// DNS-label names, a known protocol, a qualified appProtocol.
func esValidatePorts(ports []discoveryv1.EndpointPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(ports) > 20000 {
		return field.ErrorList{field.TooMany(p, len(ports), 20000)}
	}
	var names []string
	for i, port := range ports {
		ip := p.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, validateDNSLabel(name, ip.Child("name"))...)
		}
		if slices.Contains(names, name) {
			errs = append(errs, field.Duplicate(ip.Child("name"), name))
		} else {
			names = append(names, name)
		}
		if port.Protocol == nil {
			errs = append(errs, field.Required(ip.Child("protocol"), ""))
		} else {
			errs = append(errs, stoNotSupported(string(*port.Protocol), []string{"SCTP", "TCP", "UDP"}, ip.Child("protocol"))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, validateQualifiedName(*port.AppProtocol, ip.Child("appProtocol"))...)
		}
	}
	return errs
}

// esValidateEndpoints checks an EndpointSlice's endpoints against its
// address type.
func esValidateEndpoints(eps []discoveryv1.Endpoint, t discoveryv1.AddressType, p *field.Path) field.ErrorList {
	if len(eps) > 1000 {
		return field.ErrorList{field.TooMany(p, len(eps), 1000)}
	}
	var errs field.ErrorList
	for i, ep := range eps {
		ip := p.Index(i)
		ap := ip.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(ep.Addresses) > 100:
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), 100))
		}
		for j, a := range ep.Addresses {
			errs = append(errs, esValidateAddress(a, t, ap, ap.Index(j))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, netEachInvalid(ip.Child("nodeName"), *ep.NodeName, apivalidation.NameIsDNSSubdomain(*ep.NodeName, false))...)
		}
		if ep.Hostname != nil {
			errs = append(errs, validateDNSLabel(*ep.Hostname, ip.Child("hostname"))...)
		}
		if len(ep.DeprecatedTopology) > 16 {
			errs = append(errs, field.TooMany(ip.Child("deprecatedTopology"), len(ep.DeprecatedTopology), 16))
		}
		errs = append(errs, metavalidation.ValidateLabels(ep.DeprecatedTopology, ip.Child("deprecatedTopology"))...)
	}
	return errs
}

// esValidateAddress checks one address; kube reports a family mismatch
// at the list's path (listPath), other errors at the address's own.
func esValidateAddress(a string, t discoveryv1.AddressType, listPath, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4:
		if errs := validation.IsValidIPForLegacyField(p, a, true, nil); len(errs) > 0 {
			return errs
		}
		var errs field.ErrorList
		if net.ParseIP(a).To4() == nil {
			errs = append(errs, field.Invalid(listPath, a, "must be an IPv4 address"))
		}
		return append(errs, esValidateEndpointIP(a, p)...)
	case discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIP(p, a); len(errs) > 0 {
			return errs
		}
		var errs field.ErrorList
		if net.ParseIP(a).To4() != nil {
			errs = append(errs, field.Invalid(listPath, a, "must be an IPv6 address"))
		}
		return append(errs, esValidateEndpointIP(a, p)...)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}

// esValidateEndpointIP refuses addresses no endpoint can have.
func esValidateEndpointIP(a string, p *field.Path) field.ErrorList {
	ip := net.ParseIP(a)
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(p, a, fmt.Sprintf("may not be unspecified (%v)", a)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(p, a, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(p, a, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(p, a, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

// rcValidateRuntimeClass checks a RuntimeClass's handler, overhead and
// scheduling.
func rcValidateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	hp := field.NewPath("handler")
	var errs field.ErrorList
	if rc.Handler == "" {
		errs = append(errs, field.Required(hp, ""))
	} else {
		errs = append(errs, validateDNSLabel(rc.Handler, hp)...)
	}
	if rc.Overhead != nil {
		// kube-apiserver checks the overhead as a container's limits.
		lp := field.NewPath("overhead", "limits")
		for _, name := range rcSortedNames(rc.Overhead.PodFixed) {
			errs = append(errs, validateNonNegativeQuantity(rc.Overhead.PodFixed[corev1.ResourceName(name)], lp.Key(name))...)
		}
	}
	if s := rc.Scheduling; s != nil {
		sp := field.NewPath("scheduling")
		errs = append(errs, metavalidation.ValidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		errs = append(errs, rcValidateTolerations(s.Tolerations, sp.Child("tolerations"))...)
	}
	return errs
}

func rcSortedNames(l corev1.ResourceList) []string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, string(n))
	}
	slices.Sort(names)
	return names
}

// rcValidateTolerations checks tolerations as a pod's, and that none is
// listed twice.
func rcValidateTolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	type key struct{ k, op, v, e string }
	seen := map[key]bool{}
	for i, t := range ts {
		errs = append(errs, rcValidateToleration(&t, p.Index(i))...)
		k := key{t.Key, string(t.Operator), t.Value, string(t.Effect)}
		if seen[k] {
			errs = append(errs, field.Duplicate(p.Index(i), t))
		}
		seen[k] = true
	}
	return errs
}

func rcValidateToleration(t *corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
	}
	if t.Key == "" && t.Operator != corev1.TolerationOpExists {
		errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
	}
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Value, strings.Join(msgs, ";")))
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
		}
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, []string{"Equal", "Exists", "Lt", "Gt"}))
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, []string{"Equal", "Exists"}))
	}
	if t.Effect != "" {
		errs = append(errs, stoNotSupported(string(t.Effect), []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, p.Child("effect"))...)
	}
	return errs
}

// svmValidateSpec checks the resource a StorageVersionMigration names.
func svmValidateSpec(s *storagemigrationv1.StorageVersionMigrationSpec) field.ErrorList {
	p := field.NewPath("spec", "resource")
	var errs field.ErrorList
	if r := s.Resource.Resource; r == "" {
		errs = append(errs, field.Required(p.Child("resource"), "resource is required to be set"))
	} else if msgs := validation.IsDNS1035Label(r); len(msgs) > 0 {
		errs = append(errs, field.Invalid(p.Child("resource"), r, strings.Join(msgs, ",")))
	}
	if g := s.Resource.Group; g != "" {
		if msgs := validation.IsDNS1123Subdomain(g); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("group"), g, strings.Join(msgs, ",")))
		}
	}
	return errs
}

// apisvcValidateSpec checks an APIService's group, version, priorities
// and service; its name is checked against them by the caller.
func apisvcValidateSpec(s *apiregistrationv1.APIServiceSpec) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if s.Group == "" && s.Version != "v1" {
		errs = append(errs, field.Required(p.Child("group"), "only v1 may have an empty group and it better be legacy kube"))
	}
	if s.Group != "" {
		errs = append(errs, netEachInvalid(p.Child("group"), s.Group, validation.IsDNS1123Subdomain(s.Group))...)
	}
	errs = append(errs, netEachInvalid(p.Child("version"), s.Version, validation.IsDNS1035Label(s.Version))...)
	if s.GroupPriorityMinimum <= 0 || s.GroupPriorityMinimum > 20000 {
		errs = append(errs, field.Invalid(p.Child("groupPriorityMinimum"), s.GroupPriorityMinimum, "must be positive and less than 20000"))
	}
	if s.VersionPriority <= 0 || s.VersionPriority > 1000 {
		errs = append(errs, field.Invalid(p.Child("versionPriority"), s.VersionPriority, "must be positive and less than 1000"))
	}
	if s.Service == nil {
		if len(s.CABundle) != 0 {
			errs = append(errs, field.Invalid(p.Child("caBundle"), fmt.Sprintf("%d bytes", len(s.CABundle)), "local APIServices may not have a caBundle"))
		}
		if s.InsecureSkipTLSVerify {
			errs = append(errs, field.Invalid(p.Child("insecureSkipTLSVerify"), true, "local APIServices may not have insecureSkipTLSVerify"))
		}
		return errs
	}
	sp := p.Child("service")
	if s.Service.Namespace == "" {
		errs = append(errs, field.Required(sp.Child("namespace"), ""))
	}
	if s.Service.Name == "" {
		errs = append(errs, field.Required(sp.Child("name"), ""))
	}
	if s.Service.Port != nil {
		if msgs := validation.IsValidPortNum(int(*s.Service.Port)); msgs != nil {
			errs = append(errs, field.Invalid(sp.Child("port"), *s.Service.Port, "port is not valid: "+strings.Join(msgs, ", ")))
		}
	}
	if s.InsecureSkipTLSVerify && len(s.CABundle) > 0 {
		errs = append(errs, field.Invalid(p.Child("insecureSkipTLSVerify"), true, "may not be true if caBundle is present"))
	}
	return errs
}
