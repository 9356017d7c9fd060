// Package apiserver serves the Kubernetes API over HTTPS: the request
// filters (panic recovery, request info, authentication, impersonation,
// audit, authorization), the REST handlers, which decode a request, call
// the store's Writer and encode its answer, discovery, OpenAPI and health
// endpoints.
package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/aggregator"
	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// Config assembles a Server.
type Config struct {
	Catalog *catalog.Catalog
	// Writer reads and writes the objects; every write is admitted there.
	Writer        *store.Writer
	Authenticator authn.Authenticator
	Authorizer    authz.Authorizer
	// Reviews answer the catalog's virtual resources, and Actions its
	// action subresources. New refuses a catalog with one unanswered.
	Reviews map[schema.GroupVersionResource]catalog.ReviewFunc
	Actions map[catalog.ActionKey]catalog.ActionFunc
	// Computed answer the catalog's computed resources (componentstatuses).
	Computed map[schema.GroupVersionResource]catalog.Computer
	// Connects serve the connect subresources (pods/log, pods/exec,
	// nodes/proxy, ...); one without a ConnectFunc answers 404.
	Connects map[catalog.ActionKey]catalog.ConnectFunc
	// Auditor records requests by its audit policy; nil records nothing.
	Auditor *audit.Auditor
	// Aggregator hands the API versions of APIServices with a service to
	// their servers, after authorization; nil hands none.
	Aggregator *aggregator.Aggregator

	HealthChecks []HealthCheck
	// OpenAPI serves /openapi/v2 and /openapi/v3; nil leaves them unserved.
	OpenAPI http.Handler
	// Profiling serves /debug/pprof to authorized users.
	Profiling bool
	// Paths serves extra non-resource paths to authorized users, such as
	// the service-account issuer's discovery documents.
	Paths map[string]http.Handler

	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	RequestTimeout              time.Duration
	MinRequestTimeout           time.Duration
	BookmarkInterval            time.Duration

	// ExternalAddress is host:port as clients reach the server.
	ExternalAddress string
	Logger          *slog.Logger
	Now             func() time.Time
}

func (c *Config) defaults() {
	if c.MaxRequestsInFlight == 0 {
		c.MaxRequestsInFlight = 400
	}
	if c.MaxMutatingRequestsInFlight == 0 {
		c.MaxMutatingRequestsInFlight = 200
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = time.Minute
	}
	if c.MinRequestTimeout == 0 {
		c.MinRequestTimeout = 1800 * time.Second
	}
	if c.BookmarkInterval == 0 {
		c.BookmarkInterval = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is the API server's HTTP handler and lifecycle.
type Server struct {
	cfg         Config
	objects     *store.Writer
	log         *slog.Logger
	discovery   atomic.Pointer[discovery]
	discoveryMu sync.Mutex
	checks      []HealthCheck
	handler     http.Handler

	stopOnce sync.Once
	stopping chan struct{}

	// failures remembers recent authentication failures for diagnosis.
	failures *failureLog
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.Catalog == nil || cfg.Writer == nil || cfg.Authenticator == nil || cfg.Authorizer == nil {
		return nil, errors.New("apiserver: catalog, writer (store and admission chain), authenticator and authorizer are required")
	}
	if err := cfg.checkAnswers(); err != nil {
		return nil, err
	}
	base, err := newDiscoveryBase(cfg.Catalog, cfg.ExternalAddress)
	if err != nil {
		return nil, err
	}
	d, err := base.merge(0, nil)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, objects: cfg.Writer, log: cfg.Logger, stopping: make(chan struct{}), failures: newFailureLog()}
	s.discovery.Store(d)
	s.checks = append(s.checks, cfg.HealthChecks...)
	s.checks = append(s.checks, HealthCheck{
		Name: "shutdown", ReadyOnly: true,
		Check: func(context.Context) error {
			select {
			case <-s.stopping:
				return errors.New("the server is shutting down")
			default:
				return nil
			}
		},
	})
	s.handler = s.buildChain()
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Handler returns the full filter chain.
func (s *Server) Handler() http.Handler { return s.handler }

// BeginShutdown makes /readyz fail and ends every watch cleanly.
func (s *Server) BeginShutdown() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// route dispatches an authenticated, authorized request.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	ri := RequestInfoFrom(r.Context())
	if h := s.aggregated(ri); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	switch {
	case ri.IsResourceRequest:
		s.serveResource(w, r, ri)
	case s.serveDiscovery(w, r):
	case r.URL.Path == "/openapi/v2" || r.URL.Path == "/openapi/v3" || len(r.URL.Path) > len("/openapi/v3/") && r.URL.Path[:len("/openapi/v3/")] == "/openapi/v3/":
		if s.cfg.OpenAPI == nil {
			s.writeError(w, r, errNotFoundPath())
			return
		}
		s.cfg.OpenAPI.ServeHTTP(w, r)
	case r.URL.Path == "/version" || r.URL.Path == "/version/":
		s.serveVersion(w, r)
	case s.cfg.Paths[r.URL.Path] != nil:
		s.cfg.Paths[r.URL.Path].ServeHTTP(w, r)
	case s.cfg.Profiling && strings.HasPrefix(r.URL.Path, "/debug/pprof"):
		servePprof(w, r)
	default:
		s.writeError(w, r, errNotFoundPath())
	}
}

// aggregated returns the handler of an aggregated API version the request
// is for, or nil.
func (s *Server) aggregated(ri *RequestInfo) http.Handler {
	if s.cfg.Aggregator == nil {
		return nil
	}
	if ri.IsResourceRequest {
		if ri.APIPrefix != "apis" {
			return nil
		}
		return s.cfg.Aggregator.Handler(ri.APIGroup, ri.APIVersion)
	}
	// Of the non-resource paths only discovery, /apis/<group>/<version>,
	// goes to a backend: a longer one (an empty segment, say) was not
	// authorized as the resource request the backend would read it as.
	parts := splitPath(ri.Path)
	if len(parts) != 3 || parts[0] != "apis" || parts[1] == "" || parts[2] == "" {
		return nil
	}
	return s.cfg.Aggregator.Handler(parts[1], parts[2])
}

// ServeOptions configure how the server listens.
type ServeOptions struct {
	Listener          net.Listener
	TLSConfig         *tls.Config
	ReadHeaderTimeout time.Duration
	// ShutdownTimeout bounds how long in-flight requests may finish.
	ShutdownTimeout time.Duration
}

// Serve serves HTTPS on opts.Listener until ctx ends, then shuts down
// gracefully: /readyz turns unready, watches end, in-flight requests finish.
func (s *Server) Serve(ctx context.Context, opts ServeOptions) error {
	if opts.TLSConfig == nil {
		return errors.New("apiserver: TLS is required; there is no insecure port")
	}
	if opts.ReadHeaderTimeout == 0 {
		opts.ReadHeaderTimeout = 10 * time.Second
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         opts.TLSConfig,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
		ConnContext:       withConnGuard(s.log),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(opts.Listener, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.BeginShutdown()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

// checkAnswers requires an answer for every virtual or computed resource
// and action subresource the catalog describes, and none for anything
// else.
func (c *Config) checkAnswers() error {
	reviews, actions, computed := 0, 0, 0
	for _, res := range c.Catalog.Resources() {
		if res.Computed {
			if c.Computed[res.GroupVersionResource()] == nil {
				return fmt.Errorf("apiserver: nothing computes %s", res.GroupVersionResource())
			}
			computed++
		}
		if res.Answered() {
			if c.Reviews[res.GroupVersionResource()] == nil {
				return fmt.Errorf("apiserver: nothing answers %s", res.GroupVersionResource())
			}
			reviews++
		}
		for _, sub := range res.Subresources {
			if sub.Answered() {
				if c.Actions[catalog.ActionKey{Resource: res.GroupVersionResource(), Subresource: sub.Name}] == nil {
					return fmt.Errorf("apiserver: nothing answers %s/%s", res.GroupVersionResource(), sub.Name)
				}
				actions++
			}
		}
	}
	if reviews != len(c.Reviews) || actions != len(c.Actions) || computed != len(c.Computed) {
		return errors.New("apiserver: an answer is given for a resource the catalog does not describe")
	}
	return nil
}
