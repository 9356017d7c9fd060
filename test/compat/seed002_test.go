package compat

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kubectl runs kubectl against s with a kubeconfig, and returns its
// output and whether it succeeded.
func (c *cluster) kubectlWith(s *server, kubeconfig, stdin string, args ...string) (string, bool) {
	c.t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig, "--server", s.url}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// restrictedPod is a pod manifest that passes the restricted Pod Security
// Standard, with a container's resources and extra spec fields.
func restrictedPod(name, ns, resources, extra string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q,"labels":{"app":"extra"}},
"spec":{%s"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"app","image":"registry.k8s.io/pause:3.10","resources":%s,
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`, name, ns, extra, resources)
}

// seed002 walks seed 002 step by step on a running cluster: a team's
// namespace with a quota, a limit range, restricted pod security and a
// node selector. The team's compliant Deployment runs on the hollow
// nodes; each violation is refused with a message that names its rule.
func seed002(ctx context.Context, t *testing.T, c *cluster, s *server, client *kubernetes.Clientset) {
	admin := filepath.Join(c.dir, "admin.conf")
	must := func(stdin string, args ...string) {
		t.Helper()
		if out, ok := c.kubectlWith(s, admin, stdin, args...); !ok {
			t.Fatalf("kubectl %s: %s", strings.Join(args, " "), out)
		}
	}
	must(`apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {pod-security.kubernetes.io/enforce: restricted}
  annotations: {scheduler.alpha.kubernetes.io/node-selector: kubernetes.io/os=linux}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: team-quota, namespace: team-a}
spec:
  hard: {pods: "4", requests.cpu: "2", requests.memory: 1Gi, limits.memory: 2Gi}
---
apiVersion: v1
kind: LimitRange
metadata: {name: team-limits, namespace: team-a}
spec:
  limits:
  - type: Container
    max: {memory: 256Mi}
    default: {cpu: 200m, memory: 128Mi}
    defaultRequest: {cpu: 100m, memory: 64Mi}
`, "apply", "-f", "-")
	// kube-controller-manager counts the quota and makes the default
	// service account.
	eventually(t, time.Minute, "team-a's quota counted and its service account made", func() (bool, string) {
		q, err := client.CoreV1().ResourceQuotas("team-a").Get(ctx, "team-quota", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		_, err = client.CoreV1().ServiceAccounts("team-a").Get(ctx, "default", metav1.GetOptions{})
		return q.Status.Used != nil && err == nil, fmt.Sprintf("used %v, account: %v", q.Status.Used, err)
	})

	must(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: team-a}
spec:
  replicas: 3
  selector: {matchLabels: {app: team}}
  template:
    metadata: {labels: {app: team}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: app
        image: registry.k8s.io/pause:3.10
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`, "apply", "-f", "-")
	eventually(t, 2*time.Minute, "the team's three pods Running on the hollow nodes", func() (bool, string) {
		pods, err := client.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{LabelSelector: "app=team"})
		if err != nil {
			return false, err.Error()
		}
		running, state := 0, ""
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && strings.HasPrefix(p.Spec.NodeName, "hollow-") &&
				p.Spec.NodeSelector["kubernetes.io/os"] == "linux" && p.Spec.Containers[0].Resources.Limits.Memory().String() == "128Mi" {
				running++
			}
			state += fmt.Sprintf("%s %s on %q; ", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
		return running == 3, state
	})

	for _, v := range []struct{ what, manifest, want string }{
		{"too much memory", restrictedPod("big", "team-a", `{"limits":{"memory":"4Gi"}}`, ""),
			`pods "big" is forbidden: maximum memory usage per Container is 256Mi, but limit is 4Gi`},
		{"privileged", strings.Replace(restrictedPod("root", "team-a", `{}`, ""), `"allowPrivilegeEscalation":false`, `"privileged":true,"allowPrivilegeEscalation":true`, 1),
			`privileged (container "app" must not set securityContext.privileged=true)`},
		{"a hostPath mount", restrictedPod("host", "team-a", `{}`, `"volumes":[{"name":"root","hostPath":{"path":"/"}}],`),
			`volume "root" uses restricted volume type "hostPath"`},
		{"a wrong node selector", restrictedPod("windows", "team-a", `{}`, `"nodeSelector":{"kubernetes.io/os":"windows"},`),
			`pod node label selector conflicts with its namespace node label selector`},
	} {
		out, ok := c.kubectlWith(s, admin, v.manifest, "create", "-f", "-")
		if ok || !strings.Contains(out, v.want) {
			t.Errorf("seed 002, %s: %s\nwant %s", v.what, out, v.want)
		}
	}
	// The quota allows four pods: the Deployment's three and one more.
	if out, ok := c.kubectlWith(s, admin, restrictedPod("fourth", "team-a", `{}`, ""), "create", "-f", "-"); !ok {
		t.Fatalf("seed 002, the fourth pod: %s", out)
	}
	out, ok := c.kubectlWith(s, admin, restrictedPod("fifth", "team-a", `{}`, ""), "create", "-f", "-")
	if want := `pods "fifth" is forbidden: exceeded quota: team-quota, requested: pods=1, used: pods=4, limited: pods=4`; ok || !strings.Contains(out, want) {
		t.Errorf("seed 002, one pod too many: %s\nwant %s", out, want)
	}
	// The fourth pod has no controller, so kubectl drain would refuse
	// the node it landed on; it goes now, at once.
	zero := int64(0)
	if err := client.CoreV1().Pods("team-a").Delete(ctx, "fourth", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatalf("deleting the fourth pod: %v", err)
	}
	eventually(t, time.Minute, "the fourth pod gone", func() (bool, string) {
		_, err := client.CoreV1().Pods("team-a").Get(ctx, "fourth", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// nodeRestrictionWithKubelet uses a hollow kubelet's own credentials, the
// client certificate it obtained by TLS bootstrap, for the writes
// NodeRestriction forbids a node.
func nodeRestrictionWithKubelet(t *testing.T, c *cluster, s *server) {
	kubelet := filepath.Join(c.dir, "hollow-1", "kubelet.conf")
	if who, ok := c.kubectlWith(s, kubelet, "", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); !ok || who != "system:node:hollow-1" {
		t.Fatalf("the hollow kubelet's credentials: %s", who)
	}
	for _, v := range []struct {
		what string
		args []string
		in   string
		want string
	}{
		{"labelling itself node-role", []string{"label", "node", "hollow-1", "node-role.kubernetes.io/control-plane="}, "",
			"is not allowed to modify labels: node-role.kubernetes.io/control-plane"},
		// The Node authorizer or NodeRestriction, whichever asks first.
		{"changing another node", []string{"patch", "node", "hollow-2", "--type=merge", "-p", `{"metadata":{"labels":{"team":"a"}}}`}, "",
			`nodes "hollow-2" is forbidden`},
		{"creating another node", []string{"create", "-f", "-"}, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"rogue"}}`,
			`node "hollow-1" is not allowed to modify node "rogue"`},
		{"a pod bound to another node", []string{"create", "-f", "-"},
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","namespace":"default"},"spec":{"nodeName":"hollow-2","containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}`,
			`node "hollow-1" can only create mirror pods`},
		{"adding an owner reference to itself", []string{"patch", "node", "hollow-1", "--type=merge", "-p",
			`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"hollow-2","uid":"00000000-0000-0000-0000-000000000002"}]}}`}, "",
			`node "hollow-1" is not allowed to modify ownerReferences`},
	} {
		out, ok := c.kubectlWith(s, kubelet, v.in, v.args...)
		if ok || !strings.Contains(out, v.want) {
			t.Errorf("a kubelet %s: %s\nwant %s", v.what, out, v.want)
		}
	}
}
