package kubeproto

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The envelope is written by hand; runtime.Unknown's generated code is
// the oracle for its bytes, at sizes whose lengths take one to three bytes.
func TestEnvelopeMatchesGeneratedCode(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		raw := bytes.Repeat([]byte{0xa5}, n)
		u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, Raw: raw}
		body, err := u.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte("k8s\x00"), body...)
		got := Wrap(gvk, raw)
		if !bytes.Equal(got, want) {
			t.Fatalf("envelope of %d bytes:\n got %x\nwant %x", n, got[:min(len(got), 48)], want[:min(len(want), 48)])
		}
		if cap(got) != len(got) {
			t.Errorf("envelope of %d bytes: buffer of %d, %d used", n, cap(got), len(got))
		}
		back, err := Unwrap(got)
		if err != nil || !bytes.Equal(back.Raw, raw) || back.Kind != "Deployment" || back.APIVersion != "apps/v1" {
			t.Fatalf("unwrap of %d bytes: %v %+v", n, err, back.TypeMeta)
		}
	}
	if _, err := Unwrap([]byte(`{"kind":"Pod"}`)); err != ErrNoMagic {
		t.Errorf("JSON unwrapped: %v", err)
	}
}

// An object written in place equals its Marshal in the envelope.
func TestEncodeInPlace(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "n"}, Data: map[string]string{"k": string(bytes.Repeat([]byte("v"), 200))}}
	got, err := Encode(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, cm)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cm.Marshal()
	want := Wrap(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, raw)
	if !bytes.Equal(got, want) || cap(got) != len(got) {
		t.Fatalf("in place:\n got %x\nwant %x", got, want)
	}
	if _, err := Encode(schema.GroupVersionKind{Kind: "X"}, struct{}{}); err == nil {
		t.Error("a value without protobuf code was encoded")
	}
}
