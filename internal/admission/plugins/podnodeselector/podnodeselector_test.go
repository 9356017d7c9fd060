package podnodeselector

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

func TestNamespaceSelectorsPinPods(t *testing.T) {
	selectors, err := ParseConfiguration([]byte(`{"podNodeSelectorPluginConfig":{"clusterDefaultNodeSelector":"zone=a","listed":"team=red,disk=ssd"}}`))
	if err != nil {
		t.Fatal(err)
	}
	annotations := map[string]map[string]string{
		"red":    {Annotation: "team=red"},
		"listed": {Annotation: "team=red"},
		"open":   {Annotation: ""},
		"plain":  nil,
	}
	p := &Plugin{Selectors: selectors, Namespace: func(_ context.Context, name string) (*corev1.Namespace, error) {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations[name]}}, nil
	}}
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	run := func(ns string, sel map[string]string) (map[string]string, error) {
		pd := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: corev1.PodSpec{NodeSelector: sel}}
		err := p.Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: pods, Namespace: ns, Name: "p", Object: pd})
		return pd.Spec.NodeSelector, err
	}
	for _, c := range []struct {
		ns   string
		sel  map[string]string
		want string // the resulting selector, or the refusal
	}{
		{"red", nil, "map[team:red]"},
		{"red", map[string]string{"disk": "ssd"}, "map[disk:ssd team:red]"},
		{"red", map[string]string{"team": "blue"}, `pods "p" is forbidden: pod node label selector conflicts with its namespace node label selector`},
		{"plain", nil, "map[zone:a]"},
		{"open", nil, "map[]"},
		{"listed", map[string]string{"disk": "ssd"}, "map[disk:ssd team:red]"},
		{"listed", map[string]string{"disk": "hdd"}, "pod node label selector labels conflict with its namespace whitelist"},
	} {
		got, err := run(c.ns, c.sel)
		if err != nil {
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %v: %v, want %s", c.ns, c.sel, err, c.want)
			}
			continue
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("%s %v: selector %s, want %s", c.ns, c.sel, s, c.want)
		}
	}
	if _, err := ParseConfiguration([]byte(`{"podNodeSelectorPluginConfig":{"x":"a b c"}}`)); err == nil || !strings.Contains(err.Error(), "podNodeSelectorPluginConfig.x") {
		t.Errorf("bad selector in the configuration: %v", err)
	}
}
