package etcd

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// compactRevKey is the key through which kube-apiserver's API servers
// agree on compaction; sekisho uses the same key and protocol, so that
// sekisho and kube-apiserver servers on one etcd compact once per
// interval between them.
const compactRevKey = "compact_rev_key"

// RunCompactor compacts etcd every interval to the revision it saw one
// interval before, until ctx ends: history older than one interval goes.
// The compactions of several servers are serialized by a compare-and-swap
// on compact_rev_key's version: the first server to find the version it
// last saw bumps it and compacts; the others learn the new version and
// try again an interval later.
func (s *Store) RunCompactor(ctx context.Context, interval time.Duration, log *slog.Logger) {
	var version, rev int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		var compacted int64
		var err error
		version, rev, compacted, err = compactOnce(ctx, s.c, version, rev)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("etcd compaction failed", "err", err)
		case compacted > 0:
			log.Debug("etcd compacted", "revision", compacted)
		}
	}
}

// compactOnce is one round of the protocol: if compact_rev_key's version
// is still expectVersion, record rev in it and compact to rev (not on the
// first round, when rev is 0). It returns the version now known, the
// current revision (the next round's rev), and the revision compacted to.
func compactOnce(ctx context.Context, c *clientv3.Client, expectVersion, rev int64) (version, current, compacted int64, err error) {
	resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.Version(compactRevKey), "=", expectVersion)).
		Then(clientv3.OpPut(compactRevKey, strconv.FormatInt(rev, 10))).
		Else(clientv3.OpGet(compactRevKey)).Commit()
	if err != nil {
		return expectVersion, rev, 0, err
	}
	current = resp.Header.Revision
	if !resp.Succeeded {
		kv := resp.Responses[0].GetResponseRange().Kvs[0]
		return kv.Version, current, 0, nil
	}
	if rev == 0 {
		return expectVersion + 1, current, 0, nil
	}
	if _, err := c.Compact(ctx, rev); err != nil {
		return expectVersion + 1, current, 0, err
	}
	return expectVersion + 1, current, rev, nil
}
