package defaultstorageclass

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

func TestAdmit(t *testing.T) {
	at := func(s int64) metav1.Time { return metav1.NewTime(time.Unix(s, 0)) }
	sc := func(name string, created int64, isDefault bool) *storagev1.StorageClass {
		c := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: at(created)}}
		if isDefault {
			c.Annotations = map[string]string{defaultAnnotation: "true"}
		}
		return c
	}
	claims := corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")
	admit := func(list []*storagev1.StorageClass, claim *corev1.PersistentVolumeClaim) *string {
		p := &Plugin{Classes: func(context.Context) ([]*storagev1.StorageClass, error) { return list, nil }}
		if err := p.Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: claims, Object: claim}); err != nil {
			t.Fatal(err)
		}
		return claim.Spec.StorageClassName
	}
	empty := ""
	for _, c := range []struct {
		what  string
		list  []*storagev1.StorageClass
		claim *corev1.PersistentVolumeClaim
		want  string
	}{
		{"no default", []*storagev1.StorageClass{sc("a", 1, false)}, &corev1.PersistentVolumeClaim{}, "<nil>"},
		{"one default", []*storagev1.StorageClass{sc("a", 1, false), sc("b", 1, true)}, &corev1.PersistentVolumeClaim{}, "b"},
		{"the newest default", []*storagev1.StorageClass{sc("old", 1, true), sc("new", 2, true)}, &corev1.PersistentVolumeClaim{}, "new"},
		{"same instant, by name", []*storagev1.StorageClass{sc("y", 2, true), sc("x", 2, true)}, &corev1.PersistentVolumeClaim{}, "x"},
		{"explicitly none", []*storagev1.StorageClass{sc("b", 1, true)}, &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &empty}}, ""},
		{"beta annotation", []*storagev1.StorageClass{sc("b", 1, true)}, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{betaClassAnnotation: "z"}}}, "<nil>"},
	} {
		got := "<nil>"
		if name := admit(c.list, c.claim); name != nil {
			got = *name
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
	}
}
