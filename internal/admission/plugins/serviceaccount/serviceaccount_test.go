package serviceaccount

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

func plugin(accounts ...*corev1.ServiceAccount) *Plugin {
	return &Plugin{Wait: 50 * time.Millisecond, Get: func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		for _, sa := range accounts {
			if sa.Namespace == ns && sa.Name == name {
				return sa, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
	}}
}

func create(p *Plugin, pod *corev1.Pod) error {
	a := &admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: "ns", Name: pod.Name, Object: pod}
	if err := p.Admit(context.Background(), a); err != nil {
		return err
	}
	return p.Validate(context.Background(), a)
}

func newPod(mutate func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "a"}, {Name: "b", VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: MountPath}}}},
		Volumes:        []corev1.Volume{{Name: "own"}},
	}}
	if mutate != nil {
		mutate(pod)
	}
	return pod
}

func TestAdmit(t *testing.T) {
	no := false
	def := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
	quiet := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "quiet", Namespace: "ns"}, AutomountServiceAccountToken: &no}
	p := plugin(def, quiet)

	pod := newPod(nil)
	if err := create(p, pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("account %q/%q", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount)
	}
	if len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("pull secrets %v", pod.Spec.ImagePullSecrets)
	}
	if len(pod.Spec.Volumes) != 2 || !strings.HasPrefix(pod.Spec.Volumes[1].Name, VolumePrefix) || len(pod.Spec.Volumes[1].Name) != len(VolumePrefix)+5 {
		t.Fatalf("volumes %+v", pod.Spec.Volumes)
	}
	v := pod.Spec.Volumes[1].Projected
	if v == nil || len(v.Sources) != 3 || *v.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 || v.Sources[1].ConfigMap.Name != "kube-root-ca.crt" ||
		v.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" || *v.DefaultMode != 0o644 {
		t.Errorf("token volume %+v", v)
	}
	// Containers with their own mount at the path keep it.
	name := pod.Spec.Volumes[1].Name
	if m := pod.Spec.InitContainers[0].VolumeMounts; len(m) != 1 || m[0].Name != name || !m[0].ReadOnly || m[0].MountPath != MountPath {
		t.Errorf("init container mounts %+v", m)
	}
	if m := pod.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0].Name != name {
		t.Errorf("container a mounts %+v", m)
	}
	if m := pod.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "own" {
		t.Errorf("container b mounts %+v", m)
	}

	// The pod's choice wins over its account's, which wins over the default.
	for _, c := range []struct {
		what    string
		account string
		pod     *bool
		volumes int
	}{
		{"account opts out", "quiet", nil, 1},
		{"pod opts out", "default", &no, 1},
	} {
		pod := newPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName, p.Spec.AutomountServiceAccountToken = c.account, c.pod })
		if err := create(p, pod); err != nil || len(pod.Spec.Volumes) != c.volumes {
			t.Errorf("%s: %v, volumes %+v", c.what, err, pod.Spec.Volumes)
		}
	}

	// A missing account is refused with kube-apiserver's message.
	err := create(p, newPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "nobody" }))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `error looking up service account ns/nobody: serviceaccount "nobody" not found`) {
		t.Errorf("missing account: %v", err)
	}
	// A missing default account is waited for, then refused.
	start := time.Now()
	if err := create(plugin(), newPod(nil)); !apierrors.IsForbidden(err) || time.Since(start) < 50*time.Millisecond {
		t.Errorf("missing default account: %v after %v", err, time.Since(start))
	}
}

func TestMirrorPods(t *testing.T) {
	p := plugin(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"}})
	mirror := func(mutate func(*corev1.Pod)) *corev1.Pod {
		return newPod(func(pod *corev1.Pod) {
			pod.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			if mutate != nil {
				mutate(pod)
			}
		})
	}
	pod := mirror(nil)
	if err := create(p, pod); err != nil || pod.Spec.ServiceAccountName != "" || len(pod.Spec.Volumes) != 1 {
		t.Errorf("mirror pod: %v %q %+v", err, pod.Spec.ServiceAccountName, pod.Spec.Volumes)
	}
	for what, m := range map[string]func(*corev1.Pod){
		"may not reference service accounts": func(p *corev1.Pod) { p.Spec.ServiceAccountName = "default" },
		"may not reference secrets":          func(p *corev1.Pod) { p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "s"}} },
		"may not use ServiceAccountToken volume projections": func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Projected: TokenVolume()}}}
		},
	} {
		if err := create(p, mirror(m)); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

// An account annotated kubernetes.io/enforce-mountable-secrets=true
// limits its pods to the secrets it lists, wherever the pod names one
// (CVE-2023-2728, CVE-2024-3177): each place below is refused alone.
func TestMountableSecretsAreEnforcedEverywhere(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited", Namespace: "ns", Annotations: map[string]string{EnforceMountableSecretsAnnotation: "true"}},
		Secrets: []corev1.ObjectReference{{Name: "allowed"}}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	p := plugin(sa)
	secretEnv := []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}, Key: "k"}}}}
	secretFrom := []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}}
	for what, c := range map[string]struct {
		change func(*corev1.Pod)
		want   string
	}{
		"secret volume": {func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "other"}}})
		}, `volume with secret.secretName="other" is not allowed because service account limited does not reference that secret`},
		"projected secret": {func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}}}}})
		}, `projected volume proj with secret.name="other"`},
		"init container env":  {func(p *corev1.Pod) { p.Spec.InitContainers[0].Env = secretEnv }, `init container init with envVar X referencing secret.secretName="other"`},
		"init container from": {func(p *corev1.Pod) { p.Spec.InitContainers[0].EnvFrom = secretFrom }, `init container init with envFrom referencing secret.secretName="other"`},
		"container env":       {func(p *corev1.Pod) { p.Spec.Containers[1].Env = secretEnv }, `container b with envVar X referencing`},
		"container from":      {func(p *corev1.Pod) { p.Spec.Containers[0].EnvFrom = secretFrom }, `container a with envFrom referencing`},
		"pull secret": {func(p *corev1.Pod) {
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}, {Name: "other"}}
		},
			`imagePullSecrets[1].name="other" is not allowed because service account limited does not reference that imagePullSecret`},
	} {
		pod := newPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "limited"; c.change(p) })
		if err := create(p, pod); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %s", what, err, c.want)
		}
	}
	// What the account lists is fine, and so is anything without the annotation.
	ok := newPod(func(p *corev1.Pod) {
		p.Spec.ServiceAccountName = "limited"
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "allowed"}}}}
	})
	if err := create(p, ok); err != nil {
		t.Errorf("listed secret: %v", err)
	}
	open := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "open", Namespace: "ns"}}
	if err := create(plugin(open), newPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "open"; p.Spec.Containers[0].EnvFrom = secretFrom })); err != nil {
		t.Errorf("no annotation: %v", err)
	}
	// An ephemeral container added later is held to the same list.
	running := newPod(func(p *corev1.Pod) {
		p.Spec.ServiceAccountName = "limited"
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", EnvFrom: secretFrom}}}
	})
	a := &admission.Attributes{Operation: admission.Update, Resource: pods, Subresource: "ephemeralcontainers", Namespace: "ns", Name: "p", Object: running, OldObject: newPod(nil)}
	if err := p.Validate(context.Background(), a); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `ephemeral container debug with envFrom referencing secret.secretName="other"`) {
		t.Errorf("ephemeral container: %v", err)
	}
}
