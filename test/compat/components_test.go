package compat

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// startControllerManager runs kube-controller-manager with the kubeconfig
// sekisho wrote and kubeadm's flags.
func (c *cluster) startControllerManager() {
	c.startComponent("kube-controller-manager",
		"--kubeconfig="+filepath.Join(c.dir, "controller-manager.conf"),
		"--authentication-kubeconfig="+filepath.Join(c.dir, "controller-manager.conf"),
		"--authorization-kubeconfig="+filepath.Join(c.dir, "controller-manager.conf"),
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--client-ca-file="+c.pki("ca.crt"),
		"--cluster-name=kubernetes",
		"--cluster-signing-cert-file="+c.pki("ca.crt"),
		"--cluster-signing-key-file="+c.pki("ca.key"),
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--leader-elect=true",
		"--requestheader-client-ca-file="+c.pki("front-proxy-ca.crt"),
		"--root-ca-file="+c.pki("ca.crt"),
		"--service-account-private-key-file="+c.pki("sa.key"),
		"--use-service-account-credentials=true",
	)
}

// startScheduler runs kube-scheduler with the kubeconfig sekisho wrote.
func (c *cluster) startScheduler() {
	c.startComponent("kube-scheduler",
		"--kubeconfig="+filepath.Join(c.dir, "scheduler.conf"),
		"--authentication-kubeconfig="+filepath.Join(c.dir, "scheduler.conf"),
		"--authorization-kubeconfig="+filepath.Join(c.dir, "scheduler.conf"),
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=true",
	)
}

// clientset is a protobuf client-go clientset as kubernetes-super-admin.
func (c *cluster) clientset(s *server) *kubernetes.Clientset {
	c.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags(s.url, filepath.Join(c.dir, "super-admin.conf"))
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	return kubernetes.NewForConfigOrDie(cfg)
}

// eventually polls cond every 250ms until it holds or the time is up.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		ok, state := cond()
		if ok {
			t.Logf("%s: after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, within, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestControlPlaneOnSekisho runs kube-controller-manager and kube-scheduler
// on sekisho with the kubeconfigs it wrote, and sekisho's own controllers
// off (the controller-manager runs them): a Deployment becomes a
// ReplicaSet and Pods in a namespace whose default ServiceAccount the
// controller-manager made, and the Pods are bound to a Node (the
// scheduler).
func TestControlPlaneOnSekisho(t *testing.T) {
	c := newCluster(t)
	s := c.startSekisho("--controllers=")
	c.startControllerManager()
	c.startScheduler()
	client := c.clientset(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-1", Labels: map[string]string{"kubernetes.io/hostname": "worker-1"}},
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller-manager writes to a new Node too: report its status
	// on the latest version.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, "worker-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Status = corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}},
		}
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	replicas := int32(3)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "the controller-manager makes 3 pods and the scheduler binds them", func() (bool, string) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		bound := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName == "worker-1" {
				bound++
			}
		}
		return len(pods.Items) == 3 && bound == 3, pluralPods(pods.Items)
	})

	// The controller-manager's ClusterRole aggregation writes by
	// server-side apply, as its field manager.
	aggregate := &rbacv1.ClusterRole{
		ObjectMeta:      metav1.ObjectMeta{Name: "monitoring"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"example.com/aggregate-to-monitoring": "true"}}}},
	}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, aggregate, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	part := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "monitoring-endpoints", Labels: map[string]string{"example.com/aggregate-to-monitoring": "true"}},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"endpoints"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, part, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the controller-manager aggregates the ClusterRole", func() (bool, string) {
		got, err := client.RbacV1().ClusterRoles().Get(ctx, "monitoring", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		managers := ""
		for _, m := range got.ManagedFields {
			managers += m.Manager + ":" + string(m.Operation) + " "
		}
		return len(got.Rules) == 1 && got.Rules[0].Resources[0] == "endpoints" && strings.Contains(managers, "clusterrole-aggregation-controller:Apply"),
			fmt.Sprintf("rules %v, managers %s", got.Rules, managers)
	})
}

func pluralPods(pods []corev1.Pod) string {
	out := ""
	for _, p := range pods {
		out += p.Name + "@" + p.Spec.NodeName + " "
	}
	return out
}
