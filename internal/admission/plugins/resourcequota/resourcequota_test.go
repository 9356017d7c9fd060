package resourcequota

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/catalog"
)

func TestPlugin(t *testing.T) {
	one := corev1.ResourceList{"count/secrets": resource.MustParse("1")}
	stored := []*corev1.ResourceQuota{{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns", ResourceVersion: "5"},
		Spec:   corev1.ResourceQuotaSpec{Hard: one},
		Status: corev1.ResourceQuotaStatus{Hard: one, Used: corev1.ResourceList{"count/secrets": resource.MustParse("0")}}}}
	var fresh []bool
	p := &Plugin{Quotas: func(_ context.Context, ns string, f bool) ([]*corev1.ResourceQuota, int64, error) {
		fresh = append(fresh, f)
		if ns != "ns" {
			return nil, 7, nil
		}
		return stored, 7, nil
	}}
	secret := func(dry bool) *admission.Attributes {
		r := catalog.Secrets()
		return &admission.Attributes{Operation: admission.Create, Resource: r.GroupVersionResource(), Kind: r.GroupVersionKind(),
			Namespace: "ns", Name: "s", Object: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}}, DryRun: dry}
	}
	a := secret(true)
	if err := p.Validate(context.Background(), a); err != nil || len(a.Charges) != 0 {
		t.Fatalf("dry run: %v, charges %v", err, a.Charges)
	}
	a = secret(false)
	if err := p.Validate(context.Background(), a); err != nil || len(a.Charges) != 1 {
		t.Fatalf("create: %v, charges %v", err, a.Charges)
	}
	// The charge holds only while no quota of the namespace is newer than
	// the list it was decided from.
	if want := (admission.ChargeBasis{Resource: corev1.SchemeGroupVersion.WithResource("resourcequotas"), Namespace: "ns", Rev: 7}); len(a.ChargedFrom) != 1 || a.ChargedFrom[0] != want {
		t.Errorf("charged from %+v, want %+v", a.ChargedFrom, want)
	}
	// Charging again reads the quotas as stored now, not a cache.
	a.Recharges = 1
	a.Charges, a.ChargedFrom = nil, nil
	if err := p.Validate(context.Background(), a); err != nil || len(a.Charges) != 1 || fmt.Sprint(fresh) != "[false false true]" {
		t.Fatalf("recharge: %v, charges %v, fresh reads %v", err, a.Charges, fresh)
	}
	charged := a.Charges[0].Object.(*corev1.ResourceQuota)
	if n := charged.Status.Used["count/secrets"]; n.Value() != 1 || charged.ResourceVersion != "5" || a.Charges[0].Resource.Resource != "resourcequotas" {
		t.Errorf("charge: %+v", charged)
	}
	if n := stored[0].Status.Used["count/secrets"]; n.Value() != 0 {
		t.Error("the plugin changed the stored quota it read")
	}
	stored[0] = charged
	err := p.Validate(context.Background(), secret(false))
	if !apierrors.IsForbidden(err) || err.Error() != `secrets "s" is forbidden: exceeded quota: q, requested: count/secrets=1, used: count/secrets=1, limited: count/secrets=1` {
		t.Errorf("over the quota: %v", err)
	}
	// Deletes, other namespaces and events are not charged.
	for _, a := range []*admission.Attributes{
		{Operation: admission.Delete, Resource: catalog.Secrets().GroupVersionResource(), Namespace: "ns", OldObject: &corev1.Secret{}},
		{Operation: admission.Create, Resource: catalog.Events().GroupVersionResource(), Namespace: "ns", Object: &corev1.Event{}},
	} {
		if err := p.Validate(context.Background(), a); err != nil || len(a.Charges) > 0 {
			t.Errorf("%s %s: %v %v", a.Operation, a.Resource.Resource, err, a.Charges)
		}
	}
}

// A list of quotas without its revision cannot guard the write: the
// write is refused, not made unguarded.
func TestPluginRefusesAListWithoutRevision(t *testing.T) {
	p := &Plugin{Quotas: func(context.Context, string, bool) ([]*corev1.ResourceQuota, int64, error) { return nil, 0, nil }}
	r := catalog.Secrets()
	a := &admission.Attributes{Operation: admission.Create, Resource: r.GroupVersionResource(), Kind: r.GroupVersionKind(),
		Namespace: "ns", Name: "s", Object: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}}}
	if err := p.Validate(context.Background(), a); err == nil {
		t.Fatal("a quota list without a revision was accepted")
	}
}
