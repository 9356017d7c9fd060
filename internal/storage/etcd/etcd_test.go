package etcd

import (
	"fmt"
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
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.KV {
		n++
		return New(Options{Client: c, Prefix: fmt.Sprintf("/test-%d", n), ProgressInterval: 200 * time.Millisecond})
	})
}
