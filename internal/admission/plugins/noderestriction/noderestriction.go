// Package noderestriction limits what a kubelet may write, as Kubernetes'
// NodeRestriction admission plugin does: a node (user system:node:<name>
// in group system:nodes) may change only its own Node object, its own
// Lease and CSINode, the status of pods bound to it, and may create only
// mirror pods bound to itself that name no other API object. Without it,
// any bootstrap token leads to every Secret: join as a made-up node, create
// a pod bound to it that mounts the Secret, and the Node authorizer lets
// the node read what its pods use.
//
// It works with the Node authorizer, which decides what a node may read;
// this plugin decides what it may write, where the authorizer cannot see
// the object being written.
package noderestriction

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/podspec"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "NodeRestriction"

// Getters read the stored objects the plugin checks against.
type Getters struct {
	Pod  func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Node func(ctx context.Context, name string) (*corev1.Node, error)
}

// Plugin is the NodeRestriction admission plugin.
type Plugin struct {
	get Getters
}

var _ admission.Validator = (*Plugin)(nil)

// New returns the plugin; it needs both getters.
func New(g Getters) (*Plugin, error) {
	if g.Pod == nil || g.Node == nil {
		return nil, errors.New(PluginName + " needs a pod and a node getter")
	}
	return &Plugin{get: g}, nil
}

var (
	podsResource     = schema.GroupResource{Resource: "pods"}
	nodesResource    = schema.GroupResource{Resource: "nodes"}
	pvcsResource     = schema.GroupResource{Resource: "persistentvolumeclaims"}
	accountsResource = schema.GroupResource{Resource: "serviceaccounts"}
	leasesResource   = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	csiNodesResource = schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}
)

// Validate implements admission.Validator. Writes by anyone but a node
// pass untouched.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	node, isNode := authn.NodeIdentity(a.User)
	if !isNode {
		return nil
	}
	if node == "" {
		return forbid(a, "could not determine node from user %q", a.User.Name)
	}
	switch a.Resource.GroupResource() {
	case podsResource:
		switch a.Subresource {
		case "":
			return p.pod(ctx, node, a)
		case "status":
			return podStatus(node, a)
		case "eviction":
			return p.eviction(ctx, node, a)
		default:
			return forbid(a, "unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource)
		}
	case nodesResource:
		return nodeObject(node, a)
	case pvcsResource:
		if a.Subresource != "status" {
			return forbid(a, "may only update PVC status")
		}
		return pvcStatus(node, a)
	case accountsResource:
		return p.token(ctx, node, a)
	case leasesResource:
		if a.Namespace != corev1.NamespaceNodeLease {
			return forbid(a, "can only access leases in the %q system namespace", corev1.NamespaceNodeLease)
		}
		if objectName(a) != node {
			return forbid(a, "can only access node lease with the same name as the requesting node")
		}
		return nil
	case csiNodesResource:
		if objectName(a) != node {
			return forbid(a, "can only access CSINode with the same name as the requesting node")
		}
		return nil
	}
	return nil
}

func forbid(a *admission.Attributes, format string, args ...any) error {
	return admission.NewForbidden(a, fmt.Errorf(format, args...))
}

// objectName is the name a write is about: on create the URL names none,
// so it is the object's own.
func objectName(a *admission.Attributes) string {
	if a.Operation == admission.Create && a.Object != nil {
		if m, err := meta.Accessor(a.Object); err == nil {
			return m.GetName()
		}
	}
	return a.Name
}

// pod allows creating mirror pods and deleting pods bound to the node.
func (p *Plugin) pod(ctx context.Context, node string, a *admission.Attributes) error {
	switch a.Operation {
	case admission.Create:
		pod, ok := a.Object.(*corev1.Pod)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		return p.mirrorPod(ctx, node, a, pod)
	case admission.Delete:
		// The stored pod, as the delete will remove it.
		old, ok := a.OldObject.(*corev1.Pod)
		if !ok {
			return forbid(a, "unexpected type %T", a.OldObject)
		}
		if old.Spec.NodeName != node {
			return forbid(a, "node %q can only delete pods with spec.nodeName set to itself", node)
		}
		return nil
	}
	return forbid(a, "unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, node)
}

// mirrorPod checks a pod a node creates: a mirror pod of one of its
// static pods, owned by its Node, that names no API object a node could
// then read through the Node authorizer.
func (p *Plugin) mirrorPod(ctx context.Context, node string, a *admission.Attributes, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; !mirror {
		return forbid(a, "pod does not have %q annotation, node %q can only create mirror pods", corev1.MirrorPodAnnotationKey, node)
	}
	if pod.Spec.NodeName != node {
		return forbid(a, "node %q can only create pods with spec.nodeName set to itself", node)
	}
	switch n := len(pod.OwnerReferences); {
	case n > 1:
		return forbid(a, "node %q can only create pods with a single owner reference set to itself", node)
	case n == 0:
		return forbid(a, "node %q can only create pods with an owner reference set to itself", node)
	}
	owner := pod.OwnerReferences[0]
	if owner.APIVersion != "v1" || owner.Kind != "Node" || owner.Name != node {
		return forbid(a, "node %q can only create pods with an owner reference set to itself", node)
	}
	if owner.Controller == nil || !*owner.Controller {
		return forbid(a, "node %q can only create pods with a controller owner reference set to itself", node)
	}
	if owner.BlockOwnerDeletion != nil && *owner.BlockOwnerDeletion {
		return forbid(a, "node %q must not set blockOwnerDeletion on an owner reference", node)
	}
	self, err := p.get.Node(ctx, node)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbid(a, "error looking up node %s to verify uid: %v", node, err)
	}
	if owner.UID != self.UID {
		return forbid(a, "node %s UID mismatch: expected %s got %s", node, owner.UID, self.UID)
	}

	// A mirror pod may name nothing: every kind of reference is refused,
	// each with kube-apiserver's wording where it has one.
	var found podspec.RefKind
	podspec.VisitReferences(pod, func(kind podspec.RefKind, _ string) bool {
		found = kind
		return false
	})
	switch found {
	case podspec.RefServiceAccount:
		return forbid(a, "node %q can not create pods that reference a service account", node)
	case podspec.RefSecret:
		return forbid(a, "node %q can not create pods that reference secrets", node)
	case podspec.RefConfigMap:
		return forbid(a, "node %q can not create pods that reference configmaps", node)
	case podspec.RefClusterTrustBundle:
		return forbid(a, "node %q can not create pods that reference clustertrustbundles", node)
	case podspec.RefPersistentVolumeClaim:
		return forbid(a, "node %q can not create pods that reference persistentvolumeclaims", node)
	case podspec.RefResourceClaim, podspec.RefResourceClaimTemplate:
		return forbid(a, "node %q can not create pods that reference resourceclaims", node)
	case 0:
	default:
		return forbid(a, "node %q can not create pods that reference %ss", node, found)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.PodCertificate != nil {
				return forbid(a, "node %q can not create pods that request pod certificates", node)
			}
		}
	}
	return nil
}

// podStatus allows status writes only for pods bound to the node, and
// neither labels nor resource claim statuses through them.
func podStatus(node string, a *admission.Attributes) error {
	if a.Operation != admission.Update {
		return forbid(a, "unexpected operation %q", a.Operation)
	}
	old, ok := a.OldObject.(*corev1.Pod)
	if !ok {
		return forbid(a, "unexpected type %T", a.OldObject)
	}
	if old.Spec.NodeName != node {
		return forbid(a, "node %q can only update pod status for pods with spec.nodeName set to itself", node)
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return forbid(a, "unexpected type %T", a.Object)
	}
	if !equalStrings(old.Labels, pod.Labels) {
		return forbid(a, "node %q cannot update labels through pod status", node)
	}
	if !apiequality.Semantic.DeepEqual(claimNames(old.Status.ResourceClaimStatuses), claimNames(pod.Status.ResourceClaimStatuses)) {
		return forbid(a, "node %q cannot update resource claim statues", node)
	}
	return nil
}

// claimNames keeps what a node may not change in resource claim statuses.
func claimNames(statuses []corev1.PodResourceClaimStatus) []string {
	out := make([]string, 0, 2*len(statuses))
	for _, s := range statuses {
		claim := "\x00" // no claim, distinct from any name
		if s.ResourceClaimName != nil {
			claim = *s.ResourceClaimName
		}
		out = append(out, s.Name, claim)
	}
	return out
}

// eviction allows evicting only pods bound to the node.
func (p *Plugin) eviction(ctx context.Context, node string, a *admission.Attributes) error {
	if a.Operation != admission.Create {
		return forbid(a, "unexpected operation %s", a.Operation)
	}
	name := a.Name
	if name == "" {
		ev, ok := a.Object.(*policyv1.Eviction)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		if name = ev.Name; name == "" {
			return forbid(a, "could not determine pod from request data")
		}
	}
	pod, err := p.get.Pod(ctx, a.Namespace, name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	if pod.Spec.NodeName != node {
		return forbid(a, "node %s can only evict pods with spec.nodeName set to itself", node)
	}
	return nil
}

// pvcStatus lets a node change only a claim's capacity and conditions
// (and its allocation statuses, which resizing on the node records).
func pvcStatus(node string, a *admission.Attributes) error {
	if a.Operation != admission.Update {
		return forbid(a, "unexpected operation %q", a.Operation)
	}
	old, ok := a.OldObject.(*corev1.PersistentVolumeClaim)
	if !ok {
		return forbid(a, "unexpected type %T", a.OldObject)
	}
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if !ok {
		return forbid(a, "unexpected type %T", a.Object)
	}
	strip := func(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
		c = c.DeepCopy()
		c.ResourceVersion, c.ManagedFields = "", nil
		c.Status.Capacity, c.Status.Conditions = nil, nil
		c.Status.AllocatedResources, c.Status.AllocatedResourceStatuses = nil, nil
		return c
	}
	if !apiequality.Semantic.DeepEqual(strip(old), strip(pvc)) {
		return forbid(a, "node %q is not allowed to update fields other than status.capacity and status.conditions", node)
	}
	return nil
}

// nodeObject lets a node write only its own Node, without the labels,
// taints, owners and config source that would steer workloads or its own
// deletion.
func nodeObject(node string, a *admission.Attributes) error {
	if name := objectName(a); name != node {
		return forbid(a, "node %q is not allowed to modify node %q", node, name)
	}
	switch a.Operation {
	case admission.Create:
		n, ok := a.Object.(*corev1.Node)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		if n.Spec.ConfigSource != nil {
			return forbid(a, "node %q is not allowed to create pods with a non-nil configSource", node)
		}
		if bad := forbiddenLabels(n.Labels, nil); len(bad) > 0 {
			return forbid(a, "node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", "))
		}
	case admission.Update:
		n, ok := a.Object.(*corev1.Node)
		if !ok {
			return forbid(a, "unexpected type %T", a.Object)
		}
		old, ok := a.OldObject.(*corev1.Node)
		if !ok {
			return forbid(a, "unexpected type %T", a.OldObject)
		}
		if n.Spec.ConfigSource != nil && !apiequality.Semantic.DeepEqual(n.Spec.ConfigSource, old.Spec.ConfigSource) {
			return forbid(a, "node %q is not allowed to update configSource to a new non-nil configSource", node)
		}
		if !apiequality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
			return forbid(a, "node %q is not allowed to modify taints", node)
		}
		// An owner reference would let the garbage collector delete the
		// Node on the node's say (CVE-2025-5187).
		if !apiequality.Semantic.DeepEqual(n.OwnerReferences, old.OwnerReferences) {
			return forbid(a, "node %q is not allowed to modify ownerReferences", node)
		}
		if bad := forbiddenLabels(n.Labels, old.Labels); len(bad) > 0 {
			return forbid(a, "is not allowed to modify labels: %s", strings.Join(bad, ", "))
		}
	}
	return nil
}

// The labels a kubelet may set on its own Node, as k8s.io/kubelet lists them.
var kubeletLabels = []string{
	corev1.LabelHostname, corev1.LabelTopologyZone, corev1.LabelTopologyRegion,
	corev1.LabelFailureDomainBetaZone, corev1.LabelFailureDomainBetaRegion,
	corev1.LabelInstanceType, corev1.LabelInstanceTypeStable, corev1.LabelOSStable, corev1.LabelArchStable,
	"beta.kubernetes.io/os", "beta.kubernetes.io/arch",
}

var kubeletLabelNamespaces = []string{corev1.LabelNamespaceSuffixKubelet, corev1.LabelNamespaceSuffixNode}

func labelNamespace(key string) string {
	if ns, _, ok := strings.Cut(key, "/"); ok {
		return ns
	}
	return ""
}

func inNamespace(ns, parent string) bool {
	return ns == parent || strings.HasSuffix(ns, "."+parent)
}

// isKubeletLabel reports labels a kubelet may set on its Node.
func isKubeletLabel(key string) bool {
	if slices.Contains(kubeletLabels, key) {
		return true
	}
	ns := labelNamespace(key)
	for _, allowed := range kubeletLabelNamespaces {
		if inNamespace(ns, allowed) {
			return true
		}
	}
	return false
}

// forbiddenLabels lists the changed label keys a node may not touch: the
// node-restriction.kubernetes.io namespace, and kubernetes.io and k8s.io
// labels other than the kubelet's own (node-role.kubernetes.io among
// them), sorted.
func forbiddenLabels(labels, old map[string]string) []string {
	var bad []string
	check := func(k string) {
		ns := labelNamespace(k)
		if inNamespace(ns, corev1.LabelNamespaceNodeRestriction) ||
			((inNamespace(ns, "kubernetes.io") || inNamespace(ns, "k8s.io")) && !isKubeletLabel(k)) {
			bad = append(bad, k)
		}
	}
	for k, v := range labels {
		if ov, ok := old[k]; !ok || ov != v {
			check(k)
		}
	}
	for k := range old {
		if _, ok := labels[k]; !ok {
			check(k)
		}
	}
	sort.Strings(bad)
	return bad
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// token requires a node's token requests to be bound to a pod that is
// bound to the node: without it, a node could mint a long-lived token for
// any service account one of its pods uses.
func (p *Plugin) token(ctx context.Context, node string, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "token" {
		return nil
	}
	tr, ok := a.Object.(*authenticationv1.TokenRequest)
	if !ok {
		return forbid(a, "unexpected type %T", a.Object)
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name == "" {
		return forbid(a, "node requested token not bound to a pod")
	}
	if ref.UID == "" {
		return forbid(a, "node requested token with a pod binding without a uid")
	}
	pod, err := p.get.Pod(ctx, a.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	if ref.UID != pod.UID {
		return forbid(a, "the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID)
	}
	if pod.Spec.NodeName != node {
		return forbid(a, "node requested token bound to a pod scheduled on a different node")
	}
	return nil
}
