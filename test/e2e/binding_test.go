package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestPodBinding assigns pods to nodes the way kube-scheduler does, through
// pods/binding and the older bindings resource, and checks what
// kube-apiserver refuses: a second binding, a node name set by update, a
// binding naming another pod, a target that is not a node, a stale UID.
func TestPodBinding(t *testing.T) {
	s := startServer(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods := client.CoreV1().Pods("default")
	newPod := func(name string) *corev1.Pod {
		t.Helper()
		p, err := pods.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			Status:     corev1.PodStatus{NominatedNodeName: "ignored"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	bind := func(name, node string, meta metav1.ObjectMeta, opts metav1.CreateOptions) error {
		meta.Name = name
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: meta, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, opts)
	}

	web := newPod("web")
	// A dry run binds nothing.
	if err := bind("web", "node-a", metav1.ObjectMeta{}, metav1.CreateOptions{DryRun: []string{"All"}}); err != nil {
		t.Fatalf("dry-run bind: %v", err)
	}
	if p, _ := pods.Get(ctx, "web", metav1.GetOptions{}); p.Spec.NodeName != "" {
		t.Fatalf("dry run bound the pod to %q", p.Spec.NodeName)
	}
	// A node name is not set by update.
	web.Spec.NodeName = "node-a"
	if _, err := pods.Update(ctx, web, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("update setting spec.nodeName: %v, want 422", err)
	}
	// A stale UID precondition is a conflict.
	if err := bind("web", "node-a", metav1.ObjectMeta{UID: "not-the-uid"}, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("bind with a wrong UID: %v, want 409", err)
	}
	if err := bind("web", "node-a", metav1.ObjectMeta{UID: web.UID, Annotations: map[string]string{"scheduled-by": "test"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	p, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := false
	for _, c := range p.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero())
	}
	if p.Spec.NodeName != "node-a" || p.Annotations["scheduled-by"] != "test" || !scheduled {
		t.Errorf("bound pod: node %q, annotations %v, conditions %+v", p.Spec.NodeName, p.Annotations, p.Status.Conditions)
	}
	err = bind("web", "node-b", metav1.ObjectMeta{}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `already assigned to node "node-a"`) {
		t.Errorf("second bind: %v, want 409 naming node-a", err)
	}

	// The bindings resource binds the pod its body names.
	newPod("api")
	if err := client.CoreV1().RESTClient().Post().Namespace("default").Resource("bindings").
		Body(&corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Target: corev1.ObjectReference{Name: "node-b"}}).
		Do(ctx).Error(); err != nil {
		t.Fatalf("POST bindings: %v", err)
	}
	if p, _ := pods.Get(ctx, "api", metav1.GetOptions{}); p.Spec.NodeName != "node-b" {
		t.Errorf("bindings: pod on %q, want node-b", p.Spec.NodeName)
	}

	newPod("db")
	code, body := s.do("POST", "/api/v1/namespaces/default/pods/db/binding", "application/json", strings.NewReader(`{"metadata":{"name":"web"},"target":{"name":"node-a"}}`))
	if code != 400 || !strings.Contains(body, "name in URL does not match name in Binding object") {
		t.Errorf("binding naming another pod: %d %s", code, body)
	}
	code, body = s.do("POST", "/api/v1/namespaces/default/pods/db/binding", "application/json", strings.NewReader(`{"metadata":{"name":"db"},"target":{"kind":"Service","name":"x"}}`))
	if code != 422 || !strings.Contains(body, "target.kind") {
		t.Errorf("binding to a Service: %d %s", code, body)
	}
	code, body = s.do("POST", "/api/v1/namespaces/default/pods/nope/binding", "application/json", strings.NewReader(`{"metadata":{"name":"nope"},"target":{"name":"node-a"}}`))
	if code != 404 {
		t.Errorf("binding a missing pod: %d %s", code, body)
	}
}
