package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/ext"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/mutation"
)

// The validation of admissionregistration.k8s.io/v1, as kube-apiserver
// does it on create: webhooks, admission policies and their bindings.
// CEL expressions are compiled against kube-apiserver's base CEL library
// set; object, oldObject, request, namespaceObject and params are dynamic
// here, so sekisho accepts the few expressions kube-apiserver refuses only
// for their types.

// Allowed values, sorted as kube-apiserver lists them in messages.
var (
	admissionFailurePolicies  = []string{"Fail", "Ignore"}
	admissionMatchPolicies    = []string{"Equivalent", "Exact"}
	admissionSideEffects      = []string{"None", "NoneOnDryRun"}
	admissionOperations       = []string{"*", "CONNECT", "CREATE", "DELETE", "UPDATE"}
	admissionMutatingOps      = []string{"*", "CONNECT", "CREATE", "UPDATE"}
	admissionScopes           = []string{"*", "Cluster", "Namespaced"}
	admissionReinvocations    = []string{"IfNeeded", "Never"}
	admissionReviewVersions   = []string{"v1", "v1beta1"}
	admissionPolicyReasons    = []string{"Forbidden", "Invalid", "RequestEntityTooLarge"}
	admissionPatchTypes       = []string{"ApplyConfiguration", "JSONPatch"}
	admissionValidationAction = []string{"Audit", "Deny", "Warn"}
)

// admissionHook is what a validating and a mutating webhook have in
// common; both are validated alike.
type admissionHook struct {
	name                              string
	clientConfig                      admissionregistrationv1.WebhookClientConfig
	rules                             []admissionregistrationv1.RuleWithOperations
	failurePolicy                     *admissionregistrationv1.FailurePolicyType
	matchPolicy                       *admissionregistrationv1.MatchPolicyType
	namespaceSelector, objectSelector *metav1.LabelSelector
	sideEffects                       *admissionregistrationv1.SideEffectClass
	timeoutSeconds                    *int32
	reviewVersions                    []string
	matchConditions                   []admissionregistrationv1.MatchCondition
	reinvocationPolicy                *admissionregistrationv1.ReinvocationPolicyType // mutating only
}

func admissionValidatingHooks(hooks []admissionregistrationv1.ValidatingWebhook) []admissionHook {
	out := make([]admissionHook, len(hooks))
	for i, w := range hooks {
		out[i] = admissionHook{w.Name, w.ClientConfig, w.Rules, w.FailurePolicy, w.MatchPolicy, w.NamespaceSelector,
			w.ObjectSelector, w.SideEffects, w.TimeoutSeconds, w.AdmissionReviewVersions, w.MatchConditions, nil}
	}
	return out
}

func admissionMutatingHooks(hooks []admissionregistrationv1.MutatingWebhook) []admissionHook {
	out := make([]admissionHook, len(hooks))
	for i, w := range hooks {
		out[i] = admissionHook{w.Name, w.ClientConfig, w.Rules, w.FailurePolicy, w.MatchPolicy, w.NamespaceSelector,
			w.ObjectSelector, w.SideEffects, w.TimeoutSeconds, w.AdmissionReviewVersions, w.MatchConditions, w.ReinvocationPolicy}
	}
	return out
}

// admissionValidateHooks checks the webhooks of a configuration;
// oldConditions are the match condition expressions already stored,
// which are not compiled again.
func admissionValidateHooks(hooks []admissionHook, oldConditions map[string]bool) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, h := range hooks {
		p := field.NewPath("webhooks").Index(i)
		errs = append(errs, admissionValidateHook(h, oldConditions, p)...)
		errs = append(errs, admissionValidateReviewVersions(h.reviewVersions, p.Child("admissionReviewVersions"))...)
		if h.name != "" {
			if names[h.name] {
				errs = append(errs, field.Duplicate(p.Child("name"), h.name))
			}
			names[h.name] = true
		}
	}
	return errs
}

func admissionValidateHook(h admissionHook, oldConditions map[string]bool, p *field.Path) field.ErrorList {
	errs := validation.IsFullyQualifiedName(p.Child("name"), h.name)
	for i := range h.rules {
		errs = append(errs, admissionValidateRule(&h.rules[i], p.Child("rules").Index(i))...)
	}
	errs = append(errs, admissionOptionalEnum(h.failurePolicy, admissionFailurePolicies, p.Child("failurePolicy"))...)
	errs = append(errs, admissionOptionalEnum(h.matchPolicy, admissionMatchPolicies, p.Child("matchPolicy"))...)
	if h.sideEffects == nil {
		errs = append(errs, field.Required(p.Child("sideEffects"), "must specify one of "+strings.Join(admissionSideEffects, ", ")))
	} else {
		errs = append(errs, admissionOptionalEnum(h.sideEffects, admissionSideEffects, p.Child("sideEffects"))...)
	}
	if t := h.timeoutSeconds; t != nil && (*t < 1 || *t > 30) {
		errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *t, "the timeout value must be between 1 and 30 seconds"))
	}
	if h.namespaceSelector != nil {
		errs = append(errs, validateLabelSelector(h.namespaceSelector, p.Child("namespaceSelector"))...)
	}
	if h.objectSelector != nil {
		errs = append(errs, validateLabelSelector(h.objectSelector, p.Child("objectSelector"))...)
	}
	errs = append(errs, admissionOptionalEnum(h.reinvocationPolicy, admissionReinvocations, p.Child("reinvocationPolicy"))...)
	errs = append(errs, admissionValidateClientConfig(&h.clientConfig, p.Child("clientConfig"))...)
	return append(errs, admissionValidateMatchConditions(h.matchConditions, false, oldConditions, p.Child("matchConditions"))...)
}

func admissionValidateClientConfig(cc *admissionregistrationv1.WebhookClientConfig, p *field.Path) field.ErrorList {
	switch {
	case (cc.URL == nil) == (cc.Service == nil):
		return field.ErrorList{field.Required(p, "exactly one of url or service is required")}
	case cc.URL != nil:
		return admissionValidateURL(*cc.URL, p.Child("url"))
	}
	return admissionValidateService(cc.Service, p.Child("service"))
}

// admissionValidateURL checks a webhook's URL: https, with a host, and
// without user, query or fragment.
func admissionValidateURL(raw string, p *field.Path) field.ErrorList {
	const form = "; desired format: https://host[/path]"
	u, err := url.Parse(raw)
	if err != nil {
		return field.ErrorList{field.Required(p, "url must be a valid URL: "+err.Error()+form)}
	}
	var errs field.ErrorList
	if u.Scheme != "https" {
		errs = append(errs, field.Invalid(p, u.Scheme, "'https' is the only allowed URL scheme"+form))
	}
	if u.Host == "" {
		errs = append(errs, field.Invalid(p, u.Host, "host must be specified"+form))
	}
	if u.User != nil {
		errs = append(errs, field.Invalid(p, u.User.String(), "user information is not permitted in the URL"))
	}
	if u.Fragment != "" {
		errs = append(errs, field.Invalid(p, u.Fragment, "fragments are not permitted in the URL"))
	}
	if u.RawQuery != "" {
		errs = append(errs, field.Invalid(p, u.RawQuery, "query parameters are not permitted in the URL"))
	}
	return errs
}

// admissionValidateService checks a webhook's service reference: name,
// namespace, port and a path of DNS subdomain segments.
func admissionValidateService(s *admissionregistrationv1.ServiceReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if s.Namespace == "" {
		errs = append(errs, field.Required(p.Child("namespace"), ""))
	}
	port := int32(443)
	if s.Port != nil {
		port = *s.Port
	}
	if msgs := validation.IsValidPortNum(int(port)); msgs != nil {
		errs = append(errs, field.Invalid(p.Child("port"), port, "port is not valid: "+strings.Join(msgs, ", ")))
	}
	if s.Path == nil || *s.Path == "" || *s.Path == "/" {
		return errs
	}
	path, pp := *s.Path, p.Child("path")
	if path == "//" {
		return append(errs, field.Invalid(pp, path, "segment[0] may not be empty"))
	}
	if !strings.HasPrefix(path, "/") {
		errs = append(errs, field.Invalid(pp, path, "must start with a '/'"))
	}
	for i, seg := range strings.Split(strings.TrimSuffix(path[1:], "/"), "/") {
		if seg == "" {
			errs = append(errs, field.Invalid(pp, path, fmt.Sprintf("segment[%d] may not be empty", i)))
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(seg) {
			errs = append(errs, field.Invalid(pp, path, fmt.Sprintf("segment[%d]: %v", i, msg)))
		}
	}
	return errs
}

func admissionValidateReviewVersions(versions []string, p *field.Path) field.ErrorList {
	if len(versions) == 0 {
		return field.ErrorList{field.Required(p, "must specify one of "+strings.Join(admissionReviewVersions, ", "))}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	known := false
	for i, v := range versions {
		if seen[v] {
			errs = append(errs, field.Invalid(p.Index(i), v, "duplicate version"))
			continue
		}
		seen[v] = true
		errs = append(errs, invalidBy(validation.IsDNS1035Label, v, p.Index(i))...)
		known = known || slices.Contains(admissionReviewVersions, v)
	}
	if !known {
		errs = append(errs, field.Invalid(p, versions, "must include at least one of "+strings.Join(admissionReviewVersions, ", ")))
	}
	return errs
}

// admissionOptionalEnum checks an optional enumerated field.
func admissionOptionalEnum[T ~string](v *T, allowed []string, p *field.Path) field.ErrorList {
	if v == nil || slices.Contains(allowed, string(*v)) {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, *v, allowed)}
}

// admissionRequiredEnum checks an enumerated field that must be set.
func admissionRequiredEnum[T ~string](v *T, allowed []string, p *field.Path) field.ErrorList {
	if v == nil || *v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return admissionOptionalEnum(v, allowed, p)
}

func admissionValidateRule(r *admissionregistrationv1.RuleWithOperations, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ops := p.Child("operations")
	if len(r.Operations) == 0 {
		errs = append(errs, field.Required(ops, ""))
	}
	if len(r.Operations) > 1 && slices.Contains(r.Operations, admissionregistrationv1.OperationAll) {
		errs = append(errs, field.Invalid(ops, r.Operations, "if '*' is present, must not specify other operations"))
	}
	for i, op := range r.Operations {
		if !slices.Contains(admissionOperations, string(op)) {
			errs = append(errs, field.NotSupported(ops.Index(i), op, admissionOperations))
		}
	}
	errs = append(errs, admissionValidateWildcards(r.APIGroups, "API groups", p.Child("apiGroups"))...)
	errs = append(errs, admissionValidateWildcards(r.APIVersions, "API versions", p.Child("apiVersions"))...)
	for i, v := range r.APIVersions {
		if v == "" {
			errs = append(errs, field.Required(p.Child("apiVersions").Index(i), ""))
		}
	}
	errs = append(errs, admissionValidateResources(r.Resources, p.Child("resources"))...)
	return append(errs, admissionOptionalEnum(r.Scope, admissionScopes, p.Child("scope"))...)
}

// admissionValidateWildcards checks a rule's list that must not be empty
// and may hold "*" only alone.
func admissionValidateWildcards(list []string, what string, p *field.Path) field.ErrorList {
	if len(list) == 0 {
		return field.ErrorList{field.Required(p, "")}
	}
	if len(list) > 1 && slices.Contains(list, "*") {
		return field.ErrorList{field.Invalid(p, list, "if '*' is present, must not specify other "+what)}
	}
	return nil
}

// admissionValidateResources checks a rule's resources, where "*", "x/*"
// and "*/x" must not overlap with other entries.
func admissionValidateResources(resources []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(resources) == 0 {
		errs = append(errs, field.Required(p, ""))
	}
	wildSub, wildRes := map[string]bool{}, map[string]bool{}
	single, plain := false, false
	for i, rs := range resources {
		if rs == "" {
			errs = append(errs, field.Required(p.Index(i), ""))
			continue
		}
		res, sub, hasSub := strings.Cut(rs, "/")
		if !hasSub {
			single = single || rs == "*"
			plain = rs != "*"
			continue
		}
		if wildSub[res] {
			errs = append(errs, field.Invalid(p.Index(i), rs, fmt.Sprintf("if '%s/*' is present, must not specify %s", res, rs)))
		}
		if wildRes[sub] {
			errs = append(errs, field.Invalid(p.Index(i), rs, fmt.Sprintf("if '*/%s' is present, must not specify %s", sub, rs)))
		}
		wildSub[res] = wildSub[res] || sub == "*"
		wildRes[sub] = wildRes[sub] || res == "*"
	}
	if len(resources) > 1 && slices.Contains(resources, "*/*") {
		errs = append(errs, field.Invalid(p, resources, "if '*/*' is present, must not specify other resources"))
	}
	if single && plain {
		errs = append(errs, field.Invalid(p, resources, "if '*' is present, must not specify other resources without subresources"))
	}
	return errs
}

// admissionValidateMatchResources checks the resources an admission
// policy or binding matches.
func admissionValidateMatchResources(m *admissionregistrationv1.MatchResources, mutating bool, p *field.Path) field.ErrorList {
	if m == nil {
		return nil
	}
	errs := admissionRequiredEnum(m.MatchPolicy, admissionMatchPolicies, p.Child("matchPolicy"))
	for _, s := range []struct {
		sel  *metav1.LabelSelector
		name string
	}{{m.NamespaceSelector, "namespaceSelector"}, {m.ObjectSelector, "objectSelector"}} {
		if s.sel == nil {
			errs = append(errs, field.Required(p.Child(s.name), ""))
		} else {
			errs = append(errs, validateLabelSelector(s.sel, p.Child(s.name))...)
		}
	}
	for i := range m.ResourceRules {
		errs = append(errs, admissionValidateNamedRule(&m.ResourceRules[i], p.Child("resourceRules").Index(i))...)
	}
	for i := range m.ExcludeResourceRules {
		errs = append(errs, admissionValidateNamedRule(&m.ExcludeResourceRules[i], p.Child("excludeResourceRules").Index(i))...)
	}
	if mutating {
		for _, r := range m.ResourceRules {
			for _, op := range r.Operations {
				if !slices.Contains(admissionMutatingOps, string(op)) {
					errs = append(errs, field.NotSupported(p.Child("resourceRules", "operations"), op, admissionMutatingOps))
				}
			}
		}
	}
	return errs
}

func admissionValidateNamedRule(r *admissionregistrationv1.NamedRuleWithOperations, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, n := range r.ResourceNames {
		for _, msg := range namePathSegment(n, false) {
			errs = append(errs, field.Invalid(p.Child("resourceNames").Index(i), n, msg))
		}
		if seen[n] {
			errs = append(errs, field.Duplicate(p.Child("resourceNames").Index(i), n))
		}
		seen[n] = true
	}
	return append(errs, admissionValidateRule(&r.RuleWithOperations, p)...)
}

func admissionValidateMatchConditions(conds []admissionregistrationv1.MatchCondition, params bool, old map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(conds) > 64 {
		errs = append(errs, field.TooMany(p, len(conds), 64))
	}
	names := map[string]bool{}
	for i, c := range conds {
		cp := p.Index(i)
		if expr := strings.TrimSpace(c.Expression); expr == "" {
			errs = append(errs, field.Required(cp.Child("expression"), ""))
		} else if !old[expr] {
			errs = append(errs, admissionCompile(expr, admissionCELVars{params: params, authorizer: true}, cp.Child("expression"), cel.BoolType)...)
		}
		if c.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		} else {
			errs = append(errs, validateQualifiedName(c.Name, cp.Child("name"))...)
			if names[c.Name] {
				errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
			}
			names[c.Name] = true
		}
	}
	return errs
}

// admissionPolicyCommon checks what validating and mutating admission
// policies have in common: failure policy, param kind, match constraints,
// match conditions and variables.
func admissionPolicyCommon(failure *admissionregistrationv1.FailurePolicyType, paramKind *admissionregistrationv1.ParamKind,
	match *admissionregistrationv1.MatchResources, conds []admissionregistrationv1.MatchCondition,
	vars []admissionregistrationv1.Variable, mutating bool, p *field.Path) field.ErrorList {
	errs := admissionRequiredEnum(failure, admissionFailurePolicies, p.Child("failurePolicy"))
	if paramKind != nil {
		errs = append(errs, admissionValidateParamKind(paramKind, p.Child("paramKind"))...)
	}
	if match == nil {
		errs = append(errs, field.Required(p.Child("matchConstraints"), ""))
	} else {
		errs = append(errs, admissionValidateMatchResources(match, mutating, p.Child("matchConstraints"))...)
		if len(match.ResourceRules) == 0 {
			errs = append(errs, field.Required(p.Child("matchConstraints", "resourceRules"), ""))
		}
	}
	errs = append(errs, admissionValidateMatchConditions(conds, paramKind != nil, nil, p.Child("matchConditions"))...)
	for i, v := range vars {
		errs = append(errs, admissionValidateVariable(v, paramKind != nil, p.Child("variables").Index(i))...)
	}
	return errs
}

var admissionCELIdent = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)

var admissionCELReserved = []string{"true", "false", "null", "in", "as", "break", "const", "continue", "else",
	"for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}

func admissionValidateVariable(v admissionregistrationv1.Variable, params bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.TrimSpace(v.Name) == "" {
		errs = append(errs, field.Required(p.Child("name"), "name is not specified"))
	} else if !admissionCELIdent.MatchString(v.Name) || slices.Contains(admissionCELReserved, v.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), v.Name, "must be a valid CEL identifier"))
	}
	if strings.TrimSpace(v.Expression) == "" {
		errs = append(errs, field.Required(p.Child("expression"), "expression is not specified"))
	} else {
		vars := admissionCELVars{params: params, authorizer: true, variables: true}
		errs = append(errs, admissionCompileAs(v.Expression, v.Expression, vars, p.Child("expression"), cel.AnyType, cel.DynType)...)
	}
	return errs
}

func admissionValidateParamKind(k *admissionregistrationv1.ParamKind, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	av := p.Child("apiVersion")
	switch group, version, _ := strings.Cut(k.APIVersion, "/"); {
	case k.APIVersion == "":
		errs = append(errs, field.Required(av, ""))
	case strings.Count(k.APIVersion, "/") > 1:
		errs = append(errs, field.Invalid(av, k.APIVersion, "unexpected GroupVersion string: "+k.APIVersion))
	default:
		if !strings.Contains(k.APIVersion, "/") {
			group, version = "", k.APIVersion
		}
		if msgs := validation.IsDNS1123Subdomain(group); group != "" && len(msgs) > 0 {
			errs = append(errs, field.Invalid(av, group, strings.Join(msgs, ",")))
		}
		if version == "" {
			errs = append(errs, field.Invalid(av, k.APIVersion, "version must be specified"))
		} else if msgs := validation.IsDNS1035Label(version); len(msgs) > 0 {
			errs = append(errs, field.Invalid(av, version, strings.Join(msgs, ",")))
		}
	}
	if k.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	} else if msgs := validation.IsDNS1035Label(strings.ToLower(k.Kind)); len(msgs) > 0 {
		errs = append(errs, field.Invalid(p.Child("kind"), k.Kind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
	}
	return errs
}

// admissionValidateVAPSpec checks a ValidatingAdmissionPolicy's spec.
func admissionValidateVAPSpec(name string, s *admissionregistrationv1.ValidatingAdmissionPolicySpec) field.ErrorList {
	p := field.NewPath("spec")
	errs := admissionPolicyCommon(s.FailurePolicy, s.ParamKind, s.MatchConstraints, s.MatchConditions, s.Variables, false, p)
	if len(s.Validations) == 0 && len(s.AuditAnnotations) == 0 {
		const msg = "validations or auditAnnotations must contain at least one item"
		return append(errs, field.Required(p.Child("validations"), msg), field.Required(p.Child("auditAnnotations"), msg))
	}
	vars := admissionCELVars{params: s.ParamKind != nil, authorizer: true, variables: len(s.Variables) > 0}
	for i, v := range s.Validations {
		errs = append(errs, admissionValidateValidation(v, vars, p.Child("validations").Index(i))...)
	}
	if len(s.AuditAnnotations) > 20 {
		errs = append(errs, field.Invalid(p.Child("auditAnnotations"), s.AuditAnnotations, "must not have more than 20 auditAnnotations"))
	}
	keys := map[string]bool{}
	for i, a := range s.AuditAnnotations {
		ap := p.Child("auditAnnotations").Index(i)
		errs = append(errs, admissionValidateAuditAnnotation(name, a, vars, ap)...)
		if keys[a.Key] {
			errs = append(errs, field.Duplicate(ap.Child("key"), a.Key))
		}
		keys[a.Key] = true
	}
	return errs
}

func admissionValidateValidation(v admissionregistrationv1.Validation, vars admissionCELVars, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.TrimSpace(v.Expression) == "" {
		errs = append(errs, field.Required(p.Child("expression"), "expression is not specified"))
	} else {
		errs = append(errs, admissionCompile(v.Expression, vars, p.Child("expression"), cel.BoolType)...)
	}
	if v.MessageExpression != "" && strings.TrimSpace(v.MessageExpression) == "" {
		errs = append(errs, field.Invalid(p.Child("messageExpression"), v.MessageExpression, "must be non-empty if specified"))
	} else if v.MessageExpression != "" {
		msgVars := vars
		msgVars.authorizer = false
		errs = append(errs, admissionCompile(v.MessageExpression, msgVars, p.Child("messageExpression"), cel.StringType)...)
	}
	msg := strings.TrimSpace(v.Message)
	if v.Message != "" && msg == "" {
		errs = append(errs, field.Invalid(p.Child("message"), v.Message, "must be non-empty if specified"))
	} else if strings.ContainsAny(msg, "\r\n") {
		errs = append(errs, field.Invalid(p.Child("message"), v.Message, "must not contain line breaks"))
	}
	return append(errs, admissionOptionalEnum(v.Reason, admissionPolicyReasons, p.Child("reason"))...)
}

func admissionValidateAuditAnnotation(name string, a admissionregistrationv1.AuditAnnotation, vars admissionCELVars, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Invalid(p.Child("key"), a.Key, "requires metadata.name be non-empty"))
	} else {
		errs = append(errs, validateQualifiedName(name+"/"+a.Key, p.Child("key"))...)
	}
	vp := p.Child("valueExpression")
	switch expr := strings.TrimSpace(a.ValueExpression); {
	case expr == "":
		errs = append(errs, field.Required(vp, "valueExpression is not specified"))
	case len(expr) > 5*1024:
		errs = append(errs, field.Required(vp, fmt.Sprintf("must not exceed %d bytes in length", 5*1024)))
	default:
		errs = append(errs, admissionCompileAs(expr, a.ValueExpression, vars, vp, cel.StringType, cel.NullType)...)
	}
	return errs
}

// admissionValidateMAPSpec checks a MutatingAdmissionPolicy's spec.
func admissionValidateMAPSpec(s *admissionregistrationv1.MutatingAdmissionPolicySpec) field.ErrorList {
	p := field.NewPath("spec")
	errs := admissionPolicyCommon(s.FailurePolicy, s.ParamKind, s.MatchConstraints, s.MatchConditions, s.Variables, true, p)
	if len(s.Mutations) == 0 {
		errs = append(errs, field.Required(p.Child("mutations"), "mutations must contain at least one item"))
	}
	vars := admissionCELVars{params: s.ParamKind != nil, authorizer: true, variables: true, patchTypes: true}
	for i, m := range s.Mutations {
		errs = append(errs, admissionValidateMutation(m, vars, p.Child("mutations").Index(i))...)
	}
	return append(errs, admissionRequiredEnum(&s.ReinvocationPolicy, admissionReinvocations, p.Child("reinvocationPolicy"))...)
}

func admissionValidateMutation(m admissionregistrationv1.Mutation, vars admissionCELVars, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ac, jp := p.Child("applyConfiguration"), p.Child("jsonPatch")
	switch m.PatchType {
	case "":
		errs = append(errs, field.Required(p.Child("patchType"), ""))
	case admissionregistrationv1.PatchTypeJSONPatch:
		if m.JSONPatch == nil {
			errs = append(errs, field.Required(jp, "must be specified when patchType is JSONPatch"))
		} else {
			errs = append(errs, admissionPatchExpression(m.JSONPatch.Expression, vars, jp.Child("expression"), cel.ListType(cel.ObjectType("JSONPatch")))...)
		}
		if m.ApplyConfiguration != nil {
			errs = append(errs, field.Invalid(ac, "{applyConfiguration}", "must not be specified when patchType is JSONPatch"))
		}
	case admissionregistrationv1.PatchTypeApplyConfiguration:
		if m.ApplyConfiguration == nil {
			errs = append(errs, field.Required(ac, "must be specified when patchType is ApplyConfiguration"))
		} else {
			errs = append(errs, admissionPatchExpression(m.ApplyConfiguration.Expression, vars, ac.Child("expression"), cel.ObjectType("Object"))...)
		}
		if m.JSONPatch != nil {
			errs = append(errs, field.Invalid(jp, "{jsonPatch}", "must not be specified when patchType is ApplyConfiguration"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("patchType"), m.PatchType, admissionPatchTypes))
	}
	return errs
}

func admissionPatchExpression(expr string, vars admissionCELVars, p *field.Path, want *cel.Type) field.ErrorList {
	trimmed := strings.TrimSpace(expr)
	if trimmed == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return admissionCompileAs(trimmed, trimmed, vars, p, want)
}

// admissionValidateParamRef checks a binding's paramRef.
func admissionValidateParamRef(r *admissionregistrationv1.ParamRef, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	const exclusive = "name and selector are mutually exclusive"
	if r.Name != "" {
		for _, msg := range namePathSegment(r.Name, false) {
			errs = append(errs, field.Invalid(p.Child("name"), r.Name, msg))
		}
		if r.Selector != nil {
			errs = append(errs, field.Forbidden(p.Child("name"), exclusive))
		}
	}
	if r.Selector != nil {
		errs = append(errs, validateLabelSelector(r.Selector, p.Child("selector"))...)
		if r.Name != "" {
			errs = append(errs, field.Forbidden(p.Child("selector"), exclusive))
		}
	}
	if r.Name == "" && r.Selector == nil {
		errs = append(errs, field.Required(p, "one of name or selector must be specified"))
	}
	a := r.ParameterNotFoundAction
	switch {
	case a == nil || *a == "":
		errs = append(errs, field.Required(p.Child("parameterNotFoundAction"), ""))
	case *a != admissionregistrationv1.DenyAction && *a != admissionregistrationv1.AllowAction:
		errs = append(errs, field.NotSupported(p.Child("parameterNotFoundAction"), a, []string{"Deny", "Allow"}))
	}
	return errs
}

// admissionValidateBinding checks what both kinds of binding have: the
// policy name, paramRef and matchResources.
func admissionValidateBinding(policy string, ref *admissionregistrationv1.ParamRef, match *admissionregistrationv1.MatchResources, mutating bool) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if policy == "" {
		errs = append(errs, field.Required(p.Child("policyName"), ""))
	} else {
		for _, msg := range nameDNSSubdomain(policy, false) {
			errs = append(errs, field.Invalid(p.Child("policyName"), policy, msg))
		}
	}
	errs = append(errs, admissionValidateParamRef(ref, p.Child("paramRef"))...)
	return append(errs, admissionValidateMatchResources(match, mutating, p.Child("matchResources"))...)
}

func admissionValidateActions(actions []admissionregistrationv1.ValidationAction, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[admissionregistrationv1.ValidationAction]bool{}
	for i, a := range actions {
		if !slices.Contains(admissionValidationAction, string(a)) {
			errs = append(errs, field.NotSupported(p.Index(i), a, admissionValidationAction))
		}
		if seen[a] {
			errs = append(errs, field.Duplicate(p.Index(i), a))
		}
		seen[a] = true
	}
	if seen[admissionregistrationv1.Deny] && seen[admissionregistrationv1.Warn] {
		errs = append(errs, field.Invalid(p, actions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	if len(seen) == 0 {
		errs = append(errs, field.Required(p, "at least one validation action is required"))
	}
	return errs
}

// admissionCELVars selects the variables an admission expression sees.
type admissionCELVars struct {
	params, authorizer, variables, patchTypes bool
}

var admissionCELEnvs struct {
	sync.Mutex
	envs map[admissionCELVars]*cel.Env
}

// celBaseOptions are the libraries of kube-apiserver's base CEL
// environment for new expressions (compatibility version 1.36).
func celBaseOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		cel.CostEstimatorOptions(checker.PresenceTestHasCost(false)),
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(),
			cel.ValidateRegexLiterals(), cel.ValidateHomogeneousAggregateLiterals()),
		library.URLs(), library.Regex(), library.Lists(library.ListsVersion(0)), library.Authz(),
		library.Quantity(), library.IP(), library.CIDR(), library.Format(), library.AuthzSelectors(),
		library.SemverLib(library.SemverVersion(1)),
		ext.Strings(ext.StringsVersion(2)), ext.Sets(), ext.TwoVarComprehensions(), ext.Lists(ext.ListsVersion(3)),
	}
}

// admissionCELEnv is the environment admission expressions compile in:
// kube-apiserver's base CEL libraries and the variables vars selects.
func admissionCELEnv(vars admissionCELVars) (*cel.Env, error) {
	admissionCELEnvs.Lock()
	defer admissionCELEnvs.Unlock()
	if env := admissionCELEnvs.envs[vars]; env != nil {
		return env, nil
	}
	opts := []cel.EnvOption{
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
		cel.Variable("request", cel.DynType),
	}
	if vars.params {
		opts = append(opts, cel.Variable("params", cel.DynType))
	}
	if vars.authorizer {
		opts = append(opts, cel.Variable("authorizer", library.AuthorizerType),
			cel.Variable("authorizer.requestResource", library.ResourceCheckType))
	}
	if vars.variables {
		opts = append(opts, cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)))
	}
	if vars.patchTypes {
		opts = append(opts, common.ResolverEnvOption(&mutation.DynamicTypeResolver{}), library.JSONPatch())
	}
	env, err := cel.NewEnv(append(celBaseOptions(), opts...)...)
	if err != nil {
		return nil, err
	}
	if admissionCELEnvs.envs == nil {
		admissionCELEnvs.envs = map[admissionCELVars]*cel.Env{}
	}
	admissionCELEnvs.envs[vars] = env
	return env, nil
}

// admissionCompile compiles an expression that must have one of the
// types want; a dynamic result is accepted too.
func admissionCompile(expr string, vars admissionCELVars, p *field.Path, want ...*cel.Type) field.ErrorList {
	return admissionCompileAs(expr, expr, vars, p, want...)
}

// admissionCompileAs compiles expr and reports errors with shown as the
// field's value.
func admissionCompileAs(expr, shown string, vars admissionCELVars, p *field.Path, want ...*cel.Type) field.ErrorList {
	env, err := admissionCELEnv(vars)
	if err != nil {
		return field.ErrorList{field.InternalError(p, err)}
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return field.ErrorList{field.Invalid(p, shown, "compilation failed: "+iss.String())}
	}
	if msg := admissionCELMismatch(ast.OutputType(), want); msg != "" {
		return field.ErrorList{field.Invalid(p, shown, msg)}
	}
	return nil
}

// admissionCELMismatch says how an expression's type t differs from the
// types wanted, as kube-apiserver words it, or returns "".
func admissionCELMismatch(t *cel.Type, want []*cel.Type) string {
	if t.IsExactType(cel.DynType) {
		return ""
	}
	for _, w := range want {
		if t.IsExactType(w) || w.IsExactType(cel.AnyType) {
			return ""
		}
	}
	if len(want) == 1 {
		return fmt.Sprintf("must evaluate to %v but got %v", want[0].String(), t.String())
	}
	return fmt.Sprintf("must evaluate to one of %v but got %v", want, t.String())
}
