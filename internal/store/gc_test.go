package store

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
)

func TestGCFinalizers(t *testing.T) {
	orphan, fore, back := metav1.DeletePropagationOrphan, metav1.DeletePropagationForeground, metav1.DeletePropagationBackground
	yes := true
	plain, orphaning := &catalog.Resource{}, &catalog.Resource{OrphanByDefault: true}
	for _, c := range []struct {
		r        *catalog.Resource
		existing []string
		o        DeleteOptions
		want     string
	}{
		{plain, nil, DeleteOptions{}, "[] false"},
		{orphaning, nil, DeleteOptions{}, "[orphan] true"},
		{orphaning, nil, DeleteOptions{Propagation: &back}, "[] false"},
		{plain, nil, DeleteOptions{Propagation: &orphan}, "[orphan] true"},
		{plain, nil, DeleteOptions{Propagation: &fore}, "[foregroundDeletion] true"},
		{plain, nil, DeleteOptions{OrphanDependents: &yes}, "[orphan] true"},
		{plain, []string{"x"}, DeleteOptions{Propagation: &fore}, "[x foregroundDeletion] true"},
		{plain, []string{"orphan"}, DeleteOptions{Propagation: &fore}, "[foregroundDeletion] true"},
		{plain, []string{"orphan"}, DeleteOptions{}, "[orphan] false"},
		{orphaning, []string{"foregroundDeletion"}, DeleteOptions{}, "[foregroundDeletion] false"},
	} {
		obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Finalizers: c.existing}}
		got, changed := gcFinalizers(c.r, obj, c.o)
		if s := fmt.Sprintf("%v %v", got, changed); s != c.want {
			t.Errorf("orphanByDefault=%v %v %+v: got %s, want %s", c.r.OrphanByDefault, c.existing, c.o, s, c.want)
		}
	}
}
