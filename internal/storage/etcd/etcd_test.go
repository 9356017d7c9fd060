package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/etcd/etcdtest"
	"github.com/sekisho/sekisho/internal/storage/storagetest"
)

// TestConformance runs the storage suite against a real etcd member,
// each store under a prefix of its own in it.
func TestConformance(t *testing.T) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdtest.Start(t, nil)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runConformance(t, c, nil)
}

// runConformance runs the storage suite on c, each store under a prefix
// of its own.
func runConformance(t *testing.T, c *clientv3.Client, leader *LeaderWrites) {
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.KV {
		n++
		return New(Options{Client: c, Leader: leader, Prefix: fmt.Sprintf("/test-%d", n), ProgressInterval: 200 * time.Millisecond})
	})
}

// TestCompactionTakesTurns: two compactors on one etcd compact once per
// round between them, through compact_rev_key, to the revision seen a
// round before.
func TestCompactionTakesTurns(t *testing.T) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdtest.Start(t, nil)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	s := New(Options{Client: c})
	old, _ := s.Create(ctx, "/registry/things/a", []byte("1"))

	// Round 1: the first compactor records the revision; nothing goes.
	v1, rev1, done, err := compactOnce(ctx, c, 0, 0)
	if err != nil || done != 0 || v1 != 1 {
		t.Fatalf("round 1: version %d, compacted %d, %v", v1, done, err)
	}
	// The second compactor, a round behind, learns the version.
	v2, _, done, err := compactOnce(ctx, c, 0, 0)
	if err != nil || done != 0 || v2 != 1 {
		t.Fatalf("the other compactor: version %d, compacted %d, %v", v2, done, err)
	}
	s.Update(ctx, "/registry/things/a", []byte("2"), old)
	// Round 2: the first compacts to what it saw in round 1.
	_, _, done, err = compactOnce(ctx, c, v1, rev1)
	if err != nil || done != rev1 {
		t.Fatalf("round 2 compacted %d, want %d: %v", done, rev1, err)
	}
	if _, err := s.List(ctx, "/registry/things/", storage.ListOptions{Rev: old - 1}); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("a list below the compaction: %v", err)
	}
	if _, err := s.List(ctx, "/registry/things/", storage.ListOptions{Rev: rev1}); err != nil {
		t.Errorf("a list at the compaction revision: %v", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Consistent reads from a cache need an etcd whose progress notes follow
// the events before them.
func TestProgressOrderedVersions(t *testing.T) {
	for v, want := range map[string]bool{
		"3.4.30": false, "3.4.31": true, "3.5.12": false, "3.5.13": true, "3.5.21": true,
		"3.6.0": true, "3.7.0-alpha.0": true, "3.3.27": false, "4.0.0": true, "": false, "x": false,
	} {
		if got := progressOrdered(v); got != want {
			t.Errorf("etcd %q: %v, want %v", v, got, want)
		}
	}
}
