package denyserviceexternalips

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
)

func TestNewExternalIPsAreDenied(t *testing.T) {
	services := schema.GroupVersionResource{Version: "v1", Resource: "services"}
	svc := func(ips ...string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{ExternalIPs: ips}}
	}
	for _, c := range []struct {
		name     string
		op       admission.Operation
		obj, old *corev1.Service
		denied   bool
	}{
		{"create without", admission.Create, svc(), nil, false},
		{"create with", admission.Create, svc("203.0.113.7"), nil, true},
		{"update keeping", admission.Update, svc("203.0.113.7"), svc("203.0.113.7", "203.0.113.8"), false},
		{"update adding", admission.Update, svc("203.0.113.7", "203.0.113.9"), svc("203.0.113.7"), true},
	} {
		a := &admission.Attributes{Operation: c.op, Resource: services, Name: "web", Object: c.obj}
		if c.old != nil {
			a.OldObject = c.old
		}
		err := (Plugin{}).Validate(context.Background(), a)
		if c.denied != (err != nil) || (err != nil && (!apierrors.IsForbidden(err) || err.Error() != `services "web" is forbidden: Use of external IPs is denied by admission control`)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
