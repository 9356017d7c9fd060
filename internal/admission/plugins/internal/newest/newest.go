// Package newest answers the question the class-defaulting plugins
// (DefaultStorageClass, DefaultIngressClass) share: which of the classes
// marked default wins? The newest, and among classes made in the same
// instant, the first by name, as Kubernetes chooses.
package newest

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Default returns the name of the newest item isDefault accepts, or ""
// when none is.
func Default[T metav1.Object](items []T, isDefault func(T) bool) string {
	var defaults []T
	for _, it := range items {
		if isDefault(it) {
			defaults = append(defaults, it)
		}
	}
	if len(defaults) == 0 {
		return ""
	}
	return slices.MinFunc(defaults, func(x, y T) int {
		if c := y.GetCreationTimestamp().Compare(x.GetCreationTimestamp().Time); c != 0 {
			return c
		}
		return strings.Compare(x.GetName(), y.GetName())
	}).GetName()
}
