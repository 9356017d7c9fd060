package catalog

import (
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var admissionV1 = admissionregistrationv1.SchemeGroupVersion

// The admission configuration objects are stored and validated; the
// admission issue makes them take effect.

// ValidatingWebhookConfigurations is admissionregistration.k8s.io/v1
// validatingwebhookconfigurations.
func ValidatingWebhookConfigurations() *Resource {
	return stored(admissionV1, "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false,
		func() Object { return &admissionregistrationv1.ValidatingWebhookConfiguration{} }).
		inCategory("api-extensions").withGeneration().
		defaulted(func(obj Object) {
			for i := range obj.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks {
				w := &obj.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks[i]
				defaultWebhook(&w.FailurePolicy, &w.MatchPolicy, &w.NamespaceSelector, &w.ObjectSelector, &w.TimeoutSeconds, w.Rules, &w.ClientConfig)
			}
		}).
		validated(func(obj Object) field.ErrorList {
			return admissionValidateHooks(vwcHooks(obj), nil)
		}, func(obj, old Object) field.ErrorList {
			return admissionValidateHooks(vwcHooks(obj), admissionConditionSet(vwcHooks(old)))
		})
}

// MutatingWebhookConfigurations is admissionregistration.k8s.io/v1
// mutatingwebhookconfigurations.
func MutatingWebhookConfigurations() *Resource {
	return stored(admissionV1, "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false,
		func() Object { return &admissionregistrationv1.MutatingWebhookConfiguration{} }).
		inCategory("api-extensions").withGeneration().
		defaulted(func(obj Object) {
			for i := range obj.(*admissionregistrationv1.MutatingWebhookConfiguration).Webhooks {
				w := &obj.(*admissionregistrationv1.MutatingWebhookConfiguration).Webhooks[i]
				defaultWebhook(&w.FailurePolicy, &w.MatchPolicy, &w.NamespaceSelector, &w.ObjectSelector, &w.TimeoutSeconds, w.Rules, &w.ClientConfig)
				defaultTo(&w.ReinvocationPolicy, admissionregistrationv1.NeverReinvocationPolicy)
			}
		}).
		validated(func(obj Object) field.ErrorList {
			return admissionValidateHooks(mwcHooks(obj), nil)
		}, func(obj, old Object) field.ErrorList {
			return admissionValidateHooks(mwcHooks(obj), admissionConditionSet(mwcHooks(old)))
		})
}

func defaultWebhook(failure **admissionregistrationv1.FailurePolicyType, match **admissionregistrationv1.MatchPolicyType,
	nsSel, objSel **metav1.LabelSelector, timeout **int32, rules []admissionregistrationv1.RuleWithOperations, cc *admissionregistrationv1.WebhookClientConfig) {
	defaultTo(failure, admissionregistrationv1.Fail)
	defaultTo(match, admissionregistrationv1.Equivalent)
	defaultTo(nsSel, metav1.LabelSelector{})
	defaultTo(objSel, metav1.LabelSelector{})
	defaultTo(timeout, 10)
	for i := range rules {
		defaultTo(&rules[i].Scope, admissionregistrationv1.AllScopes)
	}
	if cc.Service != nil {
		defaultTo(&cc.Service.Port, 443)
	}
}

func vwcHooks(obj Object) []admissionHook {
	return admissionValidatingHooks(obj.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks)
}

func mwcHooks(obj Object) []admissionHook {
	return admissionMutatingHooks(obj.(*admissionregistrationv1.MutatingWebhookConfiguration).Webhooks)
}

// admissionConditionSet is the set of match condition expressions of
// stored webhooks: an update keeps them without compiling them again.
func admissionConditionSet(hooks []admissionHook) map[string]bool {
	set := map[string]bool{}
	for _, h := range hooks {
		for _, c := range h.matchConditions {
			set[strings.TrimSpace(c.Expression)] = true
		}
	}
	return set
}

// ValidatingAdmissionPolicies is admissionregistration.k8s.io/v1
// validatingadmissionpolicies, with status.
func ValidatingAdmissionPolicies() *Resource {
	return stored(admissionV1, "validatingadmissionpolicies", "ValidatingAdmissionPolicy", false,
		func() Object { return &admissionregistrationv1.ValidatingAdmissionPolicy{} }).
		inCategory("api-extensions").withStatus().withGeneration().
		defaulted(func(obj Object) {
			s := &obj.(*admissionregistrationv1.ValidatingAdmissionPolicy).Spec
			defaultTo(&s.FailurePolicy, admissionregistrationv1.Fail)
			defaultMatchResources(s.MatchConstraints)
		}).
		validated(validateVAP, func(obj, _ Object) field.ErrorList { return validateVAP(obj) })
}

// ValidatingAdmissionPolicyBindings is admissionregistration.k8s.io/v1
// validatingadmissionpolicybindings.
func ValidatingAdmissionPolicyBindings() *Resource {
	return stored(admissionV1, "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", false,
		func() Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{} }).
		inCategory("api-extensions").withGeneration().
		defaulted(func(obj Object) {
			defaultMatchResources(obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec.MatchResources)
		}).
		validated(validateVAPBinding, func(obj, _ Object) field.ErrorList { return validateVAPBinding(obj) })
}

// MutatingAdmissionPolicies is admissionregistration.k8s.io/v1
// mutatingadmissionpolicies.
func MutatingAdmissionPolicies() *Resource {
	return stored(admissionV1, "mutatingadmissionpolicies", "MutatingAdmissionPolicy", false,
		func() Object { return &admissionregistrationv1.MutatingAdmissionPolicy{} }).
		inCategory("api-extensions").withGeneration().
		defaulted(func(obj Object) {
			s := &obj.(*admissionregistrationv1.MutatingAdmissionPolicy).Spec
			defaultTo(&s.FailurePolicy, admissionregistrationv1.Fail)
			defaultMatchResources(s.MatchConstraints)
		}).
		validated(validateMAP, func(obj, _ Object) field.ErrorList { return validateMAP(obj) })
}

// MutatingAdmissionPolicyBindings is admissionregistration.k8s.io/v1
// mutatingadmissionpolicybindings.
func MutatingAdmissionPolicyBindings() *Resource {
	return stored(admissionV1, "mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", false,
		func() Object { return &admissionregistrationv1.MutatingAdmissionPolicyBinding{} }).
		inCategory("api-extensions").withGeneration().
		defaulted(func(obj Object) {
			defaultMatchResources(obj.(*admissionregistrationv1.MutatingAdmissionPolicyBinding).Spec.MatchResources)
		}).
		validated(validateMAPBinding, func(obj, _ Object) field.ErrorList { return validateMAPBinding(obj) })
}

func validateVAP(obj Object) field.ErrorList {
	p := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
	return admissionValidateVAPSpec(p.Name, &p.Spec)
}

func validateVAPBinding(obj Object) field.ErrorList {
	s := &obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec
	errs := admissionValidateBinding(s.PolicyName, s.ParamRef, s.MatchResources, false)
	return append(errs, admissionValidateActions(s.ValidationActions, field.NewPath("spec", "validationActions"))...)
}

func validateMAP(obj Object) field.ErrorList {
	return admissionValidateMAPSpec(&obj.(*admissionregistrationv1.MutatingAdmissionPolicy).Spec)
}

func validateMAPBinding(obj Object) field.ErrorList {
	s := &obj.(*admissionregistrationv1.MutatingAdmissionPolicyBinding).Spec
	return admissionValidateBinding(s.PolicyName, s.ParamRef, s.MatchResources, true)
}

func defaultMatchResources(m *admissionregistrationv1.MatchResources) {
	if m == nil {
		return
	}
	defaultTo(&m.MatchPolicy, admissionregistrationv1.Equivalent)
	defaultTo(&m.NamespaceSelector, metav1.LabelSelector{})
	defaultTo(&m.ObjectSelector, metav1.LabelSelector{})
	for i := range m.ResourceRules {
		defaultTo(&m.ResourceRules[i].Scope, admissionregistrationv1.AllScopes)
	}
	for i := range m.ExcludeResourceRules {
		defaultTo(&m.ExcludeResourceRules[i].Scope, admissionregistrationv1.AllScopes)
	}
}
