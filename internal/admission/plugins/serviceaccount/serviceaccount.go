// Package serviceaccount is kube-apiserver's ServiceAccount admission
// plugin. A new pod runs as a service account that must exist ("default"
// unless it names one); unless it or its account opts out, every container
// mounts a projected volume with a bound token for that account, the
// cluster's CA and the namespace, at the path client libraries read; and a
// pod without image pull secrets gets its account's. Mirror pods may
// reference no account, no secret and no token.
package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/podspec"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "ServiceAccount"

const (
	// DefaultAccount is the account of a pod that names none.
	DefaultAccount = "default"
	// MountPath is where containers find the token, CA and namespace.
	MountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// VolumePrefix begins the name of the projected token volume.
	VolumePrefix = "kube-api-access-"
	// TokenSeconds is the lifetime the volume asks for its token: an
	// hour and seven seconds, which kube-apiserver recognises as the
	// default and may extend.
	TokenSeconds int64 = 3607
)

// Plugin is the ServiceAccount admission plugin.
type Plugin struct {
	// Get reads a service account; a NotFound error means none.
	Get func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	// Wait is how long the default account may take to appear in a
	// new namespace (the controller makes it); zero means 1 s.
	Wait time.Duration
}

var (
	_ admission.Mutator   = (*Plugin)(nil)
	_ admission.Validator = (*Plugin)(nil)
)

var pods = corev1.SchemeGroupVersion.WithResource("pods")

func podOf(a *admission.Attributes) (*corev1.Pod, bool) {
	pod, ok := a.Object.(*corev1.Pod)
	return pod, ok && a.Resource == pods && a.Subresource == "" && a.Operation == admission.Create
}

// Admit implements admission.Mutator.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	pod, ok := podOf(a)
	if !ok || isMirror(pod) {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultAccount
		pod.Spec.DeprecatedServiceAccount = DefaultAccount
	}
	sa, err := p.account(ctx, a.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if automount(sa, pod) {
		mountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 {
		for _, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
		}
	}
	return nil
}

// Validate implements admission.Validator: the account still exists, a
// mirror pod references none of what only the API server may hand out,
// and an account annotated kubernetes.io/enforce-mountable-secrets=true
// lets its pods reach only the secrets it lists, including through
// ephemeral containers added later.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	pod, isPod := a.Object.(*corev1.Pod)
	addsEphemeral := isPod && a.Resource == pods && a.Subresource == "ephemeralcontainers"
	if _, ok := podOf(a); !ok && !addsEphemeral {
		return nil
	}
	if !addsEphemeral && isMirror(pod) {
		return mirrorRefusal(a, pod)
	}
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.Namespace, pod.Name))
	}
	sa, err := p.account(ctx, a.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if v, ok := sa.Annotations[EnforceMountableSecretsAnnotation]; ok {
		if enforce, _ := strconv.ParseBool(v); enforce {
			if err := mountableOnly(sa, pod, addsEphemeral); err != nil {
				return admission.NewForbidden(a, err)
			}
		}
	}
	return nil
}

// EnforceMountableSecretsAnnotation on a service account limits its pods
// to the secrets it lists.
const EnforceMountableSecretsAnnotation = "kubernetes.io/enforce-mountable-secrets"

// mountableOnly refuses a pod that reaches a secret its account does not
// list: through a secret volume or a projected volume's secret source,
// env or envFrom of any container (init, regular, ephemeral, through the
// shared walker, so that no container kind is missed), or an image pull
// secret. With ephemeralOnly, only ephemeral containers are looked at:
// the rest was checked when the pod was made. Kubernetes does not look at
// projected volumes; sekisho does (docs/compatibility.md).
func mountableOnly(sa *corev1.ServiceAccount, pod *corev1.Pod, ephemeralOnly bool) error {
	listed := map[string]bool{}
	for _, s := range sa.Secrets {
		listed[s.Name] = true
	}
	refuse := func(what, name string) error {
		return fmt.Errorf("%s referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", what, name, sa.Name)
	}
	if !ephemeralOnly {
		for _, v := range pod.Spec.Volumes {
			if v.Secret != nil && !listed[v.Secret.SecretName] {
				return fmt.Errorf("volume with secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", v.Secret.SecretName, sa.Name)
			}
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.Secret != nil && !listed[src.Secret.Name] {
						return fmt.Errorf("projected volume %s with secret.name=\"%s\" is not allowed because service account %s does not reference that secret", v.Name, src.Secret.Name, sa.Name)
					}
				}
			}
		}
	}
	var err error
	podspec.VisitContainers(&pod.Spec, field.NewPath("spec"), func(c *corev1.Container, kind podspec.ContainerKind, _ *field.Path) bool {
		if ephemeralOnly && kind != podspec.EphemeralContainer {
			return true
		}
		what := map[podspec.ContainerKind]string{podspec.InitContainer: "init container", podspec.Container: "container", podspec.EphemeralContainer: "ephemeral container"}[kind]
		for _, env := range c.Env {
			if ref := env.ValueFrom; ref != nil && ref.SecretKeyRef != nil && !listed[ref.SecretKeyRef.Name] {
				err = refuse(fmt.Sprintf("%s %s with envVar %s", what, c.Name, env.Name), ref.SecretKeyRef.Name)
				return false
			}
		}
		for _, from := range c.EnvFrom {
			if from.SecretRef != nil && !listed[from.SecretRef.Name] {
				err = refuse(fmt.Sprintf("%s %s with envFrom", what, c.Name), from.SecretRef.Name)
				return false
			}
		}
		return true
	})
	if err != nil || ephemeralOnly {
		return err
	}
	pullable := map[string]bool{}
	for _, s := range sa.ImagePullSecrets {
		pullable[s.Name] = true
	}
	for i, ref := range pod.Spec.ImagePullSecrets {
		if !pullable[ref.Name] {
			return fmt.Errorf(`imagePullSecrets[%d].name="%s" is not allowed because service account %s does not reference that imagePullSecret`, i, ref.Name, sa.Name)
		}
	}
	return nil
}

// account reads a service account. The default account of a namespace
// made a moment ago may not exist yet: it is waited for, briefly, as
// kube-apiserver retries it.
func (p *Plugin) account(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	wait := p.Wait
	if wait == 0 {
		wait = time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		sa, err := p.Get(ctx, namespace, name)
		if err == nil || !apierrors.IsNotFound(err) || name != DefaultAccount || time.Now().After(deadline) {
			if apierrors.IsNotFound(err) {
				return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
			}
			return sa, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(50+rand.IntN(50)) * time.Millisecond):
		}
	}
}

func isMirror(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

func mirrorRefusal(a *admission.Attributes, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return admission.NewForbidden(a, errors.New("a mirror pod may not reference service accounts"))
	}
	secrets := false
	podspec.VisitReferences(pod, func(kind podspec.RefKind, _ string) bool {
		secrets = secrets || kind == podspec.RefSecret
		return !secrets
	})
	if secrets {
		return admission.NewForbidden(a, errors.New("a mirror pod may not reference secrets"))
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				return admission.NewForbidden(a, errors.New("a mirror pod may not use ServiceAccountToken volume projections"))
			}
		}
	}
	return nil
}

// automount is the pod's choice, else its account's, else yes.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken mounts the token volume in every container and init
// container that has nothing at MountPath, adding the volume when one
// does and the pod has none yet.
func mountToken(pod *corev1.Pod) {
	name := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, VolumePrefix) {
			name = v.Name
			break
		}
	}
	hadVolume := name != ""
	if !hadVolume {
		name = VolumePrefix + utilrand.String(5)
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: MountPath}
	needed := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if !mountsAt(list[i].VolumeMounts, MountPath) {
				list[i].VolumeMounts = append(list[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if needed && !hadVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: TokenVolume()}})
	}
}

func mountsAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// TokenVolume is the projected volume source of a pod's token: a bound
// token, the cluster's CA from kube-root-ca.crt, and the namespace.
func TokenVolume() *corev1.ProjectedVolumeSource {
	mode := corev1.ProjectedVolumeSourceDefaultMode
	seconds := TokenSeconds
	return &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &seconds}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}
}
