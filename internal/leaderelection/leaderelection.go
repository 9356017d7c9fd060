// Package leaderelection runs work on one API server at a time when
// several share a store: each candidate campaigns for a
// coordination.k8s.io/v1 Lease, and only its holder works.
//
// The record and the timing follow client-go's leader election, which
// kube-controller-manager and kube-scheduler use, so `kubectl get lease`
// reads the same fields: holderIdentity, leaseDurationSeconds,
// acquireTime, renewTime and leaseTransitions. A candidate never trusts
// another server's clock: it takes a lease over only when the record has
// not changed for a whole lease duration of its own clock. The leader
// stops working when it has not renewed within the renew deadline, which
// is shorter than the lease duration, so two servers never both believe
// they lead (clock rates being close).
package leaderelection

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// Timing is how long a lease lasts and how often it is tried.
type Timing struct {
	// LeaseDuration is how long a candidate waits, after it last saw
	// the record change, before taking the lease over.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps working without a
	// successful renewal; shorter than LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod is the time between tries, to renew or to acquire.
	RetryPeriod time.Duration
}

// DefaultTiming is sekisho's default: a dead leader's work moves to
// another server within LeaseDuration + RetryPeriod = 12 s (a candidate
// sees the last renewal at most one RetryPeriod late, and tries again the
// moment the lease it saw expires).
// (kube-controller-manager's defaults are 15 s, 10 s and 2 s.)
var DefaultTiming = Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 7 * time.Second, RetryPeriod: 2 * time.Second}

// Validate checks that the timing can be kept.
func (t Timing) Validate() error {
	switch {
	case t.RetryPeriod <= 0:
		return errors.New("--leader-elect-retry-period must be positive")
	case t.RenewDeadline <= t.RetryPeriod:
		return errors.New("--leader-elect-renew-deadline must be longer than --leader-elect-retry-period")
	case t.LeaseDuration <= t.RenewDeadline:
		return errors.New("--leader-elect-lease-duration must be longer than --leader-elect-renew-deadline")
	}
	return nil
}

// Identity names a candidate as client-go does: the host name and a
// random suffix, so two servers on one host differ.
func Identity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "sekisho"
	}
	return host + "_" + string(uuid.NewUUID())
}

// Elector campaigns for one Lease.
type Elector struct {
	Store  *store.Writer
	Leases *catalog.Resource // coordination.k8s.io/v1 leases
	// Namespace and Name name the Lease.
	Namespace, Name string
	Identity        string
	Timing          Timing
	Log             *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	observed     coordinationv1.LeaseSpec
	observedTime time.Time
}

var errHeld = errors.New("held by another candidate")

func (e *Elector) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Run campaigns until ctx ends. Each time it holds the lease it calls
// lead, with a context that ends when the lease is lost or ctx ends, and
// waits for lead to return before campaigning again. ctx carries the
// user the Lease is written as. When ctx ends while
// it leads, it releases the lease so that another server takes over at
// once.
func (e *Elector) Run(ctx context.Context, lead func(context.Context)) {
	for ctx.Err() == nil {
		if !e.acquire(ctx) {
			return
		}
		e.Log.Info("leader election: leading", "lease", e.Namespace+"/"+e.Name, "identity", e.Identity)
		termCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			lead(termCtx)
		}()
		lost := e.renew(termCtx)
		cancel()
		<-done
		if lost {
			e.Log.Warn("leader election: lost the lease; stopped", "lease", e.Namespace+"/"+e.Name, "identity", e.Identity)
			continue
		}
		e.release(ctx)
		return
	}
}

// acquire tries every RetryPeriod, and at the moment the observed record
// expires, until it holds the lease; false when ctx ended first.
func (e *Elector) acquire(ctx context.Context) bool {
	for {
		err := e.try(ctx)
		if err == nil {
			return true
		}
		if !errors.Is(err, errHeld) && ctx.Err() == nil {
			e.Log.Warn("leader election: cannot read or write the lease", "lease", e.Namespace+"/"+e.Name, "err", err)
		}
		wait := e.Timing.RetryPeriod
		if !e.observedTime.IsZero() {
			if untilExpiry := e.observedTime.Add(e.Timing.LeaseDuration).Sub(e.now()); untilExpiry > 0 && untilExpiry < wait {
				wait = untilExpiry
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// renew keeps the lease until ctx ends (false) or a renewal has not
// succeeded within RenewDeadline (true: lost).
func (e *Elector) renew(ctx context.Context) bool {
	t := time.NewTicker(e.Timing.RetryPeriod)
	defer t.Stop()
	last := e.now()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		tryCtx, cancel := context.WithTimeout(ctx, e.Timing.RetryPeriod)
		err := e.try(tryCtx)
		cancel()
		switch {
		case err == nil:
			last = e.now()
		case ctx.Err() != nil:
			return false
		case errors.Is(err, errHeld):
			return true // another candidate took it: our record was stale
		default:
			if e.now().Sub(last) >= e.Timing.RenewDeadline {
				return true
			}
		}
	}
}

// try acquires or renews the lease in one conditional write; errHeld
// when another candidate holds it.
func (e *Elector) try(ctx context.Context) error {
	now := metav1.NewMicroTime(e.now())
	seconds := int32(e.Timing.LeaseDuration / time.Second)
	_, err := e.Store.Update(ctx, store.ObjectTarget(e.Leases, e.Namespace, e.Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		lease := cur.(*coordinationv1.Lease)
		spec := lease.Spec
		holder := deref(spec.HolderIdentity)
		if holder != e.Identity {
			if !e.expired(spec) {
				return nil, errHeld
			}
			transitions := deref(spec.LeaseTransitions)
			if holder != "" {
				transitions++
			}
			lease.Spec.HolderIdentity = &e.Identity
			lease.Spec.AcquireTime = &now
			lease.Spec.LeaseTransitions = &transitions
		}
		lease.Spec.LeaseDurationSeconds = &seconds
		lease.Spec.RenewTime = &now
		return lease, nil
	})
	if apierrors.IsNotFound(err) {
		zero := int32(0)
		_, err = e.Store.Create(ctx, e.Leases, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: e.Namespace},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &e.Identity, LeaseDurationSeconds: &seconds,
				AcquireTime: &now, RenewTime: &now, LeaseTransitions: &zero},
		}, store.Options{})
		if apierrors.IsAlreadyExists(err) {
			return errHeld // another candidate created it first
		}
	}
	return err
}

// expired reports whether spec may be taken over: released (no holder),
// or unchanged for a whole lease duration of this candidate's clock. A
// changed record starts the wait again.
func (e *Elector) expired(spec coordinationv1.LeaseSpec) bool {
	if deref(spec.HolderIdentity) == "" {
		return true
	}
	if e.observedTime.IsZero() || !sameRecord(spec, e.observed) {
		e.observed, e.observedTime = *spec.DeepCopy(), e.now()
		return false
	}
	duration := time.Duration(deref(spec.LeaseDurationSeconds)) * time.Second
	return e.now().Sub(e.observedTime) >= max(duration, e.Timing.LeaseDuration)
}

func sameRecord(a, b coordinationv1.LeaseSpec) bool {
	return deref(a.HolderIdentity) == deref(b.HolderIdentity) &&
		deref(a.LeaseTransitions) == deref(b.LeaseTransitions) &&
		microEqual(a.RenewTime, b.RenewTime) && microEqual(a.AcquireTime, b.AcquireTime)
}

func microEqual(a, b *metav1.MicroTime) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// release gives the lease up, as client-go's ReleaseOnCancel does: no
// holder and a one-second duration, so the next candidate need not wait.
// ctx has ended; its values (the server's identity) are kept.
func (e *Elector) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.Timing.RetryPeriod)
	defer cancel()
	now := metav1.NewMicroTime(e.now())
	one := int32(1)
	_, err := e.Store.Update(ctx, store.ObjectTarget(e.Leases, e.Namespace, e.Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		lease := cur.(*coordinationv1.Lease)
		if deref(lease.Spec.HolderIdentity) != e.Identity {
			return nil, errHeld
		}
		empty := ""
		lease.Spec.HolderIdentity = &empty
		lease.Spec.LeaseDurationSeconds = &one
		lease.Spec.RenewTime = &now
		lease.Spec.AcquireTime = &now
		return lease, nil
	})
	if err != nil && !errors.Is(err, errHeld) {
		e.Log.Warn("leader election: cannot release the lease", "lease", e.Namespace+"/"+e.Name, "err", err)
		return
	}
	e.Log.Info("leader election: released", "lease", e.Namespace+"/"+e.Name)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
