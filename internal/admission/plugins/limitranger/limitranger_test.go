package limitranger

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

var (
	podsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	podKind   = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	claimsGVR = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	claimKind = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
)

func list(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func plugin(items ...corev1.LimitRangeItem) *Plugin {
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "team"}, Spec: corev1.LimitRangeSpec{Limits: items}}
	return &Plugin{LimitRanges: func(_ context.Context, ns string) ([]*corev1.LimitRange, error) {
		if ns != "team" {
			return nil, nil
		}
		return []*corev1.LimitRange{lr}, nil
	}}
}

func podAttrs(op admission.Operation, sub string, pod, old *corev1.Pod) *admission.Attributes {
	a := &admission.Attributes{Operation: op, Resource: podsGVR, Kind: podKind, Subresource: sub, Namespace: "team", Name: pod.Name, Object: pod}
	if old != nil {
		a.OldObject = old
	}
	return a
}

func pod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team"}, Spec: corev1.PodSpec{Containers: containers}}
}

func TestDefaultsAreSetAndRecorded(t *testing.T) {
	p := plugin(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer,
		Default: list("cpu", "500m", "memory", "256Mi"), DefaultRequest: list("cpu", "100m", "memory", "128Mi")})
	pd := pod(corev1.Container{Name: "app", Resources: corev1.ResourceRequirements{Limits: list("memory", "1Gi")}})
	pd.Spec.InitContainers = []corev1.Container{{Name: "setup"}}
	if err := p.Admit(context.Background(), podAttrs(admission.Create, "", pd, nil)); err != nil {
		t.Fatal(err)
	}
	app := pd.Spec.Containers[0].Resources
	if app.Limits.Memory().String() != "1Gi" || app.Limits.Cpu().String() != "500m" || app.Requests.Cpu().String() != "100m" || app.Requests.Memory().String() != "128Mi" {
		t.Errorf("app: %+v", app)
	}
	want := "LimitRanger plugin set: cpu, memory request for container app; cpu limit for container app; cpu, memory request for init container setup; cpu, memory limit for init container setup"
	if got := pd.Annotations[Annotation]; got != want {
		t.Errorf("annotation %q\nwant       %q", got, want)
	}
	// Another namespace has no LimitRange: nothing changes.
	other := pod(corev1.Container{Name: "app"})
	a := podAttrs(admission.Create, "", other, nil)
	a.Namespace = "elsewhere"
	if err := p.Admit(context.Background(), a); err != nil || other.Spec.Containers[0].Resources.Limits != nil || other.Annotations != nil {
		t.Errorf("other namespace: %v %+v", err, other)
	}
}

func TestPodsOutsideTheLimitsAreRefused(t *testing.T) {
	p := plugin(
		corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("memory", "256Mi"), Min: list("cpu", "50m"), MaxLimitRequestRatio: list("cpu", "4")},
		corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: list("cpu", "2")},
	)
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
		want string // "" admits
	}{
		{"within", pod(corev1.Container{Name: "a", Resources: corev1.ResourceRequirements{
			Requests: list("cpu", "100m", "memory", "100Mi"), Limits: list("cpu", "400m", "memory", "200Mi")}}), ""},
		{"too much memory", pod(corev1.Container{Name: "a", Resources: corev1.ResourceRequirements{
			Requests: list("cpu", "100m"), Limits: list("cpu", "100m", "memory", "4Gi")}}),
			`pods "p" is forbidden: maximum memory usage per Container is 256Mi, but limit is 4Gi`},
		{"no limit", pod(corev1.Container{Name: "a", Resources: corev1.ResourceRequirements{Requests: list("cpu", "100m"), Limits: list("cpu", "100m")}}),
			"maximum memory usage per Container is 256Mi.  No limit is specified"},
		{"ratio and minimum together", pod(corev1.Container{Name: "a", Resources: corev1.ResourceRequirements{
			Requests: list("cpu", "10m"), Limits: list("cpu", "1", "memory", "100Mi")}}),
			"[minimum cpu usage per Container is 50m, but request is 10m, cpu max limit to request ratio per Container is 4, but provided ratio is 100.000000]"},
		{"pod total", pod(
			corev1.Container{Name: "a", Resources: corev1.ResourceRequirements{Requests: list("cpu", "1"), Limits: list("cpu", "1500m", "memory", "1Mi")}},
			corev1.Container{Name: "b", Resources: corev1.ResourceRequirements{Requests: list("cpu", "1"), Limits: list("cpu", "1500m", "memory", "1Mi")}}),
			"maximum cpu usage per Pod is 2, but limit is 3"},
	} {
		err := p.Validate(context.Background(), podAttrs(admission.Create, "", c.pod, nil))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v\nwant %s", c.name, err, c.want)
		}
	}
}

// Ordinary pod updates, other subresources and objects being deleted are
// not looked at; a resize is.
func TestWhichWritesAreChecked(t *testing.T) {
	p := plugin(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("memory", "256Mi")})
	big := pod(corev1.Container{Name: "a", Resources: corev1.ResourceRequirements{Limits: list("memory", "1Gi")}})
	gone := big.DeepCopy()
	gone.DeletionTimestamp = &metav1.Time{}
	for _, c := range []struct {
		name string
		a    *admission.Attributes
		want bool
	}{
		{"update", podAttrs(admission.Update, "", big, big), false},
		{"status", podAttrs(admission.Update, "status", big, big), false},
		{"resize", podAttrs(admission.Update, "resize", big, big), true},
		{"being deleted", podAttrs(admission.Create, "", big, gone), false},
	} {
		if err := p.Validate(context.Background(), c.a); (err != nil) != c.want {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestClaims(t *testing.T) {
	p := plugin(corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: list("storage", "1Gi"), Max: list("storage", "10Gi")})
	claim := func(size string) *admission.Attributes {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: list("storage", size)}}}
		return &admission.Attributes{Operation: admission.Create, Resource: claimsGVR, Kind: claimKind, Namespace: "team", Name: "data", Object: c}
	}
	if err := p.Validate(context.Background(), claim("5Gi")); err != nil {
		t.Error(err)
	}
	if err := p.Validate(context.Background(), claim("20Gi")); err == nil || !strings.Contains(err.Error(),
		`persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`) {
		t.Errorf("too big: %v", err)
	}
	if err := p.Validate(context.Background(), claim("500Mi")); err == nil || !strings.Contains(err.Error(), "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi") {
		t.Errorf("too small: %v", err)
	}
}

// A LimitRange that cannot be read refuses the write: admission fails closed.
func TestUnreadableLimitRangesRefuse(t *testing.T) {
	p := &Plugin{LimitRanges: func(context.Context, string) ([]*corev1.LimitRange, error) { return nil, errors.New("disk on fire") }}
	err := p.Validate(context.Background(), podAttrs(admission.Create, "", pod(corev1.Container{Name: "a"}), nil))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "there was an error enforcing limit ranges") || strings.Contains(err.Error(), "disk") {
		t.Errorf("%v", err)
	}
}
