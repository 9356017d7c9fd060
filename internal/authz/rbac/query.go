package rbac

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// Authorizer decides with the index.
type Authorizer struct{ Index *Index }

// Authorize implements authz.Authorizer. RBAC only grants: no match is no
// opinion, which the end of the chain turns into a denial. The reasons are
// worded as kube-apiserver words them: the allowing binding, or the roles
// that the user's bindings reference but that do not exist.
func (z *Authorizer) Authorize(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
	g, ok, missing := z.Index.decide(a)
	if ok {
		return authz.Allow, "RBAC: allowed by " + g.source(), nil
	}
	if len(missing) == 0 {
		return authz.NoOpinion, "", nil
	}
	errs := make([]string, len(missing))
	for i, ref := range missing {
		kind := "clusterrole"
		if ref.Kind == "Role" {
			kind = "role"
		}
		errs[i] = fmt.Sprintf("%s.rbac.authorization.k8s.io %q not found", kind, ref.Name)
	}
	if len(errs) == 1 {
		return authz.NoOpinion, "RBAC: " + errs[0], nil
	}
	return authz.NoOpinion, "RBAC: [" + strings.Join(errs, ", ") + "]", nil
}

// RulesFor implements authz.RuleResolver.
func (z *Authorizer) RulesFor(_ context.Context, u *authn.User, namespace string) ([]rbacv1.PolicyRule, bool, error) {
	return z.Index.RulesFor(u, namespace), false, nil
}

// source names the binding, role and subject of a grant as kube-apiserver
// does: RoleBinding "name/namespace" of ClusterRole "edit" to User "alice".
// It runs on every allowed request, so it builds the string in one buffer.
func (g Grant) source() string {
	var b strings.Builder
	b.Grow(64 + len(g.Binding.Name) + len(g.Binding.Namespace) + len(g.Role.Name) + 2*len(g.Subject.Name) + len(g.Subject.Namespace))
	b.WriteString(g.Binding.Kind)
	b.WriteByte(' ')
	name := g.Binding.Name
	if g.Binding.Kind == "RoleBinding" {
		name += "/" + g.Binding.Namespace
	}
	writeQuoted(&b, name)
	b.WriteString(" of ")
	b.WriteString(g.Role.Kind)
	b.WriteByte(' ')
	writeQuoted(&b, g.Role.Name)
	b.WriteString(" to ")
	b.WriteString(g.Subject.Kind)
	b.WriteByte(' ')
	subject := g.Subject.Name
	if g.Subject.Kind == rbacv1.ServiceAccountKind {
		ns := g.Subject.Namespace
		if ns == "" {
			ns = g.Binding.Namespace
		}
		subject += "/" + ns
	}
	writeQuoted(&b, subject)
	return b.String()
}

// writeQuoted writes s as %q would, without fmt's cost for the plain
// names that Kubernetes objects have.
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b.WriteString(strconv.Quote(s))
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// WhoCan lists every subject that a binding allows to do a, with the grant
// that allows it, sorted by subject kind, subject and binding. It walks the
// roles whose rules match and then the bindings that reference them, so its
// cost grows with the number of roles, not with the number of requests.
func (x *Index) WhoCan(a authz.Attributes) []Grant {
	ns, inNamespace := requestScopes(&a)
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []Grant
	for _, e := range x.roles {
		if !e.exists || len(e.bindings) == 0 {
			continue
		}
		if e.ref.Kind == "Role" && (!inNamespace || e.ref.Namespace != ns) {
			continue
		}
		i := slices.IndexFunc(e.rules, func(r rbacv1.PolicyRule) bool { return RuleAllows(&r, a) })
		if i < 0 {
			continue
		}
		for _, b := range e.bindings {
			if b.scope() != "" && (!inNamespace || b.scope() != ns) {
				continue
			}
			for _, s := range b.subjects {
				if _, _, ok := resolveSubject(s, b.ref.Namespace); !ok {
					continue
				}
				if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "" {
					s.Namespace = b.ref.Namespace
				}
				out = append(out, Grant{Binding: b.ref, Role: e.ref, Rule: e.rules[i], Subject: s})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := out[i].Subject, out[j].Subject
		if si.Kind != sj.Kind {
			return si.Kind < sj.Kind
		}
		if ki, kj := subjectName(si), subjectName(sj); ki != kj {
			return ki < kj
		}
		return out[i].Binding.String() < out[j].Binding.String()
	})
	return out
}

// NearMiss is a rule the user holds that comes close to allowing a
// request, with what stands in the way.
type NearMiss struct {
	Grant
	// Differences says, for each part of the request the rule or its
	// binding does not cover, what it covers instead.
	Differences []string
}

// Explanation is why RBAC allows or denies a request.
type Explanation struct {
	Allowed bool
	// Grant is the rule that allows the request.
	Grant Grant
	// Nearest are, on a denial, the user's rules that differ from the
	// request in the fewest ways (at most five, and at most two ways).
	Nearest []NearMiss
}

// maxDifferences is how many ways a rule may differ from a request and
// still be called near: a rule that differs in verb, group and resource
// alike says nothing useful about the request.
const maxDifferences = 2

// Explain says which binding and rule allow a request or, when none does,
// which of the user's rules come nearest. Rules bound in other namespaces
// count as near misses, so "your RoleBinding grants this in dev, not in
// prod" is an answer.
func (x *Index) Explain(a authz.Attributes) Explanation {
	if g, ok := x.Find(a); ok {
		return Explanation{Allowed: true, Grant: g}
	}
	if a.User == nil {
		return Explanation{}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	var misses []NearMiss
	consider := func(b *binding, user, group string) {
		for _, r := range b.role.rules {
			if diffs := differences(&r, b, a); len(diffs) > 0 {
				misses = append(misses, NearMiss{
					Grant:       Grant{Binding: b.ref, Role: b.role.ref, Rule: r, Subject: b.subjectFor(user, group)},
					Differences: diffs,
				})
			}
		}
	}
	// Every binding of the user, in any scope: explaining is rare, so a
	// pass over all bindings is acceptable here, unlike on the request path.
	for _, b := range x.bindings {
		if slices.Contains(b.users, a.User.Name) {
			consider(b, a.User.Name, "")
		}
		for _, g := range a.User.Groups {
			if slices.Contains(b.groups, g) {
				consider(b, "", g)
			}
		}
	}
	if len(misses) == 0 {
		return Explanation{}
	}
	sort.SliceStable(misses, func(i, j int) bool {
		if len(misses[i].Differences) != len(misses[j].Differences) {
			return len(misses[i].Differences) < len(misses[j].Differences)
		}
		return misses[i].Binding.String() < misses[j].Binding.String()
	})
	fewest := len(misses[0].Differences)
	if fewest > maxDifferences {
		return Explanation{}
	}
	n := 0
	for n < len(misses) && n < 5 && len(misses[n].Differences) == fewest {
		n++
	}
	return Explanation{Nearest: misses[:n]}
}

// differences lists what keeps rule r, bound by b, from allowing a. Rules
// of the other kind (resources for a path, paths for a resource) are not
// near at all and return nil.
func differences(r *rbacv1.PolicyRule, b *binding, a authz.Attributes) []string {
	var d []string
	if !verbMatches(r, a.Verb) {
		d = append(d, fmt.Sprintf("verb %q is not in %s", a.Verb, Quoted(r.Verbs)))
	}
	if !a.ResourceRequest {
		if len(r.NonResourceURLs) == 0 {
			return nil
		}
		if !nonResourceURLMatches(r, a.Path) {
			d = append(d, fmt.Sprintf("path %q is not in %s", a.Path, Quoted(r.NonResourceURLs)))
		}
		if b.scope() != "" {
			d = append(d, "paths are granted only by ClusterRoleBindings")
		}
		return d
	}
	if len(r.Resources) == 0 {
		return nil
	}
	if !apiGroupMatches(r, a.Group) {
		d = append(d, fmt.Sprintf("API group %q is not in %s", a.Group, Quoted(r.APIGroups)))
	}
	if !resourceMatches(r, a.Resource, a.Subresource) {
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		d = append(d, fmt.Sprintf("resource %q is not in %s", res, Quoted(r.Resources)))
	}
	if !resourceNameMatches(r, a.Name) {
		if a.Name == "" {
			d = append(d, fmt.Sprintf("the rule is limited to the names %s and the request names no object", Quoted(r.ResourceNames)))
		} else {
			d = append(d, fmt.Sprintf("name %q is not in %s", a.Name, Quoted(r.ResourceNames)))
		}
	}
	if s := b.scope(); s != "" && s != a.Namespace {
		if a.Namespace == "" {
			d = append(d, fmt.Sprintf("the binding grants only in namespace %q and the request is cluster-wide", s))
		} else {
			d = append(d, fmt.Sprintf("the binding grants only in namespace %q, not %q", s, a.Namespace))
		}
	}
	return d
}

// Quoted renders strings as Kubernetes' RBAC messages do: ["a" "b"].
func Quoted(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// FormatRule renders a rule compactly, as Kubernetes' escalation errors do:
// {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}.
func FormatRule(r rbacv1.PolicyRule) string {
	var parts []string
	if len(r.APIGroups) > 0 {
		parts = append(parts, "APIGroups:"+Quoted(r.APIGroups))
	}
	if len(r.Resources) > 0 {
		parts = append(parts, "Resources:"+Quoted(r.Resources))
	}
	if len(r.NonResourceURLs) > 0 {
		parts = append(parts, "NonResourceURLs:"+Quoted(r.NonResourceURLs))
	}
	if len(r.ResourceNames) > 0 {
		parts = append(parts, "ResourceNames:"+Quoted(r.ResourceNames))
	}
	if len(r.Verbs) > 0 {
		parts = append(parts, "Verbs:"+Quoted(r.Verbs))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
