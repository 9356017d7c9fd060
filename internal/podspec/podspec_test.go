package podspec

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func ptr[T any](v T) *T { return &v }

// fullPod refers to one object through every place a pod can name one.
func fullPod() *corev1.Pod {
	container := func(prefix string) corev1.Container {
		return corev1.Container{
			Name: prefix,
			Env: []corev1.EnvVar{
				{Name: "A", Value: "plain"},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-env-secret"}}}},
				{Name: "C", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-env-cm"}}}},
				{Name: "D", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			},
			EnvFrom: []corev1.EnvFromSource{
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-envfrom-secret"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: prefix + "-envfrom-cm"}}},
			},
		}
	}
	local := func(name string) *corev1.LocalObjectReference { return &corev1.LocalObjectReference{Name: name} }
	vol := func(name string, src corev1.VolumeSource) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: src}
	}
	return &corev1.Pod{
		Spec: corev1.PodSpec{
			ServiceAccountName: "robot",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
			InitContainers:     []corev1.Container{container("init")},
			Containers:         []corev1.Container{container("main")},
			EphemeralContainers: []corev1.EphemeralContainer{
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon(container("debug"))},
			},
			Volumes: []corev1.Volume{
				vol("s", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}),
				vol("c", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: *local("vol-cm")}}),
				vol("p", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim"}}),
				vol("eph", corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}),
				vol("proj", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: *local("proj-secret")}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: *local("proj-cm")}},
					{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr("bundle")}},
					{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: ptr("example.com/signer")}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				}}}),
				vol("az", corev1.VolumeSource{AzureFile: &corev1.AzureFileVolumeSource{SecretName: "azure"}}),
				vol("ceph", corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{SecretRef: local("ceph")}}),
				vol("cinder", corev1.VolumeSource{Cinder: &corev1.CinderVolumeSource{SecretRef: local("cinder")}}),
				vol("flex", corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{SecretRef: local("flex")}}),
				vol("iscsi", corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{SecretRef: local("iscsi")}}),
				vol("rbd", corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{SecretRef: local("rbd")}}),
				vol("scaleio", corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{SecretRef: local("scaleio")}}),
				vol("storageos", corev1.VolumeSource{StorageOS: &corev1.StorageOSVolumeSource{SecretRef: local("storageos")}}),
				vol("csi", corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{NodePublishSecretRef: local("csi")}}),
				vol("empty", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
			},
			ResourceClaims: []corev1.PodResourceClaim{
				{Name: "gpu", ResourceClaimName: ptr("gpu-claim")},
				{Name: "tmpl", ResourceClaimTemplateName: ptr("gpu-template")},
			},
		},
	}
}

func TestVisitReferences(t *testing.T) {
	pod := fullPod()
	pod.Name = "web"
	var got []string
	if !VisitReferences(pod, func(kind RefKind, name string) bool {
		got = append(got, kind.String()+"/"+name)
		return true
	}) {
		t.Fatal("VisitReferences stopped early")
	}
	want := []string{
		"serviceaccount/robot", "secret/pull",
		"secret/init-env-secret", "configmap/init-env-cm", "secret/init-envfrom-secret", "configmap/init-envfrom-cm",
		"secret/main-env-secret", "configmap/main-env-cm", "secret/main-envfrom-secret", "configmap/main-envfrom-cm",
		"secret/debug-env-secret", "configmap/debug-env-cm", "secret/debug-envfrom-secret", "configmap/debug-envfrom-cm",
		"secret/vol-secret", "configmap/vol-cm", "persistentvolumeclaim/claim", "persistentvolumeclaim/web-eph",
		"secret/proj-secret", "configmap/proj-cm", "clustertrustbundle/bundle", "clustertrustbundle/example.com/signer",
		"secret/azure", "secret/ceph", "secret/cinder", "secret/flex", "secret/iscsi", "secret/rbd", "secret/scaleio",
		"secret/storageos", "secret/csi",
		"resourceclaim/gpu-claim", "resourceclaimtemplate/gpu-template",
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("references:\n got %v\nwant %v", got, want)
	}

	// Stopping early stops the walk.
	n := 0
	if VisitReferences(pod, func(RefKind, string) bool { n++; return n < 3 }) || n != 3 {
		t.Errorf("stop after 3: visited %d", n)
	}
}

func TestVisitContainers(t *testing.T) {
	pod := fullPod()
	var got []string
	VisitContainers(&pod.Spec, field.NewPath("spec"), func(c *corev1.Container, kind ContainerKind, path *field.Path) bool {
		got = append(got, c.Name+"@"+path.String())
		return true
	})
	want := []string{"init@spec.initContainers[0]", "main@spec.containers[0]", "debug@spec.ephemeralContainers[0]"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestEveryContainerListVisited fails when Kubernetes adds a list of
// containers to PodSpec that VisitContainers does not know: every check
// built on the walker would miss it.
func TestEveryContainerListVisited(t *testing.T) {
	known := map[string]bool{"InitContainers": true, "Containers": true, "EphemeralContainers": true}
	containerType := reflect.TypeFor[corev1.Container]()
	ephemeralType := reflect.TypeFor[corev1.EphemeralContainer]()
	st := reflect.TypeFor[corev1.PodSpec]()
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type.Kind() == reflect.Slice && (f.Type.Elem() == containerType || f.Type.Elem() == ephemeralType) && !known[f.Name] {
			t.Errorf("PodSpec.%s holds containers and VisitContainers does not visit it", f.Name)
		}
	}
}

// TestEveryVolumeSourceClassified fails when Kubernetes adds a volume
// source, or a reference to an object in one, that this package has not
// classified: it must then be walked or listed as naming nothing.
func TestEveryVolumeSourceClassified(t *testing.T) {
	walked := map[string]bool{
		"Secret": true, "ConfigMap": true, "PersistentVolumeClaim": true, "Ephemeral": true, "Projected": true,
		"AzureFile": true, "CephFS": true, "Cinder": true, "FlexVolume": true, "ISCSI": true, "RBD": true,
		"ScaleIO": true, "StorageOS": true, "CSI": true,
	}
	namesNothing := map[string]bool{
		"HostPath": true, "EmptyDir": true, "GCEPersistentDisk": true, "AWSElasticBlockStore": true, "GitRepo": true,
		"NFS": true, "Glusterfs": true, "DownwardAPI": true, "FC": true, "Flocker": true, "VsphereVolume": true,
		"Quobyte": true, "AzureDisk": true, "PhotonPersistentDisk": true, "PortworxVolume": true, "Image": true,
	}
	st := reflect.TypeFor[corev1.VolumeSource]()
	for i := range st.NumField() {
		name := st.Field(i).Name
		if !walked[name] && !namesNothing[name] {
			t.Errorf("VolumeSource.%s is not classified: walk its references or list it as naming nothing", name)
		}
	}
	projected := map[string]bool{"Secret": true, "ConfigMap": true, "ClusterTrustBundle": true, "DownwardAPI": false, "ServiceAccountToken": false, "PodCertificate": false}
	pt := reflect.TypeFor[corev1.VolumeProjection]()
	for i := range pt.NumField() {
		if _, ok := projected[pt.Field(i).Name]; !ok {
			t.Errorf("VolumeProjection.%s is not classified", pt.Field(i).Name)
		}
	}
}
