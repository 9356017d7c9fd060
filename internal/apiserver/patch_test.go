package apiserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
)

// wholeStrategicPatch is how a strategic merge patch was applied before
// strategicPatchFields: the whole object as a map, patched, decoded.
func wholeStrategicPatch(t bodyType, res *catalog.Resource, view any, patch []byte, directive string) (catalog.Object, []string, error) {
	m, err := strategicPatchMap(patch)
	if err != nil {
		return nil, nil, err
	}
	return strategicPatchWhole(t, res, view, m, directive)
}

func runningPod() *corev1.Pod {
	created := metav1.NewTime(time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC))
	yes := true
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-1", Namespace: "default", UID: "0f267768-aad7-424d-a53d-d0bfe61b9814", ResourceVersion: "42",
			CreationTimestamp: created, Labels: map[string]string{"app": "web", "pod-template-hash": "795568db48"},
			Annotations:     map[string]string{"note": "x"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-795568db48", UID: "1", Controller: &yes}},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate,
				APIVersion: "v1", Time: &created, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:app":{}}}}`)}}},
		},
		Spec: corev1.PodSpec{
			NodeName: "hollow-3",
			Containers: []corev1.Container{
				{Name: "web", Image: "registry.k8s.io/pause:3.10", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
				{Name: "sidecar", Image: "busybox", Env: []corev1.EnvVar{{Name: "A", Value: "1"}}},
			},
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute"}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: created},
			},
			QOSClass: corev1.PodQOSBurstable,
		},
	}
}

func webDeployment() *appsv1.Deployment {
	replicas := int32(3)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}, Generation: 2},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}},
			},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3},
	}
}

// TestStrategicPatchByFieldIsWholePatch applies each patch both ways, to
// the named fields and to the whole object, and wants the same object,
// the same warnings and the same error.
func TestStrategicPatchByFieldIsWholePatch(t *testing.T) {
	pods, deployments := catalog.Pods(), catalog.Deployments()
	kubeletStatus := `{"metadata":{"uid":"0f267768-aad7-424d-a53d-d0bfe61b9814"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],` +
		`"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2026-11-29T04:00:01Z","status":"True","type":"PodReadyToStartContainers"},{"lastProbeTime":null,"lastTransitionTime":"2026-11-29T04:00:01Z","status":"True","type":"Initialized"},` +
		`{"lastProbeTime":null,"lastTransitionTime":"2026-11-29T04:00:02Z","status":"True","type":"Ready"},{"lastProbeTime":null,"lastTransitionTime":"2026-11-29T04:00:02Z","status":"True","type":"ContainersReady"}],` +
		`"containerStatuses":[{"containerID":"docker://1","image":"registry.k8s.io/pause:3.10","imageID":"","lastState":{},"name":"web","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2026-11-29T04:00:01Z"}}}],` +
		`"hostIP":"10.0.0.3","hostIPs":[{"ip":"10.0.0.3"}],"phase":"Running","podIP":"10.244.3.7","podIPs":[{"ip":"10.244.3.7"}],"startTime":"2026-11-29T04:00:00Z"}}`
	for _, c := range []struct {
		name      string
		res       *catalog.Resource
		obj       catalog.Object
		patch     string
		directive string
	}{
		{"a kubelet's status patch", pods, runningPod(), kubeletStatus, ""},
		{"labels", pods, runningPod(), `{"metadata":{"labels":{"team":"a","app":null}}}`, ""},
		{"a container's image by merge key", pods, runningPod(), `{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}`, ""},
		{"a container deleted", pods, runningPod(), `{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}`, ""},
		{"element order", pods, runningPod(), `{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}],"containers":[{"name":"web","image":"x"}]}}`, ""},
		{"retain keys", deployments, webDeployment(), `{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}`, ""},
		{"status removed", deployments, webDeployment(), `{"status":null}`, ""},
		{"spec and status", deployments, webDeployment(), `{"spec":{"replicas":5},"status":{"replicas":5}}`, ""},
		{"kind and apiVersion kept", deployments, webDeployment(), `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"paused":true}}`, ""},
		{"another kind", deployments, webDeployment(), `{"kind":"StatefulSet","spec":{"paused":true}}`, ""},
		{"an unknown nested field, strict", pods, runningPod(), `{"status":{"bogus":1}}`, "Strict"},
		{"an unknown nested field, warned", pods, runningPod(), `{"status":{"bogus":1}}`, "Warn"},
		{"an unknown nested field, ignored", pods, runningPod(), `{"status":{"bogus":1}}`, "Ignore"},
		{"an unknown top-level field", pods, runningPod(), `{"bogus":{"a":1},"status":{"phase":"Failed"}}`, "Warn"},
		{"a top-level directive", pods, runningPod(), `{"$patch":"replace","metadata":{"name":"web-1"}}`, ""},
		{"a wrong type", pods, runningPod(), `{"status":{"phase":7}}`, ""},
		{"a bad directive", pods, runningPod(), `{"spec":{"containers":[{"name":"web","$patch":"explode"}]}}`, ""},
		{"not an object", pods, runningPod(), `[1]`, ""},
		{"nothing", pods, runningPod(), `{}`, ""},
		{"the namespace", pods, runningPod(), `{"metadata":{"namespace":"other"}}`, ""},
		{"an unknown field in metadata", pods, runningPod(), `{"metadata":{"bogus":1,"labels":{"a":"b"}}}`, "Warn"},
		{"a directive in metadata", pods, runningPod(), `{"metadata":{"$patch":"replace","name":"web-1"}}`, ""},
		{"labels removed", pods, runningPod(), `{"metadata":{"labels":null}}`, ""},
		{"a time removed", pods, runningPod(), `{"metadata":{"creationTimestamp":null}}`, ""},
		{"a time set", pods, runningPod(), `{"status":{"startTime":"2026-11-29T05:00:00Z"}}`, ""},
		{"a bad time", pods, runningPod(), `{"status":{"startTime":"yesterday"}}`, ""},
		{"owner references by uid", pods, runningPod(), `{"metadata":{"ownerReferences":[{"uid":"2","apiVersion":"v1","kind":"Node","name":"n"}]}}`, ""},
		{"metadata replaced by a string", pods, runningPod(), `{"metadata":"x"}`, ""},
		{"a template's container", deployments, webDeployment(), `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}`, ""},
		{"a selector", deployments, webDeployment(), `{"spec":{"selector":{"matchLabels":{"x":"y"}}}}`, ""},
		{"replicas removed", deployments, webDeployment(), `{"spec":{"replicas":null}}`, ""},
		{"a template replaced", deployments, webDeployment(), `{"spec":{"template":{"$patch":"replace","spec":{"containers":[{"name":"a","image":"b"}]}}}}`, ""},
		{"a quantity", pods, runningPod(), `{"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"250m"}}}]}}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			bt := bodyTypeOf(c.res)
			// As read from storage: decoded, not built in Go (which can
			// hold what no decoder makes, such as a Quantity's unparsed
			// form).
			data, err := json.Marshal(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			stored := bt.New()
			if err := json.Unmarshal(data, stored); err != nil {
				t.Fatal(err)
			}
			c.obj = stored
			want, wantWarnings, wantErr := wholeStrategicPatch(bt, c.res, c.obj.DeepCopyObject(), []byte(c.patch), c.directive)
			got, gotWarnings, gotErr := strategicPatchObject(bt, c.res, c.obj.DeepCopyObject(), []byte(c.patch), c.directive)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("error: by field %v\nwhole object %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(gotWarnings, wantWarnings) {
				t.Errorf("warnings: by field %q\nwhole object %q", gotWarnings, wantWarnings)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if !reflect.DeepEqual(got, want) || string(g) != string(w) {
				t.Errorf("by field:\n%s\nwhole object:\n%s", g, w)
			}
		})
	}
}

// BenchmarkKubeletStatusPatch is a hollow kubelet's status patch of a
// running pod, by field and over the whole object.
func BenchmarkKubeletStatusPatch(b *testing.B) {
	res := catalog.Pods()
	bt := bodyTypeOf(res)
	patch := []byte(`{"metadata":{"uid":"0f267768-aad7-424d-a53d-d0bfe61b9814"},"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2026-11-29T04:00:02Z","status":"True","type":"Ready"}],"phase":"Running","podIP":"10.244.3.7"}}`)
	pod := runningPod()
	for _, v := range []struct {
		name  string
		apply func(bodyType, *catalog.Resource, any, []byte, string) (catalog.Object, []string, error)
	}{{"by-field", strategicPatchObject}, {"whole", wholeStrategicPatch}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := v.apply(bt, res, pod.DeepCopy(), patch, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzStrategicPatchByField is TestStrategicPatchByFieldIsWholePatch for
// any patch of a running pod.
func FuzzStrategicPatchByField(f *testing.F) {
	f.Add([]byte(`{"metadata":{"uid":"1"},"status":{"$setElementOrder/conditions":[{"type":"Ready"}],"conditions":[{"type":"Ready","status":"True"}]}}`), uint8(0))
	f.Add([]byte(`{"metadata":{"labels":{"a":null}},"spec":{"containers":[{"name":"web","$patch":"delete"}]}}`), uint8(1))
	f.Add([]byte(`{"spec":{"$retainKeys":["nodeName"],"nodeName":"x"}}`), uint8(2))
	f.Add([]byte(`{"status":{"containerStatuses":[{"name":"web","state":{"running":{"startedAt":"2026-11-29T04:00:01Z"}}}]}}`), uint8(0))
	res := catalog.Pods()
	bt := bodyTypeOf(res)
	data, err := json.Marshal(runningPod())
	if err != nil {
		f.Fatal(err)
	}
	directives := []string{"", "Strict", "Warn", "Ignore"}
	f.Fuzz(func(t *testing.T, patch []byte, directive uint8) {
		fresh := func() *corev1.Pod {
			var p corev1.Pod
			if err := json.Unmarshal(data, &p); err != nil {
				t.Fatal(err)
			}
			return &p
		}
		d := directives[int(directive)%len(directives)]
		want, wantWarnings, wantErr := wholeStrategicPatch(bt, res, fresh(), patch, d)
		got, gotWarnings, gotErr := strategicPatchObject(bt, res, fresh(), patch, d)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("error: by field %v\nwhole object %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(gotWarnings, wantWarnings) {
			t.Fatalf("warnings: by field %q\nwhole object %q", gotWarnings, wantWarnings)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("by field:\n%s\nwhole object:\n%s", g, w)
		}
	})
}
