package quota

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func list(pairs ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

func quotaOf(name string, hard, used corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: "7"},
		Spec:   corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes},
		Status: corev1.ResourceQuotaStatus{Hard: hard, Used: used}}
}

func podWith(name string, requests, limits corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}}}}
}

var podsGR = schema.GroupResource{Resource: "pods"}

func refusal(t *testing.T, err error) string {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("want a refusal, got %v", err)
	}
	return r.Error()
}

func TestPodUsage(t *testing.T) {
	restartAlways := corev1.ContainerRestartPolicyAlways
	pod := podWith("p", list("cpu", "100m", "memory", "64Mi", "example.com/gpu", "1", "hugepages-2Mi", "4Mi"), list("cpu", "200m"))
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "sidecar", RestartPolicy: &restartAlways, Resources: corev1.ResourceRequirements{Requests: list("cpu", "50m")}},
		{Name: "setup", Resources: corev1.ResourceRequirements{Requests: list("memory", "1Gi")}},
	}
	pod.Spec.Overhead = list("cpu", "10m")
	u, err := Registry{}.For(podsGR).Usage(pod)
	if err != nil {
		t.Fatal(err)
	}
	// cpu: 100m + 50m sidecar + 10m overhead; memory: the init
	// container's 1Gi (it runs alone, before the app); limits.cpu: the
	// app's 200m plus the overhead.
	want := list("count/pods", "1", "pods", "1", "cpu", "160m", "requests.cpu", "160m", "memory", "1Gi", "requests.memory", "1Gi",
		"limits.cpu", "210m", "requests.example.com/gpu", "1", "hugepages-2Mi", "4Mi", "requests.hugepages-2Mi", "4Mi")
	if !Equal(u, want) {
		t.Errorf("usage %s, want %s", String(u), String(want))
	}

	// A finished pod, or one past its grace period, holds only its count.
	pod.Status.Phase = corev1.PodSucceeded
	if u, _ := (Registry{}).For(podsGR).Usage(pod); !Equal(u, list("count/pods", "1")) {
		t.Errorf("finished pod: %s", String(u))
	}
	pod.Status.Phase = corev1.PodRunning
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	grace := int64(30)
	pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &past, &grace
	if u, _ := (Registry{}).For(podsGR).Usage(pod); !Equal(u, list("count/pods", "1")) {
		t.Errorf("pod past its grace period: %s", String(u))
	}
}

func TestChargePods(t *testing.T) {
	r := Registry{}
	q := quotaOf("compute", list("pods", "2", "requests.memory", "1Gi", "limits.cpu", "2"), list("pods", "1", "requests.memory", "512Mi", "limits.cpu", "1"))
	create := func(p *corev1.Pod) Write { return Write{Resource: podsGR, Op: Create, Object: p} }

	_, err := r.Charge([]*corev1.ResourceQuota{q}, create(podWith("bare", nil, nil)))
	if got, want := refusal(t, err), "failed quota: compute: must specify limits.cpu for: app; requests.memory for: app"; got != want {
		t.Errorf("bare pod: %q, want %q", got, want)
	}
	_, err = r.Charge([]*corev1.ResourceQuota{q}, create(podWith("big", list("memory", "768Mi"), list("cpu", "1500m"))))
	if got, want := refusal(t, err), "exceeded quota: compute, requested: limits.cpu=1500m,requests.memory=768Mi, used: limits.cpu=1,requests.memory=512Mi, limited: limits.cpu=2,requests.memory=1Gi"; got != want {
		t.Errorf("big pod: %q\nwant %q", got, want)
	}
	charged, err := r.Charge([]*corev1.ResourceQuota{q}, create(podWith("ok", list("memory", "256Mi"), list("cpu", "500m"))))
	if err != nil || len(charged) != 1 {
		t.Fatalf("pod within: %v %v", charged, err)
	}
	if want := list("pods", "2", "requests.memory", "768Mi", "limits.cpu", "1500m"); !Equal(charged[0].Status.Used, want) {
		t.Errorf("charged %s, want %s", String(charged[0].Status.Used), String(want))
	}
	if q.Status.Used.Pods().Value() != 1 || charged[0].ResourceVersion != "7" {
		t.Error("Charge changed the quota it was given, or lost its resourceVersion")
	}

	// A quota whose usage is not known yet refuses until it is.
	unknown := quotaOf("new", list("pods", "5"), nil)
	_, err = r.Charge([]*corev1.ResourceQuota{unknown}, create(podWith("p", nil, nil)))
	if got := refusal(t, err); got != "status unknown for quota: new, resources: pods" {
		t.Errorf("unknown usage: %q", got)
	}
	// Updates that change nothing a quota counts are not charged.
	old := podWith("p", list("memory", "1Gi"), list("cpu", "1"))
	old.ResourceVersion = "3"
	next := old.DeepCopy()
	next.Labels = map[string]string{"a": "b"}
	if !(Registry{}).For(podsGR).Handles(Update, "", next, old) {
		charged, err = r.Charge([]*corev1.ResourceQuota{q}, Write{Resource: podsGR, Op: Update, Object: next, Old: old})
		if err != nil || charged != nil {
			t.Errorf("label update: %v %v", charged, err)
		}
	}
	// A resize is charged what it adds.
	grown := old.DeepCopy()
	grown.Spec.Containers[0].Resources.Limits = list("cpu", "1500m")
	full := quotaOf("compute", list("limits.cpu", "2"), list("limits.cpu", "1"))
	charged, err = r.Charge([]*corev1.ResourceQuota{full}, Write{Resource: podsGR, Op: Update, Subresource: "resize", Object: grown, Old: old})
	if err != nil || len(charged) != 1 || charged[0].Status.Used.Name("limits.cpu", resource.DecimalSI).String() != "1500m" {
		t.Errorf("resize: %v %v", charged, err)
	}
}

func TestScopes(t *testing.T) {
	e := Registry{}.For(podsGR)
	deadline := int64(60)
	bestEffort := podWith("be", nil, nil)
	burstable := podWith("bu", list("cpu", "10m"), nil)
	terminating := podWith("t", list("cpu", "10m"), nil)
	terminating.Spec.ActiveDeadlineSeconds = &deadline
	high := podWith("h", list("cpu", "10m"), nil)
	high.Spec.PriorityClassName = "high"
	cross := podWith("x", list("cpu", "10m"), nil)
	cross.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1,
			PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{}}}}}}
	sel := func(scope corev1.ResourceQuotaScope, op corev1.ScopeSelectorOperator, values ...string) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: scope, Operator: op, Values: values}
	}
	for _, c := range []struct {
		s    corev1.ScopedResourceSelectorRequirement
		pods map[*corev1.Pod]bool
	}{
		{sel(corev1.ResourceQuotaScopeBestEffort, corev1.ScopeSelectorOpExists), map[*corev1.Pod]bool{bestEffort: true, burstable: false}},
		{sel(corev1.ResourceQuotaScopeNotBestEffort, corev1.ScopeSelectorOpExists), map[*corev1.Pod]bool{bestEffort: false, burstable: true}},
		{sel(corev1.ResourceQuotaScopeTerminating, corev1.ScopeSelectorOpExists), map[*corev1.Pod]bool{terminating: true, burstable: false}},
		{sel(corev1.ResourceQuotaScopeNotTerminating, corev1.ScopeSelectorOpExists), map[*corev1.Pod]bool{terminating: false, burstable: true}},
		{sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpIn, "high"), map[*corev1.Pod]bool{high: true, burstable: false}},
		{sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpNotIn, "high"), map[*corev1.Pod]bool{high: false, burstable: true}},
		{sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpExists), map[*corev1.Pod]bool{high: true, burstable: false}},
		{sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpDoesNotExist), map[*corev1.Pod]bool{high: false, burstable: true}},
		{sel(corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ScopeSelectorOpExists), map[*corev1.Pod]bool{cross: true, burstable: false}},
	} {
		for pod, want := range c.pods {
			if got, err := e.MatchesScope(c.s, pod); err != nil || got != want {
				t.Errorf("%s %s %v, pod %s: %v %v, want %v", c.s.ScopeName, c.s.Operator, c.s.Values, pod.Name, got, err, want)
			}
		}
	}
	// Counting under a scoped quota counts only the pods in its scope.
	q := quotaOf("be", list("pods", "5"), nil, corev1.ResourceQuotaScopeBestEffort)
	u, err := Usage(e, q, []runtime.Object{bestEffort, burstable, terminating})
	if err != nil || !Equal(u, list("pods", "1")) {
		t.Errorf("best-effort usage %s %v", String(u), err)
	}
}

func TestClaimsServicesAndCounts(t *testing.T) {
	r := Registry{}
	gold := "gold"
	claim := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &gold,
		Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "1500M")}}}
	u, err := r.For(schema.GroupResource{Resource: "persistentvolumeclaims"}).Usage(claim)
	want := list("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "1500M",
		"gold.storageclass.storage.k8s.io/persistentvolumeclaims", "1", "gold.storageclass.storage.k8s.io/requests.storage", "1500M")
	if err != nil || !Equal(u, want) {
		t.Errorf("claim usage %s, want %s (%v)", String(u), String(want), err)
	}
	no := false
	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}, {Port: 81}}}}
	u, _ = r.For(schema.GroupResource{Resource: "services"}).Usage(lb)
	if want := list("count/services", "1", "services", "1", "services.loadbalancers", "1", "services.nodeports", "1"); !Equal(u, want) {
		t.Errorf("load balancer usage %s, want %s", String(u), String(want))
	}
	secrets := r.For(schema.GroupResource{Resource: "secrets"})
	if u, _ := secrets.Usage(&corev1.Secret{}); !Equal(u, list("count/secrets", "1", "secrets", "1")) {
		t.Errorf("secret usage %s", String(u))
	}
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	if got := r.Measured([]corev1.ResourceName{"count/deployments.apps", "pods", "requests.storage"}); len(got) != 3 ||
		got[deployments] == nil || got[podsGR] == nil || got[schema.GroupResource{Resource: "persistentvolumeclaims"}] == nil {
		t.Errorf("measured: %v", got)
	}
	if gr, ok := ParseCountName("count/deployments.apps"); !ok || gr != deployments || CountName(gr) != "count/deployments.apps" {
		t.Errorf("count name round trip: %v %v", gr, ok)
	}
	// Only creates change a count.
	if secrets.Handles(Update, "", &corev1.Secret{}, &corev1.Secret{}) || !secrets.Handles(Create, "", &corev1.Secret{}, nil) {
		t.Error("object counts must be charged on create only")
	}
}

func TestStringsAreSorted(t *testing.T) {
	if got := String(list("b", "1", "a", "2Gi")); got != "a=2Gi,b=1" {
		t.Errorf("String: %q", got)
	}
	if got := SubtractFloor(list("a", "1", "b", "5"), list("a", "3", "b", "2", "c", "1")); !Equal(got, list("a", "0", "b", "3")) {
		t.Errorf("SubtractFloor: %s", String(got))
	}
	if ok, over := LessThanOrEqual(list("a", "2", "b", "1", "c", "9"), list("a", "1", "b", "1")); ok || len(over) != 1 || over[0] != "a" {
		t.Errorf("LessThanOrEqual: %v %v", ok, over)
	}
	if !strings.Contains(NamesString([]corev1.ResourceName{"z", "a"}), "a,z") {
		t.Error("NamesString is not sorted")
	}
}

func TestLimitedResources(t *testing.T) {
	r := Registry{Limited: []LimitedResource{{Resource: "pods", MatchContains: []string{"example.com/gpu"},
		MatchScopes: []corev1.ScopedResourceSelectorRequirement{{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"system-node-critical"}}}}}}
	critical := podWith("c", nil, nil)
	critical.Spec.PriorityClassName = "system-node-critical"
	gpu := podWith("g", list("example.com/gpu", "1"), list("example.com/gpu", "1"))
	create := func(p *corev1.Pod) Write { return Write{Resource: podsGR, Op: Create, Object: p} }

	if _, err := r.Charge(nil, create(podWith("plain", nil, nil))); err != nil {
		t.Errorf("a plain pod without quotas: %v", err)
	}
	_, err := r.Charge(nil, create(gpu))
	if got := refusal(t, err); got != "insufficient quota to consume: requests.example.com/gpu" {
		t.Errorf("gpu without a quota: %q", got)
	}
	_, err = r.Charge(nil, create(critical))
	var scopes *UncoveredScopes
	if !errors.As(err, &scopes) || !strings.Contains(err.Error(), "insufficient quota to match these scopes: [{PriorityClass In [system-node-critical]}]") {
		t.Errorf("critical without a quota: %v", err)
	}
	gpus := quotaOf("gpus", list("requests.example.com/gpu", "4"), list("requests.example.com/gpu", "0"))
	if charged, err := r.Charge([]*corev1.ResourceQuota{gpus}, create(gpu)); err != nil || len(charged) != 1 {
		t.Errorf("gpu under a quota: %v %v", charged, err)
	}
	crit := quotaOf("crit", list("pods", "4"), list("pods", "0"))
	crit.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
		{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"system-node-critical"}}}}
	if charged, err := r.Charge([]*corev1.ResourceQuota{crit}, create(critical)); err != nil || len(charged) != 1 {
		t.Errorf("critical under a quota: %v %v", charged, err)
	}
}
