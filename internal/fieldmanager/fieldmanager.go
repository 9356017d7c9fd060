// Package fieldmanager records who owns each field of an object, in its
// metadata.managedFields, and merges server-side apply requests into
// objects, with the conflicts, forcing and client-side-apply upgrade that
// kube-apiserver has.
//
// The merging and ownership are sigs.k8s.io/structured-merge-diff's, the
// library Kubernetes uses, driven through apimachinery's managedfields
// package with client-go's schemas of the built-in types (list types and
// map keys included). What this package adds is sekisho's side: which
// fields a write may own (status belongs to /status), the manager's name,
// and one field manager per type and subresource, built once.
package fieldmanager

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorapply "k8s.io/kube-aggregator/pkg/client/applyconfiguration"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/sekisho/sekisho/internal/catalog"
)

// MaxManagerLength is the longest field manager name kube-apiserver
// accepts.
const MaxManagerLength = 128

// DefaultManager names the server's own writes, which come from no
// request.
const DefaultManager = "sekisho"

// Fields keeps one field manager per type and subresource.
type Fields struct {
	scheme *runtime.Scheme
	// types knows the built-in types; aggregated the APIService, which
	// kube-aggregator defines.
	types, aggregated *liveConverter

	mu       sync.Mutex
	managers map[key]*managedfields.FieldManager
}

type key struct {
	gvk         schema.GroupVersionKind
	subresource string
	reset       string // the top-level fields never owned, joined by ","
}

var (
	shared     *Fields
	sharedOnce sync.Once
)

// Shared returns the process's Fields. Parsing the schemas of every
// built-in type takes a moment and a few megabytes, so it is done once.
func Shared() *Fields {
	sharedOnce.Do(func() {
		s := runtime.NewScheme()
		utilruntime.Must(scheme.AddToScheme(s))
		utilruntime.Must(apiregistrationv1.AddToScheme(s))
		shared = &Fields{
			scheme:     s,
			types:      &liveConverter{TypeConverter: applyconfigurations.NewTypeConverter(s), scheme: s},
			aggregated: &liveConverter{TypeConverter: aggregatorapply.NewTypeConverter(s), scheme: s},
			managers:   map[key]*managedfields.FieldManager{},
		}
	})
	return shared
}

func (f *Fields) typesOf(gvk schema.GroupVersionKind) *liveConverter {
	if gvk.Group == apiregistrationv1.GroupName {
		return f.aggregated
	}
	return f.types
}

// manager returns the field manager for objects of r written through
// subresource ("" for the object itself).
func (f *Fields) manager(r *catalog.Resource, subresource string) (*managedfields.FieldManager, error) {
	gvk := r.GroupVersionKind()
	// A write to the object itself never owns what its strategy resets:
	// the status, when the status has its own endpoint, or what the
	// resource says (a CertificateSigningRequest's whole spec and status).
	var resetFields []string
	if subresource == "" {
		resetFields = r.ResetFields
		if resetFields == nil && r.Subresource("status") != nil {
			resetFields = []string{"status"}
		}
	}
	k := key{gvk: gvk, subresource: subresource, reset: strings.Join(resetFields, ",")}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.managers[k]; ok {
		return m, nil
	}
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	if len(resetFields) > 0 {
		set := fieldpath.NewSet()
		for _, name := range resetFields {
			set.Insert(fieldpath.MakePathOrDie(name))
		}
		reset = map[fieldpath.APIVersion]fieldpath.Filter{fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewExcludeSetFilter(set)}
	}
	m, err := managedfields.NewDefaultFieldManager(f.typesOf(gvk), sameVersion{f.scheme}, noDefaults{}, f.scheme, gvk, gvk.GroupVersion(), subresource, reset)
	if err != nil {
		return nil, fmt.Errorf("fieldmanager: %s: %w", gvk, err)
	}
	f.managers[k] = m
	return m, nil
}

// Supports reports whether server-side apply knows the type's schema.
func (f *Fields) Supports(r *catalog.Resource) bool {
	obj := r.New()
	obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
	_, err := f.typesOf(r.GroupVersionKind()).ObjectToTyped(obj)
	return err == nil
}

// Update records that manager wrote next over live: it gains the fields
// it changed, and others lose them. Managed fields the request itself
// carries replace the stored ones (an empty list resets them), as in
// kube-apiserver. It never fails the write: when ownership cannot be
// computed the stored managedFields are kept.
func (f *Fields) Update(r *catalog.Resource, subresource string, live, next catalog.Object, manager string) catalog.Object {
	m, err := f.manager(r, subresource)
	if err != nil {
		next.SetManagedFields(live.GetManagedFields())
		return next
	}
	withKind(r, live, next)
	liveCmp, nextCmp := withoutEqualFields(live, next)
	out, ok := m.UpdateNoErrors(liveCmp, nextCmp, manager).(catalog.Object)
	if !ok {
		next.SetManagedFields(live.GetManagedFields())
		return next
	}
	if out != next {
		next.SetManagedFields(out.GetManagedFields())
	}
	return next
}

// withoutEqualFields returns shallow copies of live and next without the
// top-level fields, other than kind, apiVersion and metadata, that are
// identical in both: a status update leaves the spec as it was, and
// comparing it field by field was half of what recording its ownership
// cost. Fields equal in both are in none of the comparison's sets, so the
// field managers record the same with or without them
// (TestUncheckedConversionRecordsTheSame). Equality is reflect.DeepEqual,
// stricter than what the comparison sees, so nothing that differs is left
// out. Objects that are not pointers to structs are returned as they are.
func withoutEqualFields(live, next catalog.Object) (catalog.Object, catalog.Object) {
	lv, nv := reflect.ValueOf(live), reflect.ValueOf(next)
	if lv.Kind() != reflect.Pointer || nv.Type() != lv.Type() || lv.Elem().Kind() != reflect.Struct || lv.IsNil() || nv.IsNil() {
		return live, next
	}
	t := lv.Elem().Type()
	var lc, nc reflect.Value
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous || f.Name == "ObjectMeta" || !f.IsExported() {
			continue
		}
		a, b := lv.Elem().Field(i), nv.Elem().Field(i)
		if a.IsZero() && b.IsZero() || !reflect.DeepEqual(a.Interface(), b.Interface()) {
			continue
		}
		if !lc.IsValid() {
			lc, nc = reflect.New(t), reflect.New(t)
			lc.Elem().Set(lv.Elem())
			nc.Elem().Set(nv.Elem())
		}
		lc.Elem().Field(i).SetZero()
		nc.Elem().Field(i).SetZero()
	}
	if !lc.IsValid() {
		return live, next
	}
	return lc.Interface().(catalog.Object), nc.Interface().(catalog.Object)
}

// Apply merges an apply configuration (patch) into live as manager's and
// returns the merged object, typed. A field another manager owns with a
// different value is a 409 Conflict naming the fields and their
// managers, unless force takes it over.
func (f *Fields) Apply(r *catalog.Resource, subresource string, live catalog.Object, patch runtime.Object, manager string, force bool) (catalog.Object, error) {
	m, err := f.manager(r, subresource)
	if err != nil {
		return nil, err
	}
	withKind(r, live)
	out, err := m.Apply(live, patch, manager, force)
	if err != nil {
		return nil, err
	}
	obj, ok := out.(catalog.Object)
	if !ok {
		return nil, fmt.Errorf("fieldmanager: apply of %s returned a %T", r.GroupVersionKind(), out)
	}
	return obj, nil
}

// withKind gives objects their kind, which the field managers need. A
// live object is shared with other readers, and already has its kind
// when it was decoded, so it is only written when missing.
func withKind(r *catalog.Resource, objs ...catalog.Object) {
	gvk := r.GroupVersionKind()
	for _, o := range objs {
		if o.GetObjectKind().GroupVersionKind() != gvk {
			o.GetObjectKind().SetGroupVersionKind(gvk)
		}
	}
}

// ManagerFromUserAgent is the manager kube-apiserver records for a write
// that names none: the user agent up to its first "/", printable
// characters only, at most MaxManagerLength bytes ("kubectl/v1.37.2
// (linux/amd64)" is "kubectl").
func ManagerFromUserAgent(ua string) string {
	product, _, _ := strings.Cut(ua, "/")
	var b strings.Builder
	for _, r := range product {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxManagerLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// noDefaults is the defaulter the field manager runs after an apply:
// none, because the write path defaults every object it stores.
type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}
