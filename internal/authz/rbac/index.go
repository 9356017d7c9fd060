package rbac

import (
	"fmt"
	"slices"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// RoleRef names a Role (with its namespace) or a ClusterRole (namespace "").
type RoleRef struct {
	Kind      string // "Role" or "ClusterRole"
	Namespace string
	Name      string
}

func (r RoleRef) String() string {
	if r.Kind == "Role" {
		return fmt.Sprintf("Role %q in namespace %q", r.Name, r.Namespace)
	}
	return fmt.Sprintf("ClusterRole %q", r.Name)
}

// BindingRef names a RoleBinding (with its namespace) or a ClusterRoleBinding.
type BindingRef struct {
	Kind      string // "RoleBinding" or "ClusterRoleBinding"
	Namespace string
	Name      string
}

func (b BindingRef) String() string {
	if b.Kind == "RoleBinding" {
		return fmt.Sprintf("RoleBinding %q in namespace %q", b.Name, b.Namespace)
	}
	return fmt.Sprintf("ClusterRoleBinding %q", b.Name)
}

// roleEntry is a role's rules and the bindings that reference it. It
// exists while the role exists or something references it, so that a
// binding created before its role starts granting the moment the role
// appears, without a lookup by name on the request path.
type roleEntry struct {
	ref      RoleRef
	rules    []rbacv1.PolicyRule
	exists   bool
	bindings map[BindingRef]*binding
}

type binding struct {
	ref      BindingRef
	role     *roleEntry
	subjects []rbacv1.Subject
	users    []string // user names the subjects resolve to (service accounts included)
	groups   []string
}

// scope is where a binding's rules apply: "" for the whole cluster
// (ClusterRoleBindings), else its namespace.
func (b *binding) scope() string { return b.ref.Namespace }

// subjectScope keys the index: a user or group name, and a scope ("" for
// the cluster, or a namespace). One flat map, rather than a map per
// subject, keeps a cluster of 100,000 users each with one binding small.
type subjectScope struct{ name, scope string }

// Index holds the RBAC objects, indexed by subject and scope. A decision
// looks only at the bindings naming the user or one of its groups, in the
// cluster scope and the request's namespace, so its cost does not grow
// with the number of bindings in the cluster. It is safe for concurrent
// use; updates arrive from storage watches, one object at a time.
type Index struct {
	mu       sync.RWMutex
	roles    map[RoleRef]*roleEntry
	bindings map[BindingRef]*binding
	byUser   map[subjectScope][]*binding
	byGroup  map[subjectScope][]*binding
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		roles:    map[RoleRef]*roleEntry{},
		bindings: map[BindingRef]*binding{},
		byUser:   map[subjectScope][]*binding{},
		byGroup:  map[subjectScope][]*binding{},
	}
}

// ServiceAccountUser is the user name of a service account.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// resolveSubject returns the user or group a subject names. A
// ServiceAccount subject is the user system:serviceaccount:NS:NAME; in a
// RoleBinding its namespace defaults to the binding's, and in a
// ClusterRoleBinding one without a namespace names nobody.
func resolveSubject(s rbacv1.Subject, bindingNamespace string) (user, group string, ok bool) {
	switch s.Kind {
	case rbacv1.UserKind:
		return s.Name, "", true
	case rbacv1.GroupKind:
		return "", s.Name, true
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		if ns == "" {
			return "", "", false
		}
		return ServiceAccountUser(ns, s.Name), "", true
	}
	return "", "", false
}

// entryLocked returns the role's entry, creating a placeholder.
func (x *Index) entryLocked(ref RoleRef) *roleEntry {
	e := x.roles[ref]
	if e == nil {
		e = &roleEntry{ref: ref, bindings: map[BindingRef]*binding{}}
		x.roles[ref] = e
	}
	return e
}

// dropIfUnusedLocked forgets an entry that neither exists nor is referenced.
func (x *Index) dropIfUnusedLocked(e *roleEntry) {
	if !e.exists && len(e.bindings) == 0 {
		delete(x.roles, e.ref)
	}
}

// SetRole records a Role's or ClusterRole's rules.
func (x *Index) SetRole(ref RoleRef, rules []rbacv1.PolicyRule) {
	rules = slices.Clone(rules)
	x.mu.Lock()
	e := x.entryLocked(ref)
	e.rules, e.exists = rules, true
	x.mu.Unlock()
}

// DeleteRole forgets a role; bindings to it then grant nothing.
func (x *Index) DeleteRole(ref RoleRef) {
	x.mu.Lock()
	if e := x.roles[ref]; e != nil {
		e.rules, e.exists = nil, false
		x.dropIfUnusedLocked(e)
	}
	x.mu.Unlock()
}

// SetBinding records (or replaces) a binding.
func (x *Index) SetBinding(ref BindingRef, roleRef rbacv1.RoleRef, subjects []rbacv1.Subject) {
	b := &binding{ref: ref, subjects: slices.Clone(subjects)}
	for _, s := range subjects {
		user, group, ok := resolveSubject(s, ref.Namespace)
		switch {
		case !ok:
		case user != "" && !slices.Contains(b.users, user):
			b.users = append(b.users, user)
		case group != "" && !slices.Contains(b.groups, group):
			b.groups = append(b.groups, group)
		}
	}
	role := RoleRef{Kind: roleRef.Kind, Name: roleRef.Name}
	if roleRef.Kind == "Role" {
		role.Namespace = ref.Namespace
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(ref)
	b.role = x.entryLocked(role)
	b.role.bindings[ref] = b
	x.bindings[ref] = b
	for _, u := range b.users {
		add(x.byUser, u, b)
	}
	for _, g := range b.groups {
		add(x.byGroup, g, b)
	}
}

func add(m map[subjectScope][]*binding, name string, b *binding) {
	k := subjectScope{name, b.scope()}
	m[k] = append(m[k], b)
}

func remove(m map[subjectScope][]*binding, name string, b *binding) {
	k := subjectScope{name, b.scope()}
	if list := slices.DeleteFunc(m[k], func(x *binding) bool { return x == b }); len(list) > 0 {
		m[k] = list
	} else {
		delete(m, k)
	}
}

// DeleteBinding forgets a binding.
func (x *Index) DeleteBinding(ref BindingRef) {
	x.mu.Lock()
	x.removeLocked(ref)
	x.mu.Unlock()
}

func (x *Index) removeLocked(ref BindingRef) {
	old, ok := x.bindings[ref]
	if !ok {
		return
	}
	delete(x.bindings, ref)
	for _, u := range old.users {
		remove(x.byUser, u, old)
	}
	for _, g := range old.groups {
		remove(x.byGroup, g, old)
	}
	delete(old.role.bindings, ref)
	x.dropIfUnusedLocked(old.role)
}

// Grant explains one allowing rule.
type Grant struct {
	Binding BindingRef
	Role    RoleRef
	Rule    rbacv1.PolicyRule
	// Subject is how the binding names the user: a User, a Group or a
	// ServiceAccount subject.
	Subject rbacv1.Subject
}

func (g Grant) String() string {
	return fmt.Sprintf("allowed by %s of %s, bound to %s %q by %s", FormatRule(g.Rule), g.Role, g.Subject.Kind, subjectName(g.Subject), g.Binding)
}

func subjectName(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind && s.Namespace != "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

// requestScopes are the binding scopes that can grant a request: the
// cluster, and the namespace of a namespaced resource request. Paths are
// granted only cluster-wide.
func requestScopes(a *authz.Attributes) (string, bool) {
	return a.Namespace, a.ResourceRequest && a.Namespace != ""
}

// visit calls f with each binding that applies to u in the cluster scope
// and, if inNamespace, in namespace, with the subject that matched, until
// f returns false.
func (x *Index) visit(u *authn.User, namespace string, inNamespace bool, f func(b *binding, user, group string) bool) {
	each := func(list []*binding, user, group string) bool {
		for _, b := range list {
			if !f(b, user, group) {
				return false
			}
		}
		return true
	}
	if !each(x.byUser[subjectScope{u.Name, ""}], u.Name, "") {
		return
	}
	if inNamespace && !each(x.byUser[subjectScope{u.Name, namespace}], u.Name, "") {
		return
	}
	for _, g := range u.Groups {
		if !each(x.byGroup[subjectScope{g, ""}], "", g) {
			return
		}
		if inNamespace && !each(x.byGroup[subjectScope{g, namespace}], "", g) {
			return
		}
	}
}

// Find returns the first grant that allows the request, if any.
func (x *Index) Find(a authz.Attributes) (Grant, bool) {
	g, ok, _ := x.decide(a)
	return g, ok
}

// decide is Find that also reports, on a denial, the roles that bindings
// of the user reference but that do not exist.
func (x *Index) decide(a authz.Attributes) (grant Grant, found bool, missing []RoleRef) {
	if a.User == nil {
		return Grant{}, false, nil
	}
	ns, inNamespace := requestScopes(&a)
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.visit(a.User, ns, inNamespace, func(b *binding, user, group string) bool {
		if !b.role.exists {
			if !slices.Contains(missing, b.role.ref) {
				missing = append(missing, b.role.ref)
			}
			return true
		}
		rules := b.role.rules
		for i := range rules {
			if RuleAllows(&rules[i], a) {
				grant = Grant{Binding: b.ref, Role: b.role.ref, Rule: rules[i], Subject: b.subjectFor(user, group)}
				found = true
				return false
			}
		}
		return true
	})
	if found {
		missing = nil
	}
	return grant, found, missing
}

// subjectFor returns the subject of b that names user or group.
func (b *binding) subjectFor(user, group string) rbacv1.Subject {
	for _, s := range b.subjects {
		u, g, ok := resolveSubject(s, b.ref.Namespace)
		if ok && ((user != "" && u == user) || (group != "" && g == group)) {
			return s
		}
	}
	return rbacv1.Subject{}
}

// RulesFor returns every rule that applies to u in namespace (only
// cluster-wide rules when namespace is ""), as SelfSubjectRulesReview and
// escalation checks need them. A role bound twice in the same scope is
// listed once.
func (x *Index) RulesFor(u *authn.User, namespace string) []rbacv1.PolicyRule {
	x.mu.RLock()
	defer x.mu.RUnlock()
	type seenKey struct {
		scope string
		role  *roleEntry
	}
	seen := map[seenKey]bool{}
	var out []rbacv1.PolicyRule
	x.visit(u, namespace, namespace != "", func(b *binding, _, _ string) bool {
		k := seenKey{b.scope(), b.role}
		if !seen[k] {
			seen[k] = true
			out = append(out, b.role.rules...)
		}
		return true
	})
	return out
}

// Role returns a role's rules, and whether the role exists.
func (x *Index) Role(ref RoleRef) ([]rbacv1.PolicyRule, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.roles[ref]
	if e == nil || !e.exists {
		return nil, false
	}
	return e.rules, true
}

// Sizes reports how much the index holds: existing roles, bindings, and
// distinct subjects (users and groups) with bindings.
func (x *Index) Sizes() (roles, bindings, subjects int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, e := range x.roles {
		if e.exists {
			roles++
		}
	}
	names := map[string]bool{}
	for k := range x.byUser {
		names["u:"+k.name] = true
	}
	for k := range x.byGroup {
		names["g:"+k.name] = true
	}
	return roles, len(x.bindings), len(names)
}
