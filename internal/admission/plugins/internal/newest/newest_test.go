package newest

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefault(t *testing.T) {
	at := func(name string, sec int64, def bool) *metav1.ObjectMeta {
		m := &metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(sec, 0))}
		if def {
			m.Labels = map[string]string{"default": "true"}
		}
		return m
	}
	isDefault := func(m *metav1.ObjectMeta) bool { return m.Labels["default"] == "true" }
	for _, c := range []struct {
		items []*metav1.ObjectMeta
		want  string
	}{
		{nil, ""},
		{[]*metav1.ObjectMeta{at("a", 1, false)}, ""},
		{[]*metav1.ObjectMeta{at("old", 1, true), at("new", 2, true), at("newer-not-default", 3, false)}, "new"},
		{[]*metav1.ObjectMeta{at("b", 2, true), at("a", 2, true), at("c", 1, true)}, "a"},
	} {
		if got := Default(c.items, isDefault); got != c.want {
			t.Errorf("%d items: %q, want %q", len(c.items), got, c.want)
		}
	}
}
