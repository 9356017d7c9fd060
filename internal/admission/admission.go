// Package admission runs the checks a write passes after authorization and
// before storage: mutating plugins first, in order, then validating
// plugins, in order. Any plugin can refuse the write. Plugins live in
// plugins/<name> and are named as kube-apiserver names them; a Registry
// builds the chain from a list of names, always in the registry's order.
package admission

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/authn"
)

// Operation is the kind of write.
type Operation string

// Operations, as admission webhooks name them.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// Attributes describe one write.
type Attributes struct {
	Operation   Operation
	Resource    schema.GroupVersionResource
	Kind        schema.GroupVersionKind
	Subresource string
	Namespace   string
	Name        string
	// Object is the object being written (nil for delete); mutators may
	// change it. OldObject is the stored object (nil for create).
	Object    runtime.Object
	OldObject runtime.Object
	User      *authn.User
	DryRun    bool
	// Charges are the other objects the write changes (a ResourceQuota's
	// usage), which Chargers set. The writer stores them in the write's own
	// storage transaction, each conditionally on its resourceVersion.
	Charges []Charge
	// ChargedFrom are the lists Chargers decided the charges from (which
	// quotas a namespace has). The writer makes the write only if none of
	// their objects was created or changed after the list's revision, and
	// otherwise charges it again.
	ChargedFrom []ChargeBasis
	// Recharges counts how often the write has been charged again: a
	// Charger then reads what it charges from storage, not a cache.
	Recharges int
}

// ChargeBasis is a list a Charger read: every object of Resource in
// Namespace, complete as of revision Rev.
type ChargeBasis struct {
	Resource  schema.GroupVersionResource
	Namespace string
	Rev       int64
}

// Charge is one object a plugin changes along with the write it admits.
// Object carries the resourceVersion it was read at.
type Charge struct {
	Resource schema.GroupVersionResource
	Object   runtime.Object
}

// NewForbidden is a plugin's refusal of a write, worded as Kubernetes'
// admission plugins word it: `pods "x" is forbidden: <err>`. The object is
// named from the attributes, or on create from the object itself.
func NewForbidden(a *Attributes, err error) error {
	name := a.Name
	if name == "" && a.Object != nil {
		if m, merr := meta.Accessor(a.Object); merr == nil {
			name = m.GetName()
		}
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), name, err)
}

// Mutator may change the object of a write, or refuse it.
type Mutator interface {
	Admit(ctx context.Context, a *Attributes) error
}

// Validator may refuse a write; it must not change it.
type Validator interface {
	Validate(ctx context.Context, a *Attributes) error
}

// Charger is a Validator that charges the write to other objects
// (Attributes.Charges). When one of them changed between its read and the
// write, the transaction fails and the writer calls Recharge: Chargers
// alone validate again, against the objects as they now are.
type Charger interface {
	Validator
	// Charges marks the validator as a Charger.
	Charges()
}

// MutatorFunc adapts a function to Mutator.
type MutatorFunc func(ctx context.Context, a *Attributes) error

// Admit implements Mutator.
func (f MutatorFunc) Admit(ctx context.Context, a *Attributes) error { return f(ctx, a) }

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(ctx context.Context, a *Attributes) error

// Validate implements Validator.
func (f ValidatorFunc) Validate(ctx context.Context, a *Attributes) error { return f(ctx, a) }

// Chain is the ordered admission pipeline, as a Registry builds it. A nil
// Chain refuses every write: admission fails closed. A server that wants
// no admission (tests) says so with AllowAll.
type Chain struct {
	// Names lists the plugins in the chain, in the order they run.
	Names      []string
	Mutators   []Mutator
	Validators []Validator
}

// AllowAll is a chain without plugins: every write is admitted.
func AllowAll() *Chain { return &Chain{} }

// errNoChain is the refusal of a write when the server was built without
// admission.
var errNoChain = apierrors.NewInternalError(errors.New("no admission chain: the write is refused"))

// Mutate runs every mutator in order and stops at the first refusal.
func (c *Chain) Mutate(ctx context.Context, a *Attributes) error {
	if c == nil {
		return errNoChain
	}
	for _, m := range c.Mutators {
		if err := m.Admit(ctx, a); err != nil {
			return timedOut(ctx, err)
		}
	}
	return nil
}

// timedOut is a plugin's error, unless the request ran out of time: then
// the plugin's failure (a lookup cut short, wrapped as an internal error)
// is only a symptom, and the client is owed the timeout.
func timedOut(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// Recharge clears the write's charges and runs the Chargers again, in
// order; see Charger.
func (c *Chain) Recharge(ctx context.Context, a *Attributes) error {
	if c == nil {
		return errNoChain
	}
	a.Charges, a.ChargedFrom = nil, nil
	a.Recharges++
	for _, v := range c.Validators {
		if _, ok := v.(Charger); !ok {
			continue
		}
		if err := v.Validate(ctx, a); err != nil {
			return timedOut(ctx, err)
		}
	}
	return nil
}

// Validate runs every validator in order and stops at the first refusal.
func (c *Chain) Validate(ctx context.Context, a *Attributes) error {
	if c == nil {
		return errNoChain
	}
	a.Charges, a.ChargedFrom = nil, nil
	for _, v := range c.Validators {
		if err := v.Validate(ctx, a); err != nil {
			return timedOut(ctx, err)
		}
	}
	return nil
}
