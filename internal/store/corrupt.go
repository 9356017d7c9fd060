package store

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// DeleteCorrupt removes an object whose stored value cannot be read
// (kube-apiserver's ignoreStoreReadErrorWithClusterBreakingPotential):
// nothing can read it, so no precondition, admission, finalizer or
// grace period sees it. An object that reads is refused, with
// kube-apiserver's 409, so that the option never bypasses a normal
// delete. A dry run checks and stops there.
func (s *Store) DeleteCorrupt(ctx context.Context, r *catalog.Resource, namespace, name string, dryRun bool) error {
	key := Key(r, namespace, name)
	it, err := s.KV.Get(ctx, key)
	if err != nil {
		return storageError(r, name, err)
	}
	if plain, err := s.open(ctx, r, key, it.Value); err == nil {
		if _, err := newEntry(r, plain, it.ModRev).Object(); err == nil {
			return apierrors.NewConflict(r.GroupResource(), name, fmt.Errorf("StorageError: invalid object, Code: 4, Key: %s, ResourceVersion: 0, AdditionalErrorMsg: unsafe deletion is not allowed because the object is decodable from storage", key))
		}
	}
	if dryRun {
		return nil
	}
	_, _, err = s.KV.Delete(ctx, key, it.ModRev)
	return storageError(r, name, err)
}
