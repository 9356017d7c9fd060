// Package authz decides whether a user may do what a request asks.
// Authorizers are asked in order; only Allow allows, and an error never
// allows.
package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
)

// Decision is an authorizer's answer. The zero value denies.
type Decision uint8

// Decisions.
const (
	Deny Decision = iota
	Allow
	NoOpinion
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case NoOpinion:
		return "no opinion"
	}
	return "deny"
}

// Attributes describe a request for authorization.
type Attributes struct {
	User            *authn.User
	Verb            string
	Group           string
	Version         string
	Resource        string
	Subresource     string
	Namespace       string
	Name            string
	Path            string
	ResourceRequest bool
	// FieldSelector and LabelSelector are a list or watch's selectors as
	// the client sent them, for authorizers that allow only narrowed
	// reads (a node may list only the pods bound to it).
	FieldSelector string
	LabelSelector string
}

// Authorizer makes a Decision with a reason for the log.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (Decision, string, error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, a Attributes) (Decision, string, error)

// Authorize implements Authorizer.
func (f AuthorizerFunc) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	return f(ctx, a)
}

// Chain asks each authorizer in order. An Allow or Deny ends the chain;
// NoOpinion passes on; an error is remembered and treated as NoOpinion.
// The end of the chain is NoOpinion, which callers must treat as a denial:
// only Allow allows. Keeping "no one had an opinion" apart from an explicit
// Deny is what SubjectAccessReview's status.denied reports.
type Chain []Authorizer

// Authorize implements Authorizer.
func (c Chain) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reasons []string
	var firstErr error
	for _, z := range c {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
		switch d {
		case Allow, Deny:
			return d, strings.Join(reasons, "; "), nil
		}
	}
	return NoOpinion, strings.Join(reasons, "; "), firstErr
}

// RuleResolver lists the rules an authorizer grants a user in a namespace,
// for SelfSubjectRulesReview. incomplete says the list may not be all the
// authorizer would allow (a webhook cannot enumerate its rules).
type RuleResolver interface {
	RulesFor(ctx context.Context, u *authn.User, namespace string) (rules []rbacv1.PolicyRule, incomplete bool, err error)
}

// RulesFor gathers the rules of every member that can list them. A member
// that cannot makes the answer incomplete, as does any error.
func (c Chain) RulesFor(ctx context.Context, u *authn.User, namespace string) ([]rbacv1.PolicyRule, bool, error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	incomplete := false
	for _, z := range c {
		r, ok := z.(RuleResolver)
		if !ok {
			continue
		}
		more, inc, err := r.RulesFor(ctx, u, namespace)
		rules = append(rules, more...)
		incomplete = incomplete || inc
		if err != nil {
			errs = append(errs, err)
			incomplete = true
		}
	}
	return rules, incomplete, errors.Join(errs...)
}

type systemMasters struct{}

// SystemMasters allows every request from a member of system:masters and
// has no opinion on anyone else, as Kubernetes' privileged group does.
var SystemMasters Authorizer = systemMasters{}

func (systemMasters) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User.InGroup(authn.GroupMasters) {
		return Allow, "", nil
	}
	return NoOpinion, "", nil
}

type alwaysDeny struct{}

// AlwaysDeny denies everything (--authorization-mode=AlwaysDeny).
var AlwaysDeny Authorizer = alwaysDeny{}

func (alwaysDeny) Authorize(context.Context, Attributes) (Decision, string, error) {
	return Deny, "", nil
}

// RulesFor implements RuleResolver: no rules.
func (alwaysDeny) RulesFor(context.Context, *authn.User, string) ([]rbacv1.PolicyRule, bool, error) {
	return nil, false, nil
}

type alwaysAllow struct{}

// AlwaysAllow allows everything (--authorization-mode=AlwaysAllow).
var AlwaysAllow Authorizer = alwaysAllow{}

func (alwaysAllow) Authorize(context.Context, Attributes) (Decision, string, error) {
	return Allow, "", nil
}

// RulesFor implements RuleResolver: everything.
func (alwaysAllow) RulesFor(context.Context, *authn.User, string) ([]rbacv1.PolicyRule, bool, error) {
	return []rbacv1.PolicyRule{
		{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
		{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
	}, false, nil
}

// ForbiddenMessage renders the reason Kubernetes gives a client for a
// denial, e.g. `User "bob" cannot list resource "pods" in API group "" in
// the namespace "default"`.
func ForbiddenMessage(a Attributes) string {
	who := "User " + fmt.Sprintf("%q", userName(a.User))
	if !a.ResourceRequest {
		return fmt.Sprintf("%s cannot %s path %q", who, a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	scope := "at the cluster scope"
	if a.Namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", a.Namespace)
	}
	return fmt.Sprintf("%s cannot %s resource %q in API group %q %s", who, a.Verb, resource, a.Group, scope)
}

func userName(u *authn.User) string {
	if u == nil {
		return authn.UserAnonymous
	}
	return u.Name
}
