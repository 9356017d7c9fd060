package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/sekisho/sekisho/internal/reload"
)

// Backend records events.
type Backend interface {
	// Process records ev. It must not keep ev, which its caller goes on
	// changing, after it returns: a backend that records later keeps a
	// copy. An error says it was not recorded and the
	// backend wants the request refused (its mode is blocking-strict);
	// a backend that drops an event otherwise counts and logs it and
	// returns nil.
	Process(ev *auditv1.Event) error
	// Close records what is still buffered and releases the backend.
	Close() error
}

// Auditor holds the policy in force and the backends events go to.
type Auditor struct {
	policy   atomic.Pointer[Policy]
	backends []Backend
	log      *slog.Logger
}

// NewAuditor returns an auditor deciding by p and recording to backends.
func NewAuditor(p *Policy, log *slog.Logger, backends ...Backend) *Auditor {
	if log == nil {
		log = slog.Default()
	}
	a := &Auditor{backends: backends, log: log}
	a.policy.Store(p)
	return a
}

// Policy returns the policy in force. A request takes it once, so one
// request is never judged half by an old policy and half by a new one.
func (a *Auditor) Policy() *Policy { return a.policy.Load() }

// SetPolicy puts p in force for the requests that start from now on.
func (a *Auditor) SetPolicy(p *Policy) { a.policy.Store(p) }

// Process sends ev to every backend. The error joins those of backends
// that want the request refused.
func (a *Auditor) Process(ev *auditv1.Event) error {
	ev.Kind, ev.APIVersion = "Event", auditv1.SchemeGroupVersion.String()
	var errs []error
	for _, b := range a.backends {
		if err := b.Process(ev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Check says whether a request may be served: a backend in
// blocking-strict mode that could not keep its events refuses it.
func (a *Auditor) Check() error {
	var errs []error
	for _, b := range a.backends {
		if c, ok := b.(interface{ Check() error }); ok {
			if err := c.Check(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close closes every backend.
func (a *Auditor) Close() error {
	var errs []error
	for _, b := range a.backends {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// WatchPolicy loads the policy file at path and puts it in force, then
// watches the file until ctx ends. A changed file that is a valid policy
// takes effect at once; an invalid one is refused and the policy in
// force stays. internal/reload logs both. The first load must succeed.
func (a *Auditor) WatchPolicy(ctx context.Context, path string, interval time.Duration) error {
	f := &reload.File{Path: path, Interval: interval, Log: a.log, Load: func(data []byte, exists bool) error {
		if !exists {
			return fmt.Errorf("the audit policy file %s is missing", path)
		}
		p, err := ParsePolicy(data)
		if err != nil {
			return fmt.Errorf("audit policy %s refused: %w", path, err)
		}
		a.SetPolicy(p)
		return nil
	}}
	return f.Start(ctx)
}
