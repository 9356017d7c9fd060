package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdOptions reach etcd directly, for the raw baseline the API server's
// etcd scenarios are measured against.
type etcdOptions struct {
	servers                   string
	caFile, certFile, keyFile string
}

// etcdScenario runs etcd-get (a linearizable read of one key, as the
// store's GET does) or etcd-create (a create-if-absent transaction of a
// new key, as the store's CREATE does), with values the size of a stored
// ConfigMap.
func etcdScenario(ctx context.Context, o options) (result, error) {
	if o.etcd.servers == "" {
		return result{}, errors.New("--etcd-servers is required for the etcd scenarios")
	}
	cfg := clientv3.Config{Endpoints: strings.Split(o.etcd.servers, ","), DialTimeout: 5 * time.Second}
	if o.etcd.certFile != "" {
		tlsInfo := transport.TLSInfo{CertFile: o.etcd.certFile, KeyFile: o.etcd.keyFile, TrustedCAFile: o.etcd.caFile}
		tc, err := tlsInfo.ClientConfig()
		if err != nil {
			return result{}, err
		}
		tc.MinVersion = tls.VersionTLS12
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	// About what sekisho stores for loadgen's ConfigMap: protobuf with its
	// metadata (uid, timestamps, managedFields).
	value := strings.Repeat("v", 300)
	prefix := fmt.Sprintf("/loadgen/%d/", time.Now().UnixNano())
	switch o.scenario {
	case "etcd-get":
		if _, err := c.Put(ctx, prefix+"get", value); err != nil {
			return result{}, err
		}
		lat, errs, elapsed := hammer(o, func(int, int) error {
			_, err := c.Get(ctx, prefix+"get")
			return err
		})
		return summarize("etcd-get", lat, errs, elapsed, o.concurrency), nil
	case "etcd-create":
		lat, errs, elapsed := hammer(o, func(w, i int) error {
			k := fmt.Sprintf("%s%d-%d", prefix, w, i)
			resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, value)).Commit()
			if err == nil && !resp.Succeeded {
				err = errors.New("exists")
			}
			return err
		})
		if _, err := c.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
			return result{}, err
		}
		return summarize("etcd-create", lat, errs, elapsed, o.concurrency), nil
	}
	return result{}, fmt.Errorf("--scenario %q: not an etcd scenario", o.scenario)
}
