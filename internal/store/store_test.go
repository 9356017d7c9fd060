package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/sekisho/sekisho/internal/catalog"
)

func TestResourceVersionSplice(t *testing.T) {
	res := catalog.Secrets()
	s := &corev1.Secret{TypeMeta: metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"}, Data: map[string][]byte{"k": []byte("v")}}
	data, err := json.Marshal(s) // stored as JSON: before protobuf storage, or a custom resource
	if err != nil {
		t.Fatal(err)
	}
	out := withResourceVersion(res, data, 42)
	var back corev1.Secret
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if back.ResourceVersion != "42" || back.Name != "a" || string(back.Data["k"]) != "v" || back.Kind != "Secret" {
		t.Fatalf("spliced object: %+v", back)
	}
	// Bytes not written by encode fall back to a full decode.
	foreign := []byte(`{"metadata":{"name":"x"},"kind":"Secret","apiVersion":"v1"}`)
	if err := json.Unmarshal(withResourceVersion(res, foreign, 5), &back); err != nil || back.ResourceVersion != "5" {
		t.Fatalf("foreign bytes: %v %+v", err, back)
	}
}

// Built-in types are stored as kube-apiserver stores them in etcd: its
// protobuf serializer is the oracle for the bytes.
func TestStoredAsKubeAPIServerStoresProtobuf(t *testing.T) {
	res := catalog.Secrets()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"l": "1"}}, Data: map[string][]byte{"k": []byte("v")}}
	data, err := encode(res, s)
	if err != nil {
		t.Fatal(err)
	}
	if s.ResourceVersion != "7" {
		t.Fatalf("encode changed the object's resourceVersion to %q", s.ResourceVersion)
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kube := protobuf.NewSerializer(scheme, scheme)
	var want bytes.Buffer
	stored := s.DeepCopy()
	stored.ResourceVersion = "" // kube-apiserver stores no resourceVersion either
	if err := kube.Encode(stored, &want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want.Bytes()) {
		t.Fatalf("stored bytes differ from kube-apiserver's:\n got %q\nwant %q", data, want.Bytes())
	}

	e := newEntry(res, data, 42)
	obj, err := e.Object()
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*corev1.Secret)
	if got.ResourceVersion != "42" || got.Kind != "Secret" || got.APIVersion != "v1" || string(got.Data["k"]) != "v" {
		t.Fatalf("decoded: %+v", got)
	}
	var served corev1.Secret
	if err := json.Unmarshal(e.JSON(), &served); err != nil || served.ResourceVersion != "42" || served.Kind != "Secret" || string(served.Data["k"]) != "v" {
		t.Fatalf("served JSON %s: %v", e.JSON(), err)
	}
	var item bytes.Buffer
	if err := newEntry(res, data, 42).WriteItemJSON(&item); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(item.String(), `{"metadata":{"name":"a"`) || !strings.Contains(item.String(), `"resourceVersion":"42"`) {
		t.Fatalf("list item: %s", item.String())
	}
	if ls, err := newEntry(res, data, 42).labelSet(); err != nil || ls["l"] != "1" {
		t.Fatalf("labels: %v %v", ls, err)
	}
	// What was stored as JSON before is still read.
	old, _ := json.Marshal(&corev1.Secret{TypeMeta: metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	if obj, err := decode(res, old, 3); err != nil || obj.GetName() != "b" || obj.GetResourceVersion() != "3" {
		t.Fatalf("JSON stored before: %v %v", obj, err)
	}
	// Protobuf of another kind is refused, not decoded into the wrong type.
	cm, _ := encode(catalog.ConfigMaps(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}})
	if _, err := decode(res, cm, 3); err == nil || !strings.Contains(err.Error(), "ConfigMap") {
		t.Fatalf("a ConfigMap decoded as a Secret: %v", err)
	}
}

func TestContinueToken(t *testing.T) {
	tok := encodeContinue(17, "/registry/secrets/ns/b", "/registry/secrets/")
	rev, key, err := decodeContinue(tok, "/registry/secrets/")
	if err != nil || rev != 17 || key != "/registry/secrets/ns/b" {
		t.Fatalf("round trip: %d %q %v", rev, key, err)
	}
	for _, bad := range []string{"!!!", "e30", encodeContinue(0, "/registry/secrets/x", "/registry/secrets/")} {
		if _, _, err := decodeContinue(bad, "/registry/secrets/"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestChangesSpecIgnoresMetadataAndStatus(t *testing.T) {
	base := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"a": "1"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "i", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}},
	}
	cases := []struct {
		name   string
		change func(d *appsv1.Deployment)
		want   bool
	}{
		{"labels", func(d *appsv1.Deployment) { d.Labels["b"] = "2" }, false},
		{"status", func(d *appsv1.Deployment) { d.Status.Replicas = 3 }, false},
		{"nil and empty are the same", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Volumes = []corev1.Volume{} }, false},
		{"a quantity written another way", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1000m")
		}, false},
		{"replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32) }, true},
		{"image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "j" }, true},
	}
	for _, c := range cases {
		next := base.DeepCopy()
		c.change(next)
		if got := changesSpec(base, next); got != c.want {
			t.Errorf("%s: changesSpec = %v, want %v", c.name, got, c.want)
		}
	}
}
