// Package eventratelimit is the EventRateLimit admission plugin: token
// buckets that cap how fast Events are written, for the whole server, per
// namespace, per user, and per source and involved object, so that a
// flood of Events cannot crowd out the writes that matter (CIS Kubernetes
// Benchmark 1.2.9). A write over a limit is a 429 naming the limit.
package eventratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/lru"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "EventRateLimit"

// The kinds of limit, as the configuration names them.
const (
	Server          = "Server"
	Namespace       = "Namespace"
	User            = "User"
	SourceAndObject = "SourceAndObject"
)

// Limit is one limit of the configuration.
type Limit struct {
	Type      string `json:"type"`
	QPS       int32  `json:"qps"`
	Burst     int32  `json:"burst"`
	CacheSize int32  `json:"cacheSize,omitempty"`
}

// defaultCacheSize is how many buckets a per-key limit keeps, the least
// recently used going first.
const defaultCacheSize = 4096

// ParseConfiguration reads the plugin's configuration
// (eventratelimit.admission.k8s.io/v1alpha1 Configuration) and checks it
// as kube-apiserver does: at least one limit, each of a known type, with
// a positive qps and burst.
func ParseConfiguration(data []byte) ([]Limit, error) {
	var cfg struct {
		APIVersion string  `json:"apiVersion"`
		Kind       string  `json:"kind"`
		Limits     []Limit `json:"limits"`
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, err
		}
		if cfg.APIVersion != "eventratelimit.admission.k8s.io/v1alpha1" || cfg.Kind != "Configuration" {
			return nil, fmt.Errorf("want an eventratelimit.admission.k8s.io/v1alpha1 Configuration, got %s %s", cfg.APIVersion, cfg.Kind)
		}
	}
	var errs field.ErrorList
	limits := field.NewPath("limits")
	if len(cfg.Limits) == 0 {
		errs = append(errs, field.Invalid(limits, cfg.Limits, "must not be empty"))
	}
	for i, l := range cfg.Limits {
		p := limits.Index(i)
		switch l.Type {
		case Server, Namespace, User, SourceAndObject:
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), l.Type, []string{Server, Namespace, User, SourceAndObject}))
		}
		if l.Burst <= 0 {
			errs = append(errs, field.Invalid(p.Child("burst"), l.Burst, "must be positive"))
		}
		if l.QPS <= 0 {
			errs = append(errs, field.Invalid(p.Child("qps"), l.QPS, "must be positive"))
		}
		if l.Type != Server && l.CacheSize < 0 {
			errs = append(errs, field.Invalid(p.Child("cacheSize"), l.CacheSize, "must not be negative"))
		}
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return cfg.Limits, nil
}

// Plugin enforces the limits.
type Plugin struct {
	enforcers []*enforcer
}

// New builds the plugin's buckets.
func New(limits []Limit) *Plugin {
	p := &Plugin{}
	for _, l := range limits {
		size := int(l.CacheSize)
		if size == 0 {
			size = defaultCacheSize
		}
		p.enforcers = append(p.enforcers, &enforcer{limit: l, buckets: lru.New(size)})
	}
	return p
}

// Validate takes a token from every limit's bucket for an Event create or
// update, and refuses it when any is empty. Dry runs store nothing and
// take nothing.
func (p *Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	if a.Kind.Group != "" || a.Kind.Kind != "Event" || a.DryRun {
		return nil
	}
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	var errs []error
	for _, e := range p.enforcers {
		if err := e.accept(a); err != nil {
			errs = append(errs, err)
		}
	}
	if err := utilerrors.NewAggregate(errs); err != nil {
		return apierrors.NewTooManyRequestsError(err.Error())
	}
	return nil
}

type enforcer struct {
	limit Limit
	mu    sync.Mutex // the LRU is safe; making a bucket once per key is not
	// buckets holds one token bucket per key (one for Server).
	buckets *lru.Cache
}

func (e *enforcer) accept(a *admission.Attributes) error {
	key := e.key(a)
	e.mu.Lock()
	b, ok := e.buckets.Get(key)
	if !ok {
		b = flowcontrol.NewTokenBucketRateLimiter(float32(e.limit.QPS), int(e.limit.Burst))
		e.buckets.Add(key, b)
	}
	e.mu.Unlock()
	if !b.(flowcontrol.RateLimiter).TryAccept() {
		return fmt.Errorf("limit reached on type %v for key %v", e.limit.Type, key)
	}
	return nil
}

func (e *enforcer) key(a *admission.Attributes) string {
	switch e.limit.Type {
	case Namespace:
		return a.Namespace
	case User:
		if a.User == nil {
			return ""
		}
		return a.User.Name
	case SourceAndObject:
		ev, ok := a.Object.(*corev1.Event)
		if !ok {
			return ""
		}
		o := ev.InvolvedObject
		return strings.Join([]string{ev.Source.Component, ev.Source.Host, o.Kind, o.Namespace, o.Name, string(o.UID), o.APIVersion}, "")
	}
	return ""
}
