package fieldmanager

import (
	"maps"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/catalog"
)

func applied(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func owners(obj catalog.Object) map[string]string {
	out := map[string]string{}
	for _, e := range obj.GetManagedFields() {
		out[e.Manager+"/"+e.Subresource] = string(e.Operation) + " " + string(e.FieldsV1.Raw)
	}
	return out
}

// A create records its manager as owning every field it set, and a later
// update by another manager takes over the fields it changes.
func TestUpdateRecordsOwnership(t *testing.T) {
	f := Shared()
	res := catalog.ConfigMaps()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"x": "1"}}, Data: map[string]string{"k": "v", "j": "w"}}
	created := f.Update(res, "", res.New(), cm, "kubectl-create")
	got := owners(created)
	if len(got) != 1 || !strings.Contains(got["kubectl-create/"], `"f:data":{".":{},"f:j":{},"f:k":{}}`) || !strings.HasPrefix(got["kubectl-create/"], "Update ") {
		t.Fatalf("after create: %v", got)
	}
	next := created.DeepCopyObject().(*corev1.ConfigMap)
	next.SetManagedFields(nil) // a client that does not send them keeps them
	next.Data["k"] = "changed"
	updated := f.Update(res, "", created, next, "editor")
	got = owners(updated)
	if !strings.Contains(got["editor/"], `"f:k"`) || strings.Contains(got["kubectl-create/"], `"f:k"`) || !strings.Contains(got["kubectl-create/"], `"f:j"`) {
		t.Fatalf("after update: %v", got)
	}
	// An empty list resets the managed fields.
	reset := updated.DeepCopyObject().(*corev1.ConfigMap)
	reset.SetManagedFields([]metav1.ManagedFieldsEntry{})
	if got := f.Update(res, "", updated, reset, "editor").GetManagedFields(); len(got) != 0 {
		t.Fatalf("after a reset: %v", got)
	}
}

// A write to a Deployment owns no status: /status does.
func TestUpdateOfTheObjectOwnsNoStatus(t *testing.T) {
	f := Shared()
	res := catalog.Deployments()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"}, Status: appsv1.DeploymentStatus{Replicas: 3}}
	d.Spec.Replicas = new(int32(2))
	got := owners(f.Update(res, "", res.New(), d, "m"))
	if strings.Contains(got["m/"], "f:status") || !strings.Contains(got["m/"], "f:replicas") {
		t.Fatalf("owners: %v", got)
	}
	next := d.DeepCopyObject().(*appsv1.Deployment)
	next.Status.Replicas = 4
	got = owners(f.Update(res, "status", d, next, "controller"))
	if !strings.Contains(got["controller/status"], "f:status") {
		t.Fatalf("owners after a status write: %v", got)
	}
}

// Apply merges, and a field another manager owns with another value is a
// conflict that names both, unless forced.
func TestApplyConflictsAndForce(t *testing.T) {
	f := Shared()
	res := catalog.ConfigMaps()
	first, err := f.Apply(res, "", res.New(), applied(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\ndata: {k: v}\n"), "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	if cm := first.(*corev1.ConfigMap); cm.Data["k"] != "v" || len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("first apply: %+v", cm)
	}
	bob := applied(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\ndata: {k: other}\n")
	_, err = f.Apply(res, "", first, bob, "bob", false)
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "alice"`) || !strings.Contains(err.Error(), ".data.k") {
		t.Fatalf("conflicting apply: %v", err)
	}
	forced, err := f.Apply(res, "", first, bob, "bob", true)
	if err != nil {
		t.Fatal(err)
	}
	if cm := forced.(*corev1.ConfigMap); cm.Data["k"] != "other" {
		t.Fatalf("forced apply: %+v", cm.Data)
	}
	if got := owners(forced); strings.Contains(got["alice/"], "f:k") || !strings.Contains(got["bob/"], "f:k") {
		t.Fatalf("owners after force: %v", got)
	}
	// A field the applier stops sending, and nobody else owns, goes.
	gone, err := f.Apply(res, "", forced, applied(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n"), "bob", false)
	if err != nil {
		t.Fatal(err)
	}
	if cm := gone.(*corev1.ConfigMap); len(cm.Data) != 0 {
		t.Fatalf("after bob's field went from his configuration: %+v", cm.Data)
	}
}

// An apply names its own apiVersion; another version of the type is a 400.
func TestApplyChecksTheVersion(t *testing.T) {
	res := catalog.Deployments()
	_, err := Shared().Apply(res, "", res.New(), applied(t, "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: d}\n"), "m", false)
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("apply of another version: %v", err)
	}
}

func TestManagerFromUserAgent(t *testing.T) {
	for ua, want := range map[string]string{
		"kubectl/v1.37.2 (linux/amd64) kubernetes/abc": "kubectl",
		"kube-controller-manager/v1.37.2":              "kube-controller-manager",
		"":                                             "",
		"a\x00b/c":                                     "ab",
		strings.Repeat("x", 200):                       strings.Repeat("x", 128),
	} {
		if got := ManagerFromUserAgent(ua); got != want {
			t.Errorf("ManagerFromUserAgent(%q) = %q, want %q", ua, got, want)
		}
	}
}

// Every type the catalogue stores has a schema for server-side apply.
func TestEveryStoredTypeHasASchema(t *testing.T) {
	for _, r := range catalog.Builtin().Resources() {
		if r.Virtual {
			continue
		}
		if !Shared().Supports(r) {
			t.Errorf("%s: no schema for server-side apply", r.GroupVersionKind())
		}
	}
}

// The live object of an update is converted without the schema check;
// the managedFields that come out are those of the field manager that
// checks everything.
// Objects of Go types are converted for the field managers without the
// schema check (liveConverter), and without the top-level fields equal in
// both (withoutEqualFields). What that check would refuse in them, the
// comparison refuses too, and equal fields change no one's ownership:
// each case records exactly what a field manager given the whole objects
// and checking everything records, for an update and a create.
func TestUncheckedConversionRecordsTheSame(t *testing.T) {
	f := Shared()
	res := catalog.Pods()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "1"}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}}
	live := f.Update(res, "", res.New(), pod, "creator")
	cases := map[string]func(p *corev1.Pod){
		"status": func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
			p.Status.PodIP = "10.0.0.1"
		},
		"a container without its key": func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Image: "j"})
		},
		"two containers with one name": func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c", Image: "j"})
		},
		"a port without its protocol": func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 81})
		},
		"labels only": func(p *corev1.Pod) {
			p.Labels = map[string]string{"a": "2", "b": "1"}
		},
		"spec and status": func(p *corev1.Pod) {
			p.Spec.Containers[0].Image = "k"
			p.Status.Phase = corev1.PodFailed
		},
		"nothing": func(p *corev1.Pod) {},
		"a condition without its type": func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Status: corev1.ConditionFalse})
		},
	}
	for name, change := range cases {
		for _, sub := range []string{"", "status"} {
			var reset map[fieldpath.APIVersion]fieldpath.Filter
			if sub == "" { // as f.manager: a write to the pod itself owns no status
				reset = map[fieldpath.APIVersion]fieldpath.Filter{"v1": fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status")))}
			}
			checked, err := managedfields.NewDefaultFieldManager(applyconfigurations.NewTypeConverter(f.scheme), f.scheme, noDefaults{}, f.scheme,
				res.GroupVersionKind(), res.GroupVersionKind().GroupVersion(), sub, reset)
			if err != nil {
				t.Fatal(err)
			}
			next := live.DeepCopyObject().(*corev1.Pod)
			change(next)
			want := owners(checked.UpdateNoErrors(live.DeepCopyObject(), next.DeepCopyObject(), "writer").(catalog.Object))
			got := owners(f.Update(res, sub, live, next.DeepCopyObject().(catalog.Object), "writer"))
			if !maps.Equal(got, want) {
				t.Errorf("%s (subresource %q): got %v, want %v", name, sub, got, want)
			}
			if name == "status" && sub == "status" && !strings.Contains(got["writer/status"], `"f:podIP"`) {
				t.Errorf("status: owners %v", got)
			}
			// The same object created.
			wantNew := owners(checked.UpdateNoErrors(res.New(), next.DeepCopyObject(), "writer").(catalog.Object))
			gotNew := owners(f.Update(res, sub, res.New(), next.DeepCopyObject().(catalog.Object), "writer"))
			if !maps.Equal(gotNew, wantNew) {
				t.Errorf("%s created (subresource %q): got %v, want %v", name, sub, gotNew, wantNew)
			}
		}
	}
}
