package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// bootstrapToken creates a bootstrap token with sekisho token create, as
// kubeadm token create does.
func (c *cluster) bootstrapToken() string {
	c.t.Helper()
	out, err := exec.Command(sekishoBin, "token", "create", "--kubeconfig", filepath.Join(c.dir, "admin.conf")).Output()
	if err != nil {
		c.t.Fatalf("sekisho token create: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// bootstrapKubeconfig writes the kubeconfig a joining kubelet starts with:
// the cluster's CA and server, and the bootstrap token as its credential
// (kubeadm join writes the same as bootstrap-kubelet.conf).
func (c *cluster) bootstrapKubeconfig(s *server, token string) string {
	c.t.Helper()
	ca, err := os.ReadFile(c.pki("ca.crt"))
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubernetes"] = &clientcmdapi.Cluster{Server: s.url, CertificateAuthorityData: ca}
	cfg.AuthInfos["tls-bootstrap-token-user"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["tls-bootstrap-token-user@kubernetes"] = &clientcmdapi.Context{Cluster: "kubernetes", AuthInfo: "tls-bootstrap-token-user"}
	cfg.CurrentContext = "tls-bootstrap-token-user@kubernetes"
	path := filepath.Join(c.dir, "bootstrap-kubelet.conf")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// startHollowNode runs kubemark's hollow kubelet (the real kubelet code
// over a fake container runtime), joining with the bootstrap kubeconfig:
// it asks for its client certificate with a CertificateSigningRequest and
// writes its own kubeconfig once the certificate is signed.
func (c *cluster) startHollowNode(name, bootstrapConfig string, extra ...string) {
	dir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	c.run(name, filepath.Join(kubeBinDir, "kubemark"), append([]string{
		"--morph=kubelet",
		"--name=" + name,
		"--bootstrap-kubeconfig=" + bootstrapConfig,
		"--kubeconfig=" + filepath.Join(dir, "kubelet.conf"),
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--kubelet-port=" + strconv.Itoa(freePort(c.t)),
		"--kubelet-read-only-port=0",
		"--use-host-image-service=false",
		"--max-pods=30",
	}, extra...)...)
}

// readyNodes counts the Nodes whose Ready condition is True, and says
// each node's.
func readyNodes(ctx context.Context, client kubernetes.Interface) (int, string, error) {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, "", err
	}
	ready, state := 0, ""
	for _, n := range list.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				state += n.Name + "=" + string(cond.Status) + " "
				if cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
	}
	return ready, state, nil
}

// TestHollowNodesJoinAndRunPods joins five hollow kubelets the way seed
// 000 describes: a bootstrap token, TLS bootstrap through a CSR that the
// controller-manager approves and signs, and a node client certificate.
// The nodes become Ready and a Deployment's ten pods run across them.
func TestHollowNodesJoinAndRunPods(t *testing.T) {
	c := newCluster(t)
	// As docs/cluster.md runs it: the controller-manager runs the rest.
	// PodNodeSelector is on for seed 002's team namespace.
	s := c.startSekisho("--controllers=", "--enable-admission-plugins=PodNodeSelector")
	c.startControllerManager()
	c.startScheduler()
	boot := c.bootstrapKubeconfig(s, c.bootstrapToken())
	const nodes = 5
	for i := range nodes {
		c.startHollowNode(fmt.Sprintf("hollow-%d", i), boot)
	}
	client := c.clientset(s)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	eventually(t, 3*time.Minute, "five hollow nodes Ready", func() (bool, string) {
		ready, state, err := readyNodes(ctx, client)
		if err != nil {
			return false, err.Error()
		}
		return ready == nodes, state
	})
	// Each node holds a Lease in kube-node-lease and renews it.
	first := map[string]time.Time{}
	eventually(t, 90*time.Second, "every node's Lease renewed", func() (bool, string) {
		renewed, state := 0, ""
		for i := range nodes {
			name := fmt.Sprintf("hollow-%d", i)
			l, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
			if err != nil || l.Spec.RenewTime == nil {
				state += name + ": no lease; "
				continue
			}
			at := l.Spec.RenewTime.Time
			if _, seen := first[name]; !seen {
				first[name] = at
			}
			if at.After(first[name]) {
				renewed++
			}
		}
		return renewed == nodes, state + fmt.Sprintf("%d renewed", renewed)
	})

	runDeployment(ctx, t, client, "web", 10)
	// The kubelets run under NodeRestriction, and their own credentials
	// cannot make the writes it forbids a node; seed 002's team namespace
	// runs its Deployment and refuses each violation.
	nodeRestrictionWithKubelet(t, c, s)
	seed002(ctx, t, c, s, client)

	// kubectl drain evicts the node's pods as a disruption budget allows;
	// the Deployment brings them back on the other nodes.
	minAvailable := intstr.FromInt32(8)
	if _, err := client.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the budget allows disruptions", func() (bool, string) {
		b, err := client.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return b.Status.DisruptionsAllowed > 0, fmt.Sprintf("%+v", b.Status)
	})
	kubeconfig := filepath.Join(c.dir, "admin.conf")
	if out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "--server", s.url, "drain", "hollow-0",
		"--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s").CombinedOutput(); err != nil {
		t.Fatalf("kubectl drain: %v\n%s", err, out)
	}
	eventually(t, 2*time.Minute, "ten pods Running, none on the drained node", func() (bool, string) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		running, onDrained := 0, 0
		for _, p := range pods.Items {
			if p.Spec.NodeName == "hollow-0" {
				onDrained++
			}
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		return running == 10 && onDrained == 0, fmt.Sprintf("%d running, %d on hollow-0", running, onDrained)
	})

	// kubectl logs finds the hollow kubelet from its Node (the address
	// type kubeadm prefers, the port the kubelet reported). kubemark's
	// hollow kubelet serves plain HTTP, which no API server speaks to a
	// kubelet, so the answer is the TLS failure; TestKubeletAccess
	// covers logs, exec, attach and port-forward against a TLS kubelet.
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v", err)
	}
	logs, _ := exec.Command("kubectl", "--kubeconfig", kubeconfig, "--server", s.url, "logs", pods.Items[0].Name).CombinedOutput()
	if !strings.Contains(string(logs), "first record does not look like a TLS handshake") {
		t.Errorf("kubectl logs of a hollow pod did not reach its kubelet:\n%s", logs)
	}

	// kube-controller-manager's aggregation controller filled the admin
	// role (it writes by server-side apply).
	if admin, err := client.RbacV1().ClusterRoles().Get(ctx, "admin", metav1.GetOptions{}); err != nil || len(admin.Rules) == 0 {
		t.Errorf("ClusterRole admin: %v, %d rules", err, len(admin.Rules))
	}
	// kubectl get all -A shows the workload, through admin.conf.
	out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "--server", s.url, "get", "all", "-A").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get all -A: %v\n%s", err, out)
	}
	for _, want := range []string{"deployment.apps/web", "replicaset.apps/web-", "pod/web-", "service/kubernetes"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl get all -A lacks %s:\n%s", want, out)
		}
	}

	var hollow []string
	for i := range nodes {
		hollow = append(hollow, fmt.Sprintf("hollow-%d", i))
	}
	workloads(ctx, t, c, s, client, hollow)
	helmInstall(ctx, t, c, client)

	// Deleting Deployments: in the foreground kubectl waits until the
	// controller-manager's garbage collector removed the ReplicaSet and
	// pods first; in the background they go after it.
	if out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "--server", s.url, "delete", "deployment", "web",
		"--cascade=foreground", "--timeout=120s").CombinedOutput(); err != nil {
		t.Fatalf("kubectl delete --cascade=foreground: %v\n%s", err, out)
	}
	gone := func(app string) func() (bool, string) {
		return func() (bool, string) {
			rs, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
			if err != nil {
				return false, err.Error()
			}
			pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
			if err != nil {
				return false, err.Error()
			}
			return len(rs.Items) == 0 && len(pods.Items) == 0, fmt.Sprintf("%d replicasets, %d pods", len(rs.Items), len(pods.Items))
		}
	}
	eventually(t, time.Minute, "web's ReplicaSet and pods gone", gone("web"))
	runDeployment(ctx, t, client, "api", 3)
	if err := client.AppsV1().Deployments("default").Delete(ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "api's ReplicaSet and pods collected", gone("api"))
}

// runDeployment creates a Deployment and waits for its pods to be Running,
// spread over more than one node.
func runDeployment(ctx context.Context, t *testing.T, client *kubernetes.Clientset, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, fmt.Sprintf("%d pods of %s Running on several nodes", replicas, name), func() (bool, string) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err.Error()
		}
		running, on := 0, map[string]bool{}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
				on[p.Spec.NodeName] = true
			}
		}
		return running == int(replicas) && len(on) > 1, fmt.Sprintf("%d of %d running on %d nodes", running, len(pods.Items), len(on))
	})
}
