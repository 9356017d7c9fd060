// Package authn defines who is making a request and how a request proves it.
// An Authenticator answers in three ways: "not my kind of credential"
// (ok=false, err=nil), "valid" (ok=true), or "my kind, and invalid"
// (err != nil). A Chain asks each in order; the first valid answer wins.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// Well-known groups.
const (
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupMasters         = "system:masters"
	UserAnonymous        = "system:anonymous"

	// GroupNodes is the group every kubelet's credential carries.
	GroupNodes = "system:nodes"
	// NodeUserPrefix starts a kubelet's user name: system:node:<node name>.
	NodeUserPrefix = "system:node:"
)

// NodeIdentity returns the node a user speaks for, as kube-apiserver's
// node identifier does. isNode is false for users outside system:nodes;
// name is empty for a member of system:nodes whose user name does not
// name a node, who must then be refused whatever a node may do.
func NodeIdentity(u *User) (name string, isNode bool) {
	if !u.InGroup(GroupNodes) {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	if !ok {
		return "", true
	}
	return name, true
}

// ExtraCredentialID is the extra key that names the credential a user
// presented (a certificate's SHA-256, a token's ID), as Kubernetes names
// it: audit events and CertificateSigningRequests record it.
const ExtraCredentialID = "authentication.kubernetes.io/credential-id"

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
	// Authenticator names the method that vouched for the user, for logs.
	Authenticator string
}

// CheckText refuses an identity with a name, uid, group or extra key or
// value that is not valid UTF-8. Identities read from headers (an
// authenticating proxy, impersonation) could otherwise carry bytes that
// logs and stored objects would alter.
func (u *User) CheckText() error {
	bad := func(what, v string) error {
		if utf8.ValidString(v) {
			return nil
		}
		return fmt.Errorf("the %s %q is not valid UTF-8", what, v)
	}
	errs := []error{bad("user name", u.Name), bad("uid", u.UID)}
	for _, g := range u.Groups {
		errs = append(errs, bad("group", g))
	}
	for k, vs := range u.Extra {
		errs = append(errs, bad("extra key", k))
		for _, v := range vs {
			errs = append(errs, bad("extra value", v))
		}
	}
	return errors.Join(errs...)
}

// InGroup reports whether u is a member of group.
func (u *User) InGroup(group string) bool {
	return u != nil && slices.Contains(u.Groups, group)
}

// Authenticator authenticates a request.
type Authenticator interface {
	Authenticate(r *http.Request) (u *User, ok bool, err error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*User, bool, error)

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*User, bool, error) { return f(r) }

// TokenAuthenticator authenticates a bearer token.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u *User, ok bool, err error)
}

// Chain tries each authenticator in order. The first valid answer wins;
// errors from the others are collected so that a failure can be explained.
type Chain []Authenticator

// Authenticate implements Authenticator. A successful user always carries
// system:authenticated.
func (c Chain) Authenticate(r *http.Request) (*User, bool, error) {
	var errs []error
	for _, a := range c {
		u, ok, err := a.Authenticate(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			if !u.InGroup(GroupAuthenticated) && u.Name != UserAnonymous {
				// Authenticators may share their users (caches do): copy.
				cp := *u
				cp.Groups = append(slices.Clone(u.Groups), GroupAuthenticated)
				u = &cp
			}
			return u, true, nil
		}
	}
	return nil, false, errors.Join(errs...)
}

type userKey struct{}

// WithUser returns a context carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user in ctx, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// APIServerUser is the name of the server's own writes, as kube-apiserver
// names its loopback client.
const APIServerUser = "system:apiserver"

// AsAPIServer returns a context whose writes are the server's own:
// bootstrap objects, the default RBAC policy and the built-in controllers'
// writes. Like kube-apiserver's loopback identity, the user is in
// system:masters; it comes from no credential and reaches no client.
func AsAPIServer(ctx context.Context) context.Context {
	return WithUser(ctx, &User{Name: APIServerUser, Groups: []string{GroupMasters, GroupAuthenticated}, Authenticator: "loopback"})
}

type audiencesKey struct{}

// WithAudiences returns a context asking token authenticators to accept
// only tokens meant for one of auds (a TokenReview with spec.audiences).
func WithAudiences(ctx context.Context, auds []string) context.Context {
	return context.WithValue(ctx, audiencesKey{}, auds)
}

// AudiencesFrom returns the audiences set by WithAudiences, or nil.
func AudiencesFrom(ctx context.Context) []string {
	a, _ := ctx.Value(audiencesKey{}).([]string)
	return a
}
