package node

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(ns, name, node string, mutate ...func(*corev1.PodSpec)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "img"}}},
	}
	for _, m := range mutate {
		m(&p.Spec)
	}
	return p
}

func secretVolume(secret string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "v-" + secret,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
	}
}

func claimVolume(claim string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "v-" + claim,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	}
}

type reach struct {
	kind      Kind
	namespace string
	name      string
}

func expectReach(t *testing.T, g *Graph, node string, want bool, objs ...reach) {
	t.Helper()
	for _, o := range objs {
		if got := g.Reachable(node, o.kind, o.namespace, o.name); got != want {
			t.Errorf("node %q reaches %s %s/%s: %v, want %v", node, o.kind, o.namespace, o.name, got, want)
		}
	}
}

func secretRef(name string) *corev1.LocalObjectReference {
	return &corev1.LocalObjectReference{Name: name}
}

// fullPod refers to secrets, configmaps, claims and a service account from
// every place a pod can.
func fullPod() *corev1.Pod {
	envs := func(prefix string) ([]corev1.EnvVar, []corev1.EnvFromSource) {
		return []corev1.EnvVar{
				{Name: "A", Value: "plain"},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-env-secret"}, Key: "k"}}},
				{Name: "C", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-env-cm"}, Key: "k"}}},
				{Name: "D", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			}, []corev1.EnvFromSource{
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-envfrom-secret"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-envfrom-cm"}}},
			}
	}
	p := pod("ns", "full", "a")
	p.Spec.ServiceAccountName = "runner"
	p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	p.Spec.Containers[0].Env, p.Spec.Containers[0].EnvFrom = envs("main")
	init := corev1.Container{Name: "init", Image: "img"}
	init.Env, init.EnvFrom = envs("init")
	p.Spec.InitContainers = []corev1.Container{init}
	eph := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "img"}}
	eph.Env, eph.EnvFrom = envs("eph")
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{eph}
	vol := func(name string, src corev1.VolumeSource) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: src}
	}
	p.Spec.Volumes = []corev1.Volume{
		vol("secret", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}),
		vol("cm", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}),
		vol("proj", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		}}}),
		vol("claim", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}),
		vol("scratch", corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}),
		vol("azure", corev1.VolumeSource{AzureFile: &corev1.AzureFileVolumeSource{SecretName: "azure-secret"}}),
		vol("ceph", corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{SecretRef: secretRef("ceph-secret")}}),
		vol("cinder", corev1.VolumeSource{Cinder: &corev1.CinderVolumeSource{SecretRef: secretRef("cinder-secret")}}),
		vol("flex", corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{SecretRef: secretRef("flex-secret")}}),
		vol("iscsi", corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{SecretRef: secretRef("iscsi-secret")}}),
		vol("rbd", corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{SecretRef: secretRef("rbd-secret")}}),
		vol("scaleio", corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{SecretRef: secretRef("scaleio-secret")}}),
		vol("storageos", corev1.VolumeSource{StorageOS: &corev1.StorageOSVolumeSource{SecretRef: secretRef("storageos-secret")}}),
		vol("csi", corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", NodePublishSecretRef: secretRef("csi-secret")}}),
		vol("empty", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
	}
	return p
}

func TestGraphPodReferences(t *testing.T) {
	g := NewGraph()
	g.SetPod(fullPod())
	var want []reach
	for _, name := range []string{"pull", "vol-secret", "proj-secret", "azure-secret", "ceph-secret", "cinder-secret",
		"flex-secret", "iscsi-secret", "rbd-secret", "scaleio-secret", "storageos-secret", "csi-secret"} {
		want = append(want, reach{KindSecret, "ns", name})
	}
	for _, c := range []string{"main", "init", "eph"} {
		want = append(want, reach{KindSecret, "ns", c + "-env-secret"}, reach{KindSecret, "ns", c + "-envfrom-secret"},
			reach{KindConfigMap, "ns", c + "-env-cm"}, reach{KindConfigMap, "ns", c + "-envfrom-cm"})
	}
	want = append(want,
		reach{KindConfigMap, "ns", "vol-cm"}, reach{KindConfigMap, "ns", "proj-cm"},
		reach{KindPersistentVolumeClaim, "ns", "data"}, reach{KindPersistentVolumeClaim, "ns", "full-scratch"},
		reach{KindServiceAccount, "ns", "runner"}, reach{KindPod, "ns", "full"})
	expectReach(t, g, "a", true, want...)
	expectReach(t, g, "b", false, want...)
	// Same names, wrong kind or namespace; things never referenced.
	expectReach(t, g, "a", false,
		reach{KindConfigMap, "ns", "vol-secret"}, reach{KindSecret, "other", "vol-secret"},
		reach{KindSecret, "ns", "nope"}, reach{KindServiceAccount, "ns", "default"},
		reach{KindPersistentVolumeClaim, "ns", "scratch"}, reach{KindPod, "other", "full"})

	s := g.Sizes()
	if s.Pods != 1 || s.Nodes != 1 || s.Objects != len(want)-1 || s.Edges != len(want)-1 {
		t.Errorf("sizes %+v, want 1 pod, 1 node, %d objects and edges", s, len(want)-1)
	}

	g.DeletePod("ns", "full")
	expectReach(t, g, "a", false, want...)
	if s := g.Sizes(); s != (Sizes{}) {
		t.Errorf("sizes after delete: %+v", s)
	}
}

func TestGraphDefaultServiceAccount(t *testing.T) {
	g := NewGraph()
	g.SetPod(pod("ns", "p", "a"))
	expectReach(t, g, "a", true, reach{KindServiceAccount, "ns", "default"})
}

func TestGraphSharedReferences(t *testing.T) {
	g := NewGraph()
	// p1 refers to the secret twice; counting it once per pod matters.
	g.SetPod(pod("ns", "p1", "a", secretVolume("shared"), secretVolume("shared")))
	g.SetPod(pod("ns", "p2", "a", secretVolume("shared"), secretVolume("own")))
	g.SetPod(pod("ns", "p3", "b", secretVolume("shared")))
	shared := reach{KindSecret, "ns", "shared"}
	expectReach(t, g, "a", true, shared, reach{KindSecret, "ns", "own"})

	g.DeletePod("ns", "p2")
	expectReach(t, g, "a", true, shared)
	expectReach(t, g, "a", false, reach{KindSecret, "ns", "own"}, reach{KindPod, "ns", "p2"})

	g.DeletePod("ns", "p1")
	expectReach(t, g, "a", false, shared)
	expectReach(t, g, "b", true, shared)

	// Deleting twice, or deleting what was never there, changes nothing.
	g.DeletePod("ns", "p1")
	g.DeletePod("ns", "ghost")
	expectReach(t, g, "b", true, shared)
	if s := g.Sizes(); s.Pods != 1 || s.Nodes != 1 || s.Edges != 2 {
		t.Errorf("sizes %+v", s)
	}
}

func TestGraphPodMovesAndUnbinds(t *testing.T) {
	g := NewGraph()
	g.SetPod(pod("ns", "p", "a", secretVolume("s")))
	s := reach{KindSecret, "ns", "s"}
	p := reach{KindPod, "ns", "p"}
	expectReach(t, g, "a", true, s, p)

	g.SetPod(pod("ns", "p", "b", secretVolume("s")))
	expectReach(t, g, "a", false, s, p)
	expectReach(t, g, "b", true, s, p)
	if n, ok := g.PodNode("ns", "p"); !ok || n != "b" {
		t.Errorf("PodNode = %q %v", n, ok)
	}

	// A changed spec (an ephemeral container added) is picked up.
	g.SetPod(pod("ns", "p", "b", secretVolume("s"), func(spec *corev1.PodSpec) {
		spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "debug"}}}}}}}
	}))
	expectReach(t, g, "b", true, s, reach{KindSecret, "ns", "debug"})

	// No node: not bound, nothing reachable.
	g.SetPod(pod("ns", "p", ""))
	expectReach(t, g, "b", false, s, p, reach{KindSecret, "ns", "debug"})
	if _, ok := g.PodNode("ns", "p"); ok {
		t.Error("unbound pod still has a node")
	}
	if sz := g.Sizes(); sz != (Sizes{}) {
		t.Errorf("sizes %+v", sz)
	}
}

func TestGraphMirrorPodGrantsNothing(t *testing.T) {
	g := NewGraph()
	p := pod("ns", "static-a", "a", secretVolume("s"))
	p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	g.SetPod(p)
	expectReach(t, g, "a", true, reach{KindPod, "ns", "static-a"})
	expectReach(t, g, "a", false, reach{KindSecret, "ns", "s"}, reach{KindServiceAccount, "ns", "default"})
}

func TestGraphVolumes(t *testing.T) {
	g := NewGraph()
	pv1 := reach{KindPersistentVolume, "", "pv1"}
	pv2 := reach{KindPersistentVolume, "", "pv2"}

	// The claim's binding may be known before or after the pod.
	g.SetPVC("ns", "early", "pv1")
	g.SetPod(pod("ns", "p1", "a", claimVolume("early")))
	expectReach(t, g, "a", true, pv1)
	expectReach(t, g, "b", false, pv1)

	g.SetPod(pod("ns", "p2", "b", claimVolume("late")))
	expectReach(t, g, "b", false, pv2)
	g.SetPVC("ns", "late", "pv2")
	expectReach(t, g, "b", true, pv2)
	expectReach(t, g, "a", false, pv2)

	// Rebinding moves access; unbinding or deleting the claim removes it.
	g.SetPVC("ns", "late", "pv3")
	expectReach(t, g, "b", false, pv2)
	expectReach(t, g, "b", true, reach{KindPersistentVolume, "", "pv3"})
	g.DeletePVC("ns", "late")
	expectReach(t, g, "b", false, reach{KindPersistentVolume, "", "pv3"})
	expectReach(t, g, "b", true, reach{KindPersistentVolumeClaim, "ns", "late"})

	// Two pods on a node using the same claim: the volume stays until both go.
	g.SetPod(pod("ns", "p3", "a", claimVolume("early")))
	g.DeletePod("ns", "p1")
	expectReach(t, g, "a", true, pv1)
	g.DeletePod("ns", "p3")
	expectReach(t, g, "a", false, pv1)
	// The binding is remembered for the next pod.
	g.SetPod(pod("ns", "p4", "c", claimVolume("early")))
	expectReach(t, g, "c", true, pv1)
	if s := g.Sizes(); s.Claims != 1 {
		t.Errorf("sizes %+v", s)
	}
}

func cmVolume(cm string) corev1.Volume {
	return corev1.Volume{Name: "v-" + cm, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}
}
