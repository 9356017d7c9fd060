package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/controlplane"
)

// serveFlags binds kube-apiserver's flag names to o.
func serveFlags(fs *pflag.FlagSet, o *controlplane.Options, verbosity *int) {
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "IP address to listen on for the secure port")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "port to serve HTTPS on (0 picks a free port)")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress, "IP address advertised to clients (default: the bind address)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", o.TLSCertFile, "serving certificate (with intermediates)")
	fs.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", o.TLSPrivateKeyFile, "private key of --tls-cert-file")
	fs.StringArrayVar(&o.TLSSNICertKeys, "tls-sni-cert-key", o.TLSSNICertKeys, "a certificate and key served to clients asking, by SNI, for one of its names: CERT,KEY or CERT,KEY:NAME[,NAME...] (domains, *.wildcards, IPs); repeatable, reloaded on change")
	fs.StringVar(&o.TLSMinVersion, "tls-min-version", o.TLSMinVersion, "minimum TLS version: VersionTLS12 or VersionTLS13")
	fs.StringSliceVar(&o.TLSCipherSuites, "tls-cipher-suites", o.TLSCipherSuites, "allowed TLS 1.2 cipher suites, Go's names (default: ECDHE with AES-GCM or ChaCha20-Poly1305 only; see docs/security.md)")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "CA bundle that client certificates must chain to")
	fs.StringVar(&o.ClientCRLFile, "client-crl-file", o.ClientCRLFile, "PEM CRL of revoked client certificates, reloaded on change; a missing file revokes nothing")
	fs.StringVar(&o.RequestHeaderClientCAFile, "requestheader-client-ca-file", o.RequestHeaderClientCAFile, "CA of the authenticating proxy's client certificate; enables request-header authentication")
	fs.StringSliceVar(&o.RequestHeaderAllowedNames, "requestheader-allowed-names", o.RequestHeaderAllowedNames, "CNs the proxy certificate may have; required unless --requestheader-allow-any-name")
	fs.BoolVar(&o.RequestHeaderAllowAnyName, "requestheader-allow-any-name", o.RequestHeaderAllowAnyName, "accept any certificate of the front-proxy CA as a proxy")
	fs.StringSliceVar(&o.RequestHeaderUsernameHeaders, "requestheader-username-headers", o.RequestHeaderUsernameHeaders, "headers naming the user, first non-empty wins (e.g. X-Remote-User)")
	fs.StringSliceVar(&o.RequestHeaderUIDHeaders, "requestheader-uid-headers", o.RequestHeaderUIDHeaders, "headers naming the user's UID")
	fs.StringSliceVar(&o.RequestHeaderGroupHeaders, "requestheader-group-headers", o.RequestHeaderGroupHeaders, "headers naming the user's groups (e.g. X-Remote-Group)")
	fs.StringSliceVar(&o.RequestHeaderExtraHeadersPrefix, "requestheader-extra-headers-prefix", o.RequestHeaderExtraHeadersPrefix, "header prefixes carrying extra attributes (e.g. X-Remote-Extra-)")
	fs.StringVar(&o.OIDCIssuerURL, "oidc-issuer-url", o.OIDCIssuerURL, "https URL of the OpenID Connect issuer whose ID tokens are accepted")
	fs.StringVar(&o.OIDCClientID, "oidc-client-id", o.OIDCClientID, "client ID the ID tokens must be issued for (their audience)")
	fs.StringVar(&o.OIDCCAFile, "oidc-ca-file", o.OIDCCAFile, "CA that verifies the issuer's certificate (default: the system's)")
	fs.StringVar(&o.OIDCUsernameClaim, "oidc-username-claim", o.OIDCUsernameClaim, "claim holding the user name")
	fs.StringVar(&o.OIDCUsernamePrefix, "oidc-username-prefix", o.OIDCUsernamePrefix, "prefix for user names (default: ISSUER# unless the claim is email; - for none)")
	fs.StringVar(&o.OIDCGroupsClaim, "oidc-groups-claim", o.OIDCGroupsClaim, "claim holding the groups")
	fs.StringVar(&o.OIDCGroupsPrefix, "oidc-groups-prefix", o.OIDCGroupsPrefix, "prefix for group names")
	fs.StringToStringVar(&o.OIDCRequiredClaims, "oidc-required-claim", o.OIDCRequiredClaims, "claim=value pairs every ID token must carry; repeatable")
	fs.StringSliceVar(&o.OIDCSigningAlgs, "oidc-signing-algs", o.OIDCSigningAlgs, "accepted signature algorithms (asymmetric only)")
	fs.StringVar(&o.AuthenticationConfigFile, "authentication-config", o.AuthenticationConfigFile, "AuthenticationConfiguration file with JWT issuers, reloaded on change")
	fs.StringVar(&o.TokenWebhookConfigFile, "authentication-token-webhook-config-file", o.TokenWebhookConfigFile, "kubeconfig of a TokenReview webhook that authenticates bearer tokens")
	fs.StringVar(&o.TokenWebhookVersion, "authentication-token-webhook-version", o.TokenWebhookVersion, "TokenReview version sent to the webhook: v1 or v1beta1")
	fs.DurationVar(&o.TokenWebhookCacheTTL, "authentication-token-webhook-cache-ttl", o.TokenWebhookCacheTTL, "how long the webhook's answers are cached")
	fs.StringVar(&o.TokenAuthFile, "token-auth-file", o.TokenAuthFile, "static bearer tokens, CSV: token,user,uid,\"group1,group2\"; reloaded on change")
	fs.BoolVar(&o.EnableBootstrapTokenAuth, "enable-bootstrap-token-auth", o.EnableBootstrapTokenAuth, "accept bootstrap tokens from kube-system Secrets, clean expired ones and sign cluster-info")
	fs.StringSliceVar(&o.Controllers, "controllers", o.Controllers, "which of sekisho's controllers run, in kube-controller-manager's syntax ('*' all, 'foo' on, '-foo' off): "+strings.Join(controlplane.ControllerNames(), ", ")+"; turn off those a kube-controller-manager runs")
	fs.BoolVar(&o.AnonymousAuth, "anonymous-auth", o.AnonymousAuth, "let requests without credentials through as system:anonymous")
	fs.StringSliceVar(&o.ServiceAccountKeyFiles, "service-account-key-file", o.ServiceAccountKeyFiles, "PEM public (or private) keys that verify service-account tokens; repeatable")
	fs.StringVar(&o.ServiceAccountSigningKeyFile, "service-account-signing-key-file", o.ServiceAccountSigningKeyFile, "private key that signs service-account tokens")
	fs.StringSliceVar(&o.ServiceAccountIssuers, "service-account-issuer", o.ServiceAccountIssuers, "issuer of service-account tokens; repeatable, the first one signs")
	fs.StringSliceVar(&o.APIAudiences, "api-audiences", o.APIAudiences, "audiences a token must carry to be accepted by the API (default: the first issuer)")
	fs.BoolVar(&o.ServiceAccountLookup, "service-account-lookup", o.ServiceAccountLookup, "refuse tokens whose service account, Secret or bound object is gone")
	fs.DurationVar(&o.ServiceAccountMaxTokenExpiration, "service-account-max-token-expiration", o.ServiceAccountMaxTokenExpiration, "longest lifetime of an issued token (0: no limit)")
	fs.StringSliceVar(&o.EnableAdmissionPlugins, "enable-admission-plugins", o.EnableAdmissionPlugins, "admission plugins to run besides the defaults (kube-apiserver's, with NodeRestriction); they run in kube-apiserver's order whatever the order given")
	fs.StringSliceVar(&o.DisableAdmissionPlugins, "disable-admission-plugins", o.DisableAdmissionPlugins, "default admission plugins not to run")
	fs.StringVar(&o.AdmissionControlConfigFile, "admission-control-config-file", o.AdmissionControlConfigFile, "AdmissionConfiguration file with each plugin's configuration (PodSecurity's defaults and exemptions)")
	fs.StringVar(&o.EncryptionProviderConfig, "encryption-provider-config", o.EncryptionProviderConfig, "EncryptionConfiguration (0600) saying which resources are encrypted at rest, and with which keys: aesgcm, aescbc, secretbox or identity")
	fs.IntVar(&o.EncryptionRewriteRate, "encryption-rewrite-rate", o.EncryptionRewriteRate, "at most this many objects a second are re-encrypted in the background, to bound the load on a busy server; 0 is as fast as it goes")
	fs.Int64Var(&o.EncryptionRotateAfterWrites, "encryption-rotate-after-writes", o.EncryptionRotateAfterWrites, "rotate a key of --encryption-provider-config once it sealed this many values, and remove keys no stored object uses: sekisho edits the file (up: 150000, under the 200,000 Kubernetes documents for aesgcm); 0 never edits it")
	fs.BoolVar(&o.EncryptionProviderConfigAutomaticReload, "encryption-provider-config-automatic-reload", o.EncryptionProviderConfigAutomaticReload, "reload --encryption-provider-config when it changes; objects sealed by a key no longer first are re-encrypted in the background, and a change that drops a key still in use is refused")
	fs.StringVar(&o.AuditPolicyFile, "audit-policy-file", o.AuditPolicyFile, "audit.k8s.io/v1 Policy deciding what the audit log records of each request; reloaded when it changes")
	fs.StringVar(&o.AuditLog.Path, "audit-log-path", o.AuditLog.Path, "audit log file (\"-\" is standard output); needs --audit-policy-file")
	fs.IntVar(&o.AuditLog.MaxAge, "audit-log-maxage", o.AuditLog.MaxAge, "days to keep rotated audit log files (0: no limit)")
	fs.IntVar(&o.AuditLog.MaxBackups, "audit-log-maxbackup", o.AuditLog.MaxBackups, "rotated audit log files to keep (0: no limit)")
	fs.IntVar(&o.AuditLog.MaxSize, "audit-log-maxsize", o.AuditLog.MaxSize, "megabytes the audit log reaches before it is rotated (0: 100)")
	fs.BoolVar(&o.AuditLog.Compress, "audit-log-compress", o.AuditLog.Compress, "gzip rotated audit log files")
	fs.StringVar(&o.AuditLog.Format, "audit-log-format", o.AuditLog.Format, "audit log format: json (an audit.k8s.io/v1 Event per line) or legacy (one line of text)")
	fs.StringVar(&o.AuditLog.Mode, "audit-log-mode", o.AuditLog.Mode, "blocking (a request waits for its events to be written), blocking-strict (and fails if they cannot be) or batch (buffered; dropped when the buffer is full)")
	fs.IntVar(&o.AuditLog.BatchBufferSize, "audit-log-batch-buffer-size", o.AuditLog.BatchBufferSize, "events buffered in batch mode")
	fs.IntVar(&o.AuditLog.BatchMaxSize, "audit-log-batch-max-size", o.AuditLog.BatchMaxSize, "events written together in batch mode")
	fs.DurationVar(&o.AuditLog.BatchMaxWait, "audit-log-batch-max-wait", o.AuditLog.BatchMaxWait, "longest an event waits for its batch in batch mode")
	fs.BoolVar(&o.AuditLog.ThrottleEnable, "audit-log-batch-throttle-enable", o.AuditLog.ThrottleEnable, "limit the rate of batches written in batch mode")
	fs.Float64Var(&o.AuditLog.ThrottleQPS, "audit-log-batch-throttle-qps", o.AuditLog.ThrottleQPS, "batches written per second, when throttled")
	fs.IntVar(&o.AuditLog.ThrottleBurst, "audit-log-batch-throttle-burst", o.AuditLog.ThrottleBurst, "batches written at once beyond the rate, when throttled")
	for _, t := range []struct {
		backend string
		cfg     *audit.Truncation
	}{{"log", &o.AuditLog.Truncate}, {"webhook", &o.AuditWebhook.Truncate}} {
		fs.BoolVar(&t.cfg.Enabled, "audit-"+t.backend+"-truncate-enabled", t.cfg.Enabled, "drop the request and response objects of events over the maximum size (annotated audit.k8s.io/truncated), and events still over it")
		fs.Int64Var(&t.cfg.MaxEventSize, "audit-"+t.backend+"-truncate-max-event-size", t.cfg.MaxEventSize, "bytes an event may take, when truncating")
		fs.Int64Var(&t.cfg.MaxBatchSize, "audit-"+t.backend+"-truncate-max-batch-size", t.cfg.MaxBatchSize, "bytes a batch may take, when truncating")
	}
	fs.StringVar(&o.AuditWebhook.ConfigFile, "audit-webhook-config-file", o.AuditWebhook.ConfigFile, "kubeconfig of a webhook that receives audit events as EventLists; needs --audit-policy-file")
	fs.StringVar(&o.AuditWebhook.Mode, "audit-webhook-mode", o.AuditWebhook.Mode, "batch (requests do not wait), blocking (they wait for delivery, at most the initial backoff) or blocking-strict (and are refused when the spool is full)")
	fs.DurationVar(&o.AuditWebhook.InitialBackoff, "audit-webhook-initial-backoff", o.AuditWebhook.InitialBackoff, "wait after a failed delivery, doubled on each failure up to a minute")
	fs.IntVar(&o.AuditWebhook.BatchBufferSize, "audit-webhook-batch-buffer-size", o.AuditWebhook.BatchBufferSize, "kept for kube-apiserver's flags: events wait in the on-disk spool (--audit-webhook-spool-max-size), not in memory")
	fs.IntVar(&o.AuditWebhook.BatchMaxSize, "audit-webhook-batch-max-size", o.AuditWebhook.BatchMaxSize, "events sent in one EventList")
	fs.DurationVar(&o.AuditWebhook.BatchMaxWait, "audit-webhook-batch-max-wait", o.AuditWebhook.BatchMaxWait, "longest the first event of a batch waits for the batch to fill")
	fs.BoolVar(&o.AuditWebhook.ThrottleEnable, "audit-webhook-batch-throttle-enable", o.AuditWebhook.ThrottleEnable, "limit the rate of batches sent")
	fs.Float64Var(&o.AuditWebhook.ThrottleQPS, "audit-webhook-batch-throttle-qps", o.AuditWebhook.ThrottleQPS, "batches per second, when throttled")
	fs.IntVar(&o.AuditWebhook.ThrottleBurst, "audit-webhook-batch-throttle-burst", o.AuditWebhook.ThrottleBurst, "batches sent at once beyond the rate, when throttled")
	fs.IntVar(&o.AuditWebhookSpoolMaxMB, "audit-webhook-spool-max-size", o.AuditWebhookSpoolMaxMB, "megabytes of undelivered events kept on disk in the storage directory; beyond, --audit-webhook-mode decides")
	fs.StringSliceVar(&o.AuthorizationModes, "authorization-mode", o.AuthorizationModes, "ordered authorizers after system:masters: Node, RBAC, Webhook, AlwaysAllow, AlwaysDeny")
	fs.StringVar(&o.AuthorizationWebhookConfigFile, "authorization-webhook-config-file", o.AuthorizationWebhookConfigFile, "kubeconfig of a SubjectAccessReview webhook (with --authorization-mode Webhook)")
	fs.StringVar(&o.AuthorizationWebhookVersion, "authorization-webhook-version", o.AuthorizationWebhookVersion, "SubjectAccessReview version sent to the webhook: v1")
	fs.DurationVar(&o.AuthorizationWebhookCacheAuthorizedTTL, "authorization-webhook-cache-authorized-ttl", o.AuthorizationWebhookCacheAuthorizedTTL, "how long the webhook's allowed answers are cached (0: not cached)")
	fs.DurationVar(&o.AuthorizationWebhookCacheUnauthorizedTTL, "authorization-webhook-cache-unauthorized-ttl", o.AuthorizationWebhookCacheUnauthorizedTTL, "how long the webhook's denials are cached (0: not cached)")
	fs.StringVar(&o.ClusterSigningCertFile, "cluster-signing-cert-file", o.ClusterSigningCertFile, "CA certificate that signs approved CertificateSigningRequests of Kubernetes' signers")
	fs.StringVar(&o.ClusterSigningKeyFile, "cluster-signing-key-file", o.ClusterSigningKeyFile, "key of --cluster-signing-cert-file; when absent, approved requests stay unsigned (external CA)")
	fs.DurationVar(&o.ClusterSigningDuration, "cluster-signing-duration", o.ClusterSigningDuration, "longest validity of a signed certificate (a request's expirationSeconds may shorten it)")
	fs.StringVar(&o.KubeletClientCertificate, "kubelet-client-certificate", o.KubeletClientCertificate, "client certificate the server presents to kubelets (logs, exec, attach, port-forward, nodes/proxy); reloaded on change")
	fs.StringVar(&o.KubeletClientKey, "kubelet-client-key", o.KubeletClientKey, "key of --kubelet-client-certificate")
	fs.StringVar(&o.KubeletCertificateAuthority, "kubelet-certificate-authority", o.KubeletCertificateAuthority, "CA that kubelets' serving certificates must verify against (unset: not verified, as in kube-apiserver)")
	fs.StringVar(&o.ProxyClientCertFile, "proxy-client-cert-file", o.ProxyClientCertFile, "client certificate presented to the servers of aggregated APIs (APIServices with a service), which verify it against --requestheader-client-ca-file; reloaded on change")
	fs.StringVar(&o.ProxyClientKeyFile, "proxy-client-key-file", o.ProxyClientKeyFile, "key of --proxy-client-cert-file")
	fs.BoolVar(&o.EnableAggregatorRouting, "enable-aggregator-routing", o.EnableAggregatorRouting, "send aggregated API requests to an endpoint of the APIService's service instead of its cluster IP")
	fs.StringSliceVar(&o.KubeletPreferredAddressTypes, "kubelet-preferred-address-types", o.KubeletPreferredAddressTypes, "node address types tried, in order, to reach a kubelet")
	fs.StringVar(&o.StorageDir, "storage-dir", o.StorageDir, "directory of the embedded database")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", o.EtcdServers, "etcd endpoints (https://host:2379, comma-separated) to keep the objects in instead of the embedded database; plain http only on loopback")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", o.EtcdCAFile, "CA that signed etcd's serving certificates")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", o.EtcdCertFile, "client certificate for etcd (kubeadm: apiserver-etcd-client.crt)")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", o.EtcdKeyFile, "key of --etcd-certfile")
	fs.StringVar(&o.EtcdPrefix, "etcd-prefix", o.EtcdPrefix, "the prefix of every key in etcd, as kube-apiserver's; it ends in /registry")
	fs.StringVar(&o.CertRenewal, "cert-renewal", o.CertRenewal, "auto renews the server's own certificates (serving, kubelet client, front-proxy client, etcd client) at two thirds of their lifetime, when the CAs' keys are in the data directory (up's layout; up's default), and the server takes them without a restart; off leaves renewal to you")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "with several API servers on one etcd, run each group of sekisho's controllers on one server at a time, elected with a Lease in kube-system")
	fs.DurationVar(&o.LeaderElectLeaseDuration, "leader-elect-lease-duration", o.LeaderElectLeaseDuration, "how long a candidate waits, after the leader's last renewal it saw, before taking a controller group over")
	fs.DurationVar(&o.LeaderElectRenewDeadline, "leader-elect-renew-deadline", o.LeaderElectRenewDeadline, "how long a leader keeps working without renewing its lease; shorter than the lease duration")
	fs.DurationVar(&o.LeaderElectRetryPeriod, "leader-elect-retry-period", o.LeaderElectRetryPeriod, "how often a candidate tries to acquire, and a leader to renew, its lease")
	fs.DurationVar(&o.EtcdCountMetricPollPeriod, "etcd-count-metric-poll-period", o.EtcdCountMetricPollPeriod, "how often to count each resource's stored objects for /metrics (apiserver_resource_objects); 0 turns the count off")
	fs.DurationVar(&o.EtcdCompactionInterval, "etcd-compaction-interval", o.EtcdCompactionInterval, "compact etcd's history older than this, taking turns with other API servers (kube-apiserver's included) through compact_rev_key; 0 leaves it to etcd")
	fs.BoolVar(&o.WatchCache, "watch-cache", o.WatchCache, "on etcd, serve consistent gets and lists from an in-memory cache of each resource, caught up with etcd's current revision before it answers (as kube-apiserver's watch cache serves lists); no effect on the embedded database")
	fs.StringVar(&o.StorageBackend, "storage-backend", o.StorageBackend, "etcd3 (with --etcd-servers) or bbolt (the embedded database, the default without --etcd-servers)")
	fs.IntVar(&o.MaxRequestsInFlight, "max-requests-inflight", o.MaxRequestsInFlight, "maximum concurrent non-mutating requests")
	fs.IntVar(&o.MaxMutatingRequestsInFlight, "max-mutating-requests-inflight", o.MaxMutatingRequestsInFlight, "maximum concurrent mutating requests")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "deadline for non-watch requests")
	fs.DurationVar(&o.MinRequestTimeout, "min-request-timeout", o.MinRequestTimeout, "minimum lifetime of a watch; each lasts a random span up to twice this")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long in-flight requests may finish on shutdown")
	fs.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", o.ServiceClusterIPRange, "CIDR from which Service cluster IPs are allocated")
	fs.StringVar(&o.ServiceNodePortRange, "service-node-port-range", o.ServiceNodePortRange, "port range reserved for NodePort Services")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve /debug/pprof to authorized users")
	fs.IntVarP(verbosity, "v", "v", 0, "log verbosity: 0 info, 4 and above debug")
}

func newLogger(verbosity int) *slog.Logger {
	level := slog.LevelInfo
	if verbosity >= 4 {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newServeCommand() *cobra.Command {
	o := controlplane.DefaultOptions()
	var verbosity int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Kubernetes API (kube-apiserver's flags)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			return controlplane.Run(ctx, o, newLogger(verbosity))
		},
	}
	serveFlags(cmd.Flags(), &o, &verbosity)
	return cmd
}
