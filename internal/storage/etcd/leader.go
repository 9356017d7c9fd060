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

	"github.com/sekisho/sekisho/internal/storage"
)

// LeaderWrites sends write transactions straight to the member that
// leads the cluster, over a connection of their own. A write that
// reaches a follower is forwarded by it to the leader and answered
// after the round trip, which costs the members CPU and the write
// latency; on three members over TLS, creates sent to the leader alone
// cost the members 15-30% less than creates spread over the three
// (docs/benchmarks.md). Reads and watches stay spread over every member.
//
// Any member accepts a write, so routing decides speed, never outcome:
// while no leader is known, or after a write on the leader's connection
// fails for want of it, writes take the client of every endpoint until
// the leader is found again. Only the configured endpoints are used: the
// leader is the endpoint whose member reports itself as leader.
type LeaderWrites struct {
	all *clientv3.Client
	cfg clientv3.Config
	log *slog.Logger
	// every is how often the leader is looked up again; a write failure
	// looks it up at once.
	every time.Duration

	lead atomic.Pointer[leaderConn] // nil: writes take all
	kick chan struct{}

	// Owned by run:
	conn     *leaderConn // the connection for writes, once dialled
	endpoint string      // the endpoint it is set to
}

// leaderConn is the connection to the leader and its KV for writes.
type leaderConn struct {
	c  *clientv3.Client
	kv clientv3.KV
}

func newLeaderConn(c *clientv3.Client) *leaderConn {
	return &leaderConn{c: c, kv: clientv3.NewKVFromKVClient(failFast{clientv3.RetryKVClient(c)}, nil)}
}

// failFast is the KV client of the leader's connection with gRPC's
// WaitForReady off: the etcd client waits for a connection to become
// ready, which on one endpoint that is down would hold a write until its
// deadline; failing at once sends the write to every member instead.
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
	return &LeaderWrites{all: all, cfg: cfg, log: log, every: leaderCheckEvery, kick: make(chan struct{}, 1)}
}

// leaderCheckEvery is how often the leader is looked up again.
var leaderCheckEvery = 15 * time.Second

// writes returns the leader's connection, or nil while none is known.
func (l *LeaderWrites) writes() *leaderConn {
	if l == nil {
		return nil
	}
	return l.lead.Load()
}

// failed takes writes off c, the leader's connection, when err says the
// member is unreachable or no longer leads, and asks run to look again.
func (l *LeaderWrites) failed(c *leaderConn, err error) {
	if l == nil || c == nil || !errors.Is(mapErr(err), storage.ErrUnavailable) {
		return
	}
	if l.lead.CompareAndSwap(c, nil) {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// run follows the leader until ctx ends, then closes its connection.
func (l *LeaderWrites) run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.lead.Store(nil)
			if l.conn != nil {
				l.conn.c.Close()
			}
			return
		case <-l.kick:
			// An election takes a moment; look when it may be over.
			t.Reset(200 * time.Millisecond)
			continue
		case <-t.C:
		}
		if l.check(ctx) {
			t.Reset(l.every)
		} else {
			t.Reset(time.Second) // an election, or members down: look again soon
		}
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
			// Requests in flight on the old connection finish there.
			l.conn.c.SetEndpoints(ep)
		}
		l.endpoint = ep
		l.log.Info("etcd: writes go to the leader", "endpoint", ep)
	}
	l.lead.Store(l.conn)
	return true
}

// find returns the configured endpoint whose member leads, or "".
func (l *LeaderWrites) find(ctx context.Context) string {
	for _, ep := range l.cfg.Endpoints {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := l.all.Status(sctx, ep)
		cancel()
		if err == nil && st.Header != nil && st.Leader != 0 && st.Header.MemberId == st.Leader {
			return ep
		}
	}
	return ""
}
