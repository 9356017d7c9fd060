package node

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

func nodeUser(name string) *authn.User {
	return &authn.User{Name: authn.NodeUserPrefix + name, Groups: []string{authn.GroupNodes, authn.GroupAuthenticated}}
}

var testRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "pods/eviction"}, Verbs: []string{"create"}},
	// Rules that would widen graph-decided access must not.
	{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps", "nodes", "nodes/status", "pods", "pods/status", "persistentvolumes", "persistentvolumeclaims"}, Verbs: []string{"get", "list", "watch", "update", "patch", "delete"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "serviceaccounts/token"}, Verbs: []string{"get", "create"}},
}

func testAuthorizer() *Authorizer {
	g := NewGraph()
	g.SetPod(pod("ns", "pa", "a", secretVolume("only-a"), secretVolume("both"), claimVolume("claim-a"), func(s *corev1.PodSpec) {
		s.ServiceAccountName = "sa-a"
	}))
	g.SetPod(pod("ns", "pb", "b", secretVolume("only-b"), secretVolume("both"), func(s *corev1.PodSpec) {
		s.Volumes = append(s.Volumes, cmVolume("cm-b"))
	}))
	g.SetPVC("ns", "claim-a", "pv-a")
	return New(g, testRules)
}

type tcase struct {
	name   string
	attrs  authz.Attributes
	want   authz.Decision
	reason string // a substring of the reason, if set
}

func res(user string, verb, group, resource, sub, ns, name string) authz.Attributes {
	return authz.Attributes{User: nodeUser(user), Verb: verb, Group: group, Version: "v1", Resource: resource,
		Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
}

func withSelector(a authz.Attributes, sel string) authz.Attributes {
	a.FieldSelector = sel
	return a
}

func run(t *testing.T, z authz.Authorizer, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		d, reason, err := z.Authorize(context.Background(), c.attrs)
		if err != nil {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if d != c.want {
			t.Errorf("%s: %v (%s), want %v", c.name, d, reason, c.want)
		}
		if d == authz.Deny {
			t.Errorf("%s: the node authorizer denied", c.name)
		}
		if reason == "" && c.attrs.User != nil && c.attrs.User.InGroup(authn.GroupNodes) {
			t.Errorf("%s: no reason given", c.name)
		}
		if c.reason != "" && !strings.Contains(reason, c.reason) {
			t.Errorf("%s: reason %q does not mention %q", c.name, reason, c.reason)
		}
	}
}

func TestAuthorizeIdentity(t *testing.T) {
	z := testAuthorizer()
	get := res("a", "get", "", "secrets", "", "ns", "only-a")
	notNode := get
	notNode.User = &authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}}
	impostor := get
	impostor.User = &authn.User{Name: authn.NodeUserPrefix + "a", Groups: []string{authn.GroupAuthenticated}}
	unnamed := get
	unnamed.User = &authn.User{Name: "kubelet", Groups: []string{authn.GroupNodes}}
	empty := get
	empty.User = &authn.User{Name: authn.NodeUserPrefix, Groups: []string{authn.GroupNodes}}
	anon := get
	anon.User = nil
	run(t, z, []tcase{
		{name: "node", attrs: get, want: authz.Allow},
		{name: "not a node", attrs: notNode, want: authz.NoOpinion},
		{name: "node name outside system:nodes", attrs: impostor, want: authz.NoOpinion},
		{name: "system:nodes without a node name", attrs: unnamed, want: authz.NoOpinion, reason: "unknown node"},
		{name: "empty node name", attrs: empty, want: authz.NoOpinion, reason: "unknown node"},
		{name: "no user", attrs: anon, want: authz.NoOpinion},
	})
	d, reason, _ := z.Authorize(context.Background(), notNode)
	if d != authz.NoOpinion || reason != "" {
		t.Errorf("non-node user: %v %q", d, reason)
	}
}

func TestAuthorizeSecretsAndConfigMaps(t *testing.T) {
	z := testAuthorizer()
	noRel := "no relationship found between node 'a' and this object"
	run(t, z, []tcase{
		{name: "own secret", attrs: res("a", "get", "", "secrets", "", "ns", "only-a"), want: authz.Allow},
		{name: "shared secret", attrs: res("a", "get", "", "secrets", "", "ns", "both"), want: authz.Allow},
		{name: "other node's secret", attrs: res("a", "get", "", "secrets", "", "ns", "only-b"), want: authz.NoOpinion, reason: noRel},
		{name: "other node's secret from b", attrs: res("b", "get", "", "secrets", "", "ns", "only-b"), want: authz.Allow},
		{name: "unknown secret", attrs: res("a", "get", "", "secrets", "", "ns", "nope"), want: authz.NoOpinion, reason: noRel},
		{name: "secret in another namespace", attrs: res("a", "get", "", "secrets", "", "other", "only-a"), want: authz.NoOpinion, reason: noRel},
		{name: "unknown node", attrs: res("z", "get", "", "secrets", "", "ns", "only-a"), want: authz.NoOpinion},
		{name: "list one secret", attrs: withSelector(res("a", "list", "", "secrets", "", "ns", "only-a"), "metadata.name=only-a"), want: authz.Allow},
		{name: "watch one secret", attrs: res("a", "watch", "", "secrets", "", "ns", "only-a"), want: authz.Allow},
		{name: "list secrets", attrs: res("a", "list", "", "secrets", "", "ns", ""), want: authz.NoOpinion, reason: "individual"},
		{name: "list secrets everywhere", attrs: res("a", "list", "", "secrets", "", "", ""), want: authz.NoOpinion},
		{name: "update secret", attrs: res("a", "update", "", "secrets", "", "ns", "only-a"), want: authz.NoOpinion},
		{name: "delete secret", attrs: res("a", "delete", "", "secrets", "", "ns", "only-a"), want: authz.NoOpinion},
		{name: "create secret", attrs: res("a", "create", "", "secrets", "", "ns", ""), want: authz.NoOpinion},
		{name: "secret subresource", attrs: res("a", "get", "", "secrets", "x", "ns", "only-a"), want: authz.NoOpinion},
		{name: "secrets in another group", attrs: res("a", "get", "example.com", "secrets", "", "ns", "only-b"), want: authz.NoOpinion},
		{name: "configmap of b", attrs: res("b", "get", "", "configmaps", "", "ns", "cm-b"), want: authz.Allow},
		{name: "configmap of b from a", attrs: res("a", "get", "", "configmaps", "", "ns", "cm-b"), want: authz.NoOpinion, reason: noRel},
		{name: "secret name as configmap", attrs: res("a", "get", "", "configmaps", "", "ns", "only-a"), want: authz.NoOpinion},
		{name: "list configmaps", attrs: res("b", "list", "", "configmaps", "", "ns", ""), want: authz.NoOpinion},
	})
}

func TestAuthorizeVolumesAndTokens(t *testing.T) {
	z := testAuthorizer()
	run(t, z, []tcase{
		{name: "get claim", attrs: res("a", "get", "", "persistentvolumeclaims", "", "ns", "claim-a"), want: authz.Allow},
		{name: "get claim of a from b", attrs: res("b", "get", "", "persistentvolumeclaims", "", "ns", "claim-a"), want: authz.NoOpinion},
		{name: "list claims", attrs: res("a", "list", "", "persistentvolumeclaims", "", "ns", ""), want: authz.NoOpinion},
		{name: "update claim", attrs: res("a", "update", "", "persistentvolumeclaims", "", "ns", "claim-a"), want: authz.NoOpinion},
		{name: "patch claim status", attrs: res("a", "patch", "", "persistentvolumeclaims", "status", "ns", "claim-a"), want: authz.Allow},
		{name: "update claim status", attrs: res("a", "update", "", "persistentvolumeclaims", "status", "ns", "claim-a"), want: authz.Allow},
		{name: "get claim status", attrs: res("a", "get", "", "persistentvolumeclaims", "status", "ns", "claim-a"), want: authz.NoOpinion},
		{name: "patch other claim status", attrs: res("b", "patch", "", "persistentvolumeclaims", "status", "ns", "claim-a"), want: authz.NoOpinion},
		{name: "get volume", attrs: res("a", "get", "", "persistentvolumes", "", "", "pv-a"), want: authz.Allow},
		{name: "get volume from b", attrs: res("b", "get", "", "persistentvolumes", "", "", "pv-a"), want: authz.NoOpinion},
		{name: "list volumes", attrs: res("a", "list", "", "persistentvolumes", "", "", ""), want: authz.NoOpinion},
		{name: "token", attrs: res("a", "create", "", "serviceaccounts", "token", "ns", "sa-a"), want: authz.Allow},
		{name: "token of other sa", attrs: res("a", "create", "", "serviceaccounts", "token", "ns", "default"), want: authz.NoOpinion},
		{name: "token of b's sa", attrs: res("b", "create", "", "serviceaccounts", "token", "ns", "default"), want: authz.Allow},
		{name: "token of a's sa from b", attrs: res("b", "create", "", "serviceaccounts", "token", "ns", "sa-a"), want: authz.NoOpinion},
		{name: "get sa", attrs: res("a", "get", "", "serviceaccounts", "", "ns", "sa-a"), want: authz.NoOpinion},
		{name: "create sa", attrs: res("a", "create", "", "serviceaccounts", "", "ns", ""), want: authz.NoOpinion},
	})
}

func TestAuthorizePods(t *testing.T) {
	z := testAuthorizer()
	list := res("a", "list", "", "pods", "", "", "")
	run(t, z, []tcase{
		{name: "get own pod", attrs: res("a", "get", "", "pods", "", "ns", "pa"), want: authz.Allow},
		{name: "get other pod", attrs: res("a", "get", "", "pods", "", "ns", "pb"), want: authz.NoOpinion},
		{name: "list own pods", attrs: withSelector(list, "spec.nodeName=a"), want: authz.Allow},
		{name: "list own pods ==", attrs: withSelector(list, "spec.nodeName==a"), want: authz.Allow},
		{name: "watch own pods with more", attrs: withSelector(res("a", "watch", "", "pods", "", "ns", ""), "status.phase=Running,spec.nodeName=a"), want: authz.Allow},
		{name: "list b's pods", attrs: withSelector(list, "spec.nodeName=b"), want: authz.NoOpinion, reason: "spec.nodeName=a"},
		{name: "list not other pods", attrs: withSelector(list, "spec.nodeName!=b"), want: authz.NoOpinion},
		{name: "list all pods", attrs: list, want: authz.NoOpinion},
		{name: "list with bad selector", attrs: withSelector(list, "spec.nodeName"), want: authz.NoOpinion},
		{name: "watch own pod by name", attrs: withSelector(res("a", "watch", "", "pods", "", "ns", "pa"), "metadata.name=pa"), want: authz.Allow},
		{name: "watch other pod by name", attrs: withSelector(res("a", "watch", "", "pods", "", "ns", "pb"), "metadata.name=pb"), want: authz.NoOpinion},
		{name: "patch own pod status", attrs: res("a", "patch", "", "pods", "status", "ns", "pa"), want: authz.Allow},
		{name: "update own pod status", attrs: res("a", "update", "", "pods", "status", "ns", "pa"), want: authz.Allow},
		{name: "patch other pod status", attrs: res("a", "patch", "", "pods", "status", "ns", "pb"), want: authz.NoOpinion},
		{name: "delete own pod", attrs: res("a", "delete", "", "pods", "", "ns", "pa"), want: authz.Allow},
		{name: "delete other pod", attrs: res("a", "delete", "", "pods", "", "ns", "pb"), want: authz.NoOpinion},
		{name: "update own pod", attrs: res("a", "update", "", "pods", "", "ns", "pa"), want: authz.NoOpinion},
		{name: "deletecollection", attrs: withSelector(res("a", "deletecollection", "", "pods", "", "ns", ""), "spec.nodeName=a"), want: authz.NoOpinion},
		{name: "exec", attrs: res("a", "create", "", "pods", "exec", "ns", "pa"), want: authz.NoOpinion},
		{name: "create mirror pod", attrs: res("a", "create", "", "pods", "", "ns", ""), want: authz.Allow, reason: "static rule"},
		{name: "evict", attrs: res("a", "create", "", "pods", "eviction", "ns", "pb"), want: authz.Allow, reason: "static rule"},
	})
	// Without static rules, creating pods and evicting is not allowed.
	bare := New(NewGraph(), nil)
	run(t, bare, []tcase{
		{name: "create without rules", attrs: res("a", "create", "", "pods", "", "ns", ""), want: authz.NoOpinion},
		{name: "evict without rules", attrs: res("a", "create", "", "pods", "eviction", "ns", "p"), want: authz.NoOpinion},
	})
}

func TestAuthorizeNodes(t *testing.T) {
	z := testAuthorizer()
	run(t, z, []tcase{
		{name: "get own node", attrs: res("a", "get", "", "nodes", "", "", "a"), want: authz.Allow},
		{name: "get other node", attrs: res("a", "get", "", "nodes", "", "", "b"), want: authz.NoOpinion, reason: "cannot read 'b'"},
		{name: "list all nodes", attrs: res("a", "list", "", "nodes", "", "", ""), want: authz.NoOpinion, reason: "cannot read all nodes"},
		{name: "watch own node", attrs: withSelector(res("a", "watch", "", "nodes", "", "", "a"), "metadata.name=a"), want: authz.Allow},
		{name: "watch other node", attrs: withSelector(res("a", "watch", "", "nodes", "", "", "b"), "metadata.name=b"), want: authz.NoOpinion},
		{name: "create node", attrs: res("a", "create", "", "nodes", "", "", ""), want: authz.Allow},
		{name: "update own node", attrs: res("a", "update", "", "nodes", "", "", "a"), want: authz.Allow},
		{name: "patch other node", attrs: res("a", "patch", "", "nodes", "", "", "b"), want: authz.NoOpinion},
		{name: "patch own status", attrs: res("a", "patch", "", "nodes", "status", "", "a"), want: authz.Allow},
		{name: "update own status", attrs: res("a", "update", "", "nodes", "status", "", "a"), want: authz.Allow},
		{name: "patch other status", attrs: res("a", "patch", "", "nodes", "status", "", "b"), want: authz.NoOpinion},
		{name: "delete own node", attrs: res("a", "delete", "", "nodes", "", "", "a"), want: authz.NoOpinion},
		{name: "proxy", attrs: res("a", "get", "", "nodes", "proxy", "", "a"), want: authz.NoOpinion},
	})
}

func TestAuthorizeLeases(t *testing.T) {
	z := testAuthorizer()
	lease := func(node, verb, ns, name string) authz.Attributes {
		return res(node, verb, "coordination.k8s.io", "leases", "", ns, name)
	}
	run(t, z, []tcase{
		{name: "get own lease", attrs: lease("a", "get", "kube-node-lease", "a"), want: authz.Allow},
		{name: "create lease", attrs: lease("a", "create", "kube-node-lease", ""), want: authz.Allow},
		{name: "update own lease", attrs: lease("a", "update", "kube-node-lease", "a"), want: authz.Allow},
		{name: "patch own lease", attrs: lease("a", "patch", "kube-node-lease", "a"), want: authz.Allow},
		{name: "delete own lease", attrs: lease("a", "delete", "kube-node-lease", "a"), want: authz.Allow},
		{name: "update other lease", attrs: lease("a", "update", "kube-node-lease", "b"), want: authz.NoOpinion, reason: "named after it"},
		{name: "get other lease", attrs: lease("a", "get", "kube-node-lease", "b"), want: authz.NoOpinion},
		{name: "lease elsewhere", attrs: lease("a", "get", "kube-system", "a"), want: authz.NoOpinion, reason: "kube-node-lease"},
		{name: "list leases", attrs: lease("a", "list", "kube-node-lease", ""), want: authz.NoOpinion},
		{name: "watch own lease", attrs: lease("a", "watch", "kube-node-lease", "a"), want: authz.NoOpinion},
		{name: "leases in another group", attrs: res("a", "get", "example.com", "leases", "", "kube-node-lease", "b"), want: authz.NoOpinion},
	})
}

func TestAuthorizeStaticRules(t *testing.T) {
	z := testAuthorizer()
	nonResource := authz.Attributes{User: nodeUser("a"), Verb: "get", Path: "/healthz"}
	run(t, z, []tcase{
		{name: "create event", attrs: res("a", "create", "", "events", "", "ns", ""), want: authz.Allow, reason: "static rule"},
		{name: "patch event.k8s.io event", attrs: res("a", "patch", "events.k8s.io", "events", "", "ns", "e"), want: authz.Allow},
		{name: "delete event", attrs: res("a", "delete", "", "events", "", "ns", "e"), want: authz.NoOpinion},
		{name: "list services", attrs: res("a", "list", "", "services", "", "", ""), want: authz.Allow},
		{name: "create service", attrs: res("a", "create", "", "services", "", "ns", ""), want: authz.NoOpinion},
		{name: "non-resource", attrs: nonResource, want: authz.NoOpinion},
	})
	// A non-node user gets nothing from the static rules.
	u := res("a", "create", "", "events", "", "ns", "")
	u.User = &authn.User{Name: "bob"}
	if d, _, _ := z.Authorize(context.Background(), u); d != authz.NoOpinion {
		t.Errorf("static rules applied to a non-node: %v", d)
	}
}

// The node authorizer leaves what it does not allow to the authorizers
// after it, as in Kubernetes.
func TestAuthorizeInChain(t *testing.T) {
	z := testAuthorizer()
	grantAll := authz.AuthorizerFunc(func(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
		return authz.Allow, "granted", nil
	})
	d, reason, _ := authz.Chain{z, grantAll}.Authorize(context.Background(), res("a", "get", "", "secrets", "", "ns", "only-b"))
	if d != authz.Allow || !strings.Contains(reason, "no relationship found") {
		t.Errorf("chain: %v %q", d, reason)
	}
	d, _, _ = authz.Chain{z}.Authorize(context.Background(), res("a", "get", "", "secrets", "", "ns", "only-b"))
	if d == authz.Allow {
		t.Errorf("chain end: %v", d)
	}
}
