package catalog

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// stored describes a resource kept as clients write it: metadata
// validation and nothing else until the options below add more. Its
// singular name is its kind in lower case, as kube-apiserver reports it.
func stored(gv schema.GroupVersion, name, kind string, namespaced bool, newObj func() Object) *Resource {
	return &Resource{
		GroupVersion: gv, Name: name, SingularName: strings.ToLower(kind), Kind: kind, Namespaced: namespaced,
		New: newObj,
	}
}

// short sets the short names kubectl accepts for the resource.
func (r *Resource) short(names ...string) *Resource {
	r.ShortNames = names
	return r
}

// inAll puts the resource in the "all" category: kubectl get all lists it.
func (r *Resource) inAll() *Resource {
	r.Categories = append(r.Categories, "all")
	return r
}

// inCategory puts the resource in a category.
func (r *Resource) inCategory(c string) *Resource {
	r.Categories = append(r.Categories, c)
	return r
}

// withStatus adds the status subresource, as kube-apiserver's strategies
// pair it: a create drops any status the client sent, a write to the
// resource keeps the stored status, and only /status changes it.
func (r *Resource) withStatus() *Resource {
	r.Subresources = append(r.Subresources, StatusSubresource())
	prepare := r.PrepareForCreate
	r.PrepareForCreate = func(ctx context.Context, obj Object) {
		clearStatus(obj)
		if prepare != nil {
			prepare(ctx, obj)
		}
	}
	prepareUpdate := r.PrepareForUpdate
	r.PrepareForUpdate = func(obj, old Object) {
		keepStatus(obj, old)
		if prepareUpdate != nil {
			prepareUpdate(obj, old)
		}
	}
	return r
}

// withGeneration makes metadata.generation count spec changes.
func (r *Resource) withGeneration() *Resource {
	r.TracksGeneration = true
	return r
}

// prepared adds create-only and update-only preparation, after the
// defaults: onCreate(obj) and onUpdate(obj, old); either may be nil.
func (r *Resource) prepared(onCreate func(obj Object), onUpdate func(obj, old Object)) *Resource {
	prepare, prepareUpdate := r.PrepareForCreate, r.PrepareForUpdate
	if onCreate != nil {
		r.PrepareForCreate = func(ctx context.Context, obj Object) {
			if prepare != nil {
				prepare(ctx, obj)
			}
			onCreate(obj)
		}
	}
	if onUpdate != nil {
		r.PrepareForUpdate = func(obj, old Object) {
			if prepareUpdate != nil {
				prepareUpdate(obj, old)
			}
			onUpdate(obj, old)
		}
	}
	return r
}

// orphanByDefault keeps dependents on a delete that does not choose.
func (r *Resource) orphanByDefault() *Resource {
	r.OrphanByDefault = true
	return r
}

// withTable sets the table kubectl get prints.
func (r *Resource) withTable(t *Table) *Resource {
	r.Table = t
	return r
}

// withFields adds field selectors besides metadata.name and
// metadata.namespace.
func (r *Resource) withFields(fn func(obj Object) map[string]string, labels ...string) *Resource {
	r.SelectableFields, r.FieldLabels = fn, labels
	return r
}

// decoded sets Decoded.
func (r *Resource) decoded(fn func(obj Object)) *Resource {
	r.Decoded = fn
	return r
}

// defaulted adds defaults, applied to every object a write carries.
func (r *Resource) defaulted(fn func(obj Object)) *Resource {
	if prev := r.Default; prev != nil {
		r.Default = func(obj Object) {
			prev(obj)
			fn(obj)
		}
		return r
	}
	r.Default = fn
	return r
}

// validated sets the validation of new objects and of updates.
func (r *Resource) validated(create func(obj Object) field.ErrorList, update func(obj, old Object) field.ErrorList) *Resource {
	r.Validate, r.ValidateUpdate = create, update
	return r
}
