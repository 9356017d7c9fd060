package rbac

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// The oracle is the plainest possible reading of Kubernetes' RBAC rules: for
// each request it walks every ClusterRoleBinding and every RoleBinding. The
// randomized tests below check that the index, updated one object at a time,
// always agrees with it.

type oracleRole struct {
	ref   RoleRef
	rules []rbacv1.PolicyRule
}

type oracleBinding struct {
	ref      BindingRef
	roleRef  rbacv1.RoleRef
	subjects []rbacv1.Subject
}

type oracle struct {
	roles    map[RoleRef]oracleRole
	bindings map[BindingRef]oracleBinding
}

func (o *oracle) appliesTo(s rbacv1.Subject, u *authn.User, bindingNamespace string) bool {
	switch s.Kind {
	case "User":
		return s.Name == u.Name
	case "Group":
		return slices.Contains(u.Groups, s.Name)
	case "ServiceAccount":
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return ns != "" && u.Name == "system:serviceaccount:"+ns+":"+s.Name
	}
	return false
}

func (o *oracle) ruleAllows(r rbacv1.PolicyRule, a authz.Attributes) bool {
	has := func(set []string, v string) bool {
		for _, s := range set {
			if s == v {
				return true
			}
		}
		return false
	}
	if !has(r.Verbs, "*") && !has(r.Verbs, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		for _, u := range r.NonResourceURLs {
			if u == "*" || u == a.Path {
				return true
			}
			if n := len(u); n > 0 && u[n-1] == '*' {
				prefix := u
				for len(prefix) > 0 && prefix[len(prefix)-1] == '*' {
					prefix = prefix[:len(prefix)-1]
				}
				if len(a.Path) >= len(prefix) && a.Path[:len(prefix)] == prefix {
					return true
				}
			}
		}
		return false
	}
	if !has(r.APIGroups, "*") && !has(r.APIGroups, a.Group) {
		return false
	}
	combined := a.Resource
	if a.Subresource != "" {
		combined += "/" + a.Subresource
	}
	ok := false
	for _, res := range r.Resources {
		if res == "*" || res == combined || (a.Subresource != "" && res == "*/"+a.Subresource) {
			ok = true
		}
	}
	if !ok {
		return false
	}
	return len(r.ResourceNames) == 0 || has(r.ResourceNames, a.Name)
}

// rolesOf resolves a binding's role reference.
func (o *oracle) rolesOf(b oracleBinding) []rbacv1.PolicyRule {
	ref := RoleRef{Kind: b.roleRef.Kind, Name: b.roleRef.Name}
	if ref.Kind == "Role" {
		ref.Namespace = b.ref.Namespace
	}
	return o.roles[ref].rules
}

func (o *oracle) allows(a authz.Attributes) bool {
	for _, b := range o.bindings {
		if b.ref.Kind == "RoleBinding" && (!a.ResourceRequest || a.Namespace == "" || b.ref.Namespace != a.Namespace) {
			continue
		}
		if !slices.ContainsFunc(b.subjects, func(s rbacv1.Subject) bool { return o.appliesTo(s, a.User, b.ref.Namespace) }) {
			continue
		}
		for _, r := range o.rolesOf(b) {
			if o.ruleAllows(r, a) {
				return true
			}
		}
	}
	return false
}

// universe is the small vocabulary random objects and requests draw from,
// small enough that random requests often match random rules.
var universe = struct {
	verbs, groups, resources, subresources, names, namespaces, users, groups2, paths, rulePaths []string
}{
	verbs:        []string{"get", "list", "watch", "create", "update", "delete", "escalate"},
	groups:       []string{"", "apps", "rbac.authorization.k8s.io"},
	resources:    []string{"pods", "secrets", "deployments", "roles"},
	subresources: []string{"", "", "log", "status"},
	names:        []string{"", "a", "b"},
	namespaces:   []string{"", "ns1", "ns2", "ns3"},
	users:        []string{"alice", "bob", "carol"},
	groups2:      []string{"dev", "ops", "system:authenticated"},
	paths:        []string{"/healthz", "/healthz/etcd", "/api", "/apis", "/apis/apps", "/version"},
	rulePaths:    []string{"/healthz", "/healthz/*", "/api*", "/apis/*", "*", "/version", "/api"},
}

func pick(r *rand.Rand, from []string) string { return from[r.IntN(len(from))] }

func some(r *rand.Rand, from []string, star string) []string {
	if star != "" && r.IntN(6) == 0 {
		return []string{star}
	}
	n := 1 + r.IntN(2)
	var out []string
	for range n {
		if v := pick(r, from); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func randomRule(r *rand.Rand) rbacv1.PolicyRule {
	if r.IntN(5) == 0 {
		return rbacv1.PolicyRule{Verbs: some(r, universe.verbs, "*"), NonResourceURLs: some(r, universe.rulePaths, "")}
	}
	rule := rbacv1.PolicyRule{Verbs: some(r, universe.verbs, "*"), APIGroups: some(r, universe.groups, "*")}
	for range 1 + r.IntN(2) {
		res := pick(r, universe.resources)
		switch r.IntN(6) {
		case 0:
			res = "*"
		case 1:
			res += "/" + pick(r, []string{"log", "status"})
		case 2:
			res = "*/" + pick(r, []string{"log", "status"})
		}
		rule.Resources = append(rule.Resources, res)
	}
	if r.IntN(4) == 0 {
		rule.ResourceNames = some(r, []string{"a", "b"}, "")
	}
	return rule
}

func randomSubjects(r *rand.Rand, clusterScope bool) []rbacv1.Subject {
	var out []rbacv1.Subject
	for range 1 + r.IntN(2) {
		switch r.IntN(3) {
		case 0:
			out = append(out, rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: pick(r, universe.users)})
		case 1:
			out = append(out, rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: pick(r, universe.groups2)})
		default:
			s := rbacv1.Subject{Kind: "ServiceAccount", Name: pick(r, []string{"default", "robot"}), Namespace: pick(r, universe.namespaces[1:])}
			if !clusterScope && r.IntN(2) == 0 {
				s.Namespace = "" // defaults to the binding's namespace
			}
			out = append(out, s)
		}
	}
	return out
}

func randomUser(r *rand.Rand) *authn.User {
	u := &authn.User{Name: pick(r, universe.users)}
	if r.IntN(3) == 0 {
		u.Name = ServiceAccountUser(pick(r, universe.namespaces[1:]), pick(r, []string{"default", "robot"}))
	}
	for _, g := range universe.groups2 {
		if r.IntN(3) == 0 {
			u.Groups = append(u.Groups, g)
		}
	}
	return u
}

func randomRequest(r *rand.Rand) authz.Attributes {
	a := authz.Attributes{User: randomUser(r), Verb: pick(r, universe.verbs)}
	if r.IntN(5) == 0 {
		a.Path = pick(r, universe.paths)
		return a
	}
	a.ResourceRequest = true
	a.Group, a.Resource, a.Subresource = pick(r, universe.groups), pick(r, universe.resources), pick(r, universe.subresources)
	a.Namespace, a.Name = pick(r, universe.namespaces), pick(r, universe.names)
	return a
}

// mutate applies one random change to both the index and the oracle.
func mutate(r *rand.Rand, x *Index, o *oracle) {
	ns := pick(r, universe.namespaces[1:])
	roleName := pick(r, []string{"r1", "r2", "r3"})
	bindingName := pick(r, []string{"b1", "b2", "b3", "b4"})
	switch r.IntN(8) {
	case 0, 1: // set a ClusterRole or Role
		ref := RoleRef{Kind: "ClusterRole", Name: roleName}
		if r.IntN(2) == 0 {
			ref = RoleRef{Kind: "Role", Namespace: ns, Name: roleName}
		}
		var rules []rbacv1.PolicyRule
		for range r.IntN(4) {
			rules = append(rules, randomRule(r))
		}
		x.SetRole(ref, rules)
		o.roles[ref] = oracleRole{ref, rules}
	case 2:
		ref := RoleRef{Kind: "ClusterRole", Name: roleName}
		if r.IntN(2) == 0 {
			ref = RoleRef{Kind: "Role", Namespace: ns, Name: roleName}
		}
		x.DeleteRole(ref)
		delete(o.roles, ref)
	case 3, 4, 5: // set a binding
		ref := BindingRef{Kind: "ClusterRoleBinding", Name: bindingName}
		roleRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName}
		if r.IntN(2) == 0 {
			ref = BindingRef{Kind: "RoleBinding", Namespace: ns, Name: bindingName}
			if r.IntN(2) == 0 {
				roleRef.Kind = "Role"
			}
		}
		subjects := randomSubjects(r, ref.Kind == "ClusterRoleBinding")
		x.SetBinding(ref, roleRef, subjects)
		o.bindings[ref] = oracleBinding{ref, roleRef, subjects}
	default:
		ref := BindingRef{Kind: "ClusterRoleBinding", Name: bindingName}
		if r.IntN(2) == 0 {
			ref = BindingRef{Kind: "RoleBinding", Namespace: ns, Name: bindingName}
		}
		x.DeleteBinding(ref)
		delete(o.bindings, ref)
	}
}

func TestIndexAgreesWithOracle(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		x := NewIndex()
		o := &oracle{roles: map[RoleRef]oracleRole{}, bindings: map[BindingRef]oracleBinding{}}
		for step := range 60 {
			mutate(r, x, o)
			for range 25 {
				a := randomRequest(r)
				want := o.allows(a)
				g, got := x.Find(a)
				if got != want {
					t.Fatalf("seed %d step %d: %s: index says %v, oracle %v\nstate: %s", seed, step, describe(a), got, want, dump(o))
				}
				if got && !o.ruleAllows(g.Rule, a) {
					t.Fatalf("seed %d: grant %s does not allow %s", seed, g, describe(a))
				}
				checkWhoCan(t, seed, x, o, a)
			}
		}
	}
}

// checkWhoCan asks the oracle, for every subject the universe can name,
// whether that subject alone may do a, and expects exactly those subjects
// from WhoCan.
func checkWhoCan(t *testing.T, seed int, x *Index, o *oracle, a authz.Attributes) {
	t.Helper()
	want := map[string]bool{}
	probe := func(key string, u *authn.User) {
		b := a
		b.User = u
		if o.allows(b) {
			want[key] = true
		}
	}
	for _, u := range universe.users {
		probe("User:"+u, &authn.User{Name: u})
	}
	for _, g := range universe.groups2 {
		probe("Group:"+g, &authn.User{Name: "nobody", Groups: []string{g}})
	}
	for _, ns := range universe.namespaces[1:] {
		for _, sa := range []string{"default", "robot"} {
			probe("ServiceAccount:"+ns+"/"+sa, &authn.User{Name: ServiceAccountUser(ns, sa)})
		}
	}
	got := map[string]bool{}
	for _, g := range x.WhoCan(a) {
		got[g.Subject.Kind+":"+subjectName(g.Subject)] = true
		if !o.ruleAllows(g.Rule, a) {
			t.Fatalf("seed %d: who-can grant %s does not allow %s", seed, g, describe(a))
		}
	}
	if fmt.Sprint(keys(got)) != fmt.Sprint(keys(want)) {
		t.Fatalf("seed %d: who-can %s = %v, oracle %v\nstate: %s", seed, describe(a), keys(got), keys(want), dump(o))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestRulesForAgreesWithOracle(t *testing.T) {
	for seed := range 100 {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		x := NewIndex()
		o := &oracle{roles: map[RoleRef]oracleRole{}, bindings: map[BindingRef]oracleBinding{}}
		for range 40 {
			mutate(r, x, o)
		}
		for range 20 {
			u, ns := randomUser(r), pick(r, universe.namespaces)
			// Every request the rules allow, the oracle allows, and the
			// other way round, over the whole vocabulary of resources.
			rules := x.RulesFor(u, ns)
			for range 50 {
				a := randomRequest(r)
				a.User = u
				if a.ResourceRequest {
					a.Namespace = ns
				} else if ns != "" {
					continue // paths are cluster-scoped
				}
				held := slices.ContainsFunc(rules, func(rule rbacv1.PolicyRule) bool { return o.ruleAllows(rule, a) })
				if held != o.allows(a) {
					t.Fatalf("seed %d: RulesFor(%s, %q) allows %s: %v, oracle %v", seed, u.Name, ns, describe(a), held, !held)
				}
			}
		}
	}
}

func TestCoversIsSound(t *testing.T) {
	// Whatever Covers accepts, the owner's rules must allow every request
	// the wanted rules allow.
	r := rand.New(rand.NewPCG(3, 5))
	accepted := 0
	for range 3000 {
		owner := []rbacv1.PolicyRule{randomRule(r), randomRule(r), randomRule(r)}
		wanted := []rbacv1.PolicyRule{randomRule(r)}
		ok, missing := Covers(owner, wanted)
		if ok != (len(missing) == 0) {
			t.Fatalf("Covers = %v with missing %v", ok, missing)
		}
		if !ok {
			continue
		}
		accepted++
		o := &oracle{}
		for range 200 {
			a := randomRequest(r)
			if o.ruleAllows(wanted[0], a) && !slices.ContainsFunc(owner, func(rule rbacv1.PolicyRule) bool { return o.ruleAllows(rule, a) }) {
				t.Fatalf("Covers(%v, %v) but owner does not allow %s", owner, wanted, describe(a))
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d random cases were covered: the test is not exercising Covers", accepted)
	}
}

func describe(a authz.Attributes) string {
	if !a.ResourceRequest {
		return fmt.Sprintf("%s(%v) %s %s", a.User.Name, a.User.Groups, a.Verb, a.Path)
	}
	return fmt.Sprintf("%s(%v) %s %s/%s/%s ns=%q name=%q", a.User.Name, a.User.Groups, a.Verb, a.Group, a.Resource, a.Subresource, a.Namespace, a.Name)
}

func dump(o *oracle) string {
	s := ""
	for _, r := range o.roles {
		s += fmt.Sprintf("\n  %s: %v", r.ref, r.rules)
	}
	for _, b := range o.bindings {
		s += fmt.Sprintf("\n  %s → %s %s: %v", b.ref, b.roleRef.Kind, b.roleRef.Name, b.subjects)
	}
	return s
}
