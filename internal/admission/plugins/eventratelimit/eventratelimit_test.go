package eventratelimit

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
)

func event(ns, user string) *admission.Attributes {
	return &admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "events"},
		Kind: schema.GroupVersionKind{Version: "v1", Kind: "Event"}, Namespace: ns, User: &authn.User{Name: user},
		Object: &corev1.Event{Source: corev1.EventSource{Component: "kubelet"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: ns}}}
}

func TestNamespaceBurstIsEnforced(t *testing.T) {
	limits, err := ParseConfiguration([]byte(`{"apiVersion":"eventratelimit.admission.k8s.io/v1alpha1","kind":"Configuration","limits":[{"type":"Namespace","qps":1,"burst":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := New(limits)
	ctx := context.Background()
	for i := range 2 {
		if err := p.Validate(ctx, event("a", "u")); err != nil {
			t.Fatalf("event %d within the burst: %v", i, err)
		}
	}
	err = p.Validate(ctx, event("a", "u"))
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "limit reached on type Namespace for key a") {
		t.Errorf("over the burst: %v", err)
	}
	if err := p.Validate(ctx, event("b", "u")); err != nil {
		t.Errorf("another namespace has its own bucket: %v", err)
	}
	dry := event("a", "u")
	dry.DryRun = true
	if err := p.Validate(ctx, dry); err != nil {
		t.Errorf("a dry run takes nothing: %v", err)
	}
	other := event("a", "u")
	other.Kind = schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"}
	if err := p.Validate(ctx, other); err != nil {
		t.Errorf("events.k8s.io is not limited, as in kube-apiserver: %v", err)
	}
}

func TestEveryLimitIsChecked(t *testing.T) {
	p := New([]Limit{{Type: Server, QPS: 100, Burst: 100}, {Type: User, QPS: 1, Burst: 1}, {Type: SourceAndObject, QPS: 1, Burst: 1}})
	ctx := context.Background()
	if err := p.Validate(ctx, event("a", "alice")); err != nil {
		t.Fatal(err)
	}
	err := p.Validate(ctx, event("a", "alice"))
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "type User for key alice") || !strings.Contains(err.Error(), "type SourceAndObject for key kubeletPodap") {
		t.Errorf("second event: %v", err)
	}
}

func TestConfigurationIsChecked(t *testing.T) {
	for body, want := range map[string]string{
		``: "limits: Invalid value: null: must not be empty",
		`{"apiVersion":"eventratelimit.admission.k8s.io/v1alpha1","kind":"Configuration","limits":[{"type":"Pod","qps":0,"burst":1}]}`:  `limits[0].type: Unsupported value: "Pod"`,
		`{"apiVersion":"eventratelimit.admission.k8s.io/v1alpha1","kind":"Configuration","limits":[{"type":"User","qps":1,"burst":0}]}`: "limits[0].burst: Invalid value: 0: must be positive",
		`{"apiVersion":"v1","kind":"ConfigMap"}`: "want an eventratelimit.admission.k8s.io/v1alpha1 Configuration",
	} {
		if _, err := ParseConfiguration([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}
