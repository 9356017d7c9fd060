package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const appliedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ssa
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`

type managedEntry struct {
	Manager, Operation, APIVersion, Subresource string
	FieldsV1                                    map[string]any
}

func managedFieldsOf(t *testing.T, s *server, args ...string) map[string]managedEntry {
	t.Helper()
	var obj struct {
		Metadata struct{ ManagedFields []managedEntry }
	}
	out := s.mustKubectl(append(args, "-o", "json", "--show-managed-fields")...)
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := map[string]managedEntry{}
	for _, e := range obj.Metadata.ManagedFields {
		m[e.Manager+"/"+e.Operation+"/"+e.Subresource] = e
	}
	return m
}

// TestServerSideApply drives server-side apply with real kubectl and
// client-go: create and update by apply, managedFields per manager, a
// conflict that names the field and its manager, --force-conflicts,
// kubectl diff --server-side, the upgrade from client-side apply, and
// client-go's typed Apply.
func TestServerSideApply(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	s.mustKubectl("create", "ns", "ssa")
	manifest := writeManifest(t, appliedDeployment)

	if out := s.mustKubectl("apply", "--server-side", "-f", manifest); !strings.Contains(out, "deployment.apps/web serverside-applied") {
		t.Fatalf("first apply: %s", out)
	}
	owners := managedFieldsOf(t, s, "-n", "ssa", "get", "deploy", "web")
	applied, ok := owners["kubectl/Apply/"]
	if !ok || applied.APIVersion != "apps/v1" {
		t.Fatalf("managedFields after apply: %+v", owners)
	}
	spec, _ := applied.FieldsV1["f:spec"].(map[string]any)
	if _, ok := spec["f:replicas"]; !ok {
		t.Errorf("kubectl does not own spec.replicas: %v", applied.FieldsV1)
	}
	// Defaults are not the applier's: it did not send them.
	if _, ok := spec["f:revisionHistoryLimit"]; ok {
		t.Errorf("the applier owns a defaulted field: %v", applied.FieldsV1)
	}
	if got := s.mustKubectl("-n", "ssa", "get", "deploy", "web", "-o", "jsonpath={.spec.revisionHistoryLimit}"); got != "10" {
		t.Errorf("revisionHistoryLimit after apply: %q", got)
	}

	// Another manager takes spec.replicas with an update; applying a
	// different value conflicts, naming the field and the manager.
	s.mustKubectl("-n", "ssa", "patch", "deploy", "web", "--field-manager=autoscaler", "--type=merge", "-p", `{"spec":{"replicas":5}}`)
	if _, ok := managedFieldsOf(t, s, "-n", "ssa", "get", "deploy", "web")["autoscaler/Update/"]; !ok {
		t.Errorf("the patch's manager is not recorded")
	}
	os.WriteFile(manifest, []byte(strings.Replace(appliedDeployment, "replicas: 2", "replicas: 3", 1)), 0o644)
	r := s.kubectl("apply", "--server-side", "-f", manifest)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, `conflict with "autoscaler"`) || !strings.Contains(r.stdout+r.stderr, ".spec.replicas") {
		t.Fatalf("conflicting apply: code %d: %s", r.code, r.stdout+r.stderr)
	}
	if got := s.mustKubectl("-n", "ssa", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); got != "5" {
		t.Errorf("a refused apply changed replicas to %s", got)
	}

	// kubectl diff --server-side shows the change and makes none.
	os.WriteFile(manifest, []byte(strings.Replace(appliedDeployment, "nginx:1.27", "nginx:1.28", 1)), 0o644)
	d := s.kubectl("diff", "--server-side", "--force-conflicts", "-f", manifest)
	if d.code != 1 || !regexp.MustCompile(`(?m)^\+\s+- image: nginx:1\.28$`).MatchString(d.stdout) || !regexp.MustCompile(`(?m)^-\s+- image: nginx:1\.27$`).MatchString(d.stdout) {
		t.Errorf("kubectl diff --server-side: code %d: %s", d.code, d.stdout+d.stderr)
	}
	if got := s.mustKubectl("-n", "ssa", "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != "nginx:1.27" {
		t.Errorf("diff changed the image to %s", got)
	}

	// Forcing takes the field over.
	os.WriteFile(manifest, []byte(strings.Replace(appliedDeployment, "replicas: 2", "replicas: 3", 1)), 0o644)
	s.mustKubectl("apply", "--server-side", "--force-conflicts", "-f", manifest)
	if got := s.mustKubectl("-n", "ssa", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Errorf("replicas after a forced apply: %s", got)
	}
	if e, ok := managedFieldsOf(t, s, "-n", "ssa", "get", "deploy", "web")["autoscaler/Update/"]; ok && strings.Contains(mustJSON(t, e.FieldsV1), "f:replicas") {
		t.Errorf("autoscaler still owns replicas: %v", e.FieldsV1)
	}

	// An object made by client-side apply moves to server-side apply
	// without conflicts: its last-applied configuration says whose fields
	// are whose.
	csa := writeManifest(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ssa}\ndata: {mode: fast, level: \"3\"}\n")
	s.mustKubectl("apply", "-f", csa)
	os.WriteFile(csa, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ssa}\ndata: {mode: slow, level: \"3\"}\n"), 0o644)
	if out := s.mustKubectl("apply", "--server-side", "-f", csa); !strings.Contains(out, "serverside-applied") {
		t.Errorf("server-side apply after client-side apply: %s", out)
	}
	if got := s.mustKubectl("-n", "ssa", "get", "cm", "settings", "-o", "jsonpath={.data.mode}"); got != "slow" {
		t.Errorf("mode after the upgrade: %s", got)
	}

	// client-go's typed Apply, and extracting what a manager applied.
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ac := appsv1ac.Deployment("api", "ssa").
		WithLabels(map[string]string{"app": "api"}).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(1).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "api"})).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(map[string]string{"app": "api"}).
				WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("api").WithImage("busybox:1.36")))))
	got, err := cs.AppsV1().Deployments("ssa").Apply(ctx, ac, metav1.ApplyOptions{FieldManager: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 1 || got.Spec.Template.Spec.Containers[0].ImagePullPolicy != "IfNotPresent" {
		t.Errorf("typed apply: %+v", got.Spec)
	}
	extracted, err := appsv1ac.ExtractDeployment(got, "operator")
	if err != nil {
		t.Fatal(err)
	}
	if extracted.Spec == nil || extracted.Spec.Replicas == nil || *extracted.Spec.Replicas != 1 || extracted.Spec.RevisionHistoryLimit != nil {
		t.Errorf("what operator applied: %+v", extracted.Spec)
	}
	// Applying the same configuration again changes nothing.
	again, err := cs.AppsV1().Deployments("ssa").Apply(ctx, ac, metav1.ApplyOptions{FieldManager: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != got.ResourceVersion {
		t.Errorf("a repeated apply wrote a new revision: %s, then %s", got.ResourceVersion, again.ResourceVersion)
	}

	// An apply must name its manager, and force belongs to applies only.
	c := s.client(true)
	resp, body := s.send(t, c, http.MethodPatch, "/api/v1/namespaces/ssa/configmaps/x", "application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\n", nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "fieldManager: Required value: is required for apply patch") {
		t.Errorf("apply without a manager: %d %s", resp.StatusCode, body)
	}
	resp, body = s.send(t, c, http.MethodPatch, "/api/v1/namespaces/ssa/configmaps/settings?force=true", "application/merge-patch+json", "{}", nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "force: Forbidden: may not be specified for non-apply patch") {
		t.Errorf("merge patch with force: %d %s", resp.StatusCode, body)
	}
	// A status applied through /status is owned there.
	resp, body = s.send(t, c, http.MethodPatch, "/apis/apps/v1/namespaces/ssa/deployments/api/status?fieldManager=rollout", "application/apply-patch+yaml",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: ssa}\nstatus: {observedGeneration: 1, replicas: 1}\n", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"manager":"rollout","operation":"Apply","apiVersion":"apps/v1"`) || !strings.Contains(body, `"subresource":"status"`) {
		t.Errorf("apply to /status: %d %s", resp.StatusCode, body)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
