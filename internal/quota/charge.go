package quota

import (
	"fmt"
	"slices"
	"strings"

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

// UncoveredScopes is the refusal of a write that falls under a limited
// scope no quota covers. kube-apiserver does not word it as a Forbidden.
type UncoveredScopes struct{ msg string }

func (u *UncoveredScopes) Error() string { return u.msg }

// limits are the limited scopes the written object falls under and the
// limited resource names its usage includes.
func (r Registry) limits(e Evaluator, w Write) ([]corev1.ScopedResourceSelectorRequirement, []corev1.ResourceName, error) {
	if len(r.Limited) == 0 {
		return nil, nil, nil
	}
	var scopes []corev1.ScopedResourceSelectorRequirement
	for _, l := range r.Limited {
		for _, s := range l.MatchScopes {
			ok, err := e.MatchesScope(s, w.Object)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				scopes = append(scopes, s)
			}
		}
	}
	var names []corev1.ResourceName
	gr := e.GroupResource()
	for _, l := range r.Limited {
		if l.APIGroup != gr.Group || l.Resource != gr.Resource {
			continue
		}
		usage, err := e.Usage(w.Object)
		if err != nil {
			return nil, nil, err
		}
		for name, q := range usage {
			if q.Sign() <= 0 {
				continue
			}
			for _, sub := range l.MatchContains {
				if strings.Contains(string(name), sub) {
					names = append(names, name)
					break
				}
			}
		}
	}
	return scopes, names, nil
}

// Charge checks a write against the quotas of its namespace, as
// kube-apiserver's ResourceQuota admission does, and returns copies of
// the quotas it changes, with the write's usage added to status.used.
// A write the quotas do not allow gets a *Refusal. quotas are not
// changed; the copies share their metadata with them, and only their
// status and top-level fields may be changed.
func (r Registry) Charge(quotas []*corev1.ResourceQuota, w Write) ([]*corev1.ResourceQuota, error) {
	e := r.For(w.Resource)
	if !e.Handles(w.Op, w.Subresource, w.Object, w.Old) {
		return nil, nil
	}
	limitedScopes, limitedNames, err := r.limits(e, w)
	if err != nil {
		return nil, err
	}
	if len(quotas) == 0 && len(limitedScopes) == 0 && len(limitedNames) == 0 {
		return nil, nil
	}
	var covering []*corev1.ResourceQuota
	restricted := map[corev1.ResourceName]bool{}
	var restrictedScopes []corev1.ScopedResourceSelectorRequirement
	for _, q := range quotas {
		for _, s := range Scopes(q) {
			if ok, err := e.MatchesScope(s, w.Object); err != nil {
				return nil, fmt.Errorf("matching the scopes of quota %s: %w", q.Name, err)
			} else if ok {
				restrictedScopes = append(restrictedScopes, s)
			}
		}
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
		for _, n := range limited {
			restricted[n] = true
		}
	}
	if len(covering) == 0 && len(limitedScopes) == 0 && len(limitedNames) == 0 {
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
	// What the write adds where no quota covers it, for the limits.
	uncoveredDelta := usage
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
			uncoveredDelta = delta
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
	// Limited resources and scopes need a covering quota; a write that
	// adds nothing is not asked for one.
	adds := len(covering) == 0 && len(RemoveZeros(uncoveredDelta)) > 0
	for _, d := range deltas {
		adds = adds || len(RemoveZeros(d)) > 0
	}
	if !adds {
		return nil, nil
	}
	if err := checkLimited(limitedNames, restricted, limitedScopes, restrictedScopes); err != nil {
		return nil, err
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

// checkLimited refuses a write that consumes a limited resource, or falls
// under a limited scope, that no quota covers.
func checkLimited(names []corev1.ResourceName, restricted map[corev1.ResourceName]bool,
	scopes, restrictedScopes []corev1.ScopedResourceSelectorRequirement) error {
	var uncovered []corev1.ResourceName
	for _, n := range names {
		if !restricted[n] && !slices.Contains(uncovered, n) {
			uncovered = append(uncovered, n)
		}
	}
	if len(uncovered) > 0 {
		return refuse("insufficient quota to consume: %s", NamesString(uncovered))
	}
	var outside []corev1.ScopedResourceSelectorRequirement
	for _, s := range scopes {
		if !slices.ContainsFunc(restrictedScopes, func(r corev1.ScopedResourceSelectorRequirement) bool { return r.ScopeName == s.ScopeName }) {
			outside = append(outside, s)
		}
	}
	if len(outside) > 0 {
		return &UncoveredScopes{msg: fmt.Sprintf("insufficient quota to match these scopes: %v", outside)}
	}
	return nil
}
