package fieldmanager

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
)

// BenchmarkCreate records the ownership of a new ConfigMap, as every
// create does.
func BenchmarkCreate(b *testing.B) {
	f := Shared()
	res := catalog.ConfigMaps()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}, Data: map[string]string{"k": "value"}}
	for b.Loop() {
		f.Update(res, "", res.New(), cm.DeepCopy(), "loadgen")
	}
}
