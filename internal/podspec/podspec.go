// Package podspec walks a pod: every container of every kind, and every
// API object the pod refers to. Admission plugins and the Node
// authorizer's graph all use this one walker, so that a field a new
// Kubernetes release adds (a container kind, a volume source) is added
// here once and no check can miss it while another sees it.
package podspec

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ContainerKind says which list of the pod spec a container is in.
type ContainerKind uint8

// Container kinds.
const (
	InitContainer ContainerKind = iota + 1
	Container
	EphemeralContainer
)

// VisitContainers calls visit for every init, regular and ephemeral
// container of spec, in that order, with the container's field path under
// specPath. Ephemeral containers are passed as a Container with the same
// fields. It stops when visit returns false, and reports whether it went
// through every container.
func VisitContainers(spec *corev1.PodSpec, specPath *field.Path, visit func(c *corev1.Container, kind ContainerKind, path *field.Path) bool) bool {
	for i := range spec.InitContainers {
		if !visit(&spec.InitContainers[i], InitContainer, specPath.Child("initContainers").Index(i)) {
			return false
		}
	}
	for i := range spec.Containers {
		if !visit(&spec.Containers[i], Container, specPath.Child("containers").Index(i)) {
			return false
		}
	}
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		if !visit(c, EphemeralContainer, specPath.Child("ephemeralContainers").Index(i)) {
			return false
		}
	}
	return true
}

// RefKind is the kind of an object a pod refers to.
type RefKind uint8

// The kinds of objects a pod can refer to.
const (
	RefSecret RefKind = iota + 1
	RefConfigMap
	RefPersistentVolumeClaim
	RefServiceAccount
	RefResourceClaim
	RefResourceClaimTemplate
	RefClusterTrustBundle
)

var refKindNames = [...]string{
	RefSecret:                "secret",
	RefConfigMap:             "configmap",
	RefPersistentVolumeClaim: "persistentvolumeclaim",
	RefServiceAccount:        "serviceaccount",
	RefResourceClaim:         "resourceclaim",
	RefResourceClaimTemplate: "resourceclaimtemplate",
	RefClusterTrustBundle:    "clustertrustbundle",
}

func (k RefKind) String() string {
	if int(k) < len(refKindNames) && refKindNames[k] != "" {
		return refKindNames[k]
	}
	return "unknown"
}

// VisitReferences calls visit for every object pod refers to by name:
// its service account (when named), image pull secrets, the secrets and
// configmaps of env and envFrom in every container, and the objects of
// every volume source (secrets of the storage plugins, claims, generic
// ephemeral volumes' claims, projected sources), and its resource claims.
// A ClusterTrustBundle chosen by signer is reported by its signer name.
// Names may repeat. It stops when visit returns false, and reports
// whether it went through every reference.
func VisitReferences(pod *corev1.Pod, visit func(kind RefKind, name string) bool) bool {
	spec := &pod.Spec
	emit := func(kind RefKind, name string) bool {
		return name == "" || visit(kind, name)
	}
	if !emit(RefServiceAccount, spec.ServiceAccountName) {
		return false
	}
	for _, s := range spec.ImagePullSecrets {
		if !emit(RefSecret, s.Name) {
			return false
		}
	}
	ok := VisitContainers(spec, field.NewPath("spec"), func(c *corev1.Container, _ ContainerKind, _ *field.Path) bool {
		for i := range c.EnvFrom {
			e := &c.EnvFrom[i]
			if e.SecretRef != nil && !emit(RefSecret, e.SecretRef.Name) {
				return false
			}
			if e.ConfigMapRef != nil && !emit(RefConfigMap, e.ConfigMapRef.Name) {
				return false
			}
		}
		for i := range c.Env {
			from := c.Env[i].ValueFrom
			if from == nil {
				continue
			}
			if from.SecretKeyRef != nil && !emit(RefSecret, from.SecretKeyRef.Name) {
				return false
			}
			if from.ConfigMapKeyRef != nil && !emit(RefConfigMap, from.ConfigMapKeyRef.Name) {
				return false
			}
		}
		return true
	})
	if !ok {
		return false
	}
	for i := range spec.Volumes {
		if !visitVolume(pod, &spec.Volumes[i], emit) {
			return false
		}
	}
	for _, rc := range spec.ResourceClaims {
		if rc.ResourceClaimName != nil && !emit(RefResourceClaim, *rc.ResourceClaimName) {
			return false
		}
		if rc.ResourceClaimTemplateName != nil && !emit(RefResourceClaimTemplate, *rc.ResourceClaimTemplateName) {
			return false
		}
	}
	return true
}

func visitVolume(pod *corev1.Pod, v *corev1.Volume, emit func(RefKind, string) bool) bool {
	local := func(r *corev1.LocalObjectReference) bool {
		return r == nil || emit(RefSecret, r.Name)
	}
	switch {
	case v.Secret != nil:
		return emit(RefSecret, v.Secret.SecretName)
	case v.ConfigMap != nil:
		return emit(RefConfigMap, v.ConfigMap.Name)
	case v.PersistentVolumeClaim != nil:
		return emit(RefPersistentVolumeClaim, v.PersistentVolumeClaim.ClaimName)
	case v.Ephemeral != nil:
		// A generic ephemeral volume's claim is named after the pod and
		// the volume.
		return emit(RefPersistentVolumeClaim, pod.Name+"-"+v.Name)
	case v.Projected != nil:
		for j := range v.Projected.Sources {
			src := &v.Projected.Sources[j]
			if src.Secret != nil && !emit(RefSecret, src.Secret.Name) {
				return false
			}
			if src.ConfigMap != nil && !emit(RefConfigMap, src.ConfigMap.Name) {
				return false
			}
			if b := src.ClusterTrustBundle; b != nil {
				name := ""
				switch {
				case b.Name != nil && *b.Name != "":
					name = *b.Name
				case b.SignerName != nil && *b.SignerName != "":
					name = *b.SignerName
				default:
					name = "*"
				}
				if !emit(RefClusterTrustBundle, name) {
					return false
				}
			}
		}
		return true
	case v.AzureFile != nil:
		return emit(RefSecret, v.AzureFile.SecretName)
	case v.CephFS != nil:
		return local(v.CephFS.SecretRef)
	case v.Cinder != nil:
		return local(v.Cinder.SecretRef)
	case v.FlexVolume != nil:
		return local(v.FlexVolume.SecretRef)
	case v.ISCSI != nil:
		return local(v.ISCSI.SecretRef)
	case v.RBD != nil:
		return local(v.RBD.SecretRef)
	case v.ScaleIO != nil:
		return local(v.ScaleIO.SecretRef)
	case v.StorageOS != nil:
		return local(v.StorageOS.SecretRef)
	case v.CSI != nil:
		return local(v.CSI.NodePublishSecretRef)
	}
	return true
}
