package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
)

// BenchmarkList lists 10,000 catalog.ConfigMaps of about 300 bytes each, the LIST
// target's size.
func BenchmarkList(b *testing.B) {
	s := testStore(b)
	res := catalog.ConfigMaps()
	ctx := context.Background()
	for i := range 10000 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("obj-%06d", i), Namespace: "ns",
			Labels: map[string]string{"app": "bench"}}, Data: map[string]string{"key": strings.Repeat("v", 200)}}
		if _, err := s.create(ctx, res, cm, false, false, nil); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		l, err := s.List(ctx, res, ListOptions{Namespace: "ns"})
		if err != nil || len(l.Items) != 10000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateParallel measures fsynced creates from many goroutines,
// which the storage writer coalesces into shared commits.
func BenchmarkCreateParallel(b *testing.B) {
	s := testStore(b)
	res := catalog.ConfigMaps()
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", n.Add(1)), Namespace: "ns"}}
			if _, err := s.create(ctx, res, cm, false, false, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGet measures reading one object, as a GET does.
func BenchmarkGet(b *testing.B) {
	s := testStore(b)
	res := catalog.ConfigMaps()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns"}, Data: map[string]string{"k": "v"}}
	if _, err := s.create(ctx, res, cm, false, false, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(ctx, res, "ns", "one"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriterCreateParallel is BenchmarkCreateParallel through the
// Writer: the create strategy, validation and an empty admission chain on
// top of the write, as an HTTP create pays them.
func BenchmarkWriterCreateParallel(b *testing.B) {
	w, err := NewWriter(testStore(b), admission.AllowAll())
	if err != nil {
		b.Fatal(err)
	}
	res := catalog.ConfigMaps()
	ctx := authn.AsAPIServer(context.Background())
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", n.Add(1)), Namespace: "ns"}}
			if _, err := w.Create(ctx, res, cm, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriterCreateParallelCharged is BenchmarkWriterCreateParallel
// with every create charged to one quota in the same transaction, as the
// ResourceQuota plugin charges a namespace's creates: 32 writers race for
// the one quota, and a charge that lost its race is made again.
func BenchmarkWriterCreateParallelCharged(b *testing.B) {
	s := testStore(b)
	quotas := catalog.ResourceQuotas()
	chain := admission.AllowAll()
	charger := &counterCharger{s: s, quota: quotas}
	chain.Validators = append(chain.Validators, charger)
	w, err := NewWriter(s, chain)
	if err != nil {
		b.Fatal(err)
	}
	w.Resources = func(gvr schema.GroupVersionResource) (*catalog.Resource, bool) {
		return quotas, gvr == quotas.GroupVersionResource()
	}
	ctx := authn.AsAPIServer(context.Background())
	counter := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "counter", Namespace: "ns"},
		Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{"count": resource.MustParse("0")}}}
	if _, err := w.Create(ctx, quotas, counter, Options{}); err != nil {
		b.Fatal(err)
	}
	res := catalog.ConfigMaps()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", n.Add(1)), Namespace: "ns"}}
			if _, err := w.Create(ctx, res, cm, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(charger.calls.Load()-1)/float64(n.Load()), "charges/create")
}

// densityPod is a pod as the density benchmark's pods are once running:
// a projected token volume, tolerations, three managers' managedFields
// and a running status.
func densityPod() *corev1.Pod {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	raw := []byte(`{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"5f0c\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{}}}`)
	var mf []metav1.ManagedFieldsEntry
	for _, m := range []string{"kube-controller-manager", "kube-scheduler", "kubelet"} {
		mf = append(mf, metav1.ManagedFieldsEntry{Manager: m, Operation: "Update", APIVersion: "v1", Time: &now, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw}})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "load-1-7d9f8b6c5-abcde", GenerateName: "load-1-7d9f8b6c5-", Namespace: "density", UID: "0a1b2c3d-1111-2222-3333-444455556666",
			CreationTimestamp: now, Labels: map[string]string{"app": "load-1", "pod-template-hash": "7d9f8b6c5"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "load-1-7d9f8b6c5", UID: "5f0c"}}, ManagedFields: mf},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10", ImagePullPolicy: "IfNotPresent", TerminationMessagePath: "/dev/termination-log",
			VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}}},
			NodeName: "hollow-1", ServiceAccountName: "default", SchedulerName: "default-scheduler",
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute"}, {Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute"}},
			Volumes: []corev1.Volume{{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			}}}}}},
		Status: corev1.PodStatus{Phase: "Running", HostIP: "10.0.0.1", PodIP: "10.1.0.1", StartTime: &now,
			Conditions:        []corev1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: now}, {Type: "PodScheduled", Status: "True", LastTransitionTime: now}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, Image: "registry.k8s.io/pause:3.10", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}},
	}
}

// BenchmarkStoredPod encodes and decodes a running pod in the stored
// form (protobuf) and in the JSON it was stored as before.
func BenchmarkStoredPod(b *testing.B) {
	res := catalog.Pods()
	pb, err := encode(res, densityPod())
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(densityPod())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"protobuf", pb}, {"json", js}} {
		b.Run("decode/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := decode(res, c.data, 7); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	p := densityPod()
	b.Run("encode/protobuf", func(b *testing.B) {
		for b.Loop() {
			if _, err := encode(res, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
