// Package accessreview answers the access review APIs: Kubernetes'
// SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview
// and SelfSubjectRulesReview (authorization.k8s.io/v1), which `kubectl auth
// can-i` uses, and sekisho's AccessReview (sekisho.io/v1alpha1), which asks
// who can make a request and why a user can or cannot.
package accessreview

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	sekishov1alpha1 "github.com/sekisho/sekisho/internal/apis/sekisho/v1alpha1"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
	"github.com/sekisho/sekisho/internal/catalog"
)

// Reviewer answers access reviews with the server's own authorizers.
type Reviewer struct {
	// Authorizer is the server's whole chain, system:masters included.
	Authorizer authz.Authorizer
	// Rules lists a user's rules for SelfSubjectRulesReview.
	Rules authz.RuleResolver
	// Index answers who-can and explain questions.
	Index *rbac.Index
}

// Reviews returns the answer of every review API, by resource.
func (r *Reviewer) Reviews() map[schema.GroupVersionResource]catalog.ReviewFunc {
	k8s, own := authorizationv1.SchemeGroupVersion, sekishov1alpha1.SchemeGroupVersion
	return map[schema.GroupVersionResource]catalog.ReviewFunc{
		k8s.WithResource("subjectaccessreviews"):      catalog.Review(r.SubjectAccessReview),
		k8s.WithResource("localsubjectaccessreviews"): catalog.Review(r.LocalSubjectAccessReview),
		k8s.WithResource("selfsubjectaccessreviews"):  catalog.Review(r.SelfSubjectAccessReview),
		k8s.WithResource("selfsubjectrulesreviews"):   catalog.Review(r.SelfSubjectRulesReview),
		own.WithResource("accessreviews"):             catalog.Review(r.AccessReview),
		own.WithResource("selfaccessreviews"):         catalog.Review(r.SelfAccessReview),
	}
}

// SubjectAccessReview decides a request for the user in the spec.
func (r *Reviewer) SubjectAccessReview(ctx context.Context, in *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
	errs := validateSpec(in.Spec)
	if !emptyMeta(in.ObjectMeta, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), in.ObjectMeta, "must be empty"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview").GroupKind(), "", errs)
	}
	out := in.DeepCopy()
	out.Status = r.decide(ctx, specAttributes(in.Spec))
	return out, nil
}

// LocalSubjectAccessReview is SubjectAccessReview within one namespace.
func (r *Reviewer) LocalSubjectAccessReview(ctx context.Context, in *authorizationv1.LocalSubjectAccessReview) (*authorizationv1.LocalSubjectAccessReview, error) {
	errs := validateSpec(in.Spec)
	if !emptyMeta(in.ObjectMeta, true) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), in.ObjectMeta, "must be empty except for namespace"))
	}
	if ra := in.Spec.ResourceAttributes; ra != nil && ra.Namespace != in.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"), ra.Namespace, "must match metadata.namespace"))
	}
	if in.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), in.Spec.NonResourceAttributes, "disallowed on this kind of request"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("LocalSubjectAccessReview").GroupKind(), "", errs)
	}
	out := in.DeepCopy()
	out.Status = r.decide(ctx, specAttributes(in.Spec))
	return out, nil
}

// SelfSubjectAccessReview decides a request for the requester.
func (r *Reviewer) SelfSubjectAccessReview(ctx context.Context, in *authorizationv1.SelfSubjectAccessReview) (*authorizationv1.SelfSubjectAccessReview, error) {
	u := authn.UserFrom(ctx)
	if u == nil {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	errs := validateAttributes(in.Spec.ResourceAttributes, in.Spec.NonResourceAttributes)
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview").GroupKind(), "", errs)
	}
	a := attributes(in.Spec.ResourceAttributes, in.Spec.NonResourceAttributes)
	a.User = u
	out := in.DeepCopy()
	out.Status = r.decide(ctx, a)
	return out, nil
}

// SelfSubjectRulesReview lists what the requester may do in a namespace.
func (r *Reviewer) SelfSubjectRulesReview(ctx context.Context, in *authorizationv1.SelfSubjectRulesReview) (*authorizationv1.SelfSubjectRulesReview, error) {
	u := authn.UserFrom(ctx)
	if u == nil {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	rules, incomplete, err := r.Rules.RulesFor(ctx, u, in.Spec.Namespace)
	out := in.DeepCopy()
	out.Status = authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{},
		NonResourceRules: []authorizationv1.NonResourceRule{},
		Incomplete:       incomplete,
	}
	if err != nil {
		out.Status.EvaluationError = err.Error()
	}
	for _, rule := range rules {
		if len(rule.Resources) > 0 {
			out.Status.ResourceRules = append(out.Status.ResourceRules, authorizationv1.ResourceRule{
				Verbs: rule.Verbs, APIGroups: rule.APIGroups, Resources: rule.Resources, ResourceNames: rule.ResourceNames,
			})
		}
		if len(rule.NonResourceURLs) > 0 {
			out.Status.NonResourceRules = append(out.Status.NonResourceRules, authorizationv1.NonResourceRule{
				Verbs: rule.Verbs, NonResourceURLs: rule.NonResourceURLs,
			})
		}
	}
	return out, nil
}

// decide runs the whole chain. Denied is set only when an authorizer
// denied outright; the end of the chain is "no opinion", as in Kubernetes.
func (r *Reviewer) decide(ctx context.Context, a authz.Attributes) authorizationv1.SubjectAccessReviewStatus {
	d, reason, err := r.Authorizer.Authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{
		Allowed: d == authz.Allow && err == nil,
		Denied:  d == authz.Deny,
		Reason:  reason,
	}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

// emptyMeta reports whether a review's metadata is empty, as review
// objects' must be (a local review may name its namespace).
func emptyMeta(m metav1.ObjectMeta, namespaceAllowed bool) bool {
	m.ManagedFields = nil
	if namespaceAllowed {
		m.Namespace = ""
	}
	return equality.Semantic.DeepEqual(metav1.ObjectMeta{}, m)
}

func validateSpec(spec authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	errs := validateAttributes(spec.ResourceAttributes, spec.NonResourceAttributes)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified"))
	}
	return errs
}

// validateAttributes requires exactly one of the two kinds of request.
func validateAttributes(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	switch {
	case ra != nil && nra != nil:
		errs = append(errs, field.Invalid(spec.Child("nonResourceAttributes"), nra, "cannot be specified in combination with resourceAttributes"))
	case ra == nil && nra == nil:
		errs = append(errs, field.Invalid(spec.Child("resourceAttributes"), nra, "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	return errs
}

// specAttributes turns a SubjectAccessReview's spec into a request.
func specAttributes(spec authorizationv1.SubjectAccessReviewSpec) authz.Attributes {
	a := attributes(spec.ResourceAttributes, spec.NonResourceAttributes)
	u := &authn.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if len(spec.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			u.Extra[k] = v
		}
	}
	a.User = u
	return a
}

// attributes turns review attributes into a request without a user.
// Selectors sent as requirements are rendered back to selector strings.
func attributes(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authz.Attributes {
	if nra != nil {
		return authz.Attributes{Verb: nra.Verb, Path: nra.Path}
	}
	if ra == nil {
		return authz.Attributes{}
	}
	a := authz.Attributes{
		ResourceRequest: true, Verb: ra.Verb, Group: ra.Group, Version: ra.Version, Resource: ra.Resource,
		Subresource: ra.Subresource, Namespace: ra.Namespace, Name: ra.Name,
	}
	if fs := ra.FieldSelector; fs != nil {
		a.FieldSelector = fs.RawSelector
		if a.FieldSelector == "" {
			a.FieldSelector = fieldSelector(fs.Requirements)
		}
	}
	if ls := ra.LabelSelector; ls != nil {
		a.LabelSelector = ls.RawSelector
		if a.LabelSelector == "" {
			a.LabelSelector = labelSelector(ls.Requirements)
		}
	}
	return a
}

func fieldSelector(reqs []metav1.FieldSelectorRequirement) string {
	var sel []fields.Selector
	for _, r := range reqs {
		if len(r.Values) != 1 {
			continue // only = and != render as a field selector
		}
		switch r.Operator {
		case metav1.FieldSelectorOpIn:
			sel = append(sel, fields.OneTermEqualSelector(r.Key, r.Values[0]))
		case metav1.FieldSelectorOpNotIn:
			sel = append(sel, fields.OneTermNotEqualSelector(r.Key, r.Values[0]))
		}
	}
	if len(sel) == 0 {
		return ""
	}
	return fields.AndSelectors(sel...).String()
}

func labelSelector(reqs []metav1.LabelSelectorRequirement) string {
	sel, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchExpressions: reqs})
	if err != nil || sel.Empty() {
		return ""
	}
	return sel.String()
}

// AccessReview answers who can make a request or, with spec.user, why
// that user can or cannot.
func (r *Reviewer) AccessReview(ctx context.Context, in *sekishov1alpha1.AccessReview) (*sekishov1alpha1.AccessReview, error) {
	errs := validateAttributes(in.Spec.ResourceAttributes, in.Spec.NonResourceAttributes)
	if !emptyMeta(in.ObjectMeta, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), in.ObjectMeta, "must be empty"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(sekishov1alpha1.SchemeGroupVersion.WithKind("AccessReview").GroupKind(), "", errs)
	}
	if r.Index == nil {
		return nil, apierrors.NewServiceUnavailable("RBAC is not running")
	}
	a := attributes(in.Spec.ResourceAttributes, in.Spec.NonResourceAttributes)
	out := in.DeepCopy()
	out.Status = sekishov1alpha1.AccessReviewStatus{AlwaysAllowedGroups: []string{authn.GroupMasters}}
	if in.Spec.User == "" && len(in.Spec.Groups) == 0 {
		for _, g := range r.Index.WhoCan(a) {
			out.Status.Subjects = append(out.Status.Subjects, grant(g))
		}
		return out, nil
	}
	a.User = &authn.User{Name: in.Spec.User, Groups: in.Spec.Groups}
	r.explain(ctx, a, &out.Status)
	return out, nil
}

// SelfAccessReview explains the requester's own decision.
func (r *Reviewer) SelfAccessReview(ctx context.Context, in *sekishov1alpha1.SelfAccessReview) (*sekishov1alpha1.SelfAccessReview, error) {
	errs := validateAttributes(in.Spec.ResourceAttributes, in.Spec.NonResourceAttributes)
	if !emptyMeta(in.ObjectMeta, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), in.ObjectMeta, "must be empty"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(sekishov1alpha1.SchemeGroupVersion.WithKind("SelfAccessReview").GroupKind(), "", errs)
	}
	if r.Index == nil {
		return nil, apierrors.NewServiceUnavailable("RBAC is not running")
	}
	a := attributes(in.Spec.ResourceAttributes, in.Spec.NonResourceAttributes)
	a.User = authn.UserFrom(ctx)
	out := in.DeepCopy()
	out.Status = sekishov1alpha1.AccessReviewStatus{AlwaysAllowedGroups: []string{authn.GroupMasters}}
	r.explain(ctx, a, &out.Status)
	return out, nil
}

// explain fills st with the decision for a.User and RBAC's explanation.
func (r *Reviewer) explain(ctx context.Context, a authz.Attributes, st *sekishov1alpha1.AccessReviewStatus) {
	d := r.decide(ctx, a)
	st.Allowed, st.Reason = d.Allowed, d.Reason
	if d.EvaluationError != "" {
		st.Reason = joinReason(st.Reason, d.EvaluationError)
	}
	ex := r.Index.Explain(a)
	if ex.Allowed {
		g := grant(ex.Grant)
		st.Grant = &g
	}
	for _, n := range ex.Nearest {
		st.Nearest = append(st.Nearest, sekishov1alpha1.NearMiss{Grant: grant(n.Grant), Differences: n.Differences})
	}
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func grant(g rbac.Grant) sekishov1alpha1.Grant {
	return sekishov1alpha1.Grant{
		Subject: g.Subject,
		Binding: sekishov1alpha1.ObjectReference{Kind: g.Binding.Kind, Namespace: g.Binding.Namespace, Name: g.Binding.Name},
		Role:    sekishov1alpha1.ObjectReference{Kind: g.Role.Kind, Namespace: g.Role.Namespace, Name: g.Role.Name},
		Rule:    *g.Rule.DeepCopy(),
	}
}
