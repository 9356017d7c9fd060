package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// createNamespace creates a namespace and waits for its default service
// account, which a controller makes, as a user would before making pods.
func (s *server) createNamespace(t *testing.T, name string) {
	t.Helper()
	s.mustKubectl("create", "namespace", name)
	if !waitFor(func() bool { return s.kubectl("-n", name, "get", "sa", "default").code == 0 }) {
		t.Fatalf("no default service account in %s", name)
	}
}

// waitQuotaUsed waits until the quota's status.used holds want for a
// resource, as printed by kubectl's jsonpath.
func (s *server) waitQuotaUsed(t *testing.T, ns, name, res, want string) {
	t.Helper()
	var got string
	if !waitFor(func() bool {
		got = s.kubectl("-n", ns, "get", "resourcequota", name, "-o", "jsonpath={.status.used."+strings.ReplaceAll(res, ".", `\.`)+"}").stdout
		return got == want
	}) {
		t.Fatalf("quota %s/%s: used %s is %q, want %q", ns, name, res, got, want)
	}
}

// The quota case, with kubectl: a quota of pods=1, then two
// pods: the second is refused with Kubernetes' message. Deleting the
// first releases its share; a dry run is checked but charges nothing.
func TestResourceQuotaWithKubectl(t *testing.T) {
	s := startServer(t)
	s.createNamespace(t, "team")
	s.mustKubectl("-n", "team", "create", "quota", "pods", "--hard=pods=1")
	s.waitQuotaUsed(t, "team", "pods", "pods", "0")

	run := func(name string, extra ...string) result {
		return s.kubectl(append([]string{"-n", "team", "run", name, "--image=registry.k8s.io/pause:3.10", "--restart=Never"}, extra...)...)
	}
	if r := run("dry", "--dry-run=server"); r.code != 0 {
		t.Fatalf("dry run: %s", r.stderr)
	}
	s.waitQuotaUsed(t, "team", "pods", "pods", "0")
	if r := run("one"); r.code != 0 {
		t.Fatalf("first pod: %s", r.stderr)
	}
	if got := s.mustKubectl("-n", "team", "get", "quota", "pods", "-o", "jsonpath={.status.used.pods}"); got != "1" {
		t.Errorf("used after the first pod (charged with it, not later): %q", got)
	}
	r := run("two")
	want := `pods "two" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("second pod: %d %s, want %s", r.code, r.stderr, want)
	}
	// A dry run is refused as the write would be.
	if r := run("dry2", "--dry-run=server"); r.code == 0 || !strings.Contains(r.stderr, "exceeded quota") {
		t.Errorf("dry run over the quota: %d %s", r.code, r.stderr)
	}
	s.mustKubectl("-n", "team", "delete", "pod", "one", "--grace-period=0", "--force")
	s.waitQuotaUsed(t, "team", "pods", "pods", "0")
	if r := run("two"); r.code != 0 {
		t.Fatalf("a pod after the release: %s", r.stderr)
	}
}

// Compute quotas: a pod under a cpu and memory quota must say what it
// needs, and may not need more than is left; finished pods free what
// they held.
func TestResourceQuotaCompute(t *testing.T) {
	s := startServer(t)
	s.createNamespace(t, "team")
	s.mustKubectl("-n", "team", "create", "quota", "compute", "--hard=requests.memory=1Gi,limits.cpu=2")
	s.waitQuotaUsed(t, "team", "compute", "requests.memory", "0")
	pod := func(name, resources string) string {
		return writeManifest(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: team}
spec:
  containers:
  - name: app
    image: registry.k8s.io/pause:3.10
    resources: %s
`, name, resources))
	}
	r := s.kubectl("create", "-f", pod("bare", "{}"))
	if want := `pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app; requests.memory for: app`; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("pod without resources: %d %s\nwant %s", r.code, r.stderr, want)
	}
	s.mustKubectl("create", "-f", pod("a", "{requests: {memory: 768Mi}, limits: {cpu: 1500m, memory: 768Mi}}"))
	r = s.kubectl("create", "-f", pod("b", "{requests: {memory: 512Mi}, limits: {cpu: 500m, memory: 512Mi}}"))
	if want := `pods "b" is forbidden: exceeded quota: compute, requested: requests.memory=512Mi, used: requests.memory=768Mi, limited: requests.memory=1Gi`; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("pod over the memory quota: %d %s\nwant %s", r.code, r.stderr, want)
	}
	if got := s.mustKubectl("-n", "team", "get", "quota", "compute", "-o", "jsonpath={.status.used}"); got != `{"limits.cpu":"1500m","requests.memory":"768Mi"}` {
		t.Errorf("used: %s", got)
	}
	// A pod that has finished holds nothing.
	s.mustKubectl("-n", "team", "patch", "pod", "a", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Succeeded"}}`)
	s.waitQuotaUsed(t, "team", "compute", "requests.memory", "0")
	s.mustKubectl("create", "-f", pod("b", "{requests: {memory: 512Mi}, limits: {cpu: 500m, memory: 512Mi}}"))
}

// A hundred concurrent creates against a quota of ten admit exactly ten;
// the others are refused by the quota, and none sees a conflict from the
// quota's bookkeeping. Deleting them releases the quota.
func TestResourceQuotaConcurrentCreates(t *testing.T) {
	s := startServer(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "busy"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "ten"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/leases.coordination.k8s.io": resource.MustParse("10")}}}
	if _, err := client.CoreV1().ResourceQuotas("busy").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitQuotaUsed(t, "busy", "ten", "count/leases.coordination.k8s.io", "0")

	// Leases, which nothing else creates in a new namespace.
	const creates = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	var other []string
	for i := range creates {
		wg.Go(func() {
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("l-%03d", i)}}
			_, err := client.CoordinationV1().Leases("busy").Create(ctx, l, metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: ten"):
				refused++
			default:
				other = append(other, err.Error())
			}
		})
	}
	wg.Wait()
	if created != 10 || refused != creates-10 || len(other) > 0 {
		t.Fatalf("%d creates against a quota of 10: %d created, %d refused by the quota, other errors: %v", creates, created, refused, other)
	}
	list, err := client.CoordinationV1().Leases("busy").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used, err := client.CoreV1().ResourceQuotas("busy").Get(ctx, "ten", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := used.Status.Used["count/leases.coordination.k8s.io"]; len(list.Items) != 10 || n.Value() != 10 {
		t.Fatalf("stored %d leases, quota used %s; want 10 and 10", len(list.Items), n.String())
	}
	for _, l := range list.Items {
		if err := client.CoordinationV1().Leases("busy").Delete(ctx, l.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s.waitQuotaUsed(t, "busy", "ten", "count/leases.coordination.k8s.io", "0")
}
