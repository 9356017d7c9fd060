// Package aggregator serves the API versions other servers provide, as
// kube-apiserver's aggregation layer does: an APIService whose spec names
// a service hands /apis/<group>/<version> to that service.
//
// A request reaches a backend only after this server has authenticated,
// audited and authorized it. The backend sees the user in the
// requestheader headers (X-Remote-User, X-Remote-Uid, X-Remote-Group,
// X-Remote-Extra-*), never the client's own credentials, on a connection
// that presents the front-proxy client certificate
// (--proxy-client-cert-file, reloaded when renewed) and verifies the
// backend's serving certificate against the APIService's caBundle for the
// name <service>.<namespace>.svc.
//
// Each APIService's Available condition is kept as kube-aggregator keeps
// it (Local, ServiceNotFound, ServicePortError, EndpointsNotFound,
// MissingEndpoints, FailedDiscoveryCheck, Passed); the discovery check is
// made with the caBundle verified, so a wrong bundle shows in the
// condition rather than only in failed requests. A version this server
// serves itself is never handed to another: such an APIService is
// reported unavailable (ServedLocally) and the built-in API stays.
package aggregator

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/proxy"
	"github.com/sekisho/sekisho/internal/store"
)

// Manager is the field manager of the Available condition this server
// writes.
const Manager = "kube-apiserver"

// discoveryTimeout bounds a discovery request to a backend, as
// kube-apiserver bounds it: clients list every group's resources, and one
// slow server must not hold them all up.
const discoveryTimeout = 5 * time.Second

// Config configures an Aggregator.
type Config struct {
	APIServices, Services, EndpointSlices *informer.Informer
	// Writer writes the APIServices' status; nil writes none.
	Writer   *store.Writer
	Resource *catalog.Resource // apiservices
	// ClientCertificate is the front-proxy client certificate in force;
	// nil presents none, and backends that require one refuse.
	ClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
	// EndpointRouting sends requests to an endpoint of the service
	// (--enable-aggregator-routing) instead of its cluster IP.
	EndpointRouting bool
	// Local reports the versions this server serves itself.
	Local  func(schema.GroupVersion) bool
	Resync time.Duration
	Log    *slog.Logger
}

// Version is one aggregated API version, for discovery.
type Version struct {
	Group, Version                        string
	GroupPriorityMinimum, VersionPriority int32
	// Resources is the backend's last discovery document; nil until one
	// has been read.
	Resources *metav1.APIResourceList
	Available bool
}

// Aggregator proxies aggregated API versions and keeps their APIServices'
// Available condition.
type Aggregator struct {
	cfg    Config
	routes atomic.Pointer[routes]
	// services are the services APIServices name, "namespace/name", as of
	// the last pass: changes to others start no pass.
	services atomic.Pointer[map[string]bool]

	clientsMu sync.RWMutex // guards clients, which requests read
	clients   map[clientKey]*proxy.Client

	mu             sync.Mutex                         // one pass at a time; guards the maps below
	fetched        map[string]*metav1.APIResourceList // by APIService name
	messageWritten map[string]time.Time               // by APIService name
	openAPI        map[string]*openAPIDoc             // by APIService name
}

type routes struct {
	byVersion  map[schema.GroupVersion]*backend
	versions   []Version
	generation uint64
	// openAPI are the backends' OpenAPI v3 documents by path
	// ("apis/<group>/<version>"), changing with openAPIGeneration.
	openAPI           map[string][]byte
	openAPIGeneration uint64
}

// openAPIDoc is a backend's OpenAPI v3 document of its version, as last
// read.
type openAPIDoc struct {
	data    []byte
	etag    string
	read    time.Time
	backend clientKey // the server it was read from
}

// openAPIRefresh is how often a backend's OpenAPI document is read again
// (conditionally, by its ETag), as kube-aggregator's controller does.
const openAPIRefresh = time.Minute

type clientKey struct {
	caBundle   string
	serverName string
	insecure   bool
}

// backend is where one APIService's requests go.
type backend struct {
	a         *Aggregator
	name      string
	service   apiregistrationv1.ServiceReference
	key       clientKey // its transport: Aggregator.clientFor
	available bool
	reason    string // why not available, for the log
}

// New builds an Aggregator; Run keeps it current.
func New(cfg Config) *Aggregator {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Resync == 0 {
		cfg.Resync = 10 * time.Second
	}
	a := &Aggregator{cfg: cfg, clients: map[clientKey]*proxy.Client{}, fetched: map[string]*metav1.APIResourceList{}, messageWritten: map[string]time.Time{}, openAPI: map[string]*openAPIDoc{}}
	a.routes.Store(&routes{})
	return a
}

// ClientCertificate is the front-proxy client certificate in force; nil
// without one.
func (a *Aggregator) ClientCertificate() *tls.Certificate {
	if a.cfg.ClientCertificate == nil {
		return nil
	}
	c, err := a.cfg.ClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil {
		return nil
	}
	return c
}

// RenewClients replaces the transport to every backend, after the
// front-proxy client certificate changes: every request from then on goes
// over a new connection, which presents the new certificate. A connection
// busy at the change (a watch) finishes its request on the old transport,
// which nothing uses again; its idle connections are closed.
func (a *Aggregator) RenewClients() {
	a.clientsMu.Lock()
	defer a.clientsMu.Unlock()
	for k, old := range a.clients {
		c, err := a.newClient(k)
		if err != nil {
			continue
		}
		a.clients[k] = c
		old.CloseIdleConnections()
	}
}

// clientFor is the transport in force for backends of one key; nil when
// a pass has dropped it.
func (a *Aggregator) clientFor(k clientKey) *proxy.Client {
	a.clientsMu.RLock()
	defer a.clientsMu.RUnlock()
	return a.clients[k]
}

// Handler returns the handler of an aggregated version, or nil when no
// APIService hands it to a service.
func (a *Aggregator) Handler(group, version string) http.Handler {
	rt := a.routes.Load()
	if len(rt.byVersion) == 0 {
		return nil
	}
	if b := rt.byVersion[schema.GroupVersion{Group: group, Version: version}]; b != nil {
		return b
	}
	return nil
}

// Versions returns the aggregated versions and a generation that changes
// whenever they do.
func (a *Aggregator) Versions() (uint64, []Version) {
	rt := a.routes.Load()
	return rt.generation, rt.versions
}

// OpenAPIV3 returns the backends' OpenAPI v3 documents by path
// ("apis/<group>/<version>"), and a generation that changes whenever
// they do.
func (a *Aggregator) OpenAPIV3() (uint64, map[string][]byte) {
	rt := a.routes.Load()
	return rt.openAPIGeneration, rt.openAPI
}

// readOpenAPI reads the backend's OpenAPI v3 document of gv, conditionally
// on the one read before, as system:aggregator (as kube-aggregator reads
// it): at /openapi/v3/apis/<group>/<version>, with the hash the backend's
// own index (/openapi/v3) gives, or without for a server with no index. A
// server whose index does not list gv, or that answers 404 for the
// document, leaves none; any other failure keeps the last one read.
func (a *Aggregator) readOpenAPI(ctx context.Context, b *backend, gv schema.GroupVersion, prev *openAPIDoc) *openAPIDoc {
	loc, err := a.location(b.service)
	if err != nil {
		return prev
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second) // a pass waits for it
	defer cancel()
	get := func(target string, header http.Header) (*http.Response, error) {
		u := *loc
		u.Path, u.RawQuery, _ = strings.Cut(target, "?")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "application/json")
		// As kube-aggregator downloads them: system:aggregator, no
		// groups (the backend adds system:authenticated).
		setUserHeaders(req.Header, &authn.User{Name: "system:aggregator"})
		client := b.a.clientFor(b.key)
		if client == nil {
			return nil, errors.New("no transport to the backend")
		}
		return client.Do(req)
	}
	drain := func(resp *http.Response) {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is used again
		resp.Body.Close()
	}
	key := "apis/" + gv.Group + "/" + gv.Version
	docPath := "/openapi/v3/" + key
	query := ""
	resp, err := get("/openapi/v3", nil)
	if err != nil {
		a.cfg.Log.Info("aggregator: cannot read an APIService's OpenAPI index", "groupVersion", gv.String(), "err", err)
		return prev
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var index struct {
			Paths map[string]struct {
				ServerRelativeURL string `json:"serverRelativeURL"`
			} `json:"paths"`
		}
		err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&index)
		drain(resp)
		if err != nil {
			a.cfg.Log.Info("aggregator: an APIService's OpenAPI index is not JSON", "groupVersion", gv.String(), "err", err)
			return prev
		}
		entry, listed := index.Paths[key]
		if !listed {
			return nil // the backend describes no such version
		}
		// Only the query (its hash) is taken from the index: the document
		// is read at /openapi/v3/<group version> whatever the index says,
		// so a backend cannot point the read anywhere else.
		if p, q, _ := strings.Cut(entry.ServerRelativeURL, "?"); path.Clean(p) == docPath {
			query = q
		}
	case http.StatusNotFound:
		drain(resp) // no index: the document at its path, if any
	default:
		drain(resp)
		return prev
	}
	header := http.Header{}
	if prev != nil && prev.backend == b.key && prev.etag != "" {
		header.Set("If-None-Match", prev.etag)
	}
	if query != "" {
		docPath += "?" + query
	}
	resp, err = get(docPath, header)
	if err != nil {
		a.cfg.Log.Info("aggregator: cannot read an APIService's OpenAPI document", "groupVersion", gv.String(), "err", err)
		return prev
	}
	defer drain(resp)
	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		kept := *prev
		kept.read = time.Now()
		return &kept
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode != http.StatusOK:
		return prev // kept through a failure, as kube-aggregator keeps it
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || !json.Valid(data) {
		a.cfg.Log.Info("aggregator: an APIService's OpenAPI document is not JSON", "groupVersion", gv.String(), "err", err)
		return prev
	}
	return &openAPIDoc{data: data, etag: resp.Header.Get("ETag"), read: time.Now(), backend: b.key}
}

// Run checks every APIService when any APIService changes, or a Service
// or EndpointSlice of a service one names, and every Resync, until ctx
// ends.
func (a *Aggregator) Run(ctx context.Context) {
	changes := make(chan struct{}, 1)
	signal := func() {
		select {
		case changes <- struct{}{}:
		default:
		}
	}
	a.cfg.APIServices.AddHandler(func(string, catalog.Object, catalog.Object) { signal() })
	a.cfg.Services.AddHandler(func(_ string, obj, _ catalog.Object) {
		if a.referenced(obj.GetNamespace(), obj.GetName()) {
			signal()
		}
	})
	a.cfg.EndpointSlices.AddHandler(func(_ string, obj, _ catalog.Object) {
		if a.referenced(obj.GetNamespace(), obj.GetLabels()[discoveryv1.LabelServiceName]) {
			signal()
		}
	})
	for _, i := range []*informer.Informer{a.cfg.Services, a.cfg.EndpointSlices} {
		if !i.WaitForSync(ctx) {
			return
		}
	}
	informer.RunOnChange(ctx, a.cfg.APIServices, changes, a.cfg.Resync, a.Sync)
}

// referenced reports whether an APIService names the service; before the
// first pass, every service counts.
func (a *Aggregator) referenced(namespace, name string) bool {
	refs := a.services.Load()
	return refs == nil || (*refs)[namespace+"/"+name]
}

// maxConcurrentChecks bounds the discovery requests of one pass.
const maxConcurrentChecks = 16

// check is one APIService's part of a pass: its condition, decided at once
// or by the discovery request to its server.
type check struct {
	svc       *apiregistrationv1.APIService
	gv        schema.GroupVersion
	b         *backend // nil when nothing is proxied
	cond      apiregistrationv1.APIServiceCondition
	discover  bool
	resources *metav1.APIResourceList
	err       error
	// openAPIDue asks for the backend's OpenAPI document, openAPIPrev
	// the one read before (for its ETag); openAPI is what the read left.
	openAPIDue, openAPIRead bool
	openAPIPrev, openAPI    *openAPIDoc
}

// Sync checks every APIService once, the discovery requests concurrently:
// it rebuilds the routes and writes the conditions that changed.
func (a *Aggregator) Sync(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var apiServices []*apiregistrationv1.APIService
	for _, o := range a.cfg.APIServices.List() {
		apiServices = append(apiServices, o.(*apiregistrationv1.APIService))
	}
	slices.SortFunc(apiServices, func(x, y *apiregistrationv1.APIService) int { return strings.Compare(x.Name, y.Name) })

	next := &routes{byVersion: map[schema.GroupVersion]*backend{}}
	usedClients := map[clientKey]bool{}
	refs := map[string]bool{}
	checks := make([]*check, 0, len(apiServices))
	for _, svc := range apiServices {
		c := a.prepare(svc, usedClients)
		if c.b != nil {
			next.byVersion[c.gv] = c.b
			refs[c.b.service.Namespace+"/"+c.b.service.Name] = true
		}
		checks = append(checks, c)
	}
	a.services.Store(&refs)
	for _, c := range checks {
		if c.discover {
			prev := a.openAPI[c.svc.Name]
			c.openAPIPrev = prev
			c.openAPIDue = prev == nil || prev.backend != c.b.key || time.Since(prev.read) >= openAPIRefresh
		}
	}
	var wg sync.WaitGroup
	limit := make(chan struct{}, maxConcurrentChecks)
	for _, c := range checks {
		if !c.discover {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			limit <- struct{}{}
			defer func() { <-limit }()
			c.resources, c.err = a.discover(ctx, c.b, c.gv)
			if c.err == nil && c.openAPIDue {
				c.openAPI = a.readOpenAPI(ctx, c.b, c.gv, c.openAPIPrev)
				c.openAPIRead = true
			}
		}()
	}
	wg.Wait()

	var firstErr error
	for _, c := range checks {
		if c.discover {
			if c.err != nil {
				c.cond = condition(apiregistrationv1.ConditionFalse, "FailedDiscoveryCheck", "%v", c.err)
				c.b.reason = c.cond.Message
			} else {
				if c.resources != nil {
					a.fetched[c.svc.Name] = c.resources
				}
				c.b.available = true
				c.cond = condition(apiregistrationv1.ConditionTrue, "Passed", "all checks passed")
			}
		}
		if c.openAPIRead {
			if c.openAPI == nil {
				delete(a.openAPI, c.svc.Name)
			} else {
				a.openAPI[c.svc.Name] = c.openAPI
			}
		}
		if c.b != nil {
			if doc := a.openAPI[c.svc.Name]; doc != nil {
				if next.openAPI == nil {
					next.openAPI = map[string][]byte{}
				}
				next.openAPI["apis/"+c.gv.Group+"/"+c.gv.Version] = doc.data
			}
			next.versions = append(next.versions, Version{
				Group: c.gv.Group, Version: c.gv.Version,
				GroupPriorityMinimum: c.svc.Spec.GroupPriorityMinimum, VersionPriority: c.svc.Spec.VersionPriority,
				Available: c.b.available, Resources: a.fetched[c.svc.Name],
			})
		}
		if err := a.writeCondition(ctx, c.svc, c.cond); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	a.clientsMu.Lock()
	for k, c := range a.clients {
		if !usedClients[k] {
			c.CloseIdleConnections()
			delete(a.clients, k)
		}
	}
	a.clientsMu.Unlock()
	for name := range a.fetched {
		if o, ok := a.cfg.APIServices.Get("", name); !ok || o.(*apiregistrationv1.APIService).Spec.Service == nil {
			delete(a.fetched, name)
		}
	}
	for name := range a.messageWritten {
		if _, ok := a.cfg.APIServices.Get("", name); !ok {
			delete(a.messageWritten, name)
		}
	}
	for name := range a.openAPI {
		if o, ok := a.cfg.APIServices.Get("", name); !ok || o.(*apiregistrationv1.APIService).Spec.Service == nil {
			delete(a.openAPI, name)
		}
	}
	prev := a.routes.Load()
	next.generation, next.openAPIGeneration = prev.generation, prev.openAPIGeneration
	if !reflect.DeepEqual(prev.versions, next.versions) {
		next.generation++
	}
	if !maps.EqualFunc(prev.openAPI, next.openAPI, bytes.Equal) {
		next.openAPIGeneration++
	}
	a.routes.Store(next)
	return firstErr
}

func condition(status apiregistrationv1.ConditionStatus, reason, format string, args ...any) apiregistrationv1.APIServiceCondition {
	return apiregistrationv1.APIServiceCondition{Type: apiregistrationv1.Available, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// prepare decides what it can of one APIService's condition from the
// objects cached: everything but the discovery request, which it marks
// as due. An APIService with a service gets a backend, unavailable until
// its check passes.
func (a *Aggregator) prepare(svc *apiregistrationv1.APIService, usedClients map[clientKey]bool) *check {
	c := &check{svc: svc, gv: schema.GroupVersion{Group: svc.Spec.Group, Version: svc.Spec.Version}}
	ref := svc.Spec.Service
	if ref == nil {
		c.cond = condition(apiregistrationv1.ConditionTrue, "Local", "Local APIServices are always available")
		return c
	}
	if a.cfg.Local != nil && a.cfg.Local(c.gv) {
		c.cond = condition(apiregistrationv1.ConditionFalse, "ServedLocally",
			"%s is served by the API server itself, which does not hand a built-in API version to a service", c.gv)
		return c
	}
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	key := clientKey{caBundle: string(svc.Spec.CABundle), serverName: ref.Name + "." + ref.Namespace + ".svc", insecure: svc.Spec.InsecureSkipTLSVerify}
	_, err := a.client(key)
	c.b = &backend{a: a, name: svc.Name, service: *ref, key: key}
	c.b.service.Port = &port
	usedClients[key] = true
	unavailable := func(reason, format string, args ...any) *check {
		c.cond = condition(apiregistrationv1.ConditionFalse, reason, format, args...)
		c.b.reason = c.cond.Message
		return c
	}
	if err != nil {
		return unavailable("FailedDiscoveryCheck", "spec.caBundle: %v", err)
	}
	o, ok := a.cfg.Services.Get(ref.Namespace, ref.Name)
	if !ok {
		return unavailable("ServiceNotFound", "service/%s in %q is not present", ref.Name, ref.Namespace)
	}
	service := o.(*corev1.Service)
	if service.Spec.Type == corev1.ServiceTypeClusterIP {
		sp, ok := servicePort(service, port)
		if !ok {
			return unavailable("ServicePortError", "service/%s in %q is not listening on port %d", ref.Name, ref.Namespace, port)
		}
		endpointSlices := a.endpointSlices(ref.Namespace, ref.Name)
		if len(endpointSlices) == 0 {
			return unavailable("EndpointsNotFound", "cannot find endpointslices for service/%s in %q", ref.Name, ref.Namespace)
		}
		if _, err := readyEndpoint(endpointSlices, sp.Name); err != nil {
			return unavailable("MissingEndpoints", "endpointslices for service/%s in %q have no addresses with port name %q", ref.Name, ref.Namespace, sp.Name)
		}
	}
	c.discover = true
	return c
}

// client returns the transport for backends verified by one CA bundle
// and name; a bundle with no certificate in it is an error.
func (a *Aggregator) client(k clientKey) (*proxy.Client, error) {
	a.clientsMu.Lock()
	defer a.clientsMu.Unlock()
	if c := a.clients[k]; c != nil {
		return c, nil
	}
	c, err := a.newClient(k)
	if err != nil {
		return nil, err
	}
	a.clients[k] = c
	return c, nil
}

func (a *Aggregator) newClient(k clientKey) (*proxy.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.serverName, GetClientCertificate: a.cfg.ClientCertificate}
	switch {
	case k.insecure:
		cfg.InsecureSkipVerify = true
	case k.caBundle != "":
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(k.caBundle)) {
			return nil, errors.New("no PEM certificate in it")
		}
		cfg.RootCAs = pool
	}
	return proxy.NewClient(cfg), nil
}

// discover reads the backend's discovery document of gv, as
// kube-aggregator's availability check does: as system:kube-aggregator in
// system:masters, within five seconds.
func (a *Aggregator) discover(ctx context.Context, b *backend, gv schema.GroupVersion) (*metav1.APIResourceList, error) {
	loc, err := a.location(b.service)
	if err != nil {
		return nil, err
	}
	loc.Path = "/apis/" + gv.Group + "/" + gv.Version
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	setUserHeaders(req.Header, &authn.User{Name: "system:kube-aggregator", Groups: []string{"system:masters"}})
	client := a.clientFor(b.key)
	if client == nil {
		return nil, errors.New("no transport to the backend")
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("failing or missing response from %s: %w", loc, err)
	}
	defer resp.Body.Close()
	// As in kube-aggregator, any 2xx or 3xx passes; the resources are
	// read from a 2xx JSON answer, else the last ones read stay.
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return nil, fmt.Errorf("bad status from %s: %d", loc, resp.StatusCode)
	}
	if resp.StatusCode > 299 {
		return nil, nil
	}
	var list metav1.APIResourceList
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err == nil {
		err = json.Unmarshal(data, &list)
	}
	if err != nil || (list.GroupVersion != "" && list.GroupVersion != gv.String()) {
		a.cfg.Log.Warn("aggregator: the discovery document of an APIService's server is not this version's resource list", "groupVersion", gv.String(), "url", loc.String(), "err", err)
		return nil, nil
	}
	return &list, nil
}

// writeCondition records cond on the APIService if it changed.
func (a *Aggregator) writeCondition(ctx context.Context, svc *apiregistrationv1.APIService, cond apiregistrationv1.APIServiceCondition) error {
	if a.cfg.Writer == nil || a.cfg.Resource == nil {
		return nil
	}
	if old := availableCondition(svc); old != nil && old.Status == cond.Status && old.Reason == cond.Reason {
		// A message alone (a failing endpoint picked at random, say)
		// is rewritten at most once a minute: every write starts a pass
		// on every server.
		if old.Message == cond.Message || time.Since(a.messageWritten[svc.Name]) < time.Minute {
			return nil
		}
	}
	a.messageWritten[svc.Name] = time.Now()
	t := store.Target{Resource: a.cfg.Resource, Subresource: a.cfg.Resource.Subresource("status"), Name: svc.Name}
	_, err := a.cfg.Writer.Update(ctx, t, store.Options{Manager: Manager}, func(cur catalog.Object) (catalog.Object, error) {
		next := cur.(*apiregistrationv1.APIService)
		next.ResourceVersion = svc.ResourceVersion // the object checked, or a Conflict and another pass
		setCondition(next, cond, metav1.Now())
		return next, nil
	})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		a.cfg.Log.Warn("aggregator: cannot record an APIService's availability", "apiservice", svc.Name, "err", err)
		return err
	}
	if old := availableCondition(svc); old == nil || old.Status != cond.Status {
		a.cfg.Log.Info("APIService availability changed", "apiservice", svc.Name, "available", cond.Status, "reason", cond.Reason, "message", cond.Message)
	}
	return nil
}

// availableCondition returns the APIService's Available condition, or nil.
func availableCondition(svc *apiregistrationv1.APIService) *apiregistrationv1.APIServiceCondition {
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == apiregistrationv1.Available {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

// setCondition sets cond, moving its transition time only when its status
// changes.
func setCondition(svc *apiregistrationv1.APIService, cond apiregistrationv1.APIServiceCondition, now metav1.Time) {
	old := availableCondition(svc)
	if old == nil {
		cond.LastTransitionTime = now
		svc.Status.Conditions = append(svc.Status.Conditions, cond)
		return
	}
	if old.Status != cond.Status {
		old.Status, old.LastTransitionTime = cond.Status, now
	}
	old.Reason, old.Message = cond.Reason, cond.Message
}

// location is where a service's requests go: an endpoint with
// EndpointRouting, otherwise its cluster IP, or its external name.
func (a *Aggregator) location(ref apiregistrationv1.ServiceReference) (*url.URL, error) {
	port := *ref.Port
	o, ok := a.cfg.Services.Get(ref.Namespace, ref.Name)
	if !ok {
		return nil, fmt.Errorf("service/%s in %q is not present", ref.Name, ref.Namespace)
	}
	svc := o.(*corev1.Service)
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	case corev1.ServiceTypeExternalName:
		if !a.cfg.EndpointRouting {
			return &url.URL{Scheme: "https", Host: net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port)))}, nil
		}
		fallthrough
	default:
		return nil, fmt.Errorf("unsupported service type %q", svc.Spec.Type)
	}
	sp, ok := servicePort(svc, port)
	if !ok {
		return nil, fmt.Errorf("no service port %d found for service %q", port, svc.Name)
	}
	if !a.cfg.EndpointRouting {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
			return nil, fmt.Errorf("cannot route to service with ClusterIP %q", svc.Spec.ClusterIP)
		}
		return &url.URL{Scheme: "https", Host: net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(sp.Port)))}, nil
	}
	host, err := readyEndpoint(a.endpointSlices(ref.Namespace, ref.Name), sp.Name)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	return &url.URL{Scheme: "https", Host: host}, nil
}

func servicePort(svc *corev1.Service, port int32) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

func (a *Aggregator) endpointSlices(namespace, service string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, o := range a.cfg.EndpointSlices.List() {
		s := o.(*discoveryv1.EndpointSlice)
		if s.Namespace == namespace && s.Labels[discoveryv1.LabelServiceName] == service {
			out = append(out, s)
		}
	}
	return out
}

// readyEndpoint picks, at random, a ready endpoint's first address with
// the port named portName.
func readyEndpoint(endpointSlices []*discoveryv1.EndpointSlice, portName string) (string, error) {
	var hosts []string
	for _, s := range endpointSlices {
		for _, p := range s.Ports {
			if p.Port == nil || p.Name == nil || *p.Name != portName {
				continue
			}
			for _, e := range s.Endpoints {
				if (e.Conditions.Ready != nil && !*e.Conditions.Ready) || len(e.Addresses) == 0 {
					continue
				}
				hosts = append(hosts, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*p.Port))))
			}
		}
	}
	if len(hosts) == 0 {
		return "", errors.New("no endpoints available")
	}
	return hosts[rand.IntN(len(hosts))], nil
}

// ServeHTTP proxies one authorized request to the backend.
func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := b.a.cfg.Log
	if !b.available {
		log.Info("aggregator: APIService unavailable", "apiservice", b.name, "path", r.URL.Path, "reason", b.reason)
		proxy.WriteStatus(w, apierrors.NewServiceUnavailable("service unavailable").ErrStatus)
		return
	}
	u := authn.UserFrom(r.Context())
	if u == nil {
		proxy.WriteStatus(w, apierrors.NewInternalError(errors.New("missing user")).ErrStatus)
		return
	}
	loc, err := b.a.location(b.service)
	if err != nil {
		log.Warn("aggregator: cannot resolve the APIService's service", "apiservice", b.name, "err", err)
		proxy.WriteStatus(w, apierrors.NewServiceUnavailable("service unavailable").ErrStatus)
		return
	}
	// The path and query as they were authorized: decoded, the query
	// encoded again, as kube-aggregator sends them, so that a backend
	// cannot read another resource or verb out of the raw forms.
	loc.Path, loc.RawQuery = r.URL.Path, r.URL.Query().Encode()
	auditID := w.Header().Get("Audit-Id")
	if parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(parts) == 3 {
		ctx, cancel := context.WithTimeout(r.Context(), discoveryTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	client := b.a.clientFor(b.key)
	if client == nil {
		proxy.WriteStatus(w, apierrors.NewServiceUnavailable("service unavailable").ErrStatus)
		return
	}
	proxy.Forward(w, r, client, loc, proxy.ForwardOptions{
		Log: log,
		SetHeaders: func(h http.Header) {
			setUserHeaders(h, u)
			if auditID != "" {
				h.Set("Audit-Id", auditID) // one ID for the request in both servers' audit logs
			}
		},
		RejectRedirects: true,
	})
}

// setUserHeaders names the user to the backend in the requestheader
// headers kube-apiserver sends.
func setUserHeaders(h http.Header, u *authn.User) {
	h.Set("X-Remote-User", u.Name)
	if u.UID != "" {
		h.Set("X-Remote-Uid", u.UID)
	}
	for _, g := range u.Groups {
		h.Add("X-Remote-Group", g)
	}
	for k, vs := range u.Extra {
		for _, v := range vs {
			h.Add("X-Remote-Extra-"+escapeExtraKey(k), v)
		}
	}
}

// escapeExtraKey percent-encodes every byte of an extra key that may not
// appear in a header name, and '%' itself, as client-go does; the
// requestheader authenticator unescapes it.
func escapeExtraKey(k string) string {
	var sb strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != '%' && isTokenChar(c) {
			sb.WriteByte(c)
			continue
		}
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&'*+-.^_`|~", c) >= 0
}
