// Package node is the Node authorizer (kube-apiserver's
// --authorization-mode=Node): it lets a kubelet read the secrets,
// configmaps, claims, volumes and service account tokens that the pods
// bound to its node need, its own Node and Lease, and the pods bound to
// it, and nothing of the kind that belongs to other nodes. Requests for
// other resources are decided by a fixed set of rules for every node.
//
// The authorizer never denies: what it does not allow is left to the
// authorizers after it (RBAC can grant a node more, as in Kubernetes), and
// the end of the chain denies.
package node

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

const (
	groupCoordination = "coordination.k8s.io"
	fieldNodeName     = "spec.nodeName"
)

// Identity returns the node a user speaks for; see authn.NodeIdentity.
func Identity(u *authn.User) (name string, isNode bool) { return authn.NodeIdentity(u) }

// Authorizer is the Node authorizer.
type Authorizer struct {
	graph *Graph
	rules []rbacv1.PolicyRule
}

var _ authz.Authorizer = (*Authorizer)(nil)

// New returns an authorizer deciding from g, and from staticRules for
// resources the graph does not cover (events, CSRs, reading services...).
// The static rules never widen access to the resources the graph decides,
// except creating pods and pods/eviction, which are left to them.
func New(g *Graph, staticRules []rbacv1.PolicyRule) *Authorizer {
	return &Authorizer{graph: g, rules: staticRules}
}

// Authorize implements authz.Authorizer. It returns Allow or NoOpinion.
func (z *Authorizer) Authorize(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
	node, isNode := Identity(a.User)
	if !isNode {
		return authz.NoOpinion, "", nil
	}
	if node == "" {
		return authz.NoOpinion, fmt.Sprintf("unknown node for user %q", userName(a.User)), nil
	}
	d, reason := z.decide(node, a)
	return d, reason, nil
}

func userName(u *authn.User) string {
	if u == nil {
		return ""
	}
	return u.Name
}

func (z *Authorizer) decide(node string, a authz.Attributes) (authz.Decision, string) {
	if a.ResourceRequest {
		switch a.Group {
		case corev1.GroupName:
			switch a.Resource {
			case "secrets":
				return z.readNamespaced(node, KindSecret, a)
			case "configmaps":
				return z.readNamespaced(node, KindConfigMap, a)
			case "persistentvolumeclaims":
				if a.Subresource == "status" {
					return z.updateStatus(node, KindPersistentVolumeClaim, a)
				}
				return z.get(node, KindPersistentVolumeClaim, a)
			case "persistentvolumes":
				return z.get(node, KindPersistentVolume, a)
			case "serviceaccounts":
				return z.createToken(node, a)
			case "pods":
				if d, reason, decided := z.pod(node, a); decided {
					return d, reason
				}
			case "nodes":
				return z.nodeObject(node, a)
			}
		case groupCoordination:
			if a.Resource == "leases" {
				return z.lease(node, a)
			}
		}
	}
	return z.static(node, a)
}

// static applies the rules every node shares.
func (z *Authorizer) static(node string, a authz.Attributes) (authz.Decision, string) {
	for i := range z.rules {
		if rbac.RuleAllows(&z.rules[i], a) {
			return authz.Allow, fmt.Sprintf("node '%s' allowed by the node authorizer's static rule %s", node, rbac.FormatRule(z.rules[i]))
		}
	}
	return authz.NoOpinion, fmt.Sprintf("no static node rule allows node '%s' to %s", node, describe(a))
}

// describe renders a request briefly for a reason: "get secrets/x in ns".
func describe(a authz.Attributes) string {
	if !a.ResourceRequest {
		return a.Verb + " " + a.Path
	}
	var b strings.Builder
	b.WriteString(a.Verb)
	b.WriteByte(' ')
	b.WriteString(a.Resource)
	if a.Subresource != "" {
		b.WriteByte('/')
		b.WriteString(a.Subresource)
	}
	if a.Group != "" {
		b.WriteByte('.')
		b.WriteString(a.Group)
	}
	if a.Name != "" {
		b.WriteString(" ")
		b.WriteString(a.Name)
	}
	if a.Namespace != "" {
		b.WriteString(" in namespace ")
		b.WriteString(a.Namespace)
	}
	return b.String()
}

func objectName(kind Kind, a authz.Attributes) string {
	if a.Namespace == "" {
		return kind.String() + " '" + a.Name + "'"
	}
	return kind.String() + " '" + a.Namespace + "/" + a.Name + "'"
}

// related allows the request if the named object is reachable from node.
func (z *Authorizer) related(node string, kind Kind, a authz.Attributes) (authz.Decision, string) {
	if a.Name == "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only access individual %ss, and the request names none", node, kind)
	}
	if !z.graph.Reachable(node, kind, a.Namespace, a.Name) {
		return authz.NoOpinion, fmt.Sprintf("no relationship found between node '%s' and this object", node)
	}
	via := "a pod bound to it refers to it"
	switch kind {
	case KindPod:
		via = "the pod is bound to it"
	case KindPersistentVolume:
		via = "a pod bound to it uses a claim bound to it"
	}
	return authz.Allow, fmt.Sprintf("node '%s' may %s %s: %s", node, a.Verb, objectName(kind, a), via)
}

// readNamespaced allows get, list and watch of a single object.
func (z *Authorizer) readNamespaced(node string, kind Kind, a authz.Attributes) (authz.Decision, string) {
	switch a.Verb {
	case "get", "list", "watch":
	default:
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only get, list or watch individual %ss, not %s them", node, kind, a.Verb)
	}
	if a.Subresource != "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may not read subresources of %ss", node, kind)
	}
	if a.Namespace == "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only read %ss within a namespace", node, kind)
	}
	if a.Name == "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only read individual %ss (name one, or select it with metadata.name), not all of them", node, kind)
	}
	return z.related(node, kind, a)
}

// get allows get of a single object.
func (z *Authorizer) get(node string, kind Kind, a authz.Attributes) (authz.Decision, string) {
	if a.Verb != "get" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only get individual %ss, not %s them", node, kind, a.Verb)
	}
	if a.Subresource != "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may not get %ss/%s", node, kind, a.Subresource)
	}
	return z.related(node, kind, a)
}

// updateStatus allows update and patch of the status subresource.
func (z *Authorizer) updateStatus(node string, kind Kind, a authz.Attributes) (authz.Decision, string) {
	if a.Verb != "update" && a.Verb != "patch" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only update or patch the status of %ss, not %s it", node, kind, a.Verb)
	}
	return z.related(node, kind, a)
}

// createToken allows creating tokens for the service accounts of the
// node's pods.
func (z *Authorizer) createToken(node string, a authz.Attributes) (authz.Decision, string) {
	if a.Subresource != "token" || a.Verb != "create" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only create tokens (serviceaccounts/token) for the service accounts of its pods", node)
	}
	if a.Name == "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only create tokens for individual service accounts", node)
	}
	return z.related(node, KindServiceAccount, a)
}

// pod decides requests for pods. decided is false for those left to the
// static rules: creating (mirror) pods and evicting pods, which the
// NodeRestriction admission plugin narrows to the node's own pods.
func (z *Authorizer) pod(node string, a authz.Attributes) (d authz.Decision, reason string, decided bool) {
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "get", "delete":
			d, reason = z.related(node, KindPod, a)
			return d, reason, true
		case "list", "watch":
			return z.listPods(node, a)
		case "create":
			return 0, "", false
		}
	case "status":
		if a.Verb == "update" || a.Verb == "patch" {
			d, reason = z.related(node, KindPod, a)
			return d, reason, true
		}
	case "eviction":
		if a.Verb == "create" {
			return 0, "", false
		}
	}
	return authz.NoOpinion, fmt.Sprintf("node '%s' may not %s", node, describe(a)), true
}

// listPods allows lists and watches narrowed to the node's pods by a
// spec.nodeName field selector, or to one pod bound to the node.
func (z *Authorizer) listPods(node string, a authz.Attributes) (authz.Decision, string, bool) {
	if a.FieldSelector != "" {
		sel, err := fields.ParseSelector(a.FieldSelector)
		if err != nil {
			return authz.NoOpinion, fmt.Sprintf("node '%s' sent an invalid field selector: %v", node, err), true
		}
		for _, r := range sel.Requirements() {
			if r.Field == fieldNodeName && (r.Operator == selection.Equals || r.Operator == selection.DoubleEquals) && r.Value == node {
				return authz.Allow, fmt.Sprintf("node '%s' may %s pods selected by spec.nodeName=%s", node, a.Verb, node), true
			}
		}
	}
	if a.Name != "" {
		d, reason := z.related(node, KindPod, a)
		return d, reason, true
	}
	return authz.NoOpinion, fmt.Sprintf("node '%s' may only %s pods with the field selector spec.nodeName=%s", node, a.Verb, node), true
}

// nodeObject lets a node read and write its own Node object only.
func (z *Authorizer) nodeObject(node string, a authz.Attributes) (authz.Decision, string) {
	own := a.Name == node
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "get", "list", "watch":
			switch {
			case own:
				return authz.Allow, fmt.Sprintf("node '%s' may %s its own Node object", node, a.Verb)
			case a.Name == "":
				return authz.NoOpinion, fmt.Sprintf("node '%s' cannot read all nodes, only its own Node object", node)
			}
			return authz.NoOpinion, fmt.Sprintf("node '%s' cannot read '%s', only its own Node object", node, a.Name)
		case "create":
			// A create names no object in its URL: the admission chain
			// (NodeRestriction) checks the name in the body.
			if own || a.Name == "" {
				return authz.Allow, fmt.Sprintf("node '%s' may create its own Node object", node)
			}
			return authz.NoOpinion, fmt.Sprintf("node '%s' cannot create '%s', only its own Node object", node, a.Name)
		case "update", "patch":
			if own {
				return authz.Allow, fmt.Sprintf("node '%s' may %s its own Node object", node, a.Verb)
			}
			return authz.NoOpinion, fmt.Sprintf("node '%s' cannot %s '%s', only its own Node object", node, a.Verb, a.Name)
		}
	case "status":
		if a.Verb == "update" || a.Verb == "patch" {
			if own {
				return authz.Allow, fmt.Sprintf("node '%s' may %s its own Node status", node, a.Verb)
			}
			return authz.NoOpinion, fmt.Sprintf("node '%s' cannot %s the status of '%s', only its own", node, a.Verb, a.Name)
		}
	}
	return authz.NoOpinion, fmt.Sprintf("node '%s' may not %s", node, describe(a))
}

// lease lets a node keep its heartbeat lease in kube-node-lease.
func (z *Authorizer) lease(node string, a authz.Attributes) (authz.Decision, string) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only get, create, update, patch or delete its node lease, not %s leases", node, a.Verb)
	}
	if a.Subresource != "" {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may not access leases/%s", node, a.Subresource)
	}
	if a.Namespace != corev1.NamespaceNodeLease {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only access leases in the %q namespace", node, corev1.NamespaceNodeLease)
	}
	// A create names no object in its URL: admission checks the body.
	if a.Name != node && (a.Verb != "create" || a.Name != "") {
		return authz.NoOpinion, fmt.Sprintf("node '%s' may only access the lease named after it, not '%s'", node, a.Name)
	}
	return authz.Allow, fmt.Sprintf("node '%s' may %s its node lease", node, a.Verb)
}

// RulesFor implements authz.RuleResolver. What a node may do depends on the
// pods bound to it, so its rules cannot be listed: the answer for a node is
// incomplete, as in Kubernetes.
func (z *Authorizer) RulesFor(_ context.Context, u *authn.User, _ string) ([]rbacv1.PolicyRule, bool, error) {
	if _, isNode := Identity(u); isNode {
		return nil, true, errors.New("node authorizer does not support user rule resolution")
	}
	return nil, false, nil
}
