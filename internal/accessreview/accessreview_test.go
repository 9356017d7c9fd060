package accessreview

import (
	"context"
	"errors"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sekishov1alpha1 "github.com/sekisho/sekisho/internal/apis/sekisho/v1alpha1"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

// testReviewer has RBAC granting alice "list pods" in dev, and a last
// authorizer that denies outright anything on secrets and fails on
// configmaps.
func testReviewer() *Reviewer {
	x := rbac.NewIndex()
	x.SetRole(rbac.RoleRef{Kind: "Role", Namespace: "dev", Name: "reader"}, []rbacv1.PolicyRule{
		{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}},
		{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}},
	})
	x.SetBinding(rbac.BindingRef{Kind: "RoleBinding", Namespace: "dev", Name: "alice"},
		rbacv1.RoleRef{Kind: "Role", Name: "reader"}, []rbacv1.Subject{{Kind: "User", Name: "alice"}})
	last := authz.AuthorizerFunc(func(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
		switch a.Resource {
		case "secrets":
			return authz.Deny, "secrets are off limits", nil
		case "configmaps":
			return authz.NoOpinion, "", errors.New("policy engine unreachable")
		}
		return authz.NoOpinion, "", nil
	})
	chain := authz.Chain{authz.SystemMasters, &rbac.Authorizer{Index: x}, last}
	return &Reviewer{Authorizer: chain, Rules: chain, Index: x}
}

func sar(user, verb, resource, namespace string) *authorizationv1.SubjectAccessReview {
	return &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: namespace},
	}}
}

func TestSubjectAccessReviewDecisions(t *testing.T) {
	r := testReviewer()
	ctx := context.Background()
	for _, c := range []struct {
		name            string
		in              *authorizationv1.SubjectAccessReview
		allowed, denied bool
		reason, evalErr string
	}{
		{"allowed", sar("alice", "list", "pods", "dev"), true, false, `RBAC: allowed by RoleBinding "alice/dev" of Role "reader" to User "alice"`, ""},
		{"no opinion is not denied", sar("alice", "list", "pods", "prod"), false, false, "", ""},
		{"explicit deny", sar("alice", "get", "secrets", "dev"), false, true, "secrets are off limits", ""},
		{"evaluation error", sar("alice", "get", "configmaps", "dev"), false, false, "", "policy engine unreachable"},
	} {
		out, err := r.SubjectAccessReview(ctx, c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st := out.Status
		if st.Allowed != c.allowed || st.Denied != c.denied || st.Reason != c.reason || st.EvaluationError != c.evalErr {
			t.Errorf("%s: status %+v", c.name, st)
		}
	}
	// A group alone is a subject; system:masters is allowed everything.
	in := sar("", "delete", "nodes", "")
	in.Spec.Groups = []string{authn.GroupMasters}
	if out, err := r.SubjectAccessReview(ctx, in); err != nil || !out.Status.Allowed {
		t.Errorf("system:masters: %v %+v", err, out)
	}
}

func TestSubjectAccessReviewValidation(t *testing.T) {
	r := testReviewer()
	ctx := context.Background()
	both := sar("alice", "get", "pods", "")
	both.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: "/x", Verb: "get"}
	neither := sar("alice", "", "", "")
	neither.Spec.ResourceAttributes = nil
	named := sar("alice", "get", "pods", "")
	named.Name = "x"
	for _, c := range []struct {
		name string
		in   *authorizationv1.SubjectAccessReview
		want string
	}{
		{"no subject", sar("", "get", "pods", ""), "spec.user: Invalid value: \"\": at least one of user or group must be specified"},
		{"both kinds", both, "spec.nonResourceAttributes: Invalid value"},
		{"neither kind", neither, "exactly one of nonResourceAttributes or resourceAttributes must be specified"},
		{"metadata", named, "metadata: Invalid value"},
	} {
		_, err := r.SubjectAccessReview(ctx, c.in)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want 422 with %q", c.name, err, c.want)
		}
	}
}

func TestLocalSubjectAccessReview(t *testing.T) {
	r := testReviewer()
	ctx := context.Background()
	in := &authorizationv1.LocalSubjectAccessReview{
		ObjectMeta: metav1.ObjectMeta{Namespace: "dev"},
		Spec:       sar("alice", "list", "pods", "dev").Spec,
	}
	if out, err := r.LocalSubjectAccessReview(ctx, in); err != nil || !out.Status.Allowed {
		t.Errorf("local review: %v %+v", err, out)
	}
	in.Namespace = "prod"
	if _, err := r.LocalSubjectAccessReview(ctx, in); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "must match metadata.namespace") {
		t.Errorf("namespace mismatch: %v", err)
	}
	in.Spec.ResourceAttributes = nil
	in.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"}
	if _, err := r.LocalSubjectAccessReview(ctx, in); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "disallowed on this kind of request") {
		t.Errorf("paths in a local review: %v", err)
	}
}

func TestSelfReviews(t *testing.T) {
	r := testReviewer()
	ctx := authn.WithUser(context.Background(), &authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}})
	ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"},
	}}
	// The role's path rule is bound by a RoleBinding, which grants no paths.
	if out, err := r.SelfSubjectAccessReview(ctx, ssar); err != nil || out.Status.Allowed {
		t.Errorf("path through a RoleBinding: %v %+v", err, out.Status)
	}
	ssar.Spec.NonResourceAttributes = nil
	ssar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "dev"}
	if out, err := r.SelfSubjectAccessReview(ctx, ssar); err != nil || !out.Status.Allowed {
		t.Errorf("self review: %v %+v", err, out.Status)
	}
	if _, err := r.SelfSubjectAccessReview(context.Background(), ssar); !apierrors.IsBadRequest(err) {
		t.Errorf("no user: %v", err)
	}

	rules, err := r.SelfSubjectRulesReview(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "dev"}})
	if err != nil {
		t.Fatal(err)
	}
	st := rules.Status
	if len(st.ResourceRules) != 1 || st.ResourceRules[0].Resources[0] != "pods" || len(st.NonResourceRules) != 1 || st.Incomplete {
		t.Errorf("rules review: %+v", st)
	}
	rules, _ = r.SelfSubjectRulesReview(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "prod"}})
	if len(rules.Status.ResourceRules) != 0 || rules.Status.ResourceRules == nil {
		t.Errorf("rules in another namespace: %+v", rules.Status)
	}
}

func TestAccessReview(t *testing.T) {
	r := testReviewer()
	ctx := context.Background()
	spec := sekishov1alpha1.AccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "dev"}}
	out, err := r.AccessReview(ctx, &sekishov1alpha1.AccessReview{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Status.Subjects) != 1 || out.Status.Subjects[0].Subject.Name != "alice" || out.Status.Subjects[0].Binding.Name != "alice" ||
		out.Status.AlwaysAllowedGroups[0] != authn.GroupMasters {
		t.Errorf("who-can: %+v", out.Status)
	}
	spec.User = "alice"
	spec.ResourceAttributes.Verb = "delete"
	out, err = r.AccessReview(ctx, &sekishov1alpha1.AccessReview{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status.Allowed || len(out.Status.Nearest) != 1 || out.Status.Nearest[0].Differences[0] != `verb "delete" is not in ["list"]` {
		t.Errorf("explain a denial: %+v", out.Status)
	}
	spec.ResourceAttributes.Verb = "list"
	out, _ = r.AccessReview(ctx, &sekishov1alpha1.AccessReview{Spec: spec})
	if !out.Status.Allowed || out.Status.Grant == nil || out.Status.Grant.Role.Name != "reader" {
		t.Errorf("explain an allow: %+v", out.Status)
	}
	if _, err := r.AccessReview(ctx, &sekishov1alpha1.AccessReview{}); !apierrors.IsInvalid(err) {
		t.Errorf("empty spec: %v", err)
	}
}

// TestSelfAccessReview explains the requester's own decision, whoever the
// spec might have wanted to name: the user comes from the request.
func TestSelfAccessReview(t *testing.T) {
	r := testReviewer()
	ctx := authn.WithUser(context.Background(), &authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}})
	ask := func(verb string) *sekishov1alpha1.SelfAccessReview {
		t.Helper()
		out, err := r.SelfAccessReview(ctx, &sekishov1alpha1.SelfAccessReview{Spec: sekishov1alpha1.SelfAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "pods", Namespace: "dev"}}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := ask("list"); !out.Status.Allowed || out.Status.Grant == nil || out.Status.Grant.Binding.Name != "alice" {
		t.Errorf("allowed: %+v", out.Status)
	}
	if out := ask("delete"); out.Status.Allowed || len(out.Status.Nearest) != 1 || out.Status.Nearest[0].Differences[0] != `verb "delete" is not in ["list"]` {
		t.Errorf("denied: %+v", out.Status)
	}
	bob := authn.WithUser(context.Background(), &authn.User{Name: "bob", Groups: []string{authn.GroupAuthenticated}})
	out, err := r.SelfAccessReview(bob, &sekishov1alpha1.SelfAccessReview{Spec: sekishov1alpha1.SelfAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "dev"}}})
	if err != nil || out.Status.Allowed || len(out.Status.Nearest) != 0 {
		t.Errorf("bob, who has no rules, learned of alice's: %+v %v", out.Status, err)
	}
	if _, err := r.SelfAccessReview(ctx, &sekishov1alpha1.SelfAccessReview{}); !apierrors.IsInvalid(err) {
		t.Errorf("empty spec: %v", err)
	}
}
