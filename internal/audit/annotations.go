// Package audit holds what the audit log records of a request. For now,
// its annotations: code serving a request, however deep (admission
// plugins above all), adds them as it goes, and they are written out
// with the request's audit events.
package audit

import (
	"context"
	"maps"
	"sync"
)

// Annotations are one request's audit annotations. They are safe for
// concurrent use.
type Annotations struct {
	mu sync.Mutex
	m  map[string]string
}

type annotationsKey struct{}

// WithAnnotations returns a context carrying a request's empty
// annotations, and those annotations.
func WithAnnotations(ctx context.Context) (context.Context, *Annotations) {
	a := &Annotations{}
	return context.WithValue(ctx, annotationsKey{}, a), a
}

// AnnotationsFrom returns the annotations ctx carries, or nil.
func AnnotationsFrom(ctx context.Context) *Annotations {
	a, _ := ctx.Value(annotationsKey{}).(*Annotations)
	return a
}

// Annotate records key=value on the request ctx serves, if it carries
// annotations. As in kube-apiserver, the first value of a key stands: a
// different later value is dropped, and Annotate reports false.
func Annotate(ctx context.Context, key, value string) bool {
	a := AnnotationsFrom(ctx)
	if a == nil {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if have, ok := a.m[key]; ok {
		return have == value
	}
	if a.m == nil {
		a.m = map[string]string{}
	}
	a.m[key] = value
	return true
}

// Take returns the annotations and forgets them: what is annotated from
// then on starts afresh. It is for the last stage's event, which keeps
// the map without a copy.
func (a *Annotations) Take() map[string]string {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.m
	a.m = nil
	return m
}

// Map returns a copy of the annotations.
func (a *Annotations) Map() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.m)
}
