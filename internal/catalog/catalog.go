// Package catalog describes every resource the API server serves: its
// names, scope, defaults, validation, table columns, selectable fields and
// subresources. Adding a type is one Resource value. It stores nothing:
// the store keeps the objects the catalog describes.
package catalog

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Object is a stored API object: a typed struct from k8s.io/api.
type Object interface {
	runtime.Object
	metav1.Object
}

// Resource describes one served resource.
type Resource struct {
	GroupVersion schema.GroupVersion
	// Name is the plural resource name in URLs, e.g. "secrets".
	Name         string
	SingularName string
	Kind         string
	Namespaced   bool
	ShortNames   []string
	Categories   []string

	// New returns an empty object of this resource's type.
	New func() Object

	// Virtual makes this a resource that answers instead of storing
	// (tokenreviews, selfsubjectreviews, access reviews): only POST is
	// served, and the server's ReviewFunc for it answers.
	Virtual bool
	// Computed makes this a resource whose objects are worked out when
	// read (componentstatuses): only get and list are served, by the
	// server's Computer for it, and nothing is stored.
	Computed bool
	// ActionOf, for a virtual resource, names the action subresource (of a
	// resource in the same group and version) that its create performs on
	// the object the request body names: bindings is pods/binding.
	ActionOf *ActionRef

	// ValidateName checks a name (or a generateName prefix).
	ValidateName func(name string, prefix bool) []string
	// Default fills in what kube-apiserver defaults as it decodes an
	// object, on every write that carries one: before field ownership is
	// recorded (the writer owns its defaults) and before PrepareForCreate
	// or PrepareForUpdate. It must be idempotent.
	Default func(obj Object)
	// Decoded fills in, on an object read from storage, what protobuf
	// does not carry and kube-apiserver's defaulting on read restores:
	// the kind and apiVersion of embedded objects. It must be idempotent.
	Decoded func(obj Object)
	// PrepareForCreate sets server-owned fields before
	// validation on create. ctx carries the requester (authn.UserFrom).
	PrepareForCreate func(ctx context.Context, obj Object)
	// PrepareForUpdate carries over fields a main-resource update may not
	// change (status, for resources with a status subresource).
	PrepareForUpdate func(obj, old Object)
	// Validate checks a new object; ValidateUpdate an update. Both may be nil.
	Validate       func(obj Object) field.ErrorList
	ValidateUpdate func(obj, old Object) field.ErrorList

	// Subresources that replace part of the object, e.g. "status".
	Subresources []*Subresource

	// SelectableFields returns the fields this type supports in field
	// selectors besides metadata.name and metadata.namespace.
	SelectableFields func(obj Object) map[string]string
	// FieldLabels lists the keys SelectableFields returns.
	FieldLabels []string
	// FieldLabelAliases maps a field label to the one it stands for
	// (pods: spec.host is spec.nodeName).
	FieldLabelAliases map[string]string
	// StoredAs keeps the resource's objects in another resource's form and
	// place (events.k8s.io/v1 Events are core/v1 Events); the store
	// converts them on the way in and out.
	StoredAs *StorageView
	// OrphanByDefault keeps an object's dependents when a delete does not
	// say (kube-apiserver's default for core/v1 ReplicationControllers and
	// batch/v1 Jobs, for backward compatibility).
	OrphanByDefault bool
	// FieldLabelRefusal words the refusal of a field label, for the types
	// whose own conversion in kube-apiserver words it (batch/v1 Jobs,
	// resource.k8s.io ResourceSlices); nil means the usual wording.
	FieldLabelRefusal func(label string) error
	// NamespaceUnselectable refuses metadata.namespace as a field selector
	// on a namespaced type, as kube-apiserver does for
	// podcertificaterequests.
	NamespaceUnselectable bool

	// Table renders objects for kubectl get. Nil means the default Name
	// and Created At columns.
	Table *Table

	// ResetFields are the top-level fields a write to the object itself
	// never owns in managedFields, because its strategy resets them; nil
	// means "status" when the resource has a status subresource.
	ResetFields []string

	// TracksGeneration makes metadata.generation count changes to the
	// object's desired state (everything but metadata and status).
	TracksGeneration bool

	// ReturnDeletedObject makes DELETE return the deleted object instead
	// of a Status, as kube-apiserver does for pods, services and namespaces.
	ReturnDeletedObject bool

	// NoDeleteCollection: the collection cannot be deleted in one request
	// (namespaces, as in Kubernetes), so discovery leaves the verb out and
	// the server answers 405.
	NoDeleteCollection bool
	// Undeletable explains why an object may never be deleted, or returns "".
	Undeletable func(obj Object) string
	// OnDelete adjusts an object when its deletion is requested, e.g. a
	// namespace turns Terminating.
	OnDelete func(obj Object)
	// DeletionHold reports a resource-specific finalizer that keeps an
	// object after its deletion is requested, such as a namespace's
	// spec.finalizers.
	DeletionHold func(obj Object) bool
	// GracePeriod, for a type deleted gracefully (pods), returns how many
	// seconds the object stays, marked, before it goes, given the period a
	// delete requests (nil: the type's default). 0 deletes at once.
	GracePeriod func(obj Object, requested *int64) int64

	prefixOnce sync.Once
	prefix     []byte // how every encoded object of this resource begins

	deprecationOnce sync.Once
	deprecation     string
}

// JSONPrefix is how the JSON of every object of this resource begins:
// encoding/json writes TypeMeta's fields first, then metadata. The store
// splices resourceVersions in right after it.
func (r *Resource) JSONPrefix() []byte {
	r.prefixOnce.Do(func() {
		r.prefix = fmt.Appendf(nil, `{"kind":%q,"apiVersion":%q,"metadata":{`, r.Kind, r.GroupVersion.String())
	})
	return r.prefix
}

// GroupVersionResource identifies the resource.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion.WithResource(r.Name)
}

// GroupVersionKind identifies the resource's type.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion.WithKind(r.Kind)
}

// ListKind is the kind of the resource's list type.
func (r *Resource) ListKind() string { return r.Kind + "List" }

// GroupResource names the resource in error messages.
func (r *Resource) GroupResource() schema.GroupResource {
	return r.GroupVersion.WithResource(r.Name).GroupResource()
}

// FieldLabel returns the field a field selector's label selects on, and
// whether the resource supports it, as kube-apiserver's field label
// conversions decide: metadata.name always; metadata.namespace on
// namespaced types, and on cluster-scoped types that define no field
// labels of their own; and the type's own labels and aliases.
func (r *Resource) FieldLabel(label string) (string, bool) {
	if to, ok := r.FieldLabelAliases[label]; ok {
		label = to
	}
	switch {
	case label == "metadata.name":
		return label, true
	case label == "metadata.namespace":
		return label, (r.Namespaced && !r.NamespaceUnselectable) || (!r.Namespaced && len(r.FieldLabels) == 0)
	}
	return label, slices.Contains(r.FieldLabels, label)
}

// FieldLabelError is kube-apiserver's refusal of a field selector label
// the resource does not support. Its wording depends on how the type's
// labels are converted there: types without labels of their own use the
// generic conversion, which lists the two it knows.
func (r *Resource) FieldLabelError(label string) error {
	switch {
	case len(r.FieldLabels) == 0:
		return fmt.Errorf(`%q is not a known field selector: only "metadata.name", "metadata.namespace"`, label)
	case r.FieldLabelRefusal != nil:
		return r.FieldLabelRefusal(label)
	}
	return fmt.Errorf("field label not supported: %s", label)
}

// Subresource returns the named subresource, or nil.
func (r *Resource) Subresource(name string) *Subresource {
	for _, s := range r.Subresources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Subresource is a part of an object with its own endpoint, such as
// "status". Writes to it change only that part.
type Subresource struct {
	Name string
	// Action makes the subresource an action: POST to it decodes the body
	// into a New() object and the server's ActionFunc for it answers,
	// without storing anything (serviceaccounts/token), or, when Change is
	// set, changes the parent object (pods/binding).
	Action bool
	// Connect makes the subresource a connection through the server to a
	// kubelet, a pod or a service (pods/log, pods/exec, nodes/proxy): the
	// server's ConnectFunc for it proxies every method it serves.
	Connect bool
	// Change, for an action that changes its parent, returns the parent as
	// the request in leaves it, or why it cannot: it runs in the write loop
	// after the request's admission, and the answer is a Status.
	Change func(parent, in Object) (Object, error)
	// New returns the request type of an action subresource.
	New func() Object
	// GroupVersionKind is the type of an action subresource.
	GroupVersionKind schema.GroupVersionKind
	// View, when set, makes the subresource a different kind than its
	// resource (scale: autoscaling/v1 Scale): reads answer View(object),
	// writes decode a New() and Apply it, and answer with its View.
	View func(obj Object) Object
	// Apply copies the subresource's part of obj onto a copy of old and
	// returns it: everything else stays as stored.
	Apply func(obj, old Object) Object
	// Validate checks the result of Apply; nil means the resource's ValidateUpdate.
	Validate func(obj, old Object) field.ErrorList
	// Verbs are the verbs discovery lists for the subresource.
	Verbs []string
}

// Answered reports whether the server must give the resource a ReviewFunc:
// it is virtual and does not act through a subresource.
func (r *Resource) Answered() bool { return r.Virtual && r.ActionOf == nil }

// Answered reports whether the server must give the subresource an
// ActionFunc: it is an action that does not change its parent.
func (s *Subresource) Answered() bool { return s.Action && s.Change == nil }

// StorageView is how a resource's objects are stored as another's.
type StorageView struct {
	// Resource is the stored form; it must share the resource's name.
	Resource *Resource
	// ToStorage and FromStorage convert between the two forms.
	ToStorage, FromStorage func(Object) Object
}

// ActionRef names an action subresource by resource and subresource name.
type ActionRef struct{ Resource, Subresource string }

// Catalog holds the served resources.
type Catalog struct {
	byGVR map[schema.GroupVersionResource]*Resource
	list  []*Resource
}

// New builds a catalog; it refuses duplicates.
func New(resources ...*Resource) (*Catalog, error) {
	r := &Catalog{byGVR: map[schema.GroupVersionResource]*Resource{}}
	for _, res := range resources {
		if err := r.add(res); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(r.list, func(i, j int) bool {
		a, b := r.list[i], r.list[j]
		if a.GroupVersion.Group != b.GroupVersion.Group {
			return a.GroupVersion.Group < b.GroupVersion.Group
		}
		return a.Name < b.Name
	})
	return r, nil
}

func (r *Catalog) add(res *Resource) error {
	gvr := res.GroupVersionResource()
	if _, dup := r.byGVR[gvr]; dup {
		return fmt.Errorf("catalog: %s registered twice", gvr)
	}
	if res.New == nil || res.Kind == "" || res.Name == "" {
		return fmt.Errorf("catalog: %s needs New, Kind and Name", gvr)
	}
	if got := reflect.TypeOf(res.New()).Elem().Name(); got != res.Kind {
		return fmt.Errorf("catalog: %s: New returns %s, not %s", gvr, got, res.Kind)
	}
	r.byGVR[gvr] = res
	r.list = append(r.list, res)
	return nil
}

// Lookup returns the resource for a group, version and plural name.
func (r *Catalog) Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	res, ok := r.byGVR[gvr]
	return res, ok
}

// Resources lists every resource, ordered by group then name.
func (r *Catalog) Resources() []*Resource { return r.list }

// GroupVersions lists the served group versions: the core group first,
// then the others by name.
func (r *Catalog) GroupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, res := range r.list {
		if !seen[res.GroupVersion] {
			seen[res.GroupVersion] = true
			out = append(out, res.GroupVersion)
		}
	}
	return out
}

// ServesGroupVersion reports whether the catalog serves any resource of gv.
func (r *Catalog) ServesGroupVersion(gv schema.GroupVersion) bool {
	for _, res := range r.list {
		if res.GroupVersion == gv {
			return true
		}
	}
	return false
}

// ByKind returns the resource whose type is gvk.
func (r *Catalog) ByKind(gvk schema.GroupVersionKind) (*Resource, bool) {
	for _, res := range r.list {
		if res.GroupVersionKind() == gvk {
			return res, true
		}
	}
	return nil, false
}

// copyField copies the exported field name from src to dst, which must be
// pointers to the same struct type.
func copyField(dst, src Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	s := reflect.ValueOf(src).Elem().FieldByName(name)
	d.Set(s)
}

// StatusSubresource is the usual "status" subresource: writes to it change
// only the Status field, and main-resource writes cannot change Status.
func StatusSubresource() *Subresource {
	return &Subresource{
		Name: "status",
		Apply: func(obj, old Object) Object {
			out := old.DeepCopyObject().(Object)
			copyField(out, obj, "Status")
			return out
		},
		Verbs: []string{"get", "patch", "update"},
	}
}

// keepStatus is a PrepareForUpdate that leaves Status as stored.
func keepStatus(obj, old Object) { copyField(obj, old, "Status") }

// clearStatus is a PrepareForCreate that drops any Status a client sent.
func clearStatus(obj Object) {
	v := reflect.ValueOf(obj).Elem().FieldByName("Status")
	v.Set(reflect.Zero(v.Type()))
}

// Verbs are the verbs discovery lists for the resource itself.
func (r *Resource) Verbs() []string {
	if r.Virtual {
		return []string{"create"}
	}
	if r.Computed {
		return []string{"get", "list"}
	}
	verbs := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	if r.NoDeleteCollection {
		verbs = slices.DeleteFunc(verbs, func(v string) bool { return v == "deletecollection" })
	}
	return verbs
}
