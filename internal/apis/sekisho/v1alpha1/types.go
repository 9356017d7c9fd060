// Package v1alpha1 is sekisho.io/v1alpha1: the APIs sekisho serves beyond
// Kubernetes'.
package v1alpha1

import (
	"strconv"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of sekisho's own resources.
const GroupName = "sekisho.io"

// SchemeGroupVersion is sekisho.io/v1alpha1.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// AccessReview asks RBAC a question Kubernetes cannot answer. Without a
// user it asks who may make the request: every subject a binding allows,
// with the binding and rule that allow it. With a user it asks why that
// user may or may not: the allowing binding and rule, or the user's rules
// that come nearest. Nothing is stored; the answer is in status.
type AccessReview struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AccessReviewSpec   `json:"spec"`
	Status AccessReviewStatus `json:"status,omitempty"`
}

// SwaggerDoc describes AccessReview for kubectl explain.
func (AccessReview) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "AccessReview asks who may make a request (spec without user), or why a user may or may not (spec.user set). Nothing is stored.",
		"spec":   "The request asked about.",
		"status": "The answer.",
	}
}

// AccessReviewSpec is the request asked about. Exactly one of
// resourceAttributes and nonResourceAttributes is set.
type AccessReviewSpec struct {
	ResourceAttributes    *authorizationv1.ResourceAttributes    `json:"resourceAttributes,omitempty"`
	NonResourceAttributes *authorizationv1.NonResourceAttributes `json:"nonResourceAttributes,omitempty"`
	// User, when set, asks for an explanation of that user's decision;
	// Groups are the user's groups, taken as given.
	User   string   `json:"user,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// SwaggerDoc describes AccessReviewSpec for kubectl explain.
func (AccessReviewSpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                      "AccessReviewSpec is the request asked about. Exactly one of resourceAttributes and nonResourceAttributes is set.",
		"resourceAttributes":    "A request for a resource, as in SubjectAccessReview.",
		"nonResourceAttributes": "A request for a path, as in SubjectAccessReview.",
		"user":                  "The user whose decision to explain. Empty asks who may make the request.",
		"groups":                "The user's groups, taken exactly as given.",
	}
}

// SelfAccessReview asks why the requester may or may not make a request:
// AccessReview's explanation, for oneself. Every authenticated user may
// ask it, as every user may ask SelfSubjectAccessReview: the answer names
// only the requester's own rules and bindings, which
// SelfSubjectRulesReview already lists.
type SelfAccessReview struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SelfAccessReviewSpec `json:"spec"`
	Status AccessReviewStatus   `json:"status,omitempty"`
}

// SwaggerDoc describes SelfAccessReview for kubectl explain.
func (SelfAccessReview) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "SelfAccessReview asks why the requester may or may not make a request: the allowing binding and rule, or the requester's nearest rules. Nothing is stored.",
		"spec":   "The request asked about.",
		"status": "The answer.",
	}
}

// SelfAccessReviewSpec is the request asked about. Exactly one of
// resourceAttributes and nonResourceAttributes is set.
type SelfAccessReviewSpec struct {
	ResourceAttributes    *authorizationv1.ResourceAttributes    `json:"resourceAttributes,omitempty"`
	NonResourceAttributes *authorizationv1.NonResourceAttributes `json:"nonResourceAttributes,omitempty"`
}

// SwaggerDoc describes SelfAccessReviewSpec for kubectl explain.
func (SelfAccessReviewSpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                      "SelfAccessReviewSpec is the request asked about. Exactly one of resourceAttributes and nonResourceAttributes is set.",
		"resourceAttributes":    "A request for a resource, as in SelfSubjectAccessReview.",
		"nonResourceAttributes": "A request for a path, as in SelfSubjectAccessReview.",
	}
}

// AccessReviewStatus is the answer.
type AccessReviewStatus struct {
	// AlwaysAllowedGroups are groups whose members may make any request
	// before RBAC is asked (system:masters).
	AlwaysAllowedGroups []string `json:"alwaysAllowedGroups,omitempty"`
	// Subjects answer "who can": every subject a binding allows.
	Subjects []Grant `json:"subjects,omitempty"`

	// Allowed is the server's whole decision for spec.user, from every
	// authorizer in --authorization-mode.
	Allowed bool `json:"allowed,omitempty"`
	// Reason is what the authorizers said.
	Reason string `json:"reason,omitempty"`
	// Grant is the RBAC binding and rule that allow spec.user's request.
	Grant *Grant `json:"grant,omitempty"`
	// Nearest are, on a denial, spec.user's rules that differ from the
	// request in the fewest ways, each with its differences.
	Nearest []NearMiss `json:"nearest,omitempty"`
}

// SwaggerDoc describes AccessReviewStatus for kubectl explain.
func (AccessReviewStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                    "AccessReviewStatus is the answer.",
		"alwaysAllowedGroups": "Groups whose members may make any request before RBAC is asked.",
		"subjects":            "Who can: every subject a binding allows, with the binding and rule.",
		"allowed":             "The server's decision for spec.user.",
		"reason":              "What the authorizers said about spec.user's request.",
		"grant":               "The binding and rule that allow spec.user's request.",
		"nearest":             "On a denial, spec.user's rules nearest to allowing the request, with what differs.",
	}
}

// Grant is one rule, in one role, bound to one subject by one binding.
type Grant struct {
	Subject rbacv1.Subject    `json:"subject"`
	Binding ObjectReference   `json:"binding"`
	Role    ObjectReference   `json:"role"`
	Rule    rbacv1.PolicyRule `json:"rule"`
}

// SwaggerDoc describes Grant for kubectl explain.
func (Grant) SwaggerDoc() map[string]string {
	return map[string]string{
		"":        "Grant is one rule, in one role, bound to one subject by one binding.",
		"subject": "The subject as the binding names it.",
		"binding": "The RoleBinding or ClusterRoleBinding.",
		"role":    "The Role or ClusterRole the binding refers to.",
		"rule":    "The rule of the role that matches.",
	}
}

// ObjectReference names an RBAC object.
type ObjectReference struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// SwaggerDoc describes ObjectReference for kubectl explain.
func (ObjectReference) SwaggerDoc() map[string]string {
	return map[string]string{
		"":          "ObjectReference names an RBAC object.",
		"kind":      "Role, ClusterRole, RoleBinding or ClusterRoleBinding.",
		"namespace": "The namespace of a Role or RoleBinding.",
		"name":      "The object's name.",
	}
}

// NearMiss is a rule that comes close to allowing a request.
type NearMiss struct {
	Grant `json:",inline"`
	// Differences say what the rule or its binding covers instead of each
	// part of the request it misses.
	Differences []string `json:"differences"`
}

// SwaggerDoc describes NearMiss for kubectl explain.
func (NearMiss) SwaggerDoc() map[string]string {
	return map[string]string{
		"":            "NearMiss is a rule that comes close to allowing a request.",
		"differences": "What the rule or its binding covers instead of each part of the request it misses.",
	}
}

// DescribeRequest words a reviewed request for people: "list
// deployments.apps in namespace "dev"", "get path /metrics".
func DescribeRequest(ra *authorizationv1.ResourceAttributes, na *authorizationv1.NonResourceAttributes) string {
	if na != nil {
		return na.Verb + " path " + na.Path
	}
	if ra == nil {
		return "(nothing)"
	}
	res := ra.Resource
	if ra.Group != "" {
		res += "." + ra.Group
	}
	if ra.Subresource != "" {
		res += "/" + ra.Subresource
	}
	out := ra.Verb + " " + res
	if ra.Name != "" {
		out += " " + strconv.Quote(ra.Name)
	}
	if ra.Namespace != "" {
		return out + " in namespace " + strconv.Quote(ra.Namespace)
	}
	return out + " cluster-wide"
}
