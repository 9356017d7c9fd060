// Package rbac authorizes requests with Kubernetes RBAC: Roles,
// ClusterRoles, RoleBindings and ClusterRoleBindings. Bindings are indexed
// by subject and namespace, and the index is updated from storage watches,
// so a decision looks only at the bindings of the requesting user and its
// groups, however many bindings the cluster has.
package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authz"
)

// verbMatches reports whether a rule names verb (or every verb).
func verbMatches(r *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(r.Verbs, rbacv1.VerbAll) || slices.Contains(r.Verbs, verb)
}

func apiGroupMatches(r *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(r.APIGroups, rbacv1.APIGroupAll) || slices.Contains(r.APIGroups, group)
}

// resourceMatches applies "*", "resource", "resource/sub" and "*/sub".
func resourceMatches(r *rbacv1.PolicyRule, resource, subresource string) bool {
	combined := resource
	if subresource != "" {
		combined += "/" + subresource
	}
	for _, rr := range r.Resources {
		switch {
		case rr == rbacv1.ResourceAll, rr == combined:
			return true
		case subresource != "" && len(rr) == len(subresource)+2 && strings.HasPrefix(rr, "*/") && rr[2:] == subresource:
			return true
		}
	}
	return false
}

// resourceNameMatches: an empty list allows every name; otherwise the
// request must name one of them, so a list or create (which names no
// object) is not allowed by a rule with resourceNames.
func resourceNameMatches(r *rbacv1.PolicyRule, name string) bool {
	return len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)
}

// nonResourceURLMatches applies exact paths, "*", and trailing-"*"
// prefixes ("/healthz/*" matches "/healthz/etcd"; "/api*" matches "/apis").
func nonResourceURLMatches(r *rbacv1.PolicyRule, path string) bool {
	for _, u := range r.NonResourceURLs {
		switch {
		case u == rbacv1.NonResourceAll, u == path:
			return true
		case strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")):
			return true
		}
	}
	return false
}

// RuleAllows reports whether one rule grants a request.
func RuleAllows(r *rbacv1.PolicyRule, a authz.Attributes) bool {
	if !verbMatches(r, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return nonResourceURLMatches(r, a.Path)
	}
	return apiGroupMatches(r, a.Group) && resourceMatches(r, a.Resource, a.Subresource) && resourceNameMatches(r, a.Name)
}
