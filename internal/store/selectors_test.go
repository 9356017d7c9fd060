package store

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/sekisho/sekisho/internal/catalog"
)

// Deciding metadata.name and metadata.namespace from the storage key
// gives what the decoded object's field set gives, for every operator,
// on namespaced and cluster-scoped resources, alone and mixed with a
// field that needs the object.
func TestKeyFieldsDecideAsTheObjectDoes(t *testing.T) {
	secrets, namespaces := catalog.Secrets(), catalog.Namespaces()
	objs := []struct {
		res *catalog.Resource
		obj catalog.Object
	}{
		{secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}, Type: corev1.SecretTypeOpaque}},
		{secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}, Type: corev1.SecretTypeServiceAccountToken}},
		{secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns2", Name: "a"}, Type: corev1.SecretTypeOpaque}},
		{namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}},
		{namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}},
	}
	selectors := []string{
		"metadata.name=a", "metadata.name==a", "metadata.name!=a",
		"metadata.namespace=ns", "metadata.namespace!=ns", "metadata.namespace=",
		"metadata.name=a,metadata.namespace=ns2", "metadata.name=a,metadata.name=b",
		"metadata.name!=a,metadata.namespace!=ns2",
		"type=Opaque", "type=Opaque,metadata.name=a", "metadata.namespace=ns,type!=Opaque",
		"status.phase=Active,metadata.name=ns",
	}
	for _, o := range objs {
		data, err := encode(o.res, o.obj)
		if err != nil {
			t.Fatal(err)
		}
		key := Key(o.res, o.obj.GetNamespace(), o.obj.GetName())
		for _, text := range selectors {
			sel, err := fields.ParseSelector(text)
			if err != nil {
				t.Fatal(err)
			}
			want := sel.Matches(FieldSet(o.res, o.obj))
			opts := ListOptions{Fields: sel}
			got, err := opts.matches(o.res, key, newEntry(o.res, data, 1))
			if err != nil {
				t.Fatalf("%s %q: %v", key, text, err)
			}
			if got != want {
				t.Errorf("%s %q: matched %v, the object's fields say %v", key, text, got, want)
			}
		}
	}
}

// What the key decides is never decoded: a value that does not decode
// is passed over by a selector on another name, and included, as an
// unselected list includes it, by one its key satisfies; a selector on
// any other field must decode it, and says so. A key of another shape,
// and fields.Nothing(), are left to the object.
func TestKeyFieldsDoNotDecode(t *testing.T) {
	res := catalog.Secrets()
	broken := newEntry(res, []byte("k8s\x00not protobuf"), 1)
	key := Key(res, "ns", "broken")
	for text, want := range map[string]bool{"metadata.name=other": false, "metadata.namespace=ns": true, "metadata.name=other,type=Opaque": false} {
		opts := ListOptions{Fields: fields.ParseSelectorOrDie(text)}
		got, err := opts.matches(res, key, broken)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v without decoding", text, got, err, want)
		}
	}
	// A key of another shape under the resource's prefix (one level
	// short, as a Service left in an old layout would be) is left to the
	// object, not read as namespace/name.
	maps := catalog.ConfigMaps()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	data, err := encode(maps, cm)
	if err != nil {
		t.Fatal(err)
	}
	stray := ListOptions{Fields: fields.ParseSelectorOrDie("metadata.namespace=ns")}
	if ok, err := stray.matches(maps, Prefix(maps, "")+"a", newEntry(maps, data, 1)); !ok || err != nil {
		t.Errorf("a key one level short was decided by its shape: %v, %v", ok, err)
	}
	nothing := ListOptions{Fields: fields.Nothing()}
	if ok, _ := nothing.matches(res, key, newEntry(res, []byte("{}"), 1)); ok {
		t.Error("fields.Nothing() matched")
	}
	opts := ListOptions{Fields: fields.ParseSelectorOrDie("type=Opaque")}
	if _, err := opts.matches(res, key, broken); err == nil {
		t.Error("a selector on type matched a value that does not decode")
	}
}
