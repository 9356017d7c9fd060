// Package quota measures what objects consume of a namespace's
// ResourceQuotas, with kube-apiserver's rules: the usage of one object (a
// pod's requests and limits, a claim's storage, one of any kind), which
// quotas and scopes it falls under, and the arithmetic of resource lists.
// The ResourceQuota admission plugin charges writes with it, and the
// resourcequota controller recounts usage with it.
package quota

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Add returns a + b; a resource in only one of them keeps its value.
func Add(a, b corev1.ResourceList) corev1.ResourceList {
	out := make(corev1.ResourceList, len(a)+len(b))
	for name, q := range a {
		out[name] = q.DeepCopy()
	}
	for name, q := range b {
		if have, ok := out[name]; ok {
			have.Add(q)
			out[name] = have
		} else {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// SubtractFloor returns a - b for every resource of a, never below zero.
func SubtractFloor(a, b corev1.ResourceList) corev1.ResourceList {
	out := make(corev1.ResourceList, len(a))
	for name, q := range a {
		v := q.DeepCopy()
		if other, ok := b[name]; ok {
			v.Sub(other)
			if v.Sign() < 0 {
				v = *resource.NewQuantity(0, q.Format)
			}
		}
		out[name] = v
	}
	return out
}

// Mask returns the resources of list that are among names.
func Mask(list corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range names {
		if q, ok := list[name]; ok {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// LessThanOrEqual reports whether every resource of a is at most its
// value in b, and names those that are not. A resource b does not have is
// not limited.
func LessThanOrEqual(a, b corev1.ResourceList) (bool, []corev1.ResourceName) {
	var over []corev1.ResourceName
	for name, q := range a {
		if limit, ok := b[name]; ok && q.Cmp(limit) > 0 {
			over = append(over, name)
		}
	}
	slices.Sort(over)
	return len(over) == 0, over
}

// Negative names the resources of list below zero.
func Negative(list corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for name, q := range list {
		if q.Sign() < 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// RemoveZeros returns list without its zero values.
func RemoveZeros(list corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range list {
		if !q.IsZero() {
			out[name] = q
		}
	}
	return out
}

// Equal reports whether a and b hold the same resources with equal values.
func Equal(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, q := range a {
		other, ok := b[name]
		if !ok || q.Cmp(other) != 0 {
			return false
		}
	}
	return true
}

// Names returns the names of list, sorted.
func Names(list corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(list))
	for name := range list {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Intersect returns the names in both a and b, in a's order.
func Intersect(a, b []corev1.ResourceName) []corev1.ResourceName {
	var out []corev1.ResourceName
	for _, name := range a {
		if slices.Contains(b, name) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// String prints a list as kube-apiserver's quota messages do:
// name=value pairs sorted by name, joined by commas.
func String(list corev1.ResourceList) string {
	parts := make([]string, 0, len(list))
	for _, name := range Names(list) {
		q := list[name]
		parts = append(parts, string(name)+"="+q.String())
	}
	return strings.Join(parts, ",")
}

// NamesString prints names sorted and joined by commas.
func NamesString(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func zero() *resource.Quantity { return resource.NewQuantity(0, resource.DecimalSI) }
