// Package authz decides whether a user may do what a request asks.
// Authorizers are asked in order; the zero Decision denies, and an error
// never allows.
package authz

import (
	"context"
	"fmt"
	"strings"

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
// NoOpinion passes on; an error is remembered and treated as NoOpinion, and
// the end of the chain denies.
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
	return Deny, strings.Join(reasons, "; "), firstErr
}

// SystemMasters allows every request from a member of system:masters and
// has no opinion on anyone else, as Kubernetes' privileged group does.
var SystemMasters = AuthorizerFunc(func(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User.InGroup(authn.GroupMasters) {
		return Allow, "member of " + authn.GroupMasters, nil
	}
	return NoOpinion, "", nil
})

// AlwaysDeny denies everything.
var AlwaysDeny = AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
	return Deny, "denied by AlwaysDeny", nil
})

// AlwaysAllow allows everything.
var AlwaysAllow = AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
	return Allow, "allowed by AlwaysAllow", nil
})

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
