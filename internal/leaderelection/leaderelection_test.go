package leaderelection

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

var fast = Timing{LeaseDuration: time.Second, RenewDeadline: 600 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}

type fixture struct {
	w      *store.Writer
	leases *catalog.Resource
}

func newFixture(t *testing.T) *fixture {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	w, err := store.NewWriter(store.NewStore(kv), admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	leases, ok := catalog.Builtin().Lookup(coordinationv1.SchemeGroupVersion.WithResource("leases"))
	if !ok {
		t.Fatal("no leases resource")
	}
	return &fixture{w: w, leases: leases}
}

func (f *fixture) elector(id string) *Elector {
	return &Elector{Store: f.w, Leases: f.leases, Namespace: "kube-system", Name: "sekisho-test",
		Identity: id, Timing: fast, Log: slog.New(slog.DiscardHandler)}
}

func (f *fixture) lease(t *testing.T) *coordinationv1.Lease {
	t.Helper()
	obj, err := f.w.GetObject(context.Background(), f.leases, "kube-system", "sekisho-test")
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*coordinationv1.Lease)
}

// leaders counts who works at once, and fails the test when two do.
type leaders struct {
	t       *testing.T
	working atomic.Int32
	mu      sync.Mutex
	terms   []string
	started chan string
}

func (l *leaders) lead(id string) func(context.Context) {
	return func(ctx context.Context) {
		if n := l.working.Add(1); n > 1 {
			l.t.Errorf("%s leads while %d others do", id, n-1)
		}
		l.mu.Lock()
		l.terms = append(l.terms, id)
		l.mu.Unlock()
		l.started <- id
		<-ctx.Done()
		l.working.Add(-1)
	}
}

// One of two candidates leads; when it stops, it releases the lease and
// the other leads at once, without waiting out the lease duration.
func TestOneLeadsAndReleasesOnStop(t *testing.T) {
	f := newFixture(t)
	l := &leaders{t: t, started: make(chan string, 4)}
	ctxs := map[string]context.CancelFunc{}
	done := map[string]chan struct{}{}
	for _, id := range []string{"a", "b"} {
		ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
		ctxs[id], done[id] = cancel, make(chan struct{})
		go func() { defer close(done[id]); f.elector(id).Run(ctx, l.lead(id)) }()
	}
	first := <-l.started
	time.Sleep(3 * fast.LeaseDuration) // the other keeps waiting while the leader renews
	if got := f.lease(t); *got.Spec.HolderIdentity != first {
		t.Fatalf("holder %q, want %q", *got.Spec.HolderIdentity, first)
	}
	select {
	case id := <-l.started:
		t.Fatalf("%s leads too", id)
	default:
	}
	stopped := time.Now()
	ctxs[first]()
	<-done[first]
	second := <-l.started
	if second == first {
		t.Fatalf("%s led twice", first)
	}
	if waited := time.Since(stopped); waited >= fast.LeaseDuration {
		t.Errorf("the second took %v to lead after a release; want less than the lease duration", waited)
	}
	got := f.lease(t)
	if *got.Spec.HolderIdentity != second || *got.Spec.LeaseTransitions != 0 {
		// A released lease has no holder, so taking it is no transition.
		t.Errorf("lease %+v", got.Spec)
	}
	ctxs[second]()
	<-done[second]
}

// A holder that stopped renewing (killed) is taken over only after the
// lease duration on the candidate's own clock, and the take-over counts
// as a transition.
func TestTakesOverAnAbandonedLease(t *testing.T) {
	f := newFixture(t)
	now := metav1.NewMicroTime(time.Now())
	seconds, zero, dead := int32(1), int32(0), "dead"
	if _, err := f.w.Create(authn.AsAPIServer(context.Background()), f.leases, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "sekisho-test", Namespace: "kube-system"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &dead, LeaseDurationSeconds: &seconds,
			RenewTime: &now, AcquireTime: &now, LeaseTransitions: &zero},
	}, store.Options{}); err != nil {
		t.Fatal(err)
	}
	l := &leaders{t: t, started: make(chan string, 1)}
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	defer cancel()
	start := time.Now()
	go f.elector("b").Run(ctx, l.lead("b"))
	<-l.started
	if waited := time.Since(start); waited < fast.LeaseDuration {
		t.Errorf("took over after %v, before the lease duration", waited)
	}
	got := f.lease(t)
	if *got.Spec.HolderIdentity != "b" || *got.Spec.LeaseTransitions != 1 {
		t.Errorf("lease %+v", got.Spec)
	}
}

// A leader whose lease another candidate has taken (its own renewals
// having failed, say) stops working at its next renewal.
func TestStopsWhenTheLeaseIsTaken(t *testing.T) {
	f := newFixture(t)
	l := &leaders{t: t, started: make(chan string, 1)}
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	defer cancel()
	ended := make(chan struct{})
	go f.elector("a").Run(ctx, func(ctx context.Context) {
		l.lead("a")(ctx)
		close(ended)
	})
	<-l.started
	other := "x"
	if _, err := f.w.Update(authn.AsAPIServer(context.Background()), store.ObjectTarget(f.leases, "kube-system", "sekisho-test"), store.Options{},
		func(cur catalog.Object) (catalog.Object, error) {
			lease := cur.(*coordinationv1.Lease)
			lease.Spec.HolderIdentity = &other
			return lease, nil
		}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(fast.RenewDeadline):
		t.Fatal("still leading after the lease was taken")
	}
}

func TestTimingValidate(t *testing.T) {
	if err := DefaultTiming.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []Timing{
		{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: time.Second},
		{LeaseDuration: 10 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second},
		{LeaseDuration: 10 * time.Second, RenewDeadline: 5 * time.Second},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
