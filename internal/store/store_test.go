package store

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
)

func TestResourceVersionSplice(t *testing.T) {
	res := catalog.Secrets()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "7"}, Data: map[string][]byte{"k": []byte("v")}}
	data, err := encode(res, s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "resourceVersion") {
		t.Fatalf("stored bytes carry a resourceVersion: %s", data)
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
