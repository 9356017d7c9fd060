package authz_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

// counted wraps an authorizer and counts the times it is asked.
type counted struct {
	authz.Authorizer
	asked int
}

func (c *counted) Authorize(ctx context.Context, a authz.Attributes) (authz.Decision, string, error) {
	c.asked++
	return c.Authorizer.Authorize(ctx, a)
}

func fixed(d authz.Decision, reason string, err error) authz.Authorizer {
	return authz.AuthorizerFunc(func(context.Context, authz.Attributes) (authz.Decision, string, error) {
		return d, reason, err
	})
}

// aliceRBAC is RBAC allowing alice to list pods in dev.
func aliceRBAC() authz.Authorizer {
	x := rbac.NewIndex()
	x.SetRole(rbac.RoleRef{Kind: "Role", Namespace: "dev", Name: "reader"}, []rbacv1.PolicyRule{
		{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}},
	})
	x.SetBinding(rbac.BindingRef{Kind: "RoleBinding", Namespace: "dev", Name: "alice"},
		rbacv1.RoleRef{Kind: "Role", Name: "reader"}, []rbacv1.Subject{{Kind: "User", Name: "alice"}})
	return &rbac.Authorizer{Index: x}
}

var (
	alice       = &authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}}
	admin       = &authn.User{Name: "kubernetes-admin", Groups: []string{authn.GroupMasters, authn.GroupAuthenticated}}
	listDevPods = authz.Attributes{User: alice, Verb: "list", Version: "v1", Resource: "pods", Namespace: "dev", ResourceRequest: true}
)

func TestRBACAllowsAliceAlone(t *testing.T) {
	// The premise of the chain tests below: on its own, RBAC allows the request.
	if d, reason, err := aliceRBAC().Authorize(context.Background(), listDevPods); d != authz.Allow || err != nil {
		t.Fatalf("RBAC alone: %s %q %v", d, reason, err)
	}
}

// TestChainDenyEndsChain: a Deny from an earlier member is final, even when
// a later member would allow; the later member is not asked.
func TestChainDenyEndsChain(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		first authz.Authorizer
	}{
		{"AlwaysDeny", authz.AlwaysDeny},
		{"a webhook-like deny with a reason", fixed(authz.Deny, "denied by policy", nil)},
	} {
		later := &counted{Authorizer: aliceRBAC()}
		allowAll := &counted{Authorizer: authz.AlwaysAllow}
		chain := authz.Chain{authz.SystemMasters, c.first, later, allowAll}
		d, reason, err := chain.Authorize(ctx, listDevPods)
		if d != authz.Deny || err != nil {
			t.Errorf("%s then RBAC then AlwaysAllow: %s %q %v, want deny", c.name, d, reason, err)
		}
		if later.asked != 0 || allowAll.asked != 0 {
			t.Errorf("%s: members after the denial were asked (%d, %d times)", c.name, later.asked, allowAll.asked)
		}
	}
	// The denial carries its member's reason.
	if _, reason, _ := (authz.Chain{fixed(authz.Deny, "denied by policy", nil), authz.AlwaysAllow}).Authorize(ctx, listDevPods); reason != "denied by policy" {
		t.Errorf("reason of the denial: %q", reason)
	}
	// The same members the other way round: the earlier Allow wins.
	if d, _, err := (authz.Chain{authz.SystemMasters, aliceRBAC(), authz.AlwaysDeny}).Authorize(ctx, listDevPods); d != authz.Allow || err != nil {
		t.Errorf("RBAC then AlwaysDeny: %s %v, want allow", d, err)
	}
	// system:masters is asked first, so AlwaysDeny does not stop it.
	asAdmin := listDevPods
	asAdmin.User = admin
	if d, _, _ := (authz.Chain{authz.SystemMasters, authz.AlwaysDeny}).Authorize(ctx, asAdmin); d != authz.Allow {
		t.Errorf("system:masters before AlwaysDeny: %s", d)
	}
}

// TestChainNoOpinionAndErrors: "no opinion" and an error pass to the next
// member; an error never allows; the end of the chain is "no opinion",
// with the first error.
func TestChainNoOpinionAndErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("webhook unreachable")
	nobody := fixed(authz.NoOpinion, "", nil)
	failing := fixed(authz.Allow, "", boom) // an error with an Allow must not allow

	if d, _, err := (authz.Chain{nobody, failing, aliceRBAC()}).Authorize(ctx, listDevPods); d != authz.Allow || err != nil {
		t.Errorf("no opinion, error, then RBAC: %s %v, want allow", d, err)
	}
	if d, _, err := (authz.Chain{failing, nobody}).Authorize(ctx, listDevPods); d != authz.NoOpinion || !errors.Is(err, boom) {
		t.Errorf("error then no opinion: %s %v, want no opinion with the error", d, err)
	}
	if d, _, err := (authz.Chain{failing, authz.AlwaysDeny}).Authorize(ctx, listDevPods); d != authz.Deny || err != nil {
		t.Errorf("error then AlwaysDeny: %s %v, want deny", d, err)
	}
	// RBAC has no opinion on bob, so the chain ends with no opinion.
	bob := listDevPods
	bob.User = &authn.User{Name: "bob"}
	if d, _, err := (authz.Chain{authz.SystemMasters, aliceRBAC()}).Authorize(ctx, bob); d != authz.NoOpinion || err != nil {
		t.Errorf("nobody allows bob: %s %v, want no opinion", d, err)
	}
	if d, _, err := (authz.Chain{}).Authorize(ctx, listDevPods); d != authz.NoOpinion || err != nil {
		t.Errorf("empty chain: %s %v", d, err)
	}
	// The zero Decision denies.
	var zero authz.Decision
	if zero != authz.Deny {
		t.Errorf("the zero Decision is %s", zero)
	}
}

// TestAlwaysAllowAlwaysDeny: the two fixed modes, for resource and
// non-resource requests, any user (or none), and the rules they report.
func TestAlwaysAllowAlwaysDeny(t *testing.T) {
	ctx := context.Background()
	requests := []authz.Attributes{
		listDevPods,
		{User: &authn.User{Name: "system:anonymous", Groups: []string{authn.GroupUnauthenticated}}, Verb: "delete", Group: "apps", Version: "v1", Resource: "deployments", Name: "web", Namespace: "prod", ResourceRequest: true},
		{User: admin, Verb: "get", Path: "/metrics"},
		{Verb: "get", Path: "/healthz"},
	}
	for _, a := range requests {
		if d, _, err := authz.AlwaysAllow.Authorize(ctx, a); d != authz.Allow || err != nil {
			t.Errorf("AlwaysAllow %s %s%s: %s %v", a.Verb, a.Resource, a.Path, d, err)
		}
		if d, _, err := authz.AlwaysDeny.Authorize(ctx, a); d != authz.Deny || err != nil {
			t.Errorf("AlwaysDeny %s %s%s: %s %v", a.Verb, a.Resource, a.Path, d, err)
		}
	}
	rules, incomplete, err := authz.Chain{authz.AlwaysDeny}.RulesFor(ctx, alice, "dev")
	if len(rules) != 0 || incomplete || err != nil {
		t.Errorf("AlwaysDeny's rules: %v %v %v", rules, incomplete, err)
	}
	rules, incomplete, err = authz.Chain{authz.AlwaysAllow}.RulesFor(ctx, alice, "dev")
	if incomplete || err != nil || len(rules) != 2 ||
		!slices.Equal(rules[0].Verbs, []string{"*"}) || !slices.Equal(rules[0].Resources, []string{"*"}) || !slices.Equal(rules[0].APIGroups, []string{"*"}) ||
		!slices.Equal(rules[1].NonResourceURLs, []string{"*"}) {
		t.Errorf("AlwaysAllow's rules: %v %v %v", rules, incomplete, err)
	}
}
