package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// mustKubectl runs kubectl against s and fails the test on an error.
func (c *cluster) mustKubectl(s *server, args ...string) string {
	c.t.Helper()
	out, code := c.kubectlRun(s, nil, "", args...)
	if code != 0 {
		c.t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// podsOf lists the pods with a label selector, and how many of them run.
func podsOf(ctx context.Context, client *kubernetes.Clientset, ns, selector string) ([]corev1.Pod, int, error) {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, 0, err
	}
	running := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running++
		}
	}
	return pods.Items, running, nil
}

// workloads drives kube-controller-manager's workload controllers on
// sekisho, through the Deployment web of ten pods the caller runs on five
// hollow nodes: scaling, a rolling update and its undo, a StatefulSet's
// ordered pods, a DaemonSet on every node, a Job, a CronJob firing, and
// a namespace deleted with everything in it.
func workloads(ctx context.Context, t *testing.T, c *cluster, s *server, client *kubernetes.Clientset, hollow []string) {
	c.mustKubectl(s, "uncordon", hollow[0])
	// The CronJob first: it fires at the next minute.
	c.mustKubectl(s, "create", "cronjob", "tick", "--image=registry.k8s.io/pause:3.10", "--schedule=* * * * *")

	scaled := func(n int) func() (bool, string) {
		return func() (bool, string) {
			pods, running, err := podsOf(ctx, client, "default", "app=web")
			if err != nil {
				return false, err.Error()
			}
			return running == n && len(pods) == n, fmt.Sprintf("%d pods, %d running", len(pods), running)
		}
	}
	c.mustKubectl(s, "scale", "deployment/web", "--replicas=20")
	eventually(t, 2*time.Minute, "web scaled to 20", scaled(20))
	c.mustKubectl(s, "scale", "deployment/web", "--replicas=3")
	eventually(t, 2*time.Minute, "web scaled to 3", scaled(3))

	image := func() string {
		return c.mustKubectl(s, "get", "deployment/web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	}
	before := image()
	c.mustKubectl(s, "set", "image", "deployment/web", "web=registry.k8s.io/pause:3.9")
	c.mustKubectl(s, "rollout", "status", "deployment/web", "--timeout=120s")
	if rs := c.mustKubectl(s, "get", "replicasets", "-l", "app=web", "-o", "name"); strings.Count(rs, "replicaset") != 2 {
		t.Errorf("after a rolling update, ReplicaSets:\n%s", rs)
	}
	c.mustKubectl(s, "rollout", "undo", "deployment/web")
	c.mustKubectl(s, "rollout", "status", "deployment/web", "--timeout=120s")
	if got := image(); got != before {
		t.Errorf("after rollout undo the image is %s, want %s", got, before)
	}

	// A StatefulSet starts its pods one by one, in order of their names.
	three := int32(3)
	labels := map[string]string{"app": "db"}
	if _, err := client.AppsV1().StatefulSets("default").Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: &three, ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.k8s.io/pause:3.10"}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "db-0, db-1 and db-2 Running", func() (bool, string) {
		pods, running, err := podsOf(ctx, client, "default", "app=db")
		if err != nil {
			return false, err.Error()
		}
		var names []string
		for _, p := range pods {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		return running == 3 && slices.Equal(names, []string{"db-0", "db-1", "db-2"}), fmt.Sprintf("%v, %d running", names, running)
	})
	pods, _, _ := podsOf(ctx, client, "default", "app=db")
	created := map[string]time.Time{}
	for _, p := range pods {
		created[p.Name] = p.CreationTimestamp.Time
	}
	if created["db-1"].Before(created["db-0"]) || created["db-2"].Before(created["db-1"]) {
		t.Errorf("StatefulSet pods created out of order: %v", created)
	}

	// A DaemonSet runs one pod on each node.
	dsLabels := map[string]string{"app": "agent"}
	if _, err := client.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: dsLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dsLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "registry.k8s.io/pause:3.10"}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "one agent on each hollow node", func() (bool, string) {
		pods, running, err := podsOf(ctx, client, "default", "app=agent")
		if err != nil {
			return false, err.Error()
		}
		var on []string
		for _, p := range pods {
			on = append(on, p.Spec.NodeName)
		}
		slices.Sort(on)
		return running == len(hollow) && slices.Equal(on, hollow), fmt.Sprintf("on %v, %d running", on, running)
	})

	job(ctx, t, c, s, client)

	eventually(t, 90*time.Second, "the CronJob fires", func() (bool, string) {
		jobs, err := client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, j := range jobs.Items {
			for _, o := range j.OwnerReferences {
				if o.Kind == "CronJob" && o.Name == "tick" {
					return true, j.Name
				}
			}
		}
		return false, fmt.Sprintf("%d jobs", len(jobs.Items))
	})

	// Deleting a namespace deletes everything in it: the namespace
	// controller of kube-controller-manager empties it, the kubelets stop
	// its pods, then the namespace goes.
	c.mustKubectl(s, "create", "namespace", "doomed")
	c.mustKubectl(s, "-n", "doomed", "create", "deployment", "app", "--image=registry.k8s.io/pause:3.10", "--replicas=2")
	c.mustKubectl(s, "-n", "doomed", "create", "configmap", "settings", "--from-literal=a=b")
	eventually(t, 2*time.Minute, "doomed's pods Running", func() (bool, string) {
		_, running, err := podsOf(ctx, client, "doomed", "app=app")
		if err != nil {
			return false, err.Error()
		}
		return running == 2, fmt.Sprintf("%d running", running)
	})
	c.mustKubectl(s, "delete", "namespace", "doomed", "--timeout=150s")
	if _, err := client.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace doomed after its deletion: %v", err)
	}
}

// job runs a Job to completion. Hollow kubelets never end a container, so
// its pod goes to a node without a kubelet, whose part the test plays: it
// reports the pod Running, then Succeeded, through the API as a kubelet
// would. kube-controller-manager's Job controller does the rest: it makes
// the pod, tracks it with its finalizer, and completes the Job.
func job(ctx context.Context, t *testing.T, c *cluster, s *server, client *kubernetes.Clientset) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "manual-0", Labels: map[string]string{"kubernetes.io/hostname": "manual-0"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "example.com/manual", Effect: corev1.TaintEffectNoSchedule}}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller-manager's node controllers write to a new Node too:
	// report its status on the latest version.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, "manual-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		node.Status.Allocatable = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}
		node.Status.Capacity = node.Status.Allocatable
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	if _, err := client.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec: batchv1.JobSpec{Completions: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, NodeName: "manual-0",
			Tolerations: []corev1.Toleration{{Key: "example.com/manual", Operator: corev1.TolerationOpExists}},
			Containers:  []corev1.Container{{Name: "work", Image: "registry.k8s.io/pause:3.10"}},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	eventually(t, time.Minute, "the Job's pod", func() (bool, string) {
		pods, _, err := podsOf(ctx, client, "default", "job-name=once")
		if err != nil || len(pods) == 0 {
			return false, fmt.Sprint(err)
		}
		pod = &pods[0]
		return true, ""
	})
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := client.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "work", Image: "registry.k8s.io/pause:3.10",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}}}
		_, err = client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl(s, "wait", "--for=condition=complete", "job/once", "--timeout=60s")
	if err := client.CoreV1().Nodes().Delete(ctx, "manual-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// helmInstall installs the chart `helm create` writes with helm 4, which
// applies server-side, and uninstalls it.
func helmInstall(ctx context.Context, t *testing.T, c *cluster, client *kubernetes.Clientset) {
	dir := t.TempDir()
	helm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helmBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(c.dir, "admin.conf"),
			"HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	helm("create", "demo")
	helm("install", "demo", "./demo", "--namespace", "default")
	if out := helm("status", "demo", "--namespace", "default"); !strings.Contains(out, "STATUS: deployed") {
		t.Errorf("helm status:\n%s", out)
	}
	d, err := client.AppsV1().Deployments("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's Deployment: %v", err)
	}
	applied := false
	for _, m := range d.ManagedFields {
		if m.Operation == metav1.ManagedFieldsOperationApply {
			applied = true
		}
	}
	if !applied {
		t.Errorf("helm 4 did not apply server-side: managedFields %+v", d.ManagedFields)
	}
	helm("uninstall", "demo", "--namespace", "default", "--wait", "--timeout=2m")
	for _, get := range []func() error{
		func() error {
			_, err := client.AppsV1().Deployments("default").Get(ctx, "demo", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := client.CoreV1().Services("default").Get(ctx, "demo", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "demo", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); !apierrors.IsNotFound(err) {
			t.Errorf("after helm uninstall: %v", err)
		}
	}
}
