// Package metrics serves the server's Prometheus metrics on /metrics, to
// users RBAC lets get that path (system:monitoring, as in Kubernetes).
//
// It has the Go runtime's and the process's collectors, and the stored
// object counts kube-apiserver v1.37 publishes, polled from the store
// every --etcd-count-metric-poll-period: apiserver_resource_objects, by
// group and resource, -1 when a count fails. (Its deprecated predecessor,
// apiserver_storage_objects, kube-apiserver v1.37 no longer shows.)
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/store"
)

// Metrics is one server's registry.
type Metrics struct {
	registry        *prometheus.Registry
	resourceObjects *prometheus.GaugeVec
}

// New registers the runtime, process and object-count collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		resourceObjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_resource_objects",
			Help: "Objects of each resource in storage, as of the last count; -1 when the count failed.",
		}, []string{"group", "resource"}),
	}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.resourceObjects)
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// CountObjects counts each resource's stored objects every period until
// ctx ends. A count that fails is logged and reads -1, as
// kube-apiserver's does.
func (m *Metrics) CountObjects(ctx context.Context, kv storage.KV, resources []*catalog.Resource, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		for _, r := range resources {
			n, err := Count(ctx, kv, r)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("metrics: cannot count stored objects", "resource", r.GroupResource().String(), "err", err)
				n = -1
			}
			m.resourceObjects.WithLabelValues(r.GroupVersion.Group, r.Name).Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Count is the number of r's stored objects: one key read, the rest
// counted by the store.
func Count(ctx context.Context, kv storage.KV, r *catalog.Resource) (int64, error) {
	page, err := kv.List(ctx, store.Prefix(r, ""), storage.ListOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	return int64(len(page.Items)) + page.Remaining, nil
}
