package quota

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Write is a write to be charged to the quotas of its namespace.
type Write struct {
	Resource    schema.GroupResource
	Op          Operation
	Subresource string
	// Object is what is written; Old, on update, what it replaces.
	Object, Old runtime.Object
}

// Refusal is a write the quotas do not allow; its message is
// kube-apiserver's.
type Refusal struct{ msg string }

func (r *Refusal) Error() string { return r.msg }

func refuse(format string, args ...any) error {
	return &Refusal{msg: fmt.Sprintf(format, args...)}
}

// Charge checks a write against the quotas of its namespace, as
// kube-apiserver's ResourceQuota admission does, and returns copies of
// the quotas it changes, with the write's usage added to status.used.
// A write the quotas do not allow gets a *Refusal. quotas are not
// changed; the copies share their metadata with them, and only their
// status and top-level fields may be changed.
func (r Registry) Charge(quotas []*corev1.ResourceQuota, w Write) ([]*corev1.ResourceQuota, error) {
	if len(quotas) == 0 {
		return nil, nil
	}
	e := r.For(w.Resource)
	if !e.Handles(w.Op, w.Subresource, w.Object, w.Old) {
		return nil, nil
	}
	var covering []*corev1.ResourceQuota
	for _, q := range quotas {
		limited := e.MatchingResources(Names(q.Status.Hard))
		match, err := matches(e, q, limited, w.Object)
		if err != nil {
			return nil, fmt.Errorf("matching quota %s: %w", q.Name, err)
		}
		if !match {
			continue
		}
		if err := e.Constraints(limited, w.Object); err != nil {
			return nil, refuse("failed quota: %s: %v", q.Name, err)
		}
		for _, n := range limited {
			if _, ok := q.Status.Used[n]; !ok {
				return nil, refuse("status unknown for quota: %s, resources: %s", q.Name, NamesString(limited))
			}
		}
		covering = append(covering, q)
	}
	if len(covering) == 0 {
		return nil, nil
	}
	usage, err := e.Usage(w.Object)
	if err != nil {
		return nil, err
	}
	if neg := Negative(usage); len(neg) > 0 {
		return nil, refuse("quota usage is negative for resource(s): %s", NamesString(neg))
	}
	deltas := make([]corev1.ResourceList, len(covering))
	for i := range covering {
		deltas[i] = usage
	}
	if w.Op == Update {
		if w.Old == nil {
			return nil, refuse("unable to get previous usage since prior version of object was not found")
		}
		// An update is charged what it adds, to the quotas that already
		// covered the object; the others are charged all of it.
		if m, err := meta.Accessor(w.Old); err == nil && m.GetResourceVersion() != "" {
			before, err := e.Usage(w.Old)
			if err != nil {
				return nil, err
			}
			delta := SubtractFloor(usage, before)
			for i, q := range covering {
				covered, err := Matches(e, q, w.Old)
				if err != nil {
					return nil, fmt.Errorf("matching quota %s: %w", q.Name, err)
				}
				if covered {
					deltas[i] = delta
				}
			}
		}
	}
	var out []*corev1.ResourceQuota
	for i, q := range covering {
		delta := RemoveZeros(deltas[i])
		if len(delta) == 0 {
			continue
		}
		hard := Names(q.Status.Hard)
		requested := Mask(delta, hard)
		used := Add(q.Status.Used, requested)
		if w.Subresource != "status" {
			if ok, over := LessThanOrEqual(Mask(used, Names(requested)), q.Status.Hard); !ok {
				return nil, refuse("exceeded quota: %s, requested: %s, used: %s, limited: %s",
					q.Name, String(Mask(requested, over)), String(Mask(q.Status.Used, over)), String(Mask(q.Status.Hard, over)))
			}
		}
		if len(requested) == 0 {
			continue
		}
		// A shallow copy with a status of its own: the quota read may be
		// shared with other readers, and only its status changes.
		charged := *q
		charged.Status = corev1.ResourceQuotaStatus{Hard: q.Status.Hard, Used: used}
		out = append(out, &charged)
	}
	return out, nil
}

// Usage adds up what objects consume under a quota: those that fall
// under its scopes, in the resources it limits that e measures. Every
// measured resource is in the result, zero when nothing uses it.
func Usage(e Evaluator, q *corev1.ResourceQuota, objects []runtime.Object) (corev1.ResourceList, error) {
	names := e.MatchingResources(Names(q.Spec.Hard))
	used := corev1.ResourceList{}
	for _, n := range names {
		used[n] = *zero()
	}
	scopes := Scopes(q)
	for _, obj := range objects {
		in := true
		for _, s := range scopes {
			ok, err := e.MatchesScope(s, obj)
			if err != nil {
				return nil, err
			}
			in = in && ok
		}
		if !in {
			continue
		}
		u, err := e.Usage(obj)
		if err != nil {
			return nil, err
		}
		used = Add(used, Mask(u, names))
	}
	return used, nil
}
