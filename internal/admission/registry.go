package admission

import (
	"errors"
	"fmt"
	"slices"
)

// Factory builds a plugin: a Mutator, a Validator, or both.
type Factory func() (any, error)

type entry struct {
	name    string
	always  bool
	factory Factory
}

// Registry knows every admission plugin, in the order they run. The order
// is the registry's, whatever the order of the names a chain is built
// from, as kube-apiserver runs its plugins in one fixed order.
type Registry struct {
	entries []entry
}

// Register adds a plugin that runs when it is named. Names must be unique.
func (r *Registry) Register(name string, f Factory) error {
	return r.add(entry{name: name, factory: f})
}

// RegisterAlways adds a plugin that runs in every chain, named or not:
// checks that kube-apiserver makes in its storage rather than in a
// plugin that can be turned off (RBAC escalation prevention, service IP
// allocation).
func (r *Registry) RegisterAlways(name string, f Factory) error {
	return r.add(entry{name: name, always: true, factory: f})
}

func (r *Registry) add(e entry) error {
	if e.name == "" || e.factory == nil {
		return errors.New("admission: a plugin needs a name and a factory")
	}
	if slices.ContainsFunc(r.entries, func(x entry) bool { return x.name == e.name }) {
		return fmt.Errorf("admission: plugin %q registered twice", e.name)
	}
	r.entries = append(r.entries, e)
	return nil
}

// Names lists the plugins that can be named, in order.
func (r *Registry) Names() []string {
	var out []string
	for _, e := range r.entries {
		if !e.always {
			out = append(out, e.name)
		}
	}
	return out
}

// Build returns the chain of the named plugins and of those that always
// run, in the registry's order. An unknown or repeated name is an error
// that names it.
func (r *Registry) Build(names []string) (*Chain, error) {
	want := map[string]bool{}
	for _, n := range names {
		i := slices.IndexFunc(r.entries, func(e entry) bool { return e.name == n })
		switch {
		case i < 0:
			return nil, fmt.Errorf("admission plugin %q is unknown (known: %v)", n, r.Names())
		case r.entries[i].always:
			return nil, fmt.Errorf("admission plugin %q always runs and cannot be named", n)
		case want[n]:
			return nil, fmt.Errorf("admission plugin %q is named twice", n)
		}
		want[n] = true
	}
	c := &Chain{}
	for _, e := range r.entries {
		if !e.always && !want[e.name] {
			continue
		}
		p, err := e.factory()
		if err != nil {
			return nil, fmt.Errorf("admission plugin %s: %w", e.name, err)
		}
		m, isMutator := p.(Mutator)
		v, isValidator := p.(Validator)
		if !isMutator && !isValidator {
			return nil, fmt.Errorf("admission plugin %s is neither a mutator nor a validator", e.name)
		}
		if isMutator {
			c.Mutators = append(c.Mutators, m)
		}
		if isValidator {
			c.Validators = append(c.Validators, v)
		}
		c.Names = append(c.Names, e.name)
	}
	return c, nil
}
