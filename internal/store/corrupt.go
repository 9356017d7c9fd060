package store

import (
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
)

// CorruptError is a stored value that cannot be read: it does not decrypt
// (altered, or sealed with a key the configuration no longer has). It is
// a 500 that names the object, with kube-apiserver's "corrupt object"
// storage error as its message; it is never served as empty.
type CorruptError struct {
	Resource  *catalog.Resource
	Key       string
	Namespace string
	Name      string
	Err       error
}

func corrupt(r *catalog.Resource, key string, err error) *CorruptError {
	e := &CorruptError{Resource: r, Key: key, Err: err}
	rest := strings.TrimPrefix(key, Prefix(r, ""))
	if r.Namespaced {
		e.Namespace, e.Name, _ = strings.Cut(rest, "/")
	} else {
		e.Name = rest
	}
	return e
}

// Error is kube-apiserver's StorageError text for a corrupt object.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("StorageError: corrupt object, Code: 6, Key: %s, ResourceVersion: 0, AdditionalErrorMsg: %v", e.Key, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Object names the object as a warning or log line does.
func (e *CorruptError) Object() string {
	gr := e.Resource.GroupResource().String()
	if e.Namespace != "" {
		return fmt.Sprintf("%s %q in namespace %q", gr, e.Name, e.Namespace)
	}
	return fmt.Sprintf("%s %q", gr, e.Name)
}

// Status is the 500 a client receives.
func (e *CorruptError) Status() metav1.Status {
	return metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Reason:  metav1.StatusReasonInternalError,
		Message: "Internal error occurred: " + e.Error(),
		Details: &metav1.StatusDetails{
			Name:   e.Name,
			Group:  e.Resource.GroupVersion.Group,
			Kind:   e.Resource.Name,
			Causes: []metav1.StatusCause{{Message: e.Error()}},
		},
	}
}
