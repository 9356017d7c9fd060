package controlplane

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/leaderelection"
	"github.com/sekisho/sekisho/internal/store"
)

// The Leases in kube-system that sekisho's controller groups are elected
// with, one per group as kube-controller-manager has one for its own:
// several API servers on one etcd run each group on one server at a time.
const (
	certificatesLease = "sekisho-certificates" // CSR signing, approval and cleaning
	tokensLease       = "sekisho-tokens"       // service accounts, their tokens, bootstrap tokens
	namespacesLease   = "sekisho-namespaces"   // namespace deletion, quota status
	rbacLease         = "sekisho-rbac"         // clusterrole aggregation
	encryptionLease   = "sekisho-encryption"   // re-encryption of stored objects
)

// controllerGroups starts groups of controllers: at once on the embedded
// database, which one server owns, and under a Lease each on etcd, which
// several servers may share (unless --leader-elect=false).
type controllerGroups struct {
	ctx      context.Context
	elect    bool
	identity string
	timing   leaderelection.Timing
	st       *store.Writer
	leases   *catalog.Resource
	log      *slog.Logger
	wg       sync.WaitGroup
}

func newControllerGroups(ctx context.Context, o Options, cat *catalog.Catalog, st *store.Writer, log *slog.Logger) *controllerGroups {
	leases, _ := cat.Lookup(coordinationv1.SchemeGroupVersion.WithResource("leases"))
	g := &controllerGroups{ctx: ctx, elect: o.LeaderElect && len(o.EtcdServers) > 0, identity: leaderelection.Identity(),
		timing: o.leaderElectTiming(), st: st, leases: leases, log: log}
	if g.elect {
		log.Info("leader election: controllers run on one API server at a time", "identity", g.identity,
			"leaseDuration", g.timing.LeaseDuration.String())
	}
	return g
}

// run starts fns as one group under the Lease named lease. Each fn works
// until its context ends, and may be started again in a later term.
func (g *controllerGroups) run(lease string, fns ...func(context.Context)) {
	if len(fns) == 0 {
		return
	}
	all := func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, f := range fns {
			wg.Go(func() { f(ctx) })
		}
		wg.Wait()
	}
	if !g.elect {
		g.wg.Go(func() { all(g.ctx) })
		return
	}
	e := &leaderelection.Elector{Store: g.st, Leases: g.leases, Namespace: metav1.NamespaceSystem, Name: lease,
		Identity: g.identity, Timing: g.timing, Log: g.log}
	g.wg.Go(func() { e.Run(g.ctx, all) })
}

// background runs f until the groups' context ends, on every server;
// wait waits for it too.
func (g *controllerGroups) background(f func(context.Context)) { g.wg.Go(func() { f(g.ctx) }) }

// wait blocks until every group has stopped and released its Lease, or
// 10 s have passed: a shutdown does not hang on a slow controller.
func (g *controllerGroups) wait() {
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		g.log.Warn("controllers still stopping after 10s; shutting down without them")
	}
}
