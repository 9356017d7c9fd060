package noderestriction

import (
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
)

func nodeUser(name string) *authn.User {
	return &authn.User{Name: authn.NodeUserPrefix + name, Groups: []string{authn.GroupNodes, authn.GroupAuthenticated}}
}

var (
	podsGVR     = corev1.SchemeGroupVersion.WithResource("pods")
	nodesGVR    = corev1.SchemeGroupVersion.WithResource("nodes")
	pvcsGVR     = corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")
	accountsGVR = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	leasesGVR   = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	csiNodesGVR = schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "csinodes"}
)

func ptr[T any](v T) *T { return &v }

// mirror is a valid mirror pod of node n1, whose Node has UID uid-n1.
func mirror(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "static-web-n1", Namespace: "kube-system",
			Annotations:     map[string]string{corev1.MirrorPodAnnotationKey: "hash"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "uid-n1", Controller: ptr(true)}},
		},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func plugin(t *testing.T) *Plugin {
	t.Helper()
	pods := map[string]*corev1.Pod{
		"default/on-n1": {ObjectMeta: metav1.ObjectMeta{Name: "on-n1", Namespace: "default", UID: "uid-on-n1"}, Spec: corev1.PodSpec{NodeName: "n1"}},
		"default/on-n2": {ObjectMeta: metav1.ObjectMeta{Name: "on-n2", Namespace: "default", UID: "uid-on-n2"}, Spec: corev1.PodSpec{NodeName: "n2"}},
	}
	p, err := New(Getters{
		Pod: func(_ context.Context, ns, name string) (*corev1.Pod, error) {
			if pod, ok := pods[ns+"/"+name]; ok {
				return pod, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
		},
		Node: func(_ context.Context, name string) (*corev1.Node, error) {
			if name == "n1" {
				return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "uid-n1"}}, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewNeedsGetters(t *testing.T) {
	if _, err := New(Getters{}); err == nil || !strings.Contains(err.Error(), "NodeRestriction") {
		t.Errorf("New without getters: %v", err)
	}
}

type tc struct {
	name string
	a    admission.Attributes
	// want is "" for allowed, or a substring of the refusal.
	want string
}

func run(t *testing.T, cases []tc) {
	t.Helper()
	p := plugin(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			if a.User == nil {
				a.User = nodeUser("n1")
			}
			err := p.Validate(context.Background(), &a)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("allowed, want %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("refused with %q, want %q", err, c.want)
			}
		})
	}
}

func create(gvr schema.GroupVersionResource, ns string, obj runtime.Object) admission.Attributes {
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	return admission.Attributes{Operation: admission.Create, Resource: gvr, Namespace: ns, Name: name, Object: obj}
}

func TestPods(t *testing.T) {
	secretVolume := func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "crown-jewels"}}}}
	}
	run(t, []tc{
		{"a mirror pod bound to itself", create(podsGVR, "kube-system", mirror()), ""},
		{"anyone else is not restricted", func() admission.Attributes {
			a := create(podsGVR, "default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.PodSpec{NodeName: "n2"}})
			a.User = &authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}}
			return a
		}(), ""},
		{"a member of system:nodes without a node name", func() admission.Attributes {
			a := create(podsGVR, "kube-system", mirror())
			a.User = &authn.User{Name: "kubelet", Groups: []string{authn.GroupNodes}}
			return a
		}(), `could not determine node from user "kubelet"`},
		{"the reported attack: a regular pod mounting a secret", create(podsGVR, "kube-system", &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "atk"},
			Spec:       corev1.PodSpec{NodeName: "n1", Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "atk-crown-jewels"}}}}},
		}), `pods "atk" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"a mirror pod for another node", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.Spec.NodeName = "n2" })), `node "n1" can only create pods with spec.nodeName set to itself`},
		{"a mirror pod without owner", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.OwnerReferences = nil })), "an owner reference set to itself"},
		{"two owners", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.OwnerReferences = append(p.OwnerReferences, p.OwnerReferences[0])
		})), "a single owner reference"},
		{"owned by another node", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.OwnerReferences[0].Name = "n2" })), "an owner reference set to itself"},
		{"owner not a controller", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.OwnerReferences[0].Controller = nil })), "a controller owner reference"},
		{"owner blocks deletion", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.OwnerReferences[0].BlockOwnerDeletion = ptr(true) })), "must not set blockOwnerDeletion"},
		{"owner with the wrong UID", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.OwnerReferences[0].UID = "stale" })), "UID mismatch"},
		{"a service account", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "admin" })), "reference a service account"},
		{"a secret volume", create(podsGVR, "kube-system", mirror(secretVolume)), "reference secrets"},
		{"a secret in an init container's env", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}}}
		})), "reference secrets"},
		{"a secret in an ephemeral container's env", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d",
				Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}}}}}
		})), "reference secrets"},
		{"an image pull secret", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
		})), "reference secrets"},
		{"a configmap", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}}
		})), "reference configmaps"},
		{"a claim", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
		})), "reference persistentvolumeclaims"},
		{"a generic ephemeral volume", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}
		})), "reference persistentvolumeclaims"},
		{"a trust bundle", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "b", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: ptr("x.io/s")}}}}}}}
		})), "reference clustertrustbundles"},
		{"a resource claim (CVE-2025-4563)", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr("gpu")}}
		})), "reference resourceclaims"},
		{"a pod certificate", create(podsGVR, "kube-system", mirror(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "pc", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{PodCertificate: &corev1.PodCertificateProjection{SignerName: "x.io/s"}}}}}}}
		})), "request pod certificates"},
		{"delete a pod bound to itself", admission.Attributes{Operation: admission.Delete, Resource: podsGVR, Namespace: "default", Name: "on-n1", OldObject: &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}}, ""},
		{"delete another node's pod", admission.Attributes{Operation: admission.Delete, Resource: podsGVR, Namespace: "default", Name: "on-n2", OldObject: &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n2"}}}, `node "n1" can only delete pods with spec.nodeName set to itself`},
		{"update a pod, even its own", admission.Attributes{Operation: admission.Update, Resource: podsGVR, Namespace: "default", Name: "on-n1",
			Object: &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}, OldObject: &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}}, `unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
		{"an unknown subresource", admission.Attributes{Operation: admission.Create, Resource: podsGVR, Subresource: "binding", Namespace: "default", Name: "on-n2"}, "only 'status' and 'eviction' are allowed"},
	})
}

func TestPodStatusAndEviction(t *testing.T) {
	status := func(oldNode string, mutate func(p *corev1.Pod)) admission.Attributes {
		old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{NodeName: oldNode}}
		obj := old.DeepCopy()
		obj.Status.Phase = corev1.PodRunning
		if mutate != nil {
			mutate(obj)
		}
		return admission.Attributes{Operation: admission.Update, Resource: podsGVR, Subresource: "status", Namespace: "default", Name: "p", Object: obj, OldObject: old}
	}
	evict := func(name, body string) admission.Attributes {
		return admission.Attributes{Operation: admission.Create, Resource: podsGVR, Subresource: "eviction", Namespace: "default", Name: name,
			Object: &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: body, Namespace: "default"}}}
	}
	run(t, []tc{
		{"status of its own pod", status("n1", nil), ""},
		{"status of another node's pod", status("n2", nil), `node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"labels through status", status("n1", func(p *corev1.Pod) { p.Labels["app"] = "db" }), "cannot update labels through pod status"},
		{"resource claim statuses", status("n1", func(p *corev1.Pod) {
			p.Status.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "gpu", ResourceClaimName: ptr("stolen")}}
		}), "cannot update resource claim statues"},
		{"evict its own pod", evict("on-n1", "on-n1"), ""},
		{"evict another node's pod", evict("on-n2", "on-n2"), "node n1 can only evict pods with spec.nodeName set to itself"},
		{"evict by the body's name", evict("", "on-n2"), "can only evict pods"},
		{"evict a pod that does not exist", evict("gone", "gone"), `pods "gone" not found`},
	})
}

func TestNodes(t *testing.T) {
	node := func(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	update := func(obj, old *corev1.Node) admission.Attributes {
		return admission.Attributes{Operation: admission.Update, Resource: nodesGVR, Name: old.Name, Object: obj, OldObject: old}
	}
	kubelet := map[string]string{"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5",
		"topology.kubernetes.io/zone": "a", "kubelet.kubernetes.io/x": "1", "team.example.com/owner": "me"}
	with := func(k, v string) map[string]string {
		out := map[string]string{}
		for a, b := range kubelet {
			out[a] = b
		}
		out[k] = v
		return out
	}
	noSchedule := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	owned := node("n1", kubelet)
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "x", UID: "u"}}
	run(t, []tc{
		{"register itself with kubelet labels", create(nodesGVR, "", node("n1", kubelet)), ""},
		{"register another node", create(nodesGVR, "", node("n2", nil)), `node "n1" is not allowed to modify node "n2"`},
		{"register with node-role", create(nodesGVR, "", node("n1", with("node-role.kubernetes.io/control-plane", ""))), "not allowed to set the following labels: node-role.kubernetes.io/control-plane"},
		{"register with node-restriction", create(nodesGVR, "", node("n1", with("example.node-restriction.kubernetes.io/fence", "x"))), "example.node-restriction.kubernetes.io/fence"},
		{"register with a config source", create(nodesGVR, "", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{ConfigSource: &corev1.NodeConfigSource{}}}), "non-nil configSource"},
		{"update its own status", update(node("n1", kubelet), node("n1", kubelet)), ""},
		{"update another node", update(node("n2", nil), node("n2", nil)), `node "n1" is not allowed to modify node "n2"`},
		{"label itself node-role", update(node("n1", with("node-role.kubernetes.io/x", "")), node("n1", kubelet)), "is not allowed to modify labels: node-role.kubernetes.io/x"},
		{"remove a restricted label", update(node("n1", kubelet), node("n1", with("node-restriction.kubernetes.io/pool", "secure"))), "node-restriction.kubernetes.io/pool"},
		{"change a kubelet label", update(node("n1", with("kubernetes.io/hostname", "other")), node("n1", kubelet)), ""},
		{"change its own label", update(node("n1", with("team.example.com/owner", "else")), node("n1", kubelet)), ""},
		{"remove its taints", update(node("n1", kubelet), node("n1", kubelet, noSchedule)), "not allowed to modify taints"},
		{"add owner references (CVE-2025-5187)", update(owned, node("n1", kubelet)), "not allowed to modify ownerReferences"},
		{"delete itself: left to authorization", admission.Attributes{Operation: admission.Delete, Resource: nodesGVR, Name: "n1"}, ""},
		{"delete another", admission.Attributes{Operation: admission.Delete, Resource: nodesGVR, Name: "n2"}, "not allowed to modify node"},
	})
}

func TestTokensLeasesAndClaims(t *testing.T) {
	token := func(ref *authenticationv1.BoundObjectReference) admission.Attributes {
		return admission.Attributes{Operation: admission.Create, Resource: accountsGVR, Subresource: "token", Namespace: "default", Name: "robot",
			Object: &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: ref}}}
	}
	podRef := func(name string, uid types.UID) *authenticationv1.BoundObjectReference {
		return &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: name, UID: uid}
	}
	lease := func(op admission.Operation, ns, name string) admission.Attributes {
		a := admission.Attributes{Operation: op, Resource: leasesGVR, Namespace: ns, Name: name}
		if op == admission.Create {
			a.Name = ""
			a.Object = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}} // any object with a name
		}
		return a
	}
	pvc := func(mutate func(*corev1.PersistentVolumeClaim)) admission.Attributes {
		old := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", ResourceVersion: "5"}}
		obj := old.DeepCopy()
		obj.ResourceVersion = ""
		obj.Status.Capacity = corev1.ResourceList{}
		mutate(obj)
		return admission.Attributes{Operation: admission.Update, Resource: pvcsGVR, Subresource: "status", Namespace: "default", Name: "data", Object: obj, OldObject: old}
	}
	run(t, []tc{
		{"token bound to its pod", token(podRef("on-n1", "uid-on-n1")), ""},
		{"token bound to nothing", token(nil), "node requested token not bound to a pod"},
		{"token bound to a secret", token(&authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Secret", Name: "s", UID: "u"}), "not bound to a pod"},
		{"token without uid", token(podRef("on-n1", "")), "without a uid"},
		{"token for a recreated pod", token(podRef("on-n1", "old-uid")), "does not match the UID in record"},
		{"token for another node's pod", token(podRef("on-n2", "uid-on-n2")), "bound to a pod scheduled on a different node"},
		{"token for a pod that does not exist", token(podRef("gone", "u")), `pods "gone" not found`},
		{"its own lease", lease(admission.Update, "kube-node-lease", "n1"), ""},
		{"create its own lease", lease(admission.Create, "kube-node-lease", "n1"), ""},
		{"another node's lease", lease(admission.Update, "kube-node-lease", "n2"), "can only access node lease with the same name"},
		{"create another node's lease", lease(admission.Create, "kube-node-lease", "n2"), "can only access node lease with the same name"},
		{"a lease elsewhere", lease(admission.Update, "kube-system", "n1"), `can only access leases in the "kube-node-lease" system namespace`},
		{"its own CSINode", admission.Attributes{Operation: admission.Update, Resource: csiNodesGVR, Name: "n1"}, ""},
		{"another CSINode", admission.Attributes{Operation: admission.Update, Resource: csiNodesGVR, Name: "n2"}, "can only access CSINode"},
		{"claim capacity", pvc(func(c *corev1.PersistentVolumeClaim) {}), ""},
		{"claim labels", pvc(func(c *corev1.PersistentVolumeClaim) { c.Labels = map[string]string{"a": "b"} }), "not allowed to update fields other than status.capacity"},
		{"claim spec", admission.Attributes{Operation: admission.Update, Resource: pvcsGVR, Namespace: "default", Name: "data"}, "may only update PVC status"},
	})
}
