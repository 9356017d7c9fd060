package etcd

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/sekisho/sekisho/internal/storage"
)

// LeaderWrites sends write transactions straight to the member that
// leads the cluster, over a connection of their own. A write that
// reaches a follower is forwarded by it to the leader and answered
// after the round trip, which costs the members CPU and the write
// latency; on three members over TLS, the raw etcd client's creates
// sent to the leader alone cost the members 10-34% less CPU than the
// same creates spread over the three (docs/benchmarks.md). Reads and watches stay spread over every member.
//
// Any member accepts a write, so routing decides speed, never outcome:
// a write takes the leader's connection only while it is ready, and the
// client of every endpoint while no leader is known, while that
// connection is not ready, and after a write on it fails for want of
// the member, until the leader is found again. Only the configured
// endpoints are used: the leader is the endpoint whose member reports
// itself as leader.
type LeaderWrites struct {
	all *clientv3.Client
	cfg clientv3.Config
	log *slog.Logger
	// every is how often the leader is looked up again; a write failure
	// looks it up at once.
	every time.Duration

	lead   atomic.Pointer[leaderConn] // nil: writes take all
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	// Owned by run until done:
	conn     *leaderConn // the connection for writes, once dialled
	endpoint string      // the endpoint it is set to
}

// leaderConn is the connection to one leader and its KV for writes; a
// new leader gets a new one (on the same client), so that a failure on
// the last leader's does not take writes off the next.
type leaderConn struct {
	c  *clientv3.Client
	kv clientv3.KV
}

func newLeaderConn(c *clientv3.Client) *leaderConn {
	return &leaderConn{c: c, kv: clientv3.NewKVFromKVClient(failFast{clientv3.RetryKVClient(c)}, nil)}
}

// failFast is the KV client of the leader's connection with gRPC's
// WaitForReady off (the etcd client sets it on for its own calls): a
// write on a connection that has just gone down fails at once, and is
// settled and sent again on every member's client, rather than wait for
// the connection until its deadline.
type failFast struct{ pb.KVClient }

func (f failFast) Txn(ctx context.Context, in *pb.TxnRequest, opts ...grpc.CallOption) (*pb.TxnResponse, error) {
	// The etcd client's own limits, which its per-call options carry.
	return f.KVClient.Txn(ctx, in, append(opts, grpc.WaitForReady(false),
		grpc.MaxCallSendMsgSize(2*1024*1024), grpc.MaxCallRecvMsgSize(math.MaxInt32))...)
}

// newLeaderWrites returns writes routed to the leader among all's
// endpoints, dialled with cfg (all's configuration): run follows the
// leader. With a single endpoint there is nothing to route, and it
// returns nil.
func newLeaderWrites(all *clientv3.Client, cfg clientv3.Config, log *slog.Logger) *LeaderWrites {
	if len(cfg.Endpoints) < 2 {
		return nil
	}
	// One attempt per write: the etcd client's own retries of a write it
	// could not send would stay on this one endpoint, where the other
	// client moves on to a live member.
	cfg.MaxUnaryRetries = 1
	return &LeaderWrites{all: all, cfg: cfg, log: log, every: leaderCheckEvery,
		kick: make(chan struct{}, 1), cancel: func() {}, done: make(chan struct{})}
}

// leaderCheckEvery is how often the leader is looked up again.
var leaderCheckEvery = 15 * time.Second

// writes returns the leader's connection when one is known and ready,
// else nil.
func (l *LeaderWrites) writes() *leaderConn {
	if l == nil {
		return nil
	}
	c := l.lead.Load()
	if c == nil {
		return nil
	}
	switch c.c.ActiveConnection().GetState() {
	case connectivity.Ready:
		return c
	case connectivity.Idle:
		// gRPC idles a channel unused for a while; wake it for the
		// writes after this one.
		c.c.ActiveConnection().Connect()
	}
	return nil
}

// failed takes writes off c, the leader's connection, when err says the
// member is unreachable or no longer leads, and asks run to look again;
// a write that ran out of time there (a member that stopped answering)
// asks run to look again without taking writes off it.
func (l *LeaderWrites) failed(c *leaderConn, err error) {
	if l == nil || c == nil {
		return
	}
	switch {
	case errors.Is(mapErr(err), storage.ErrUnavailable):
		l.lead.CompareAndSwap(c, nil)
	case status.Code(err) == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
	default:
		return
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// run follows the leader until ctx ends; writes then take every
// member's client, and Close closes the leader's.
func (l *LeaderWrites) run(ctx context.Context) {
	defer close(l.done)
	t := time.NewTimer(0)
	defer t.Stop()
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			l.lead.Store(nil)
			return
		case <-l.kick:
			// An election takes a moment; look when it may be over (and
			// no later than already planned: kicks in a row do not put
			// the look off).
			if soon := time.Now().Add(200 * time.Millisecond); soon.Before(next) {
				next = soon
				t.Reset(200 * time.Millisecond)
			}
			continue
		case <-t.C:
		}
		wait := l.every
		if !l.check(ctx) {
			wait = time.Second // an election, or members down: look again soon
		}
		next = time.Now().Add(wait)
		t.Reset(wait)
	}
}

// Close stops following the leader and closes its connection; writes
// take every member's client. Call it once the writes are over (a
// draining server's last requests may still use the connection after
// run's context ends).
func (l *LeaderWrites) Close() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
	if l.conn != nil {
		l.conn.c.Close()
	}
}

// check looks up the leader and points the writes at it; it reports
// whether it found one.
func (l *LeaderWrites) check(ctx context.Context) bool {
	ep := l.find(ctx)
	if ep == "" {
		if l.lead.Swap(nil) != nil {
			l.log.Info("etcd: no leader among the endpoints known; writes go to every member")
		}
		return false
	}
	if ep != l.endpoint {
		if l.conn == nil {
			cfg := l.cfg
			cfg.Endpoints = []string{ep}
			c, err := clientv3.New(cfg)
			if err != nil {
				l.log.Warn("etcd: cannot connect to the leader; writes go to every member", "endpoint", ep, "err", err)
				l.lead.Store(nil)
				return false
			}
			l.conn = newLeaderConn(c)
		} else {
			// Requests in flight on the last leader's connection finish
			// there; a failure of one of them is the last leader's.
			l.conn.c.SetEndpoints(ep)
			l.conn = &leaderConn{c: l.conn.c, kv: l.conn.kv}
		}
		l.endpoint = ep
		l.log.Info("etcd: writes go to the leader", "endpoint", ep)
	}
	l.lead.Store(l.conn)
	return true
}

// find returns the configured endpoint whose member leads, or "". Two
// may claim it for a moment (a leader cut off from the others, before
// it notices); the one of the later term leads.
func (l *LeaderWrites) find(ctx context.Context) string {
	var ep string
	var term uint64
	for _, e := range l.cfg.Endpoints {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := l.all.Status(sctx, e)
		cancel()
		if err == nil && st.Header != nil && st.Leader != 0 && st.Header.MemberId == st.Leader && st.RaftTerm >= term {
			ep, term = e, st.RaftTerm
		}
	}
	return ep
}
