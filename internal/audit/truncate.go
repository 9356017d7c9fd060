package audit

import (
	"errors"
	"fmt"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// Truncation bounds events and batches, with kube-apiserver's
// --audit-*-truncate-* flags: an event over MaxEventSize bytes loses its
// request and response objects and is annotated audit.k8s.io/truncated;
// one still too large is dropped. A webhook batch holds at most
// MaxBatchSize bytes.
type Truncation struct {
	Enabled      bool
	MaxEventSize int64
	MaxBatchSize int64
}

// DefaultTruncation has kube-apiserver's defaults: off, 100 KB events,
// 10 MB batches.
func DefaultTruncation() Truncation {
	return Truncation{MaxEventSize: 100 << 10, MaxBatchSize: 10 << 20}
}

func (t Truncation) validate(prefix string) error {
	if !t.Enabled {
		return nil
	}
	var errs []error
	if t.MaxEventSize <= 0 {
		errs = append(errs, fmt.Errorf("%s-truncate-max-event-size: must be positive", prefix))
	}
	if t.MaxBatchSize < t.MaxEventSize {
		errs = append(errs, fmt.Errorf("%s-truncate-max-batch-size: must be at least %s-truncate-max-event-size", prefix, prefix))
	}
	return errors.Join(errs...)
}

// annotationTruncated marks an event that lost its objects to its size.
const annotationTruncated = "audit.k8s.io/truncated"

var errTooLarge = errors.New("the event is too large even after truncating")

// encode appends ev's JSON, truncated as t says, to dst.
func (t Truncation) encode(dst []byte, ev *auditv1.Event) ([]byte, error) {
	start := len(dst)
	data, err := AppendEvent(dst, ev)
	if err != nil || !t.Enabled || int64(len(data)-start) <= t.MaxEventSize {
		return data, err
	}
	if ev.RequestObject != nil || ev.ResponseObject != nil {
		cut := *ev
		cut.RequestObject, cut.ResponseObject = nil, nil
		cut.Annotations = make(map[string]string, len(ev.Annotations)+1)
		for k, v := range ev.Annotations {
			cut.Annotations[k] = v
		}
		cut.Annotations[annotationTruncated] = "true"
		if data, err = AppendEvent(data[:start], &cut); err != nil {
			return nil, err
		}
	}
	if int64(len(data)-start) > t.MaxEventSize {
		return nil, errTooLarge
	}
	return data, nil
}
