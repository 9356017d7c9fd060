package fieldmanager

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// sameVersion is the field managers' object convertor: an object already
// in the version asked for is returned as it is, not copied, as
// kube-apiserver's field managers do with their unsafe convertor. The
// field managers only read what they convert. Anything else, and every
// unstructured object, is converted by the scheme.
type sameVersion struct{ runtime.ObjectConvertor }

func (c sameVersion) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	if _, untyped := in.(runtime.Unstructured); untyped {
		return c.ObjectConvertor.ConvertToVersion(in, gv) // an apply configuration becomes typed
	}
	if gvk := in.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && target == gvk {
			return in, nil
		}
	}
	return c.ObjectConvertor.ConvertToVersion(in, gv)
}

// liveConverter is the field managers' TypeConverter. Converting an
// object to a typed value walks it twice: once to build the value and once
// to check it against the schema. For an object of a Go type converted
// with duplicates allowed (the live and the new object of every update
// and create, as kube-apiserver's field managers convert them) the check
// is skipped: the schema is generated from the same Go types, so scalars
// and fields always fit, and what is left to check, that every item of an
// associative list has its keys, is checked again by the comparison that
// follows, which fails the same way (TestUncheckedConversionRecordsTheSame).
// That walk was a third of what the managedFields bookkeeping of a busy
// cluster's writes cost (docs/benchmarks.md). Unstructured objects, such
// as apply configurations and custom resources, are always checked.
type liveConverter struct {
	managedfields.TypeConverter
	scheme *runtime.Scheme

	types sync.Map // schema.GroupVersionKind → *typed.TypedValue of an empty object
}

// ObjectToTyped converts obj, without the schema check when it is of a Go
// type and duplicates are allowed.
func (c *liveConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	if _, untyped := obj.(runtime.Unstructured); !untyped && slices.Contains(opts, typed.AllowDuplicates) {
		if empty := c.typeOf(obj); empty != nil {
			if v, err := value.NewValueReflect(obj); err == nil {
				return typed.AsTypedUnvalidated(v, empty.Schema(), empty.TypeRef()), nil
			}
		}
	}
	return c.TypeConverter.ObjectToTyped(obj, opts...)
}

// typeOf is the schema and type of obj's kind, as an empty object of it
// converted once; nil when the kind has no schema.
func (c *liveConverter) typeOf(obj runtime.Object) *typed.TypedValue {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if tv, ok := c.types.Load(gvk); ok {
		return tv.(*typed.TypedValue)
	}
	fresh, err := c.scheme.New(gvk)
	if err != nil {
		return nil
	}
	fresh.GetObjectKind().SetGroupVersionKind(gvk)
	empty, err := c.TypeConverter.ObjectToTyped(fresh)
	if err != nil {
		return nil
	}
	c.types.Store(gvk, empty)
	return empty
}
