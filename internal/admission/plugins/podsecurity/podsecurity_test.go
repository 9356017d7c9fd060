package podsecurity

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/warning"
)

const upDefaults = `{"apiVersion":"pod-security.admission.config.k8s.io/v1","kind":"PodSecurityConfiguration",
"defaults":{"enforce":"baseline","warn":"restricted","audit":"restricted"},"exemptions":{"namespaces":["kube-system"],"usernames":["system:exempt"]}}`

func plugin(t *testing.T, config string, labels map[string]string) *Plugin {
	t.Helper()
	cfg, err := LoadConfiguration([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Readers{
		Namespace: func(_ context.Context, name string) (*corev1.Namespace, error) {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, nil
		},
		Pods: func(context.Context, string) ([]*corev1.Pod, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func privileged() corev1.PodSpec {
	yes := true
	return corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "i", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}},
		Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}}
}

func create(ns, user string, res schema.GroupVersionResource, kind string, obj any) *admission.Attributes {
	a := &admission.Attributes{Operation: admission.Create, Resource: res, Kind: res.GroupVersion().WithKind(kind), Namespace: ns, Name: "x", User: &authn.User{Name: user}}
	switch o := obj.(type) {
	case *corev1.Pod:
		a.Object = o
	case *appsv1.Deployment:
		a.Object = o
	}
	return a
}

func TestEnforcedLevelRefusesNamingEachRule(t *testing.T) {
	p := plugin(t, upDefaults, nil)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team"}, Spec: privileged()}
	err := p.Validate(context.Background(), create("team", "alice", pods, "Pod", pod))
	if !apierrors.IsForbidden(err) {
		t.Fatalf("privileged pod: %v", err)
	}
	for _, want := range []string{`pods "x" is forbidden: violates PodSecurity "baseline:latest"`, "host namespaces (hostNetwork=true)", "hostPath volumes (volume \"root\")", "privileged (container \"c\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	// Exempt namespaces and users pass.
	if err := p.Validate(context.Background(), create("kube-system", "alice", pods, "Pod", pod)); err != nil {
		t.Errorf("kube-system: %v", err)
	}
	if err := p.Validate(context.Background(), create("team", "system:exempt", pods, "Pod", pod)); err != nil {
		t.Errorf("exempt user: %v", err)
	}
	// A namespace label overrides the default.
	if err := plugin(t, upDefaults, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}).Validate(context.Background(), create("team", "alice", pods, "Pod", pod)); err != nil {
		t.Errorf("privileged namespace: %v", err)
	}
}

// A workload's pod template is not refused, only warned about, as in
// Kubernetes: its pods are refused when the controller makes them.
func TestWorkloadsAreWarnedAbout(t *testing.T) {
	p := plugin(t, upDefaults, nil)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: privileged()}}}
	var warnings []string
	ctx := warning.WithWarnings(context.Background(), func(m string) { warnings = append(warnings, m) })
	if err := p.Validate(ctx, create("team", "alice", deployments, "Deployment", d)); err != nil {
		t.Fatalf("deployment: %v", err)
	}
	if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), `would violate PodSecurity "restricted:latest"`) {
		t.Errorf("warnings: %q", warnings)
	}
}

// Unknown levels on a namespace are refused, as kube-apiserver refuses them.
func TestNamespaceLabelsAreValidated(t *testing.T) {
	p := plugin(t, "", nil)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "strictest"}}}
	a := &admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		Kind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Name: "team", Object: ns, User: &authn.User{Name: "alice"}}
	err := p.Validate(context.Background(), a)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "strictest") {
		t.Errorf("bad level: %v", err)
	}
}

// The policy evaluated and the violations of the audit level are recorded
// as the request's audit annotations, under kube-apiserver's names; so is
// an exemption.
func TestViolationsAreAuditAnnotations(t *testing.T) {
	p := plugin(t, upDefaults, nil)
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	ctx, notes := audit.WithAnnotations(context.Background())
	if err := p.Validate(ctx, create("team", "alice", pods, "Pod", plain)); err != nil {
		t.Fatalf("a baseline pod: %v", err)
	}
	got := notes.Map()
	if got["pod-security.kubernetes.io/enforce-policy"] != "baseline:latest" {
		t.Errorf("enforce-policy: %v", got)
	}
	if v := got["pod-security.kubernetes.io/audit-violations"]; !strings.Contains(v, `would violate PodSecurity "restricted:latest"`) || !strings.Contains(v, "runAsNonRoot != true") {
		t.Errorf("audit-violations: %v", got)
	}

	ctx, notes = audit.WithAnnotations(context.Background())
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team"}, Spec: privileged()}
	if err := p.Validate(ctx, create("team", "alice", pods, "Pod", pod)); !apierrors.IsForbidden(err) {
		t.Fatalf("privileged pod: %v", err)
	}
	if got := notes.Map(); got["pod-security.kubernetes.io/enforce-policy"] != "baseline:latest" {
		t.Errorf("a refused pod's annotations: %v", got)
	}

	ctx, notes = audit.WithAnnotations(context.Background())
	if err := p.Validate(ctx, create("kube-system", "alice", pods, "Pod", pod)); err != nil {
		t.Fatalf("kube-system: %v", err)
	}
	if got := notes.Map(); got["pod-security.kubernetes.io/exempt"] != "namespace" {
		t.Errorf("an exempt namespace's annotations: %v", got)
	}
}
