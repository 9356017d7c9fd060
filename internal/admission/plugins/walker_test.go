package plugins

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz/node"
)

// place puts something into one place of a pod's spec.
type place struct {
	name string
	put  func(spec *corev1.PodSpec, c func(*corev1.Container))
}

// containerPlaces are the three container kinds: a change to a container
// is made in one of each.
var containerPlaces = []place{
	{"containers", func(s *corev1.PodSpec, c func(*corev1.Container)) { c(&s.Containers[0]) }},
	{"initContainers", func(s *corev1.PodSpec, c func(*corev1.Container)) {
		s.InitContainers = append(s.InitContainers, corev1.Container{Name: "init", Image: "busybox:1.36"})
		c(&s.InitContainers[len(s.InitContainers)-1])
	}},
	{"ephemeralContainers", func(s *corev1.PodSpec, c func(*corev1.Container)) {
		e := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox:1.36"}}
		s.EphemeralContainers = append(s.EphemeralContainers, e)
		ec := &s.EphemeralContainers[len(s.EphemeralContainers)-1]
		cont := corev1.Container(ec.EphemeralContainerCommon)
		c(&cont)
		ec.EphemeralContainerCommon = corev1.EphemeralContainerCommon(cont)
	}},
}

// secretPlaces are every way a pod can name a Secret: env and envFrom of
// each container kind, volumes, projected volumes, image pull secrets.
func secretPlaces() []place {
	var out []place
	for _, cp := range containerPlaces {
		out = append(out,
			place{cp.name + ".env", func(s *corev1.PodSpec, _ func(*corev1.Container)) {
				cp.put(s, func(c *corev1.Container) {
					c.Env = append(c.Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{
						SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "hidden"}, Key: "k"}}})
				})
			}},
			place{cp.name + ".envFrom", func(s *corev1.PodSpec, _ func(*corev1.Container)) {
				cp.put(s, func(c *corev1.Container) {
					c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "hidden"}}})
				})
			}})
	}
	return append(out,
		place{"volumes.secret", func(s *corev1.PodSpec, _ func(*corev1.Container)) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "hidden"}}})
		}},
		place{"volumes.projected", func(s *corev1.PodSpec, _ func(*corev1.Container)) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "hidden"}}}}}}})
		}},
		place{"imagePullSecrets", func(s *corev1.PodSpec, _ func(*corev1.Container)) {
			s.ImagePullSecrets = append(s.ImagePullSecrets, corev1.LocalObjectReference{Name: "hidden"})
		}},
	)
}

func basePod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{ServiceAccountName: "locked", NodeName: "n1",
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}
}

func podCreate(pod *corev1.Pod, user *authn.User) *admission.Attributes {
	return &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"),
		Kind: corev1.SchemeGroupVersion.WithKind("Pod"), Namespace: pod.Namespace, Name: pod.Name, Object: pod, User: user}
}

// TestEveryPlaceSeenByEveryCheck puts a reference to a Secret in each
// place a pod can hold one, and an image and a privileged setting in each
// container kind, and requires every check that cares to see it: the
// ServiceAccount plugin's mountable secrets, NodeRestriction's mirror
// pods, the Node authorizer's graph, AlwaysPullImages and PodSecurity.
// They all walk pods with internal/podspec; a new place that one check
// saw and another missed would be a way around the second.
func TestEveryPlaceSeenByEveryCheck(t *testing.T) {
	ctx := context.Background()
	d := deps(grants())
	d.ServiceAccount = func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Annotations: map[string]string{"kubernetes.io/enforce-mountable-secrets": "true"}}}, nil
	}
	d.Node = func(_ context.Context, name string) (*corev1.Node, error) {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "n1-uid"}}, nil
	}
	d.Namespace = func(_ context.Context, name string) (*corev1.Namespace, error) {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}}, nil
	}
	build := func(names ...string) *admission.Chain {
		c, err := New(d).Build(names)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	accounts, restriction := build("ServiceAccount"), build("NodeRestriction")
	pulls, security := build("AlwaysPullImages"), build("PodSecurity")
	dev := &authn.User{Name: "dev", Groups: []string{authn.GroupAuthenticated}}
	kubelet := &authn.User{Name: "system:node:n1", Groups: []string{"system:nodes", authn.GroupAuthenticated}}
	yes := true

	for _, p := range secretPlaces() {
		t.Run("secret in "+p.name, func(t *testing.T) {
			pod := basePod()
			p.put(&pod.Spec, nil)
			err := accounts.Validate(ctx, podCreate(pod, dev))
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "hidden") {
				t.Errorf("ServiceAccount (enforce-mountable-secrets): %v", err)
			}
			mirror := pod.DeepCopy()
			mirror.Spec.ServiceAccountName = ""
			mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			mirror.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "n1-uid", Controller: &yes}}
			err = restriction.Validate(ctx, podCreate(mirror, kubelet))
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "reference secrets") {
				t.Errorf("NodeRestriction (mirror pod): %v", err)
			}
			g := node.NewGraph()
			g.SetPod(pod)
			if !g.Reachable("n1", node.KindSecret, "ns", "hidden") {
				t.Error("the Node authorizer's graph does not give n1 the secret")
			}
		})
	}
	for _, cp := range containerPlaces {
		t.Run("image in "+cp.name, func(t *testing.T) {
			pod := basePod()
			var target *corev1.Container
			cp.put(&pod.Spec, func(c *corev1.Container) { c.ImagePullPolicy = corev1.PullNever })
			if err := pulls.Mutate(ctx, podCreate(pod, dev)); err != nil {
				t.Fatal(err)
			}
			for _, c := range allContainers(&pod.Spec) {
				if c.ImagePullPolicy != corev1.PullAlways {
					target = &c
				}
			}
			if target != nil {
				t.Errorf("AlwaysPullImages left %s with %s", target.Name, target.ImagePullPolicy)
			}
		})
		t.Run("privileged in "+cp.name, func(t *testing.T) {
			pod := basePod()
			cp.put(&pod.Spec, func(c *corev1.Container) { c.SecurityContext = &corev1.SecurityContext{Privileged: &yes} })
			a := podCreate(pod, dev)
			if cp.name == "ephemeralContainers" {
				a = &admission.Attributes{Operation: admission.Update, Resource: a.Resource, Kind: a.Kind, Subresource: "ephemeralcontainers",
					Namespace: "ns", Name: "p", Object: pod, OldObject: basePod(), User: dev}
			}
			err := security.Validate(ctx, a)
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "privileged") {
				t.Errorf("PodSecurity (baseline): %v", err)
			}
		})
	}
}

func allContainers(s *corev1.PodSpec) []corev1.Container {
	out := append(append([]corev1.Container{}, s.InitContainers...), s.Containers...)
	for _, e := range s.EphemeralContainers {
		out = append(out, corev1.Container(e.EphemeralContainerCommon))
	}
	return out
}
