package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/sekisho/sekisho/internal/accessreview"
	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins"
	"github.com/sekisho/sekisho/internal/admission/plugins/ownerreferencespermissionenforcement"
	"github.com/sekisho/sekisho/internal/admission/plugins/resourcequota"
	"github.com/sekisho/sekisho/internal/aggregator"
	"github.com/sekisho/sekisho/internal/apiserver"
	"github.com/sekisho/sekisho/internal/apiserverendpoints"
	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authnapi"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/certrenewal"
	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/componentstatus"
	bootstrapcontroller "github.com/sekisho/sekisho/internal/controllers/bootstrap"
	"github.com/sekisho/sekisho/internal/controllers/clusterroleaggregation"
	"github.com/sekisho/sekisho/internal/controllers/csrapproving"
	"github.com/sekisho/sekisho/internal/controllers/csrcleaner"
	"github.com/sekisho/sekisho/internal/controllers/csrsigning"
	namespacecontroller "github.com/sekisho/sekisho/internal/controllers/namespace"
	rqcontroller "github.com/sekisho/sekisho/internal/controllers/resourcequota"
	"github.com/sekisho/sekisho/internal/controllers/rootcapublisher"
	sacontroller "github.com/sekisho/sekisho/internal/controllers/serviceaccount"
	"github.com/sekisho/sekisho/internal/events"
	"github.com/sekisho/sekisho/internal/eviction"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/keypair"
	"github.com/sekisho/sekisho/internal/metrics"
	"github.com/sekisho/sekisho/internal/openapi"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/proxy"
	"github.com/sekisho/sekisho/internal/serviceip"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/storage/etcd"
	"github.com/sekisho/sekisho/internal/store"
)

// DatabaseFile is the embedded store's file inside --storage-dir.
const DatabaseFile = "sekisho.db"

// Run starts the API server and blocks until ctx ends and shutdown completes.
// It builds the server from the bottom up, each part from those before it:
// storage, the catalogue of resources, the informers, authentication,
// authorization, the review APIs, admission and the writer, the objects
// every cluster has, then the server and the controllers.
func Run(ctx context.Context, o Options, log *slog.Logger) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.CertRenewal == CertRenewalAuto {
		names, skipped := certrenewal.Renewable(o.certRenewalDir())
		for name, why := range skipped {
			log.Info("certificate renewal: not renewed here", "certificate", name, "why", why)
		}
		go (&certrenewal.Renewer{Dir: o.certRenewalDir(), Names: names, ServiceAccountKeys: true, Log: log}).Run(ctx)
	}
	// The serving certificates are read again when their files change:
	// the next handshake presents a renewed one, and open connections stay.
	serving := &keypair.SNI{Default: &keypair.Pair{CertFile: o.TLSCertFile, KeyFile: o.TLSPrivateKeyFile, Log: log, Interval: reloadInterval}}
	for _, v := range o.TLSSNICertKeys {
		certFile, keyFile, names, _ := keypair.ParseSNIFlag(v) // checked by Validate
		p := &keypair.Pair{CertFile: certFile, KeyFile: keyFile, Log: log, Interval: reloadInterval}
		serving.Named = append(serving.Named, keypair.Named{Pair: p, Names: names})
	}
	if err := serving.Start(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(o.StorageDir, 0o700); err != nil {
		return fmt.Errorf("--storage-dir: %w", err)
	}
	kv, storeName, closeKV, err := openStorage(ctx, o, log)
	if err != nil {
		return err
	}
	defer closeKV()
	st := store.NewStore(kv)
	cat := catalog.Builtin()
	rewriter, err := startEncryption(ctx, o, log, st, cat)
	if err != nil {
		return err
	}
	// Objects an older sekisho kept under their resource's name move to
	// kube-apiserver's keys, before anything reads them.
	moved, err := st.MoveLegacyKeys(ctx, cat.Resources())
	if moved > 0 {
		log.Info("moved objects to kube-apiserver's storage keys", "objects", moved)
	}
	if err != nil {
		log.Error("some objects could not be moved to kube-apiserver's storage keys and stay where they were", "err", err)
	}
	if e, onEtcd := kv.(*etcd.Store); onEtcd && o.WatchCache {
		if err := e.ProgressOrdered(ctx); err != nil {
			log.Warn("consistent reads go to etcd, not to caches, and each watch is an etcd watch of its own", "reason", err)
		} else {
			// One etcd watch per resource, however many watch it: a
			// shared watch takes etcd's progress notes for every watcher,
			// so they must not overtake events.
			st.EnableSharedWatches()
			// Every stored resource's cache fills now (its values opened
			// with the encryption configuration, at their current keys),
			// as kube-apiserver's watch caches do, so that the first lists
			// after a start are not the ones that wait for a cache.
			st.EnableListCache(ctx, store.StoredResources(cat)...)
		}
	}
	inf := newInformers(st, cat, log)

	accounts, err := setupServiceAccounts(o, inf)
	if err != nil {
		return err
	}
	if err := accounts.watch(ctx, log); err != nil {
		return err
	}
	authentication, err := buildAuthentication(ctx, o, log, accounts, inf, revocationStore{kv})
	if err != nil {
		return err
	}
	authorization, err := buildAuthorization(o, log, cat, st, inf)
	if err != nil {
		return err
	}
	signer, tokenAudiences, maxExpiration := accounts.issuing()
	authnAPI := &authnapi.API{
		Signer: signer, TokenAudiences: tokenAudiences, MaxExpiration: maxExpiration,
		Tokens: authentication.tokens, APIAudiences: authentication.apiAudiences,
		Catalog: cat, Objects: st, Log: log,
	}
	accessReviews := &accessreview.Reviewer{Authorizer: authorization.chain, Rules: authorization.chain, Index: authorization.index}

	_, serviceCIDR, _ := net.ParseCIDR(o.ServiceClusterIPRange)
	portLow, portHigh, _ := parsePortRange(o.ServiceNodePortRange)
	allocator := &serviceip.Allocator{KV: kv, CIDR: serviceCIDR, PortLow: portLow, PortHigh: portHigh, Log: log, Grace: time.Minute}
	chain, err := admissionChain(o, log, cat, st, allocator, authorization, inf)
	if err != nil {
		return err
	}
	log.Info("admission plugins", "enabled", strings.Join(chain.Names, ","))
	writer, err := store.NewWriter(st, chain)
	if err != nil {
		return err
	}
	writer.Resources = cat.Lookup

	listener, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort)))
	if err != nil {
		return fmt.Errorf("--bind-address/--secure-port: %w", err)
	}
	defer listener.Close()
	advertise := o.AdvertiseAddress
	if advertise == "" {
		advertise = o.BindAddress
		if ip := net.ParseIP(advertise); ip == nil || ip.IsUnspecified() {
			advertise = "127.0.0.1"
		}
	}
	port := listener.Addr().(*net.TCPAddr).Port
	externalAddress := net.JoinHostPort(advertise, strconv.Itoa(port))

	// The server's own writes (bootstrap objects, default policy,
	// controllers) are admitted as system:apiserver's.
	self := authn.AsAPIServer(ctx)
	if err := bootstrap(self, cat, writer, o, port); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	groups := newControllerGroups(self, o, cat, writer, log)
	defer groups.wait() // before the store closes: leaders release their Leases, this server leaves the endpoints
	startEndpointReconciler(self, cat, kv, writer, advertise, port, groups, log)
	configMaps, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("configmaps"))
	if err := publishAuthenticationSettings(self, configMaps, writer, o, authentication); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	go keepAuthenticationSettings(self, configMaps, writer, o, authentication, log)
	if err := reconcileDefaultPolicy(self, cat, writer, log); err != nil {
		return err
	}
	paths, err := accounts.discoveryHandlers("https://" + externalAddress)
	if err != nil {
		return err
	}
	if paths == nil {
		paths = map[string]http.Handler{}
	}
	paths[EncryptionStatusPath] = encryptionStatus(rewriter, log)
	metricsRegistry := metrics.New()
	paths["/metrics"] = metricsRegistry.Handler()
	if o.EtcdCountMetricPollPeriod > 0 {
		go metricsRegistry.CountObjects(ctx, kv, store.StoredResources(cat), o.EtcdCountMetricPollPeriod, log)
	}

	kubelets, err := kubeletProxy(ctx, o, cat, st, log)
	if err != nil {
		return err
	}
	auditor, err := startAudit(ctx, o, log)
	if err != nil {
		return err
	}
	if auditor != nil {
		defer auditor.Close()
	}
	aggregated, err := startAggregator(ctx, o, log, cat, st, writer)
	if err != nil {
		return err
	}
	paths[ClientCertificateIssuersPath] = authentication.issuersHandler(map[string]func() *tls.Certificate{
		"apiserver-kubelet-client": kubelets.ClientCertificate,
		"front-proxy-client":       aggregated.ClientCertificate,
	})
	srv, err := apiserver.New(apiserver.Config{
		Aggregator:                  aggregated,
		Auditor:                     auditor,
		Catalog:                     cat,
		Writer:                      writer,
		Authenticator:               authentication,
		Authorizer:                  authorization.chain,
		Reviews:                     merge(authnAPI.Reviews(), accessReviews.Reviews()),
		Actions:                     merge(authnAPI.Actions(), evictions(cat, writer)),
		Connects:                    kubelets.Connects(),
		Computed:                    componentStatuses(cat, st, storeName),
		HealthChecks:                healthChecks(st),
		Profiling:                   o.Profiling,
		Paths:                       paths,
		OpenAPI:                     &openapi.Handler{Catalog: cat, Version: "v" + apiserver.KubernetesVersion.Major + "." + apiserver.KubernetesVersion.Minor + "." + apiserver.KubernetesVersion.Patch, Aggregated: aggregated.OpenAPIV3},
		MaxRequestsInFlight:         o.MaxRequestsInFlight,
		MaxMutatingRequestsInFlight: o.MaxMutatingRequestsInFlight,
		RequestTimeout:              o.RequestTimeout,
		MinRequestTimeout:           o.MinRequestTimeout,
		ExternalAddress:             externalAddress,
		Logger:                      log,
	})
	if err != nil {
		return err
	}
	if o.EncryptionProviderConfig != "" {
		groups.run(encryptionLease, rewriter.Run)
	}
	// The API server's own names, which no node's serving certificate
	// may carry: those of the serving certificate in force.
	serverNames := func() ([]string, []net.IP) {
		leaf := serving.Default.Current().Leaf
		return leaf.DNSNames, leaf.IPAddresses
	}
	startControllers(self, o, log, cat, writer, inf, accounts, allocator, authorization, authentication.rootCA, serverNames, "https://"+externalAddress, groups)
	// Serve only once RBAC has loaded every binding: before that, every
	// request but system:masters' would be refused.
	for _, i := range authorization.rbacInformers() {
		if !i.WaitForSync(ctx) {
			return ctx.Err()
		}
	}
	// Loading a large store builds every object once; give that memory
	// back before serving rather than carrying it as heap headroom.
	debug.FreeOSMemory()
	if o.Ready != nil {
		o.Ready(listener.Addr())
	}
	log.Info("serving", "address", listener.Addr().String(), "storage", o.StorageDir)
	return srv.Serve(ctx, apiserver.ServeOptions{Listener: listener, TLSConfig: serverTLS(o, serving, authentication), ShutdownTimeout: o.ShutdownTimeout})
}

// merge joins maps with disjoint keys.
// evictions answers pods/eviction.
func evictions(cat *catalog.Catalog, w *store.Writer) map[catalog.ActionKey]catalog.ActionFunc {
	pods, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	budgets, _ := cat.Lookup(policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"))
	e := &eviction.Evictor{Writer: w, Pods: pods, Budgets: budgets}
	return map[catalog.ActionKey]catalog.ActionFunc{
		{Resource: pods.GroupVersionResource(), Subresource: "eviction"}: e.Evict,
	}
}

func merge[K comparable, V any](maps ...map[K]V) map[K]V {
	out := map[K]V{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// admissionChain builds the admission plugins the server runs, in
// kube-apiserver's order.
func admissionChain(o Options, log *slog.Logger, reg *catalog.Catalog, st *store.Store, allocator *serviceip.Allocator, z *authorization, inf *informers) (*admission.Chain, error) {
	var config map[string][]byte
	if o.AdmissionControlConfigFile != "" {
		var err error
		if config, err = admission.ReadConfiguration(o.AdmissionControlConfigFile); err != nil {
			return nil, fmt.Errorf("--admission-control-config-file: %w", err)
		}
	}
	registry := plugins.New(plugins.Deps{
		Config:     config,
		Pods:       namespacedLister[*corev1.Pod](st, reg, corev1.SchemeGroupVersion.WithResource("pods")),
		Authorizer: z.chain,
		RBAC:       z.index,
		Services:   allocator,
		Namespaced: func(gvr schema.GroupVersionResource) bool {
			res, ok := reg.Lookup(gvr)
			return ok && res.Namespaced
		},
		Namespace:       cachedGetter(inf.namespaces, getter[*corev1.Namespace](st, reg, "namespaces")),
		Pod:             namespacedGetter[*corev1.Pod](st, reg, "pods"),
		Node:            getter[*corev1.Node](st, reg, "nodes"),
		ServiceAccount:  namespacedGetter[*corev1.ServiceAccount](st, reg, "serviceaccounts"),
		LimitRanges:     namespacedLister[*corev1.LimitRange](st, reg, corev1.SchemeGroupVersion.WithResource("limitranges")),
		PriorityClasses: lister[*schedulingv1.PriorityClass](st, reg, schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")),
		StorageClasses:  lister[*storagev1.StorageClass](st, reg, storagev1.SchemeGroupVersion.WithResource("storageclasses")),
		ResourceQuotas:  quotaLister(st, inf.resourceQuotas),
		Mappings:        resourceMappings(reg),
		RuntimeClass:    clusterGetter[*nodev1.RuntimeClass](st, reg, nodev1.SchemeGroupVersion.WithResource("runtimeclasses")),
		IngressClasses:  lister[*networkingv1.IngressClass](st, reg, networkingv1.SchemeGroupVersion.WithResource("ingressclasses")),
	})
	sel, err := plugins.Select(o.EnableAdmissionPlugins, o.DisableAdmissionPlugins, registry.Names())
	if err != nil {
		return nil, err
	}
	if len(sel.Missing) > 0 {
		log.Warn("admission plugins that kube-apiserver would run and sekisho does not have", "missing", strings.Join(sel.Missing, ","))
	}
	if slices.Contains(o.AuthorizationModes, ModeNode) && !slices.Contains(sel.Enabled, "NodeRestriction") {
		log.Warn("NodeRestriction is disabled: a node's credentials can change any Node and create pods on any node, and through them reach any Secret")
	}
	return registry.Build(sel.Enabled)
}

// cachedGetter reads a cluster-scoped object from an informer's cache,
// and from the store when the cache does not have it (yet): a namespace
// made a moment ago through another server. Every namespaced write asks
// for its namespace, and on etcd a read from the store is a quorum read.
func cachedGetter[T catalog.Object](cache *informer.Informer, get func(ctx context.Context, name string) (T, error)) func(ctx context.Context, name string) (T, error) {
	return func(ctx context.Context, name string) (T, error) {
		if obj, ok := cache.Get("", name); ok {
			return obj.DeepCopyObject().(T), nil
		}
		return get(ctx, name)
	}
}

// quotaLister lists a namespace's ResourceQuotas from the cache when it
// has synced, and from storage when asked for fresh ones; a list with
// an object that does not read is an error, not a shorter list, since a
// quota left out would not be enforced.
func quotaLister(st *store.Store, cache *informer.Informer) resourcequota.Lister {
	return func(ctx context.Context, namespace string, fresh bool) ([]*corev1.ResourceQuota, int64, error) {
		if !fresh {
			if objs, rev, ok := cache.ListIn(namespace); ok {
				out := make([]*corev1.ResourceQuota, len(objs))
				for i, o := range objs {
					out[i] = o.(*corev1.ResourceQuota)
				}
				return out, rev, nil
			}
		}
		res, err := st.List(ctx, cache.Resource, store.ListOptions{Namespace: namespace})
		if err != nil {
			return nil, 0, err
		}
		if len(res.Unreadable) > 0 {
			return nil, 0, res.Unreadable[0]
		}
		out := make([]*corev1.ResourceQuota, len(res.Items))
		for i, e := range res.Items {
			obj, err := e.Object()
			if err != nil {
				return nil, 0, err
			}
			out[i] = obj.(*corev1.ResourceQuota)
		}
		return out, res.Rev, nil
	}
}

// lister lists the stored objects of a cluster-scoped resource of type T.
func lister[T catalog.Object](st *store.Store, reg *catalog.Catalog, gvr schema.GroupVersionResource) func(ctx context.Context) ([]T, error) {
	list := namespacedLister[T](st, reg, gvr)
	return func(ctx context.Context) ([]T, error) { return list(ctx, "") }
}

// namespacedLister lists the stored objects of type T in a namespace (""
// for all). They are shared with other readers: not to be changed.
func namespacedLister[T catalog.Object](st *store.Store, reg *catalog.Catalog, gvr schema.GroupVersionResource) func(ctx context.Context, namespace string) ([]T, error) {
	res, ok := reg.Lookup(gvr)
	if !ok {
		panic("controlplane: " + gvr.String() + " is not served")
	}
	return func(ctx context.Context, namespace string) ([]T, error) {
		objs, err := st.ListObjects(ctx, res, namespace, "")
		if err != nil {
			return nil, err
		}
		out := make([]T, len(objs))
		for i, o := range objs {
			out[i] = o.(T)
		}
		return out, nil
	}
}

// getter reads a stored core/v1 cluster-scoped object of type T.
func getter[T catalog.Object](st *store.Store, reg *catalog.Catalog, resource string) func(ctx context.Context, name string) (T, error) {
	get := namespacedGetter[T](st, reg, resource)
	return func(ctx context.Context, name string) (T, error) { return get(ctx, "", name) }
}

// namespacedGetter reads a stored core/v1 object of type T.
func namespacedGetter[T catalog.Object](st *store.Store, reg *catalog.Catalog, resource string) func(ctx context.Context, namespace, name string) (T, error) {
	return objectGetter[T](st, reg, corev1.SchemeGroupVersion.WithResource(resource))
}

// resourceMappings finds the resources a kind is served as, in a version.
func resourceMappings(reg *catalog.Catalog) func(gk schema.GroupKind, version string) []ownerreferencespermissionenforcement.Mapping {
	return func(gk schema.GroupKind, version string) []ownerreferencespermissionenforcement.Mapping {
		var out []ownerreferencespermissionenforcement.Mapping
		for _, r := range reg.Resources() {
			if r.Virtual || r.GroupVersion.Group != gk.Group || r.Kind != gk.Kind || r.GroupVersion.Version != version {
				continue
			}
			out = append(out, ownerreferencespermissionenforcement.Mapping{Resource: r.GroupVersionResource(), Namespaced: r.Namespaced})
		}
		return out
	}
}

// clusterGetter reads a stored cluster-scoped object of type T.
func clusterGetter[T catalog.Object](st *store.Store, reg *catalog.Catalog, gvr schema.GroupVersionResource) func(ctx context.Context, name string) (T, error) {
	get := objectGetter[T](st, reg, gvr)
	return func(ctx context.Context, name string) (T, error) { return get(ctx, "", name) }
}

// objectGetter reads a stored object of type T.
func objectGetter[T catalog.Object](st *store.Store, reg *catalog.Catalog, gvr schema.GroupVersionResource) func(ctx context.Context, namespace, name string) (T, error) {
	res, ok := reg.Lookup(gvr)
	if !ok {
		panic("controlplane: " + gvr.String() + " is not served")
	}
	return func(ctx context.Context, namespace, name string) (T, error) {
		var zero T
		obj, err := st.GetObject(ctx, res, namespace, name)
		if err != nil {
			return zero, err
		}
		return obj.(T), nil
	}
}

// startControllers starts the informers and the controllers that use
// them, the controllers in their leader-elected groups.
func startControllers(ctx context.Context, o Options, log *slog.Logger, reg *catalog.Catalog, st *store.Writer,
	inf *informers, accounts *serviceAccounts, allocator *serviceip.Allocator, z *authorization, rootCA func() []byte,
	serverNames func() ([]string, []net.IP), externalURL string, groups *controllerGroups) {
	core := func(resource string) *catalog.Resource {
		res, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
		return res
	}
	on, _ := parseControllers(o.Controllers) // Validate refused a bad list
	var namespaces []func(context.Context)
	if on.enabled(namespaceController) {
		namespaces = append(namespaces, (&namespacecontroller.Controller{Catalog: reg, Store: st, Log: log}).Run)
	}
	if on.enabled(resourceQuotaController) {
		namespaces = append(namespaces, (&rqcontroller.Controller{Catalog: reg, Store: st, Log: log}).Run)
	}
	if on.enabled(rootCAPublisherController) {
		publisher := &rootcapublisher.Controller{Store: st, ConfigMaps: core("configmaps"), Namespaces: inf.namespaces, Maps: inf.rootCAMaps,
			RootCA: rootCA, Resync: reloadInterval * 2, Log: log}
		publisher.Register() // before the informers start
		namespaces = append(namespaces, publisher.Run)
	}
	groups.run(namespacesLease, namespaces...)
	// Every server repairs: an allocation is a key created only if absent,
	// so repairs on two servers cannot undo each other's allocations.
	go allocator.RunRepair(ctx, st.Store, core("services"), time.Minute)

	var legacySigner sacontroller.LegacySigner // nil unless a signing key is configured
	if signer, _, _ := accounts.issuing(); signer != nil && on.enabled(serviceAccountTokenController) {
		legacySigner = signer
	}
	sac := &sacontroller.Controller{Store: st, Namespaces: inf.namespaces, ServiceAccounts: inf.serviceAccounts, Secrets: inf.secrets,
		Signer: legacySigner, RootCA: rootCA, DefaultAccounts: on.enabled(serviceAccountController), Log: log}
	sac.Register(core("serviceaccounts"), core("secrets")) // before the informers start
	tokens := []func(context.Context){sac.Run}
	if o.EnableBootstrapTokenAuth && (on.enabled(tokenCleanerController) || on.enabled(bootstrapSignerController)) {
		bc := &bootstrapcontroller.Controller{Store: st, Secrets: inf.secrets, ConfigMaps: inf.clusterInfo, Server: externalURL, CAPEM: rootCA, Log: log,
			Clean: on.enabled(tokenCleanerController), Sign: on.enabled(bootstrapSignerController)}
		bc.Register(core("secrets"), core("configmaps"))
		tokens = append(tokens, bc.Run)
	}
	groups.run(tokensLease, tokens...)
	nodes := func() []*corev1.Node {
		var out []*corev1.Node
		for _, o := range inf.nodes.List() {
			out = append(out, o.(*corev1.Node))
		}
		return out
	}
	startCertificateControllers(ctx, o, on, log, reg, st, z, nodes, serverNames, groups)
	if on.enabled(clusterRoleAggregation) {
		clusterRoles, _ := reg.Lookup(rbacv1.SchemeGroupVersion.WithResource("clusterroles"))
		aggregation := &clusterroleaggregation.Controller{Store: st, Resource: clusterRoles, ClusterRoles: z.clusterRoles, Log: log}
		aggregation.Register()
		groups.run(rbacLease, aggregation.Run)
	}
	for _, i := range append(inf.all(), z.rbacInformers()...) {
		go i.Run(ctx)
	}
}

// startEndpointReconciler keeps this server in the kubernetes Service's
// endpoints. An endpoint may not be a loopback, link-local or
// unspecified address: kube-apiserver's validation refuses it, and no pod
// could reach the server there. A server advertising one (sekisho up on
// a single machine) leaves the Service without endpoints, as
// kube-apiserver does.
func startEndpointReconciler(ctx context.Context, cat *catalog.Catalog, kv storage.KV, w *store.Writer, advertise string, port int,
	groups *controllerGroups, log *slog.Logger) {
	if ip := net.ParseIP(advertise); ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
		log.Info("the kubernetes Service has no endpoints: pods cannot reach the advertise address; set --advertise-address", "address", advertise)
		return
	}
	endpoints, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("endpoints"))
	endpointSlices, _ := cat.Lookup(discoveryv1.SchemeGroupVersion.WithResource("endpointslices"))
	r := &apiserverendpoints.Reconciler{KV: kv, Store: w, Endpoints: endpoints, Slices: endpointSlices, IP: advertise, Port: int32(port), Log: log}
	if err := r.Reconcile(ctx); err != nil {
		log.Warn("kubernetes service endpoints: cannot reconcile; retrying", "err", err)
	}
	groups.background(r.Run)
}

// openStorage opens the embedded database, or etcd when --etcd-servers
// names it, and names it for componentstatuses.
func openStorage(ctx context.Context, o Options, log *slog.Logger) (storage.KV, string, func(), error) {
	if len(o.EtcdServers) == 0 {
		kv, err := bolt.Open(bolt.Options{Path: filepath.Join(o.StorageDir, DatabaseFile)})
		if err != nil {
			return nil, "", nil, fmt.Errorf("--storage-dir: %w", err)
		}
		return kv, "bbolt", func() { kv.Close() }, nil
	}
	client, leader, err := etcd.DialLeaderWrites(ctx, o.etcdDial(), log)
	if err != nil {
		return nil, "", nil, err
	}
	kv := etcd.New(etcd.Options{Client: client, Leader: leader, Prefix: strings.TrimSuffix(o.EtcdPrefix, "/registry")})
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := kv.Rev(pctx); err != nil {
		leader.Close()
		client.Close()
		return nil, "", nil, fmt.Errorf("--etcd-servers %s: %w", strings.Join(o.EtcdServers, ","), err)
	}
	if o.EtcdCompactionInterval > 0 {
		go kv.RunCompactor(ctx, o.EtcdCompactionInterval, log)
	}
	log.Info("storage: etcd", "servers", strings.Join(o.EtcdServers, ","), "prefix", o.EtcdPrefix)
	return kv, "etcd-0", func() { leader.Close(); client.Close() }, nil
}

// componentStatuses answers kubectl get componentstatuses: the
// controller-manager and scheduler at their default ports, and the store
// under the name kube-apiserver gives etcd (etcd-0), or "bbolt".
func componentStatuses(cat *catalog.Catalog, st *store.Store, storeName string) map[schema.GroupVersionResource]catalog.Computer {
	res, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource("componentstatuses"))
	storage := func(ctx context.Context) error {
		_, err := st.KV.Rev(ctx)
		return err
	}
	return map[schema.GroupVersionResource]catalog.Computer{res.GroupVersionResource(): componentstatus.Default(storeName, storage)}
}

func healthChecks(st *store.Store) []apiserver.HealthCheck {
	return []apiserver.HealthCheck{
		{Name: "log", Check: func(context.Context) error { return nil }},
		{Name: "etcd", Check: func(ctx context.Context) error {
			_, err := st.KV.Rev(ctx)
			return err
		}},
		// kube-apiserver's name for its KMS plugins' check when the
		// configuration reloads; it passes without KMS providers. The
		// result is the last status check's, made every few seconds.
		{Name: "kms-providers", Check: func(context.Context) error { return st.Encryption().KMSHealth() }},
	}
}

// serverTLS builds the TLS 1.2+ config the server serves with. Client
// certificates are requested but verified per request by the x509
// authenticator, so that requests without one can still use a token; the
// handshake lists the CAs it accepts.
func serverTLS(o Options, cert *keypair.SNI, a *authentication) *tls.Config {
	minVersion, _ := tlsVersion(o.TLSMinVersion)
	suites, _ := cipherSuites(o.TLSCipherSuites)
	return a.clientCATLS(&tls.Config{
		GetCertificate: cert.GetCertificate,
		MinVersion:     minVersion,
		CipherSuites:   suites,
		ClientAuth:     tls.RequestClientCert,
		NextProtos:     []string{"h2", "http/1.1"},
	})
}

// startCertificateControllers runs what kube-controller-manager runs for
// CertificateSigningRequests, each unless switched off: the signer, the
// kubelet client auto-approver and the cleaner; and sekisho's kubelet
// serving approver.
func startCertificateControllers(ctx context.Context, o Options, on controllerSelection, log *slog.Logger, reg *catalog.Catalog, st *store.Writer, z *authorization,
	nodes func() []*corev1.Node, serverNames func() ([]string, []net.IP), groups *controllerGroups) {
	csrRes, _ := reg.Lookup(certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"))
	eventsRes, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("events"))
	csrs := informer.New(st.Store, csrRes, log)
	signer := &csrsigning.Controller{
		Store: st, Resource: csrRes, CSRs: csrs, Duration: o.ClusterSigningDuration, Log: log,
		CA: csrsigning.CAFiles{CertFile: o.ClusterSigningCertFile, KeyFile: o.ClusterSigningKeyFile,
			CrossSignedFile: crossSignedFile(o.ClusterSigningCertFile)},
		Events: &events.Recorder{Store: st, Resource: eventsRes, Component: "csrsigning-controller", Log: log},
	}
	secretsRes, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("secrets"))
	approver := &csrapproving.Controller{Store: st, Resource: csrRes, CSRs: csrs, Authorizer: z.chain, Log: log, Secrets: secretsRes,
		Node: getter[*corev1.Node](st.Store, reg, "nodes")}
	var run []func(context.Context)
	if on.enabled(csrSigningController) {
		signer.Register()
		run = append(run, signer.Run)
	}
	if on.enabled(csrApprovingController) {
		approver.Register()
		run = append(run, approver.Run)
	}
	if on.enabled(kubeletServingApprover) {
		serving := &csrapproving.ServingController{Store: st, Resource: csrRes, CSRs: csrs, Log: log,
			Node: getter[*corev1.Node](st.Store, reg, "nodes"), Nodes: nodes, ServerNames: serverNames}
		serving.Register()
		run = append(run, serving.Run)
	}
	if on.enabled(csrCleanerController) {
		run = append(run, (&csrcleaner.Controller{Store: st, Resource: csrRes, CSRs: csrs, Log: log}).Run)
	}
	groups.run(certificatesLease, run...)
	go csrs.Run(ctx)
}

// crossSignedFile is where a rotation of the CA whose certificate is
// caFile keeps the new CA cross-signed by the old, in the layout up
// writes (pki/ca.crt); "" for a CA file elsewhere.
func crossSignedFile(caFile string) string {
	dir := filepath.Dir(caFile)
	if caFile == "" || filepath.Base(caFile) != "ca.crt" || filepath.Base(dir) != "pki" {
		return ""
	}
	return filepath.Join(filepath.Dir(dir), clusterpki.CrossSignedFile(pki.CAKubernetes))
}

// kubeletProxy builds the proxy to kubelets, pods and services.
func kubeletProxy(ctx context.Context, o Options, cat *catalog.Catalog, st *store.Store, log *slog.Logger) (*proxy.Proxy, error) {
	var types []corev1.NodeAddressType
	for _, t := range o.KubeletPreferredAddressTypes {
		types = append(types, corev1.NodeAddressType(t))
	}
	if o.KubeletCertificateAuthority == "" {
		log.Info("kubelets' serving certificates are not verified: set --kubelet-certificate-authority to verify them")
	}
	return proxy.New(ctx, proxy.Config{
		Catalog: cat, Objects: st, Log: log,
		ClientCertFile: o.KubeletClientCertificate, ClientKeyFile: o.KubeletClientKey,
		CAFile: o.KubeletCertificateAuthority, PreferredAddressTypes: types,
	})
}

// startAggregator starts the aggregation layer: its own caches of
// APIServices, Services and EndpointSlices, the front-proxy client
// certificate (watched until ctx ends), and the passes that check each
// APIService and keep its Available condition.
func startAggregator(ctx context.Context, o Options, log *slog.Logger, cat *catalog.Catalog, st *store.Store, writer *store.Writer) (*aggregator.Aggregator, error) {
	lookup := func(gvr schema.GroupVersionResource) *informer.Informer {
		res, _ := cat.Lookup(gvr)
		return informer.New(st, res, log)
	}
	apiServicesRes, _ := cat.Lookup(apiregistrationv1.SchemeGroupVersion.WithResource("apiservices"))
	cfg := aggregator.Config{
		APIServices:     informer.New(st, apiServicesRes, log),
		Services:        lookup(corev1.SchemeGroupVersion.WithResource("services")),
		EndpointSlices:  lookup(discoveryv1.SchemeGroupVersion.WithResource("endpointslices")),
		Writer:          writer,
		Resource:        apiServicesRes,
		EndpointRouting: o.EnableAggregatorRouting,
		// The custom resource definitions' path is answered here too
		// (empty), so no service may take it.
		Local: func(gv schema.GroupVersion) bool {
			return cat.ServesGroupVersion(gv) || gv.Group == "apiextensions.k8s.io"
		},
		Log: log,
	}
	var pair *keypair.Pair
	if o.ProxyClientCertFile != "" {
		pair = &keypair.Pair{CertFile: o.ProxyClientCertFile, KeyFile: o.ProxyClientKeyFile, Log: log, Interval: reloadInterval}
		cfg.ClientCertificate = pair.GetClientCertificate
	} else {
		log.Info("aggregated API servers will see no client certificate: set --proxy-client-cert-file and --proxy-client-key-file")
	}
	a := aggregator.New(cfg)
	if pair != nil {
		// A renewed certificate gets new transports to backends, so
		// every request from then on presents it.
		pair.OnChange = a.RenewClients
		if err := pair.Start(ctx); err != nil {
			return nil, fmt.Errorf("--proxy-client-cert-file/--proxy-client-key-file: %w", err)
		}
	}
	for _, i := range []*informer.Informer{cfg.APIServices, cfg.Services, cfg.EndpointSlices} {
		go i.Run(ctx)
	}
	go a.Run(authn.AsAPIServer(ctx)) // its status writes are the API server's
	return a, nil
}

// startAudit opens the audit log and puts the policy file in force,
// watching it for changes. Without a policy file nothing is audited.
func startAudit(ctx context.Context, o Options, log *slog.Logger) (*audit.Auditor, error) {
	if o.AuditPolicyFile == "" {
		return nil, nil
	}
	policy, err := audit.LoadPolicy(o.AuditPolicyFile)
	if err != nil {
		return nil, fmt.Errorf("--audit-policy-file: %w", err)
	}
	var backends []audit.Backend
	closeAll := func() {
		for _, b := range backends {
			b.Close()
		}
	}
	if o.AuditLog.Path != "" {
		l, err := audit.NewLog(o.AuditLog, log)
		if err != nil {
			return nil, err
		}
		backends = append(backends, l)
	}
	if o.AuditWebhook.ConfigFile != "" {
		cfg := o.AuditWebhook
		cfg.SpoolDir = filepath.Join(o.StorageDir, "audit-webhook-spool")
		cfg.SpoolMaxBytes = int64(o.AuditWebhookSpoolMaxMB) << 20
		w, err := audit.NewWebhook(cfg, log)
		if err != nil {
			closeAll()
			return nil, err
		}
		backends = append(backends, w)
	}
	auditor := audit.NewAuditor(policy, log, backends...)
	if err := auditor.WatchPolicy(ctx, o.AuditPolicyFile, reloadInterval); err != nil {
		auditor.Close()
		return nil, fmt.Errorf("--audit-policy-file: %w", err)
	}
	return auditor, nil
}
