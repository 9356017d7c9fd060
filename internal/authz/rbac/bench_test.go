package rbac

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// benchIndex builds an index with n RoleBindings spread over up to 1,000
// namespaces, each binding a different user, plus what every real cluster
// has: a few ClusterRoleBindings for system:authenticated. The requesting
// user alice holds four RoleBindings in ns-7, and only the last one visited
// allows the request ("allowed late").
func benchIndex(n int) *Index {
	x := NewIndex()
	x.SetRole(RoleRef{Kind: "ClusterRole", Name: "edit"}, []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}, APIGroups: []string{"", "apps"}, Resources: []string{"pods", "deployments", "services", "configmaps"}},
	})
	x.SetRole(RoleRef{Kind: "ClusterRole", Name: "system:discovery"}, []rbacv1.PolicyRule{
		{Verbs: []string{"get"}, NonResourceURLs: []string{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/version"}},
	})
	for _, name := range []string{"system:basic-user", "system:discovery", "system:public-info-viewer"} {
		x.SetBinding(BindingRef{Kind: "ClusterRoleBinding", Name: name}, rbacv1.RoleRef{Kind: "ClusterRole", Name: "system:discovery"},
			[]rbacv1.Subject{{Kind: "Group", Name: "system:authenticated"}})
	}
	namespaces := min(n, 1000)
	for i := range n {
		ns := fmt.Sprintf("ns-%d", i%namespaces)
		x.SetBinding(BindingRef{Kind: "RoleBinding", Namespace: ns, Name: fmt.Sprintf("b-%d", i)},
			rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"}, []rbacv1.Subject{{Kind: "User", Name: fmt.Sprintf("user-%d", i)}})
	}
	for i, res := range []string{"secrets", "leases", "events", "roles"} {
		role := RoleRef{Kind: "Role", Namespace: "ns-7", Name: "alice-" + res}
		x.SetRole(role, []rbacv1.PolicyRule{
			{Verbs: []string{"get", "list"}, APIGroups: []string{"", "coordination.k8s.io", "rbac.authorization.k8s.io"}, Resources: []string{res}},
		})
		x.SetBinding(BindingRef{Kind: "RoleBinding", Namespace: "ns-7", Name: fmt.Sprintf("alice-%d", i)},
			rbacv1.RoleRef{Kind: "Role", Name: role.Name}, []rbacv1.Subject{{Kind: "User", Name: "alice"}})
	}
	return x
}

var benchUser = &authn.User{Name: "alice", Groups: []string{"dev", "system:authenticated"}}

var (
	allowedLate = authz.Attributes{User: benchUser, Verb: "list", Group: "rbac.authorization.k8s.io", Resource: "roles", Namespace: "ns-7", ResourceRequest: true}
	denied      = authz.Attributes{User: benchUser, Verb: "delete", Group: "", Resource: "secrets", Namespace: "ns-7", Name: "s", ResourceRequest: true}
)

// BenchmarkDecision is the cost of one RBAC decision as the number of
// bindings grows. The index looks only at alice's and her groups'
// bindings, so the three sizes should cost the same.
func BenchmarkDecision(b *testing.B) {
	for _, n := range []int{10, 1_000, 100_000} {
		x := benchIndex(n)
		if _, ok := x.Find(allowedLate); !ok {
			b.Fatal("allowed-late request is not allowed")
		}
		if _, ok := x.Find(denied); ok {
			b.Fatal("denied request is allowed")
		}
		b.Run(fmt.Sprintf("allowed-late/bindings=%d", n), func(b *testing.B) {
			for b.Loop() {
				x.Find(allowedLate)
			}
		})
		b.Run(fmt.Sprintf("denied/bindings=%d", n), func(b *testing.B) {
			for b.Loop() {
				x.Find(denied)
			}
		})
	}
}

// BenchmarkDecisionParallel is the same decision from every core at once,
// to show the read lock does not serialize requests.
func BenchmarkDecisionParallel(b *testing.B) {
	x := benchIndex(100_000)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x.Find(allowedLate)
		}
	})
}

// BenchmarkLinearScan is, for comparison, the decision made the way
// kube-apiserver makes it: every ClusterRoleBinding, then every RoleBinding
// of the namespace, here over the whole set (the oracle of the tests).
func BenchmarkLinearScan(b *testing.B) {
	for _, n := range []int{1_000, 50_000} {
		o := &oracle{roles: map[RoleRef]oracleRole{}, bindings: map[BindingRef]oracleBinding{}}
		x := benchIndex(n)
		for ref, e := range x.roles {
			o.roles[ref] = oracleRole{ref, e.rules}
		}
		for ref, bd := range x.bindings {
			o.bindings[ref] = oracleBinding{ref, rbacv1.RoleRef{Kind: bd.role.ref.Kind, Name: bd.role.ref.Name}, bd.subjects}
		}
		b.Run(fmt.Sprintf("denied/bindings=%d", n), func(b *testing.B) {
			for b.Loop() {
				o.allows(denied)
			}
		})
	}
}

// BenchmarkIndexMemory reports the heap the index holds per size.
func BenchmarkIndexMemory(b *testing.B) {
	for _, n := range []int{10, 1_000, 100_000} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			var x *Index
			var before, after runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&before)
				x = benchIndex(n)
				runtime.GC()
				runtime.ReadMemStats(&after)
			}
			runtime.KeepAlive(x)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/binding")
		})
	}
}

// BenchmarkAuthorize is the decision as the server makes it: the index
// lookup plus the reason that names the allowing binding (kube-apiserver's
// wording, returned in SubjectAccessReview status and the audit log).
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 1_000, 100_000} {
		z := &Authorizer{Index: benchIndex(n)}
		if d, reason, _ := z.Authorize(ctx, allowedLate); d != authz.Allow || reason == "" {
			b.Fatalf("allowed-late: %v %q", d, reason)
		}
		b.Run(fmt.Sprintf("allowed-late/bindings=%d", n), func(b *testing.B) {
			for b.Loop() {
				z.Authorize(ctx, allowedLate)
			}
		})
		b.Run(fmt.Sprintf("denied/bindings=%d", n), func(b *testing.B) {
			for b.Loop() {
				z.Authorize(ctx, denied)
			}
		})
	}
}
