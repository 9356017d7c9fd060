package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/bolt"
)

func testStore(t testing.TB) *Store {
	t.Helper()
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	return NewStore(kv)
}

func testWriter(t *testing.T, s *Store, validate admission.ValidatorFunc) *Writer {
	t.Helper()
	chain := admission.AllowAll()
	if validate != nil {
		chain.Validators = append(chain.Validators, validate)
	}
	w, err := NewWriter(s, chain)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var dana = authn.WithUser(context.Background(), &authn.User{Name: "dana", Groups: []string{authn.GroupAuthenticated}})

func configMap(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: labels}, Data: map[string]string{"k": "v"}}
}

// A server cannot be built without an admission chain.
func TestWriterNeedsAChain(t *testing.T) {
	if _, err := NewWriter(testStore(t), nil); err == nil || !strings.Contains(err.Error(), "needs an admission chain") {
		t.Errorf("NewWriter without a chain: %v", err)
	}
}

// A write that names no user is refused, not admitted as nobody.
func TestWriterRefusesWritesWithoutUser(t *testing.T) {
	w := testWriter(t, testStore(t), nil)
	if _, err := w.Create(context.Background(), catalog.ConfigMaps(), configMap("a", nil), Options{}); !apierrors.IsInternalError(err) {
		t.Errorf("create without a user: %v", err)
	}
	if _, err := w.Create(dana, catalog.ConfigMaps(), configMap("a", nil), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Delete(context.Background(), ObjectTarget(catalog.ConfigMaps(), "ns", "a"), DeleteOptions{}); !apierrors.IsInternalError(err) {
		t.Errorf("delete without a user: %v", err)
	}
}

// protect refuses to delete an object labelled protected=true. The first
// time it is asked, another writer labels the object between the check and
// the delete: the write loop must see the conflict, read again, and ask
// again about the object it would delete.
func TestDeleteAdmitsTheObjectItDeletes(t *testing.T) {
	s := testStore(t)
	res := catalog.ConfigMaps()
	other := testWriter(t, s, nil)
	var seen []string
	w := testWriter(t, s, func(ctx context.Context, a *admission.Attributes) error {
		if a.Operation != admission.Delete {
			return nil
		}
		old := a.OldObject.(*corev1.ConfigMap)
		seen = append(seen, old.Labels["protected"])
		if len(seen) == 1 {
			if _, err := other.Update(dana, ObjectTarget(res, "ns", "doc"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
				cur.SetLabels(map[string]string{"protected": "true"})
				return cur, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if old.Labels["protected"] == "true" {
			return apierrors.NewForbidden(res.GroupResource(), a.Name, errors.New("protected"))
		}
		return nil
	})
	if _, err := w.Create(dana, res, configMap("doc", nil), Options{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := w.Delete(dana, ObjectTarget(res, "ns", "doc"), DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("delete of an object protected after the first check: %v", err)
	}
	if len(seen) != 2 || seen[0] != "" || seen[1] != "true" {
		t.Errorf("admission saw %q, want the stale read then the current one", seen)
	}
	if _, err := s.Get(context.Background(), res, "ns", "doc"); err != nil {
		t.Errorf("the protected object is gone: %v", err)
	}
}

// The UID precondition is checked against the object deleted: when the
// object is replaced by a namesake after the first read, the delete is a
// conflict, and the namesake stays.
func TestDeleteUIDPreconditionOnCurrentObject(t *testing.T) {
	s := testStore(t)
	res := catalog.ConfigMaps()
	other := testWriter(t, s, nil)
	replaced := false
	w := testWriter(t, s, func(ctx context.Context, a *admission.Attributes) error {
		if a.Operation == admission.Delete && !replaced {
			replaced = true
			if _, _, err := other.Delete(dana, ObjectTarget(res, "ns", "doc"), DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := other.Create(dana, res, configMap("doc", nil), Options{}); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	first, err := w.Create(dana, res, configMap("doc", nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := first.Object()
	_, _, err = w.Delete(dana, ObjectTarget(res, "ns", "doc"), DeleteOptions{Preconditions: Preconditions{UID: string(obj.GetUID())}})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Precondition failed: UID in precondition: "+string(obj.GetUID())) {
		t.Fatalf("delete of a replaced object: %v", err)
	}
	now, err := s.GetObject(context.Background(), res, "ns", "doc")
	if err != nil || now.GetUID() == obj.GetUID() {
		t.Errorf("the namesake: %v, uid %s (first %s)", err, now.GetUID(), obj.GetUID())
	}
}

// An update that loses a race is applied again to the object that won:
// neither change is lost, and admission sees the merged object.
func TestUpdateRetriesOnTheCurrentObject(t *testing.T) {
	s := testStore(t)
	res := catalog.ConfigMaps()
	other := testWriter(t, s, nil)
	var admitted []map[string]string
	w := testWriter(t, s, func(ctx context.Context, a *admission.Attributes) error {
		if a.Operation != admission.Update {
			return nil
		}
		admitted = append(admitted, a.Object.(*corev1.ConfigMap).Labels)
		if len(admitted) == 1 {
			if _, err := other.Update(dana, ObjectTarget(res, "ns", "doc"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
				cur.(*corev1.ConfigMap).Data["other"] = "x"
				return cur, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if _, err := w.Create(dana, res, configMap("doc", nil), Options{}); err != nil {
		t.Fatal(err)
	}
	e, err := w.Update(dana, ObjectTarget(res, "ns", "doc"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cur.SetLabels(map[string]string{"mine": "y"})
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.Object()
	cm := got.(*corev1.ConfigMap)
	if cm.Labels["mine"] != "y" || cm.Data["other"] != "x" || len(admitted) != 2 {
		t.Errorf("after the race: labels %v data %v, admitted %d times", cm.Labels, cm.Data, len(admitted))
	}
}

// A request that names a resourceVersion is not retried on another one.
func TestUpdateResourceVersionConflict(t *testing.T) {
	s := testStore(t)
	res := catalog.ConfigMaps()
	w := testWriter(t, s, nil)
	first, err := w.Create(dana, res, configMap("doc", nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Update(dana, ObjectTarget(res, "ns", "doc"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cur.SetLabels(map[string]string{"a": "b"})
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = w.Update(dana, ObjectTarget(res, "ns", "doc"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cur.SetResourceVersion(strconv.FormatInt(first.Rev, 10))
		return cur, nil
	})
	if !apierrors.IsConflict(err) {
		t.Errorf("stale resourceVersion: %v", err)
	}
}

// A list item is the object as served without its kind and apiVersion,
// whether its JSON was built already or not, and for a resource stored in
// another's form (events.k8s.io Events) too.
func TestWriteItemJSON(t *testing.T) {
	s := testStore(t)
	w := testWriter(t, s, nil)
	cms := catalog.ConfigMaps()
	if _, err := w.Create(dana, cms, configMap("a", map[string]string{"x": "y"}), Options{}); err != nil {
		t.Fatal(err)
	}
	events, eventsV1 := catalog.Events(), catalog.EventsV1()
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "ns"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "ns"}, Reason: "R", Type: "Normal"}
	if _, err := w.Create(dana, events, ev, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, res := range []*catalog.Resource{cms, eventsV1} {
		for _, built := range []bool{false, true} {
			l, err := s.List(dana, res, ListOptions{Namespace: "ns"})
			if err != nil || len(l.Items) != 1 {
				t.Fatalf("%s: %v %v", res.Name, l, err)
			}
			e := l.Items[0]
			var whole map[string]any
			if built {
				json.Unmarshal(e.JSON(), &whole)
			}
			var b bytes.Buffer
			if err := e.WriteItemJSON(&b); err != nil {
				t.Fatal(err)
			}
			var item map[string]any
			if err := json.Unmarshal(b.Bytes(), &item); err != nil {
				t.Fatalf("%s: %v: %s", res.Name, err, b.Bytes())
			}
			if !built {
				json.Unmarshal(e.JSON(), &whole)
			}
			if whole["kind"] != res.Kind || whole["apiVersion"] != res.GroupVersion.String() {
				t.Errorf("%s: served %v %v", res.Name, whole["kind"], whole["apiVersion"])
			}
			delete(whole, "kind")
			delete(whole, "apiVersion")
			if !reflect.DeepEqual(item, whole) || item["metadata"].(map[string]any)["resourceVersion"] == "" {
				t.Errorf("%s (JSON built %v): item %s", res.Name, built, b.Bytes())
			}
		}
	}
}

// chargingWriter is a writer whose admission is charger alone, charging
// objects of quotas.
func chargingWriter(t *testing.T, s *Store, charger admission.Validator, quotas *catalog.Resource) *Writer {
	t.Helper()
	chain := admission.AllowAll()
	chain.Validators = append(chain.Validators, charger)
	w, err := NewWriter(s, chain)
	if err != nil {
		t.Fatal(err)
	}
	w.Resources = func(gvr schema.GroupVersionResource) (*catalog.Resource, bool) {
		return quotas, gvr == quotas.GroupVersionResource()
	}
	return w
}

// counterCharger charges every create and update of a config map to one
// counter (a ResourceQuota's status.used["count"]), read from the store
// as it is now, as the ResourceQuota plugin charges its quotas.
type counterCharger struct {
	s     *Store
	quota *catalog.Resource
	calls atomic.Int64
}

func (c *counterCharger) Charges() {}

func (c *counterCharger) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Kind.Kind != "ConfigMap" {
		return nil
	}
	c.calls.Add(1)
	obj, err := c.s.GetObject(ctx, c.quota, "ns", "counter")
	if err != nil {
		return err
	}
	q := obj.(*corev1.ResourceQuota).DeepCopy()
	n := q.Status.Used["count"]
	n.Add(resource.MustParse("1"))
	q.Status.Used = corev1.ResourceList{"count": n}
	a.Charges = append(a.Charges, admission.Charge{Resource: c.quota.GroupVersionResource(), Object: q})
	return nil
}

// Writes charged to one object all go in, each with its charge, however
// many race: a charge that lost its race is charged again, not refused as
// a conflict, and no charge is lost or made without its write.
func TestChargesRaceWithoutLoss(t *testing.T) {
	s := testStore(t)
	quotas := catalog.ResourceQuotas()
	charger := &counterCharger{s: s, quota: quotas}
	w := chargingWriter(t, s, charger, quotas)
	counter := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "counter", Namespace: "ns"},
		Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{"count": resource.MustParse("0")}}}
	if _, err := testWriter(t, s, nil).Create(dana, quotas, counter, Options{}); err != nil {
		t.Fatal(err)
	}
	cms := catalog.ConfigMaps()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := "cm-" + strconv.Itoa(i)
			if _, err := w.Create(dana, cms, configMap(name, nil), Options{}); err != nil {
				t.Error(err)
				return
			}
			_, err := w.Update(dana, ObjectTarget(cms, "ns", name), Options{}, func(cur catalog.Object) (catalog.Object, error) {
				cur.(*corev1.ConfigMap).Data["k"] = "changed"
				return cur, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	obj, err := s.GetObject(dana, quotas, "ns", "counter")
	if err != nil {
		t.Fatal(err)
	}
	used := obj.(*corev1.ResourceQuota).Status.Used["count"]
	if used.Value() != 2*n {
		t.Errorf("counter %s after %d charged writes", used.String(), 2*n)
	}
	if charger.calls.Load() <= 2*n {
		t.Logf("no write had to be charged again (%d charges): the race was not exercised", charger.calls.Load())
	}
	// A dry run is admitted, but its charge is not written.
	if _, err := w.Create(dana, cms, configMap("dry", nil), Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	obj, _ = s.GetObject(dana, quotas, "ns", "counter")
	if got := obj.(*corev1.ResourceQuota).Status.Used["count"]; got.Value() != 2*n {
		t.Errorf("a dry run was charged: %s", got.String())
	}
}

// basisCharger decides its (empty) charges from a list of quotas as of
// rev, as the ResourceQuota plugin does from its cache, and from the
// store's current revision when charging again.
type basisCharger struct {
	s         *Store
	quota     *catalog.Resource
	rev       int64
	recharges []int
}

func (c *basisCharger) Charges() {}

func (c *basisCharger) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Kind.Kind != "ConfigMap" {
		return nil
	}
	c.recharges = append(c.recharges, a.Recharges)
	rev := c.rev
	if a.Recharges > 0 {
		var err error
		if rev, err = c.s.KV.Rev(ctx); err != nil {
			return err
		}
	}
	a.ChargedFrom = append(a.ChargedFrom, admission.ChargeBasis{Resource: c.quota.GroupVersionResource(), Namespace: "ns", Rev: rev})
	return nil
}

// A write whose charges were decided from a list of quotas older than a
// quota of its namespace is not made as decided: it is charged again,
// from storage, on create and on update. A quota of another namespace
// does not count.
func TestChargesFromAStaleListAreChargedAgain(t *testing.T) {
	s := testStore(t)
	quotas, cms := catalog.ResourceQuotas(), catalog.ConfigMaps()
	before, err := s.KV.Rev(dana)
	if err != nil {
		t.Fatal(err)
	}
	charger := &basisCharger{s: s, quota: quotas, rev: before}
	w := chargingWriter(t, s, charger, quotas)
	for _, ns := range []string{"other", "ns"} {
		q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: ns}}
		if _, err := testWriter(t, s, nil).Create(dana, quotas, q, Options{}); err != nil {
			t.Fatal(err)
		}
		if ns == "other" {
			if _, err := w.Create(dana, cms, configMap("cm-0", nil), Options{}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(charger.recharges) != "[0]" {
				t.Fatalf("a quota in another namespace made the write charge again: %v", charger.recharges)
			}
			charger.recharges = nil
		}
	}
	if _, err := w.Create(dana, cms, configMap("cm-1", nil), Options{}); err != nil {
		t.Fatal(err)
	}
	_, err = w.Update(dana, ObjectTarget(cms, "ns", "cm-1"), Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cur.(*corev1.ConfigMap).Data = map[string]string{"k": "changed"}
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(charger.recharges) != "[0 1 0 1]" {
		t.Fatalf("charges of a create and an update decided from a list older than a quota: passes %v, want [0 1 0 1]", charger.recharges)
	}
	charger.recharges = nil
	if charger.rev, err = s.KV.Rev(dana); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(dana, cms, configMap("cm-2", nil), Options{}); err != nil || fmt.Sprint(charger.recharges) != "[0]" {
		t.Fatalf("charges decided from a current list: %v, passes %v", err, charger.recharges)
	}
}

// What a mutating plugin changes is validated like the rest of the
// object, on create and on update: a plugin cannot write what a client
// could not.
func TestMutationsAreValidated(t *testing.T) {
	s := testStore(t)
	chain := admission.AllowAll()
	breaking := false
	chain.Mutators = append(chain.Mutators, admission.MutatorFunc(func(_ context.Context, a *admission.Attributes) error {
		if breaking {
			a.Object.(*corev1.ConfigMap).Labels = map[string]string{"not a label!": "x"}
		}
		return nil
	}))
	w, err := NewWriter(s, chain)
	if err != nil {
		t.Fatal(err)
	}
	cms := catalog.ConfigMaps()
	if _, err := w.Create(dana, cms, configMap("fine", nil), Options{}); err != nil {
		t.Fatal(err)
	}
	breaking = true
	if _, err := w.Create(dana, cms, configMap("broken", nil), Options{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.labels") {
		t.Errorf("create with a plugin's invalid label: %v", err)
	}
	_, err = w.Update(dana, ObjectTarget(cms, "ns", "fine"), Options{}, func(cur catalog.Object) (catalog.Object, error) { return cur, nil })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.labels") {
		t.Errorf("update with a plugin's invalid label: %v", err)
	}
	if _, err := s.Get(dana, cms, "ns", "broken"); !apierrors.IsNotFound(err) {
		t.Errorf("the refused object was stored: %v", err)
	}
}
