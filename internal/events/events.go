// Package events records Kubernetes Events about objects, so that
// controllers' decisions show in kubectl describe.
package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// Recorder writes Events as one component.
type Recorder struct {
	Store     *store.Writer
	Resource  *catalog.Resource // core/v1 events
	Component string
	Log       *slog.Logger
}

// Event records that something happened to obj. Events about
// cluster-scoped objects go to the default namespace, as in Kubernetes.
// A failure to record is logged, never returned: an event is a courtesy.
func (r *Recorder) Event(ctx context.Context, obj catalog.Object, eventType, reason, message string) {
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", obj.GetName(), time.Now().UnixNano()), Namespace: ns},
		InvolvedObject: corev1.ObjectReference{
			Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Name: obj.GetName(), Namespace: obj.GetNamespace(),
			UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
		},
		Reason: reason, Message: message, Type: eventType,
		Source:         corev1.EventSource{Component: r.Component},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: r.Component,
	}
	if _, err := r.Store.Create(ctx, r.Resource, ev, store.Options{}); err != nil {
		r.Log.Warn("could not record an event", "component", r.Component, "object", obj.GetName(), "reason", reason, "err", err)
	}
}
