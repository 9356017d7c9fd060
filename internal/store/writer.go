package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/fieldmanager"
)

// Writer makes every change to stored objects: create, update (whole,
// patched or applied), delete, delete collection, subresource writes and
// actions. Each write is admitted and validated against exactly the
// object it changes; see guaranteedUpdate for the loop. Reads go straight
// to the embedded Store.
//
// The requester is the user in the context (authn.UserFrom): a write
// without one is refused. The server's own writes use authn.AsAPIServer.
type Writer struct {
	*Store
	// Resources finds the resource of an object admission charges a
	// write to (admission.Charge); without it a charged write fails.
	Resources func(schema.GroupVersionResource) (*catalog.Resource, bool)

	admission   *admission.Chain
	fields      *fieldmanager.Fields
	chargeLocks keyLocks
}

// keyLocks are mutexes by storage key: one for each quota ever charged
// under contention, which is a handful per namespace.
type keyLocks struct{ m sync.Map }

// lock takes the locks of the charged objects' keys, in key order, and
// returns their release; nil when no object is charged.
func (l *keyLocks) lock(charges []charge) func() {
	keys := make([]string, 0, len(charges))
	for _, c := range charges {
		if c.obj != nil {
			keys = append(keys, Key(c.res, c.obj.GetNamespace(), c.obj.GetName()))
		}
	}
	if len(keys) == 0 {
		return nil // charged with no object (a list's revision alone): nothing to take turns on
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	held := make([]*sync.Mutex, len(keys))
	for i, k := range keys {
		m, _ := l.m.LoadOrStore(k, &sync.Mutex{})
		held[i] = m.(*sync.Mutex)
		held[i].Lock()
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}

// resolve gives admission's charges, and the lists they were decided
// from, their resources.
func (w *Writer) resolve(a *admission.Attributes) ([]charge, error) {
	if len(a.Charges) == 0 && len(a.ChargedFrom) == 0 {
		return nil, nil
	}
	lookup := func(gvr schema.GroupVersionResource) (*catalog.Resource, error) {
		if w.Resources != nil {
			if res, found := w.Resources(gvr); found {
				return res, nil
			}
		}
		return nil, apierrors.NewInternalError(fmt.Errorf("cannot write a charge to %s: not served", gvr))
	}
	out := make([]charge, 0, len(a.Charges)+len(a.ChargedFrom))
	for _, c := range a.Charges {
		obj, ok := c.Object.(catalog.Object)
		if !ok {
			return nil, apierrors.NewInternalError(fmt.Errorf("cannot write a charge to %s", c.Resource))
		}
		res, err := lookup(c.Resource)
		if err != nil {
			return nil, err
		}
		out = append(out, charge{res: res, obj: obj})
	}
	for _, b := range a.ChargedFrom {
		res, err := lookup(b.Resource)
		if err != nil {
			return nil, err
		}
		out = append(out, charge{res: res, namespace: b.Namespace, since: b.Rev})
	}
	return out, nil
}

// NewWriter returns the writer of s. It needs an admission chain: a
// caller that wants none says so with admission.AllowAll.
func NewWriter(s *Store, chain *admission.Chain) (*Writer, error) {
	if s == nil {
		return nil, errors.New("store: a writer needs a store")
	}
	if chain == nil {
		return nil, errors.New("store: a writer needs an admission chain (admission.AllowAll() admits every write)")
	}
	return &Writer{Store: s, admission: chain, fields: fieldmanager.Shared()}, nil
}

// Target names what a write is about.
type Target struct {
	Resource *catalog.Resource
	// Subresource is nil for the object itself.
	Subresource *catalog.Subresource
	Namespace   string
	Name        string
}

// ObjectTarget names the object itself.
func ObjectTarget(r *catalog.Resource, namespace, name string) Target {
	return Target{Resource: r, Namespace: namespace, Name: name}
}

func (t Target) subresourceName() string {
	if t.Subresource == nil {
		return ""
	}
	return t.Subresource.Name
}

// Options qualify a write.
type Options struct {
	// DryRun runs every step but the write itself.
	DryRun bool
	// Manager is who makes the write, as metadata.managedFields records
	// it: the request's fieldManager, or its user agent's product. The
	// server's own writes leave it empty and are recorded as
	// fieldmanager.DefaultManager.
	Manager string
}

func (o Options) manager() string {
	if o.Manager == "" {
		return fieldmanager.DefaultManager
	}
	return o.Manager
}

// DeleteOptions qualify a delete.
type DeleteOptions struct {
	Preconditions Preconditions
	DryRun        bool
	// Propagation and OrphanDependents (deprecated) choose what happens
	// to the object's dependents; nil means the resource's default. See
	// gcFinalizers.
	Propagation      *metav1.DeletionPropagation
	OrphanDependents *bool
	// GracePeriodSeconds, for a type deleted gracefully, overrides its
	// default period; a later delete may only shorten it.
	GracePeriodSeconds *int64
}

var errNoUser = apierrors.NewInternalError(errors.New("a write without a user is refused"))

// attributes describes a write to admission.
func attributes(ctx context.Context, op admission.Operation, t Target, obj, old catalog.Object, dryRun bool) (*admission.Attributes, error) {
	u := authn.UserFrom(ctx)
	if u == nil {
		return nil, errNoUser
	}
	a := &admission.Attributes{
		Operation: op, Resource: t.Resource.GroupVersionResource(), Kind: t.Resource.GroupVersionKind(),
		Subresource: t.subresourceName(), Namespace: t.Namespace, Name: t.Name, User: u, DryRun: dryRun,
	}
	if obj != nil {
		a.Object = obj
	}
	if old != nil {
		a.OldObject = old
	}
	return a, nil
}

func invalid(r *catalog.Resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(r.GroupVersionKind().GroupKind(), name, errs)
}

// Create stores a new object: the resource's create strategy, a name from
// generateName, mutating admission, validation, validating admission,
// then the write.
func (w *Writer) Create(ctx context.Context, r *catalog.Resource, obj catalog.Object, o Options) (*Entry, error) {
	return w.createObject(ctx, r, obj, o, false)
}

// createObject is Create; applied says obj is the result of a
// server-side apply, whose managedFields are already recorded.
func (w *Writer) createObject(ctx context.Context, r *catalog.Resource, obj catalog.Object, o Options, applied bool) (*Entry, error) {
	// The server owns uid and creationTimestamp; a strategy may use them
	// (a Job's generated selector names its uid).
	obj.SetUID("")
	obj.SetCreationTimestamp(metav1.Time{})
	w.fillSystemFields(obj)
	// In kube-apiserver's order: defaults as the object is decoded, then
	// field ownership, then mutating admission and the create strategy,
	// whose fields no manager owns. The strategy sees what admission set
	// (a pod's QoS class counts the requests LimitRanger gave it).
	if r.Default != nil {
		r.Default(obj)
	}
	if !applied {
		obj = w.fields.Update(r, "", r.New(), obj, o.manager())
	}
	generated := GenerateName(obj)
	name := obj.GetName()
	attrs, err := attributes(ctx, admission.Create, ObjectTarget(r, obj.GetNamespace(), name), obj, nil, o.DryRun)
	if err != nil {
		return nil, err
	}
	if err := w.admission.Mutate(ctx, attrs); err != nil {
		return nil, err
	}
	if r.PrepareForCreate != nil {
		r.PrepareForCreate(ctx, obj)
	}
	errs := r.ValidateMeta(obj)
	if r.Validate != nil {
		errs = append(errs, r.Validate(obj)...)
	}
	if len(errs) > 0 {
		return nil, invalid(r, name, errs)
	}
	if err := w.admission.Validate(ctx, attrs); err != nil {
		return nil, err
	}
	var unlock func()
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	for recharges := 0; ; recharges++ {
		charges, err := w.resolve(attrs)
		if err != nil {
			return nil, err
		}
		e, err := w.create(ctx, r, obj, generated, o.DryRun, charges)
		if !errors.Is(err, errRecharge) || recharges == maxRecharges {
			return e, err
		}
		// The charge lost a race: charge again holding the charged
		// objects, so that writes racing for one quota in this server
		// take turns instead of each charging again and again.
		if unlock == nil {
			unlock = w.chargeLocks.lock(charges)
		}
		if err := w.admission.Recharge(ctx, attrs); err != nil {
			return nil, err
		}
	}
}

// ChangeFunc turns the current object (a private copy) into the object
// the request asks for: a PUT's body, a patch applied to it, or a
// controller's edit. Returning an error refuses the write with it.
type ChangeFunc func(cur catalog.Object) (catalog.Object, error)

// Update changes one object, or one subresource of it. In each pass of
// the write loop it applies the request (apply) to the current object, then, against
// that object: checks the resourceVersion the request names, carries over
// what the server owns, applies the subresource or the update strategy,
// runs mutating admission, validates, runs validating admission and
// writes conditionally on the revision read. An object being deleted
// whose last finalizer goes is deleted.
func (w *Writer) Update(ctx context.Context, t Target, o Options, apply ChangeFunc) (*Entry, error) {
	e, _, err := w.update(ctx, t, o, apply, false)
	return e, err
}

// update is Update; applied says the change function is a server-side
// apply, which records the managedFields itself. found reports whether
// the object was there to change.
func (w *Writer) update(ctx context.Context, t Target, o Options, apply ChangeFunc, applied bool) (e *Entry, found bool, err error) {
	if t.Subresource != nil && t.Subresource.Apply == nil {
		return nil, false, apierrors.NewMethodNotSupported(t.Resource.GroupResource(), "update")
	}
	r := t.Resource
	e, _, err = w.guaranteedUpdate(ctx, r, t.Namespace, t.Name, o.DryRun, func(cur *read) (*change, error) {
		found = true
		obj, err := apply(cur.obj.DeepCopyObject().(catalog.Object))
		if err != nil {
			return nil, err
		}
		next, charges, err := w.admitUpdate(ctx, t, obj, cur.obj, o, applied, cur.recharges)
		if err != nil {
			return nil, err
		}
		if next.GetDeletionTimestamp() != nil && len(next.GetFinalizers()) == 0 && !holdsDeletion(r, next) {
			return &change{next: next, remove: true, charges: charges}, nil
		}
		if r.TracksGeneration && changesSpec(cur.obj, next) {
			next.SetGeneration(cur.obj.GetGeneration() + 1)
		}
		return &change{next: next, charges: charges}, nil
	})
	return e, found, err
}

// Apply merges a server-side apply configuration into the object t names,
// as o.Manager's (the manager is required), and writes it as an update
// does; an object that does not exist is created from the configuration
// alone (created is true). force takes over fields other managers own
// instead of answering 409 Conflict.
func (w *Writer) Apply(ctx context.Context, t Target, patch runtime.Object, force bool, o Options) (e *Entry, created bool, err error) {
	if o.Manager == "" {
		return nil, false, apierrors.NewBadRequest("a server-side apply needs a field manager")
	}
	r := t.Resource
	sub := t.subresourceName()
	if t.Subresource != nil && t.Subresource.View != nil {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("server-side apply to %s/%s is not supported", r.Name, sub))
	}
	merge := func(cur catalog.Object) (catalog.Object, error) {
		return w.fields.Apply(r, sub, cur, patch, o.Manager, force)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		e, found, err := w.update(ctx, t, o, merge, true)
		if found || !apierrors.IsNotFound(err) || t.Subresource != nil {
			return e, false, err
		}
		fresh := r.New()
		fresh.SetName(t.Name)
		fresh.SetNamespace(t.Namespace)
		obj, err := merge(fresh)
		if err != nil {
			return nil, false, err
		}
		if obj.GetName() != t.Name {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", obj.GetName(), t.Name))
		}
		e, err = w.createObject(ctx, r, obj, o, true)
		if !apierrors.IsAlreadyExists(err) {
			return e, err == nil, err
		}
		// Another writer created it first: apply to theirs.
	}
	return nil, false, ErrConflict(r, t.Name)
}

// admitUpdate turns the object a request asks for into the object to
// store, given the current one, records who changed which fields, and
// admits and validates it. It returns what admission charged the update
// to (admission.Charge).
func (w *Writer) admitUpdate(ctx context.Context, t Target, obj, cur catalog.Object, o Options, applied bool, recharges int) (catalog.Object, []charge, error) {
	r := t.Resource
	if rv := obj.GetResourceVersion(); rv != "" && rv != cur.GetResourceVersion() {
		return nil, nil, ErrConflict(r, cur.GetName())
	}
	if obj.GetName() != cur.GetName() {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", obj.GetName(), cur.GetName()))
	}
	// Server-owned metadata a client may omit is carried over.
	if obj.GetUID() == "" {
		obj.SetUID(cur.GetUID())
	}
	if ts := obj.GetCreationTimestamp(); ts.IsZero() {
		obj.SetCreationTimestamp(cur.GetCreationTimestamp())
	}
	obj.SetGeneration(cur.GetGeneration())
	obj.SetDeletionTimestamp(cur.GetDeletionTimestamp())
	obj.SetDeletionGracePeriodSeconds(cur.GetDeletionGracePeriodSeconds())
	obj.SetResourceVersion(cur.GetResourceVersion())
	next := obj
	if sub := t.Subresource; sub != nil {
		next = sub.Apply(obj, cur)
		if applied {
			next.SetManagedFields(obj.GetManagedFields())
		} else {
			next = w.fields.Update(r, sub.Name, cur, next, o.manager())
		}
	} else {
		if r.Default != nil {
			r.Default(next)
		}
		if !applied {
			next = w.fields.Update(r, "", cur, next, o.manager())
		}
	}
	attrs, err := attributes(ctx, admission.Update, t, next, cur, o.DryRun)
	if err != nil {
		return nil, nil, err
	}
	attrs.Recharges = recharges
	if err := w.admission.Mutate(ctx, attrs); err != nil {
		return nil, nil, err
	}
	// The update strategy runs after mutating admission, as in
	// kube-apiserver: what it keeps from the stored object, admission
	// cannot change.
	if t.Subresource == nil && r.PrepareForUpdate != nil {
		r.PrepareForUpdate(next, cur)
	}
	errs := r.ValidateMeta(next)
	errs = append(errs, catalog.ValidateMetaUpdate(next, cur)...)
	switch {
	case t.Subresource != nil && t.Subresource.Validate != nil:
		errs = append(errs, t.Subresource.Validate(next, cur)...)
	default:
		if r.Validate != nil {
			errs = append(errs, r.Validate(next)...)
		}
		if r.ValidateUpdate != nil {
			errs = append(errs, r.ValidateUpdate(next, cur)...)
		}
	}
	if len(errs) > 0 {
		return nil, nil, invalid(r, cur.GetName(), errs)
	}
	if err := w.admission.Validate(ctx, attrs); err != nil {
		return nil, nil, err
	}
	charges, err := w.resolve(attrs)
	if err != nil {
		return nil, nil, err
	}
	return next, charges, nil
}

// Delete deletes an object. In each pass of the write loop the
// preconditions and validating admission see the object that is then
// deleted, conditionally on its revision. An object with finalizers (or a
// resource's own deletion hold) is only marked with a deletionTimestamp;
// it goes when the last finalizer is removed. The returned Entry is the
// object as it now is (or was, when deleted is true).
func (w *Writer) Delete(ctx context.Context, t Target, o DeleteOptions) (e *Entry, deleted bool, err error) {
	if t.Subresource != nil {
		return nil, false, apierrors.NewMethodNotSupported(t.Resource.GroupResource(), "delete")
	}
	r := t.Resource
	return w.guaranteedUpdate(ctx, r, t.Namespace, t.Name, o.DryRun, func(cur *read) (*change, error) {
		obj := cur.obj
		if err := o.Preconditions.Check(r, obj); err != nil {
			return nil, err
		}
		attrs, err := attributes(ctx, admission.Delete, t, nil, obj, o.DryRun)
		if err != nil {
			return nil, err
		}
		if err := w.admission.Validate(ctx, attrs); err != nil {
			return nil, err
		}
		if msg := undeletable(r, obj); msg != "" {
			return nil, apierrors.NewForbidden(r.GroupResource(), t.Name, errors.New(msg))
		}
		marked := obj.DeepCopyObject().(catalog.Object)
		if r.OnDelete != nil {
			r.OnDelete(marked)
		}
		finalizers, changed := gcFinalizers(r, obj, o)
		if changed {
			marked.SetFinalizers(finalizers)
		}
		if r.GracePeriod != nil {
			if pending, keep := w.graceful(r, obj, marked, o); keep {
				if !pending && !changed {
					return nil, nil // a longer or no grace period changes nothing
				}
				return &change{next: marked}, nil
			}
		}
		if len(marked.GetFinalizers()) == 0 && !holdsDeletion(r, marked) {
			return &change{remove: true}, nil
		}
		if marked.GetDeletionTimestamp() == nil {
			now := metav1.NewTime(w.Now().Truncate(time.Second))
			zero := int64(0)
			marked.SetDeletionTimestamp(&now)
			marked.SetDeletionGracePeriodSeconds(&zero)
		}
		return &change{next: marked}, nil
	})
}

// DeleteCollection deletes every object a list selects, each in its own
// write loop. Objects that went meanwhile are skipped. It returns the
// objects as they now are (or were), and the revision of the list.
func (w *Writer) DeleteCollection(ctx context.Context, r *catalog.Resource, lo ListOptions, o DeleteOptions) ([]*Entry, int64, error) {
	lo.Limit, lo.Continue = 0, ""
	list, err := w.List(ctx, r, lo)
	if err != nil {
		return nil, 0, err
	}
	var out []*Entry
	for _, item := range list.Items {
		obj, err := item.Object()
		if err != nil {
			return nil, 0, err
		}
		e, _, err := w.Delete(ctx, ObjectTarget(r, obj.GetNamespace(), obj.GetName()),
			DeleteOptions{DryRun: o.DryRun, Propagation: o.Propagation, OrphanDependents: o.OrphanDependents, GracePeriodSeconds: o.GracePeriodSeconds})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, list.Rev, nil
}

// Act runs an action subresource: a create of its request object on an
// existing parent, admitted as kube-apiserver admits it (NodeRestriction
// checks a node's token requests here). An answering action
// (serviceaccounts/token) stores nothing and answer gives the response; a
// changing action (pods/binding) changes the parent in the write loop and
// returns nil.
func (w *Writer) Act(ctx context.Context, t Target, in catalog.Object, o Options, answer catalog.ActionFunc) (runtime.Object, error) {
	sub := t.Subresource
	if sub == nil || !sub.Action || (answer == nil) == (sub.Change == nil) {
		return nil, apierrors.NewMethodNotSupported(t.Resource.GroupResource(), "create")
	}
	parent, err := w.GetObject(ctx, t.Resource, t.Namespace, t.Name)
	if err != nil {
		return nil, err
	}
	attrs, err := attributes(ctx, admission.Create, t, in, nil, o.DryRun)
	if err != nil {
		return nil, err
	}
	attrs.Kind = sub.GroupVersionKind
	if err := w.admission.Mutate(ctx, attrs); err != nil {
		return nil, err
	}
	if err := w.admission.Validate(ctx, attrs); err != nil {
		return nil, err
	}
	if sub.Change == nil {
		if o.DryRun {
			ctx = catalog.WithDryRun(ctx)
		}
		return answer(ctx, parent, in)
	}
	return nil, w.change(ctx, t, in, o)
}

// change applies a changing action to its parent. The request object's
// UID and resourceVersion, when given, are preconditions on the parent.
func (w *Writer) change(ctx context.Context, t Target, in catalog.Object, o Options) error {
	r, sub := t.Resource, t.Subresource
	if in.GetName() != t.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("name in URL does not match name in %s object", sub.GroupVersionKind.Kind))
	}
	pre := Preconditions{UID: string(in.GetUID()), ResourceVersion: in.GetResourceVersion()}
	_, _, err := w.guaranteedUpdate(ctx, r, t.Namespace, t.Name, o.DryRun, func(cur *read) (*change, error) {
		if err := pre.Check(r, cur.obj); err != nil {
			return nil, err
		}
		next, err := sub.Change(cur.obj.DeepCopyObject().(catalog.Object), in)
		if err != nil {
			if _, ok := err.(apierrors.APIStatus); ok {
				return nil, err
			}
			return nil, apierrors.NewConflict(schema.GroupResource{Group: r.GroupVersion.Group, Resource: r.Name + "/" + sub.Name}, t.Name, err)
		}
		if errs := append(r.ValidateMeta(next), catalog.ValidateMetaUpdate(next, cur.obj)...); len(errs) > 0 {
			return nil, apierrors.NewInvalid(sub.GroupVersionKind.GroupKind(), t.Name, errs)
		}
		return &change{next: next}, nil
	})
	return err
}

// gcFinalizers returns the finalizers a delete leaves on obj so that the
// garbage collector (kube-controller-manager's) treats its dependents as
// asked, and whether they changed: "orphan" to keep the dependents,
// "foregroundDeletion" to delete them before the object; neither for a
// background delete. An explicit choice in the request wins, then a
// finalizer the object already has, then the resource's default
// (catalog.Resource.OrphanByDefault), as kube-apiserver decides.
func gcFinalizers(r *catalog.Resource, obj catalog.Object, o DeleteOptions) ([]string, bool) {
	has := func(f string) bool { return slices.Contains(obj.GetFinalizers(), f) }
	orphan, foreground := r.OrphanByDefault, false
	switch {
	case o.OrphanDependents != nil:
		orphan = *o.OrphanDependents
	case o.Propagation != nil:
		orphan = *o.Propagation == metav1.DeletePropagationOrphan
		foreground = *o.Propagation == metav1.DeletePropagationForeground
	case has(metav1.FinalizerOrphanDependents):
		orphan = true
	case has(metav1.FinalizerDeleteDependents):
		orphan, foreground = false, true
	}
	var out []string
	for _, f := range obj.GetFinalizers() {
		if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
			out = append(out, f)
		}
	}
	if orphan {
		out = append(out, metav1.FinalizerOrphanDependents)
	}
	if foreground {
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	before := slices.Sorted(slices.Values(obj.GetFinalizers()))
	after := slices.Sorted(slices.Values(out))
	if slices.Equal(before, after) {
		return obj.GetFinalizers(), false
	}
	return out, true
}

// graceful applies a type's grace period to a delete (kube-apiserver's
// graceful deletion): a first delete with a period marks the object with a
// deletionTimestamp that far ahead and keeps it; a later one may only
// shorten the period. It reports whether it marked (or re-marked) the
// object, and whether the object stays. A period of 0 lets the delete go
// on to remove the object.
func (w *Writer) graceful(r *catalog.Resource, cur, marked catalog.Object, o DeleteOptions) (marks, keep bool) {
	now := w.Now()
	if ts := cur.GetDeletionTimestamp(); ts != nil {
		old := cur.GetDeletionGracePeriodSeconds()
		if old == nil || *old == 0 {
			return false, false // not a graceful deletion: finalizers decide
		}
		if o.GracePeriodSeconds == nil || *o.GracePeriodSeconds >= *old {
			return false, true
		}
		period := max(*o.GracePeriodSeconds, 0)
		if period == 0 {
			return false, false
		}
		at := metav1.NewTime(ts.Add(time.Duration(period-*old) * time.Second))
		marked.SetDeletionTimestamp(&at)
		marked.SetDeletionGracePeriodSeconds(&period)
		return true, true
	}
	period := r.GracePeriod(cur, o.GracePeriodSeconds)
	if period <= 0 {
		return false, false
	}
	at := metav1.NewTime(now.Add(time.Duration(period) * time.Second))
	marked.SetDeletionTimestamp(&at)
	marked.SetDeletionGracePeriodSeconds(&period)
	return true, true
}
