package etcd

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// leaderOf returns the client URL of the member that leads, and the
// member ID of one that does not.
func leaderOf(t *testing.T, c *clientv3.Client, urls []string) (leader string, follower uint64) {
	t.Helper()
	for _, u := range urls {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.Status(ctx, u)
		cancel()
		if err != nil {
			t.Fatalf("status of %s: %v", u, err)
		}
		if st.Header.MemberId == st.Leader {
			leader = u
		} else {
			follower = st.Header.MemberId
		}
	}
	return leader, follower
}

// waitWrites waits until writes go to the member at want.
func waitWrites(t *testing.T, l *LeaderWrites, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := l.writes()
		if c != nil && len(c.c.Endpoints()) == 1 && c.c.Endpoints()[0] == want {
			return
		}
		if time.Now().After(deadline) {
			got := "every member"
			if c != nil {
				got = fmt.Sprint(c.c.Endpoints())
			}
			t.Fatalf("writes go to %s, want the leader %s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWritesFollowTheLeader: on three members, writes go to the leader's
// endpoint; after leadership moves they follow it (and succeed
// meanwhile, forwarded by the old leader); a write failing for want of
// the member takes writes back to every member at once, until the
// leader is found again.
func TestWritesFollowTheLeader(t *testing.T) {
	defer func(d time.Duration) { leaderCheckEvery = d }(leaderCheckEvery)
	leaderCheckEvery = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, l, urls := threeMembers(t, ctx)
	s := New(Options{Client: c, Leader: l})
	lead, follower := leaderOf(t, c, urls)
	waitWrites(t, l, lead)
	if _, err := s.Create(ctx, "/k/1", []byte("one")); err != nil {
		t.Fatal(err)
	}

	if _, err := l.writes().c.MoveLeader(ctx, follower); err != nil {
		t.Fatalf("moving leadership: %v", err)
	}
	next, _ := leaderOf(t, c, urls)
	if next == lead {
		t.Fatalf("leadership did not move from %s", lead)
	}
	if _, err := s.Create(ctx, "/k/2", []byte("two")); err != nil {
		t.Fatalf("a write right after leadership moved: %v", err)
	}
	waitWrites(t, l, next)

	l.failed(l.writes(), status.Error(codes.Unavailable, "connection refused"))
	if l.writes() != nil {
		t.Fatal("writes stayed on a member that could not be reached")
	}
	if _, err := s.Create(ctx, "/k/3", []byte("three")); err != nil {
		t.Fatalf("a write on every member's client: %v", err)
	}
	waitWrites(t, l, next)

	// A precondition that fails is an answer, not a failure.
	if _, err := s.Create(ctx, "/k/3", []byte("again")); err == nil {
		t.Fatal("created /k/3 twice")
	}
	if l.writes() == nil {
		t.Fatal("a refused create took writes off the leader")
	}
}

// TestOneEndpointHasNoRouting: with one endpoint there is no leader to
// find, and writes take the one client.
func TestOneEndpointHasNoRouting(t *testing.T) {
	if l := newLeaderWrites(nil, clientv3.Config{Endpoints: []string{"https://127.0.0.1:2379"}}, discard()); l != nil {
		t.Fatal("routing for a single endpoint")
	}
}

// TestWritesLeaveADeadLeader: when the member writes went to cannot be
// reached (a leader killed), a write takes every member's client at once
// instead of waiting for the leader's connection until its deadline.
func TestWritesLeaveADeadLeader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, l, _ := threeMembers(t, ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + ln.Addr().String()
	ln.Close()
	cfg := l.cfg
	cfg.Endpoints = []string{dead}
	dc, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	// As run would leave it had the leader just died: writes routed to
	// a connection that cannot be made.
	stale := &LeaderWrites{all: c, cfg: cfg, log: discard(), kick: make(chan struct{}, 1)}
	stale.lead.Store(newLeaderConn(dc))
	s := New(Options{Client: c, Leader: stale})
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	for i := range 3 {
		start := time.Now()
		if _, err := s.Create(wctx, fmt.Sprintf("/dead/%d", i), []byte("v")); err != nil {
			t.Fatalf("a write whose leader is gone: %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("a write whose leader is gone took %v", took)
		}
	}
	if stale.writes() != nil {
		t.Error("writes go to a connection that is not ready")
	}
}

// TestLeaderWriteFailures: a write failing for want of the member takes
// writes off the leader's connection and asks for the leader again; one
// that ran out of time asks again and leaves them there; a refused
// precondition or another error does neither.
func TestLeaderWriteFailures(t *testing.T) {
	l := &LeaderWrites{kick: make(chan struct{}, 1)}
	conn, other := &leaderConn{}, &leaderConn{}
	kicked := func() bool {
		select {
		case <-l.kick:
			return true
		default:
			return false
		}
	}
	for _, c := range []struct {
		err      error
		on       *leaderConn
		dropped  bool
		lookedUp bool
	}{
		{status.Error(codes.Unavailable, "connection refused"), conn, true, true},
		{rpctypes.ErrGRPCNoLeader, conn, true, true},
		{status.Error(codes.Unavailable, "connection refused"), other, false, true}, // the last leader's
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), conn, false, true},
		{context.DeadlineExceeded, conn, false, true},
		{status.Error(codes.Canceled, "context canceled"), conn, false, false},
		{rpctypes.ErrGRPCRequestTooLarge, conn, false, false},
	} {
		l.lead.Store(conn)
		l.failed(c.on, c.err)
		if dropped := l.lead.Load() == nil; dropped != c.dropped {
			t.Errorf("%v: writes taken off the leader: %v, want %v", c.err, dropped, c.dropped)
		}
		if k := kicked(); k != c.lookedUp {
			t.Errorf("%v: leader looked up again: %v, want %v", c.err, k, c.lookedUp)
		}
	}
}
