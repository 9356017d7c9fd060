package catalog

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBuiltinRegistry(t *testing.T) {
	r := Builtin()
	virtual, computed := 0, 0
	for _, res := range r.Resources() {
		if res.Virtual {
			virtual++
		}
		if res.Computed {
			computed++
		}
	}
	if len(r.Resources()) != 72 || virtual != 9 || computed != 1 {
		t.Errorf("%d resources, %d of them virtual and %d computed; want 72, 9 and 1", len(r.Resources()), virtual, computed)
	}
	gvs := r.GroupVersions()
	if gvs[0].String() != "v1" {
		t.Errorf("core group not first: %v", gvs)
	}
	for _, res := range r.Resources() {
		table := res.TableFor()
		cells := table.Cells(res.New(), time.Now())
		if len(cells) != len(table.Columns) {
			t.Errorf("%s: %d cells for %d columns", res.Name, len(cells), len(table.Columns))
		}
		for _, c := range table.Columns {
			if c.Description == "" {
				t.Errorf("%s: column %s has no description", res.Name, c.Name)
			}
		}
	}
	if _, err := New(Secrets(), Secrets()); err == nil {
		t.Error("duplicate resources accepted")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-5 * time.Second:               "<invalid>",
		90 * time.Second:               "90s",
		5*time.Minute + 12*time.Second: "5m12s",
		150 * time.Minute:              "150m",
		3*time.Hour + 20*time.Minute:   "3h20m",
		30 * time.Hour:                 "30h",
		3*24*time.Hour + 4*time.Hour:   "3d4h",
		100 * 24 * time.Hour:           "100d",
		(3*365 + 45) * 24 * time.Hour:  "3y45d",
		10 * 365 * 24 * time.Hour:      "10y",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestPodTableCells(t *testing.T) {
	now := time.Now()
	started := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: metav1.NewTime(now.Add(-2 * time.Minute))},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
		Status: corev1.PodStatus{
			Phase:  corev1.PodRunning,
			PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", Ready: true, Started: &started, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "b", RestartCount: 3, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(-30 * time.Second))}}},
			},
		},
	}
	cells := podCells(pod, now)
	want := []any{"web", "1/2", "CrashLoopBackOff", "3 (30s ago)", "2m", "10.0.0.5", "n1", "<none>", "<none>"}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("cell %d = %v, want %v", i, cells[i], want[i])
		}
	}
	pod.DeletionTimestamp = &metav1.Time{Time: now}
	if got := podCells(pod, now)[2]; got != "Terminating" {
		t.Errorf("deleting pod status %v", got)
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	cases := []struct {
		res  *Resource
		obj  Object
		want string
	}{
		{Pods(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "d"}}, "spec.containers"},
		{Pods(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "d"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}, "spec.containers[0].image"},
		{Services(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 70000}}}}, "spec.ports[0].port"},
		{Secrets(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "d"}, Type: corev1.SecretTypeTLS}, "data[tls.crt]"},
		{ConfigMaps(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "d"}, Data: map[string]string{"a b": "x"}}, "data[a b]"},
	}
	for _, c := range cases {
		if c.res.Default != nil {
			c.res.Default(c.obj)
		}
		if c.res.PrepareForCreate != nil {
			c.res.PrepareForCreate(context.Background(), c.obj)
		}
		errs := append(c.res.ValidateMeta(c.obj), c.res.Validate(c.obj)...)
		if !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("%s: %v, want an error at %s", c.res.Name, errs, c.want)
		}
	}
}

// TestMirrorPods: the mirror annotation can be neither added nor removed,
// since the Node authorizer and NodeRestriction treat mirror pods apart.
// (The ServiceAccount admission plugin keeps accounts off mirror pods.)
func TestMirrorPods(t *testing.T) {
	res := Pods()
	mirror := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "m", Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "h"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}}}
	res.Default(mirror)
	res.PrepareForCreate(context.Background(), mirror)
	regular := mirror.DeepCopy()
	regular.Annotations = nil
	res.PrepareForCreate(context.Background(), regular)
	for _, c := range []struct {
		name     string
		obj, old map[string]string
		want     string
	}{
		{"remove", nil, map[string]string{corev1.MirrorPodAnnotationKey: "h"}, "may not remove or update mirror pod annotation"},
		{"change", map[string]string{corev1.MirrorPodAnnotationKey: "x"}, map[string]string{corev1.MirrorPodAnnotationKey: "h"}, "may not remove or update"},
		{"add", map[string]string{corev1.MirrorPodAnnotationKey: "h"}, nil, "may not add mirror pod annotation"},
		{"keep", map[string]string{corev1.MirrorPodAnnotationKey: "h", "a": "b"}, map[string]string{corev1.MirrorPodAnnotationKey: "h"}, ""},
	} {
		obj, old := regular.DeepCopy(), regular.DeepCopy()
		obj.Annotations, old.Annotations = c.obj, c.old
		errs := res.ValidateUpdate(obj, old)
		got := errs.ToAggregate()
		switch {
		case c.want == "" && got != nil:
			t.Errorf("%s: %v", c.name, got)
		case c.want != "" && (got == nil || !strings.Contains(got.Error(), c.want) || !strings.Contains(got.Error(), "metadata.annotations[kubernetes.io/config.mirror]")):
			t.Errorf("%s: %v, want %q", c.name, got, c.want)
		}
	}
}

// TestDeprecationWarnings checks the warnings against kube-apiserver
// v1.37's: only core/v1 Endpoints and ComponentStatus of what it serves are
// deprecated by then.
func TestDeprecationWarnings(t *testing.T) {
	want := map[string]string{
		"endpoints":         "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
		"componentstatuses": "v1 ComponentStatus is deprecated in v1.19+",
	}
	for _, res := range Builtin().Resources() {
		got := res.DeprecationWarning()
		if res.GroupVersion.Group != "" {
			if got != "" {
				t.Errorf("%s: unexpected warning %q", res.GroupVersionResource(), got)
			}
			continue
		}
		if got != want[res.Name] {
			t.Errorf("%s: warning %q, want %q", res.Name, got, want[res.Name])
		}
	}
}
