package catalog

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EventsV1 is events.k8s.io/v1 events: the core/v1 Events seen through the
// newer API. They are stored as core/v1 Events, so an Event written through
// either API is read through both.
func EventsV1() *Resource {
	core := Events()
	r := stored(eventsv1.SchemeGroupVersion, "events", "Event", true, func() Object { return &eventsv1.Event{} }).short("ev")
	r.StoredAs = &StorageView{
		Resource:    core,
		ToStorage:   func(obj Object) Object { return eventToCore(obj.(*eventsv1.Event)) },
		FromStorage: func(obj Object) Object { return eventFromCore(obj.(*corev1.Event)) },
	}
	r.Validate = func(obj Object) field.ErrorList { return validateEventV1(eventToCore(obj.(*eventsv1.Event))) }
	r.SelectableFields = func(obj Object) map[string]string {
		e := obj.(*eventsv1.Event)
		return map[string]string{
			"regarding.kind": e.Regarding.Kind, "regarding.namespace": e.Regarding.Namespace, "regarding.name": e.Regarding.Name,
			"regarding.uid": string(e.Regarding.UID), "regarding.apiVersion": e.Regarding.APIVersion,
			"regarding.resourceVersion": e.Regarding.ResourceVersion, "regarding.fieldPath": e.Regarding.FieldPath,
			"reason": e.Reason, "reportingController": e.ReportingController, "type": e.Type,
		}
	}
	r.FieldLabels = []string{"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "regarding.apiVersion",
		"regarding.resourceVersion", "regarding.fieldPath", "reason", "reportingController", "type"}
	// kube-apiserver prints both APIs' events with one printer.
	cells := core.TableFor().Cells
	r.Table = &Table{Columns: core.TableFor().Columns, Cells: func(obj Object, now time.Time) []any {
		return cells(eventToCore(obj.(*eventsv1.Event)), now)
	}}
	return r
}

// eventToCore is the core/v1 form of an events.k8s.io/v1 Event.
func eventToCore(e *eventsv1.Event) *corev1.Event {
	c := &corev1.Event{
		TypeMeta:            metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Related:             e.Related,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
		Action:              e.Action,
	}
	if s := e.Series; s != nil {
		c.Series = &corev1.EventSeries{Count: s.Count, LastObservedTime: s.LastObservedTime}
	}
	return c
}

// eventFromCore is the events.k8s.io/v1 form of a core/v1 Event.
func eventFromCore(c *corev1.Event) *eventsv1.Event {
	e := &eventsv1.Event{
		TypeMeta:                 metav1.TypeMeta{APIVersion: eventsv1.SchemeGroupVersion.String(), Kind: "Event"},
		ObjectMeta:               c.ObjectMeta,
		EventTime:                c.EventTime,
		ReportingController:      c.ReportingController,
		ReportingInstance:        c.ReportingInstance,
		Action:                   c.Action,
		Reason:                   c.Reason,
		Regarding:                c.InvolvedObject,
		Related:                  c.Related,
		Note:                     c.Message,
		Type:                     c.Type,
		DeprecatedSource:         c.Source,
		DeprecatedFirstTimestamp: c.FirstTimestamp,
		DeprecatedLastTimestamp:  c.LastTimestamp,
		DeprecatedCount:          c.Count,
	}
	if s := c.Series; s != nil {
		e.Series = &eventsv1.EventSeries{Count: s.Count, LastObservedTime: s.LastObservedTime}
	}
	return e
}

// Length limits of Events, as kube-apiserver's.
const (
	eventReportingInstanceLimit = 128
	eventActionLimit            = 128
	eventReasonLimit            = 128
	eventNoteLimit              = 1024
)

// validateEventV1 is kube-apiserver's validation of an Event created
// through events.k8s.io/v1: an event time, a reporting controller and
// instance, an action and a reason, no deprecated fields. Paths name the
// core/v1 fields, as kube-apiserver's do.
func validateEventV1(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), e.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	if e.ReportingController == "" {
		errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
	}
	errs = append(errs, invalidBy(validation.IsQualifiedName, e.ReportingController, field.NewPath("reportingController"))...)
	limited := func(path, value string, limit int) {
		if value == "" {
			errs = append(errs, field.Required(field.NewPath(path), ""))
		} else if len(value) > limit {
			errs = append(errs, field.Invalid(field.NewPath(path), "", fmt.Sprintf("can have at most %v characters", limit)))
		}
	}
	limited("reportingInstance", e.ReportingInstance, eventReportingInstanceLimit)
	limited("action", e.Action, eventActionLimit)
	limited("reason", e.Reason, eventReasonLimit)
	if len(e.Message) > eventNoteLimit {
		errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLimit)))
	}
	if s := e.Series; s != nil {
		if s.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
		}
		if s.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
		}
	}
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.FirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.LastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.Count != 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.Source.Component != "" || e.Source.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return errs
}
