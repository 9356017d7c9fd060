// Package controlplane assembles the API server from its options (storage,
// the catalogue, the authentication and authorization chains, the review
// APIs, admission, controllers) and runs it. It is the only package that
// knows them all.
package controlplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sekisho/sekisho/internal/admission/plugins"
	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/keypair"
	"github.com/sekisho/sekisho/internal/leaderelection"
	"github.com/sekisho/sekisho/internal/storage/etcd"
)

// Options are the settings of `sekisho serve`, named after kube-apiserver's flags.
type Options struct {
	BindAddress       string
	SecurePort        int
	AdvertiseAddress  string
	TLSCertFile       string
	TLSPrivateKeyFile string
	// TLSSNICertKeys are --tls-sni-cert-key values: "CERT,KEY[:NAME,...]".
	TLSSNICertKeys  []string
	TLSMinVersion   string
	TLSCipherSuites []string
	ClientCAFile    string
	ClientCRLFile   string

	RequestHeaderClientCAFile       string
	RequestHeaderAllowedNames       []string
	RequestHeaderAllowAnyName       bool
	RequestHeaderUsernameHeaders    []string
	RequestHeaderUIDHeaders         []string
	RequestHeaderGroupHeaders       []string
	RequestHeaderExtraHeadersPrefix []string

	OIDCIssuerURL      string
	OIDCClientID       string
	OIDCCAFile         string
	OIDCUsernameClaim  string
	OIDCUsernamePrefix string
	OIDCGroupsClaim    string
	OIDCGroupsPrefix   string
	OIDCRequiredClaims map[string]string
	OIDCSigningAlgs    []string

	// AuthenticationConfigFile is an AuthenticationConfiguration with JWT
	// issuers, reloaded on change; it excludes the --oidc-* flags.
	AuthenticationConfigFile string

	TokenWebhookConfigFile string
	TokenWebhookVersion    string
	TokenWebhookCacheTTL   time.Duration

	TokenAuthFile            string
	AnonymousAuth            bool
	EnableBootstrapTokenAuth bool

	// Controllers chooses which of sekisho's controllers run, in
	// kube-controller-manager's --controllers syntax (see ControllerNames).
	Controllers []string
	// CertRenewal is CertRenewalAuto or CertRenewalOff: whether the
	// server renews its own certificates in CertRenewalDir, the data
	// directory of up's layout (for serve: the parent of
	// --tls-cert-file's pki directory).
	CertRenewal    string
	CertRenewalDir string
	// LeaderElect runs each group of controllers on one server at a time
	// when several share etcd, elected with a Lease in kube-system; the
	// embedded database has one server, which runs them all.
	LeaderElect bool
	// LeaderElectLeaseDuration, LeaderElectRenewDeadline and
	// LeaderElectRetryPeriod time the election (leaderelection.Timing).
	LeaderElectLeaseDuration, LeaderElectRenewDeadline, LeaderElectRetryPeriod time.Duration

	ServiceAccountKeyFiles           []string
	ServiceAccountSigningKeyFile     string
	ServiceAccountIssuers            []string
	APIAudiences                     []string
	ServiceAccountLookup             bool
	ServiceAccountMaxTokenExpiration time.Duration

	// AuthorizationModes are the authorizers, in order, after
	// system:masters: Node, RBAC, Webhook, AlwaysAllow, AlwaysDeny.
	AuthorizationModes                       []string
	AuthorizationWebhookConfigFile           string
	AuthorizationWebhookVersion              string
	AuthorizationWebhookCacheAuthorizedTTL   time.Duration
	AuthorizationWebhookCacheUnauthorizedTTL time.Duration

	// The CertificateSigningRequest signer, with kube-controller-manager's
	// flag names.
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	ClusterSigningDuration time.Duration

	// How the server reaches kubelets for logs, exec, attach,
	// port-forward and nodes/proxy.
	KubeletClientCertificate     string
	KubeletClientKey             string
	KubeletCertificateAuthority  string
	KubeletPreferredAddressTypes []string

	// The aggregation layer: the front-proxy client certificate presented
	// to the servers of APIServices, and whether to reach them at an
	// endpoint of their service rather than its cluster IP.
	ProxyClientCertFile     string
	ProxyClientKeyFile      string
	EnableAggregatorRouting bool

	// EnableAdmissionPlugins and DisableAdmissionPlugins change
	// kube-apiserver's default admission plugins (see plugins.Select).
	EnableAdmissionPlugins  []string
	DisableAdmissionPlugins []string
	// AdmissionControlConfigFile is an AdmissionConfiguration with
	// per-plugin configuration (PodSecurity's defaults and exemptions).
	AdmissionControlConfigFile string

	StorageDir string
	// EtcdServers, when set, keep the objects in etcd instead of the
	// embedded database, reached with mutual TLS (EtcdCAFile,
	// EtcdCertFile, EtcdKeyFile) under EtcdPrefix.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	EtcdPrefix                            string
	// EtcdCompactionInterval compacts etcd\'s history older than itself,
	// taking turns with other API servers; 0 leaves compaction to etcd.
	EtcdCompactionInterval time.Duration
	// EtcdCountMetricPollPeriod is how often the stored objects of each
	// resource are counted for /metrics; 0 counts none.
	EtcdCountMetricPollPeriod time.Duration
	// WatchCache is kube-apiserver's --watch-cache: on etcd, the server's
	// consistent gets and lists are served from caches of each resource's objects
	// (store.EnableListCache). The embedded database has none.
	WatchCache bool
	// StorageBackend is kube-apiserver's --storage-backend: etcd3, or
	// sekisho's bbolt; empty picks etcd3 when EtcdServers are set.
	StorageBackend string
	// EncryptionProviderConfig is an EncryptionConfiguration: which
	// resources are sealed at rest, and with which keys.
	EncryptionProviderConfig string
	// EncryptionProviderConfigAutomaticReload reloads it on change; a
	// change that drops a key stored values still need is refused.
	EncryptionProviderConfigAutomaticReload bool
	// EncryptionRewriteRate bounds the objects re-encryption rewrites per
	// second; 0 is as fast as it goes.
	EncryptionRewriteRate int
	// EncryptionRotateAfterWrites rotates a writer key of the
	// configuration file once it sealed this many values, and retires
	// reader keys nothing uses; 0 never edits the file. It needs
	// automatic reload.
	EncryptionRotateAfterWrites int64

	// AuditPolicyFile is an audit.k8s.io/v1 Policy, reloaded on change;
	// AuditLog is the log backend (--audit-log-*). Auditing needs both.
	AuditPolicyFile string
	AuditLog        audit.LogConfig
	// AuditWebhook is the webhook backend (--audit-webhook-*); its spool
	// is in the storage directory, AuditWebhookSpoolMaxMB at most.
	AuditWebhook           audit.WebhookConfig
	AuditWebhookSpoolMaxMB int

	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	RequestTimeout              time.Duration
	MinRequestTimeout           time.Duration
	ShutdownTimeout             time.Duration

	Profiling bool

	ServiceClusterIPRange string
	ServiceNodePortRange  string

	// Ready, when set, is called once the server is listening.
	Ready func(addr net.Addr)
}

// DefaultOptions returns kube-apiserver's defaults.
func DefaultOptions() Options {
	return Options{
		BindAddress:                 "0.0.0.0",
		SecurePort:                  6443,
		EtcdPrefix:                  "/registry",
		EtcdCompactionInterval:      5 * time.Minute,
		EtcdCountMetricPollPeriod:   time.Minute,
		WatchCache:                  true,
		TLSMinVersion:               "VersionTLS12",
		MaxRequestsInFlight:         400,
		MaxMutatingRequestsInFlight: 200,
		RequestTimeout:              time.Minute,
		MinRequestTimeout:           1800 * time.Second,
		ShutdownTimeout:             30 * time.Second,
		ServiceAccountLookup:        true,
		TokenWebhookVersion:         "v1",
		OIDCUsernameClaim:           "sub",
		OIDCSigningAlgs:             []string{"RS256"},
		TokenWebhookCacheTTL:        2 * time.Minute,
		ServiceClusterIPRange:       "10.96.0.0/12",
		AuthorizationModes:          []string{ModeNode, ModeRBAC},
		ClusterSigningDuration:      8760 * time.Hour,
		AuthorizationWebhookVersion: "v1",

		AuthorizationWebhookCacheAuthorizedTTL:   5 * time.Minute,
		AuthorizationWebhookCacheUnauthorizedTTL: 30 * time.Second,
		ServiceNodePortRange:                     "30000-32767",
		Controllers:                              []string{"*"},
		LeaderElect:                              true,
		CertRenewal:                              CertRenewalOff,
		LeaderElectLeaseDuration:                 leaderelection.DefaultTiming.LeaseDuration,
		LeaderElectRenewDeadline:                 leaderelection.DefaultTiming.RenewDeadline,
		LeaderElectRetryPeriod:                   leaderelection.DefaultTiming.RetryPeriod,
		KubeletPreferredAddressTypes:             []string{"Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP"},
		AuditLog:                                 audit.DefaultLogConfig(),
		AuditWebhook:                             audit.DefaultWebhookConfig(),
		AuditWebhookSpoolMaxMB:                   1024,
	}
}

// Validate reports every problem at once, each naming its flag.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.validateAudit()...)
	for _, t := range o.KubeletPreferredAddressTypes {
		switch t {
		case "Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP":
		default:
			errs = append(errs, fmt.Errorf("--kubelet-preferred-address-types: %q is not a node address type (Hostname, InternalDNS, InternalIP, ExternalDNS, ExternalIP)", t))
		}
	}
	if o.EncryptionRewriteRate < 0 {
		errs = append(errs, fmt.Errorf("--encryption-rewrite-rate %d: must be 0 (no bound) or more", o.EncryptionRewriteRate))
	}
	if o.EncryptionRotateAfterWrites < 0 || o.EncryptionRotateAfterWrites > 0 && !o.EncryptionProviderConfigAutomaticReload {
		errs = append(errs, fmt.Errorf("--encryption-rotate-after-writes %d: must be 0 (never), or more with --encryption-provider-config-automatic-reload", o.EncryptionRotateAfterWrites))
	}
	if o.EncryptionProviderConfigAutomaticReload && o.EncryptionProviderConfig == "" {
		errs = append(errs, errors.New("--encryption-provider-config-automatic-reload needs --encryption-provider-config"))
	}
	if net.ParseIP(o.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q: not an IP address", o.BindAddress))
	}
	if o.SecurePort < 0 || o.SecurePort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d: must be between 0 and 65535", o.SecurePort))
	}
	if o.AdvertiseAddress != "" && net.ParseIP(o.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q: not an IP address", o.AdvertiseAddress))
	}
	if o.TLSCertFile == "" || o.TLSPrivateKeyFile == "" {
		errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file are required: there is no insecure port"))
	}
	for _, v := range o.TLSSNICertKeys {
		if _, _, _, err := keypair.ParseSNIFlag(v); err != nil {
			errs = append(errs, fmt.Errorf("--tls-sni-cert-key %w", err))
		}
	}
	if _, err := tlsVersion(o.TLSMinVersion); err != nil {
		errs = append(errs, err)
	}
	if _, err := cipherSuites(o.TLSCipherSuites); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseControllers(o.Controllers); err != nil {
		errs = append(errs, err)
	}
	if _, err := plugins.Select(o.EnableAdmissionPlugins, o.DisableAdmissionPlugins, plugins.Implemented()); err != nil {
		errs = append(errs, fmt.Errorf("--enable-admission-plugins/--disable-admission-plugins: %w", err))
	}
	if (o.ProxyClientCertFile == "") != (o.ProxyClientKeyFile == "") {
		errs = append(errs, errors.New("--proxy-client-cert-file and --proxy-client-key-file go together"))
	}
	if o.ClientCRLFile != "" && o.ClientCAFile == "" {
		errs = append(errs, errors.New("--client-crl-file requires --client-ca-file"))
	}
	if o.ServiceAccountSigningKeyFile != "" && len(o.ServiceAccountIssuers) == 0 {
		errs = append(errs, errors.New("--service-account-issuer is required with --service-account-signing-key-file"))
	}
	for _, iss := range o.ServiceAccountIssuers {
		if strings.Contains(iss, ":") {
			if u, err := url.Parse(iss); err != nil || u.Scheme != "https" || u.Fragment != "" || u.RawQuery != "" {
				errs = append(errs, fmt.Errorf("--service-account-issuer %q: a URL issuer must be https, without query or fragment", iss))
			}
		}
	}
	if o.ServiceAccountMaxTokenExpiration != 0 && o.ServiceAccountMaxTokenExpiration < time.Hour {
		errs = append(errs, fmt.Errorf("--service-account-max-token-expiration %s: must be at least 1h", o.ServiceAccountMaxTokenExpiration))
	}
	if o.RequestHeaderClientCAFile == "" {
		if len(o.RequestHeaderAllowedNames) > 0 || len(o.RequestHeaderUsernameHeaders) > 0 || o.RequestHeaderAllowAnyName {
			errs = append(errs, errors.New("--requestheader-client-ca-file is required to enable the authenticating proxy"))
		}
	} else {
		if len(o.RequestHeaderAllowedNames) == 0 && !o.RequestHeaderAllowAnyName {
			errs = append(errs, errors.New("--requestheader-allowed-names must not be empty: an empty list would trust every certificate "+
				"of the front-proxy CA; name the proxy's CN, or pass --requestheader-allow-any-name"))
		}
		if len(o.RequestHeaderUsernameHeaders) == 0 {
			errs = append(errs, errors.New("--requestheader-username-headers must name at least one header"))
		}
	}
	if o.AuthenticationConfigFile != "" && o.OIDCIssuerURL != "" {
		errs = append(errs, errors.New("--authentication-config and --oidc-issuer-url are mutually exclusive; configure issuers in the file"))
	}
	if o.TokenWebhookVersion != "v1" && o.TokenWebhookVersion != "v1beta1" {
		errs = append(errs, fmt.Errorf("--authentication-token-webhook-version %q: want v1 or v1beta1", o.TokenWebhookVersion))
	}
	if o.TokenWebhookCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("--authentication-token-webhook-cache-ttl %s: must not be negative", o.TokenWebhookCacheTTL))
	}
	errs = append(errs, o.validateAuthorization()...)
	if (o.ClusterSigningCertFile == "") != (o.ClusterSigningKeyFile == "") {
		errs = append(errs, errors.New("--cluster-signing-cert-file and --cluster-signing-key-file go together"))
	}
	if o.ClusterSigningDuration < 10*time.Minute {
		errs = append(errs, fmt.Errorf("--cluster-signing-duration %s: must be at least 10m", o.ClusterSigningDuration))
	}
	errs = append(errs, o.validateStorage()...)
	if o.StorageDir == "" {
		errs = append(errs, errors.New("--storage-dir is required"))
	}
	if o.MaxRequestsInFlight <= 0 {
		errs = append(errs, fmt.Errorf("--max-requests-inflight %d: must be positive", o.MaxRequestsInFlight))
	}
	if o.MaxMutatingRequestsInFlight <= 0 {
		errs = append(errs, fmt.Errorf("--max-mutating-requests-inflight %d: must be positive", o.MaxMutatingRequestsInFlight))
	}
	if o.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout %s: must be positive", o.RequestTimeout))
	}
	if o.MinRequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--min-request-timeout %s: must be positive", o.MinRequestTimeout))
	}
	if _, _, err := net.ParseCIDR(o.ServiceClusterIPRange); err != nil {
		errs = append(errs, fmt.Errorf("--service-cluster-ip-range %q: not a CIDR", o.ServiceClusterIPRange))
	}
	if _, _, err := parsePortRange(o.ServiceNodePortRange); err != nil {
		errs = append(errs, fmt.Errorf("--service-node-port-range %q: %v", o.ServiceNodePortRange, err))
	}
	return errors.Join(errs...)
}

// tlsVersion maps kube-apiserver's --tls-min-version names. TLS 1.0 and 1.1
// are refused outright.
func tlsVersion(name string) (uint16, error) {
	switch name {
	case "", "VersionTLS12":
		return tls.VersionTLS12, nil
	case "VersionTLS13":
		return tls.VersionTLS13, nil
	case "VersionTLS10", "VersionTLS11":
		return 0, fmt.Errorf("--tls-min-version %s: TLS versions below 1.2 are not supported", name)
	}
	return 0, fmt.Errorf("--tls-min-version %q: want VersionTLS12 or VersionTLS13", name)
}

// DefaultCipherSuites are the TLS 1.2 suites served when
// --tls-cipher-suites is not given: ECDHE key exchange with an AEAD cipher
// only, which meets both CIS 1.2.29 and the DISA STIG's AEAD-only list.
// Go's own default adds the ECDHE CBC-SHA1 suites, which only clients
// older than about 2013 need; name them in --tls-cipher-suites to serve
// them. TLS 1.3 suites are all AEAD and not configurable.
var DefaultCipherSuites = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// cipherSuites maps --tls-cipher-suites names to IDs; no names means
// DefaultCipherSuites. Only suites Go considers secure are accepted.
func cipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		names = DefaultCipherSuites
	}
	known := map[string]uint16{}
	for _, c := range tls.CipherSuites() {
		known[c.Name] = c.ID
	}
	var ids []uint16
	var bad []string
	for _, n := range names {
		id, ok := known[strings.TrimSpace(n)]
		if !ok {
			bad = append(bad, n)
			continue
		}
		ids = append(ids, id)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("--tls-cipher-suites: unknown or insecure cipher suite(s) %s", strings.Join(bad, ", "))
	}
	if !slices.Contains(ids, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) && !slices.Contains(ids, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) {
		return nil, errors.New("--tls-cipher-suites: HTTP/2 requires TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 in the list")
	}
	return ids, nil
}

func parsePortRange(s string) (int, int, error) {
	var lo, hi int
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil {
		return 0, 0, errors.New("want FIRST-LAST, e.g. 30000-32767")
	}
	if lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, errors.New("ports must be 1-65535 with FIRST <= LAST")
	}
	return lo, hi, nil
}

// validateAuthorization checks --authorization-mode and the webhook flags.
func (o *Options) validateAuthorization() []error {
	var errs []error
	if len(o.AuthorizationModes) == 0 {
		errs = append(errs, errors.New("--authorization-mode must name at least one mode"))
	}
	seen := map[string]bool{}
	for _, m := range o.AuthorizationModes {
		switch {
		case !slices.Contains(authorizationModes, m):
			errs = append(errs, fmt.Errorf("--authorization-mode %q: want one of %s", m, strings.Join(authorizationModes, ", ")))
		case seen[m]:
			errs = append(errs, fmt.Errorf("--authorization-mode %q: given twice", m))
		}
		seen[m] = true
	}
	switch {
	case seen[ModeWebhook] && o.AuthorizationWebhookConfigFile == "":
		errs = append(errs, errors.New("--authorization-mode Webhook requires --authorization-webhook-config-file"))
	case !seen[ModeWebhook] && o.AuthorizationWebhookConfigFile != "":
		errs = append(errs, errors.New("--authorization-webhook-config-file requires Webhook in --authorization-mode"))
	}
	if o.AuthorizationWebhookVersion != "v1" {
		errs = append(errs, fmt.Errorf("--authorization-webhook-version %q: only v1 is supported", o.AuthorizationWebhookVersion))
	}
	if o.AuthorizationWebhookCacheAuthorizedTTL < 0 || o.AuthorizationWebhookCacheUnauthorizedTTL < 0 {
		errs = append(errs, errors.New("--authorization-webhook-cache-authorized-ttl and --authorization-webhook-cache-unauthorized-ttl must not be negative"))
	}
	return errs
}

// validateAudit: kube-apiserver audits nothing when only one of the
// policy and a backend is given, and says nothing; sekisho refuses that.
func (o *Options) validateAudit() []error {
	backend := o.AuditLog.Path != "" || o.AuditWebhook.ConfigFile != ""
	switch {
	case o.AuditPolicyFile == "" && !backend:
		return nil
	case o.AuditPolicyFile == "":
		return []error{errors.New("--audit-log-path and --audit-webhook-config-file need --audit-policy-file: without a policy nothing is recorded")}
	case !backend:
		return []error{errors.New("--audit-policy-file needs --audit-log-path or --audit-webhook-config-file: without a backend nothing is recorded")}
	}
	var errs []error
	if o.AuditLog.Path != "" {
		if err := o.AuditLog.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.AuditWebhook.ConfigFile != "" {
		if o.AuditWebhookSpoolMaxMB <= 0 {
			errs = append(errs, fmt.Errorf("--audit-webhook-spool-max-size: must be positive, not %d", o.AuditWebhookSpoolMaxMB))
		}
		if err := o.AuditWebhook.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateStorage checks the choice of store and how etcd is reached.
func (o *Options) validateStorage() []error {
	var errs []error
	switch o.StorageBackend {
	case "", "bbolt":
		if o.StorageBackend == "bbolt" && len(o.EtcdServers) > 0 {
			errs = append(errs, errors.New("--storage-backend=bbolt and --etcd-servers: choose one store"))
		}
	case "etcd3":
		if len(o.EtcdServers) == 0 {
			errs = append(errs, errors.New("--storage-backend=etcd3 needs --etcd-servers"))
		}
	default:
		errs = append(errs, fmt.Errorf("--storage-backend %q: want etcd3 or bbolt", o.StorageBackend))
	}
	switch o.CertRenewal {
	case CertRenewalOff:
	case CertRenewalAuto:
		if o.certRenewalDir() == "" {
			errs = append(errs, fmt.Errorf("--cert-renewal=auto needs the data directory layout up writes: --tls-cert-file %q is not in a pki directory", o.TLSCertFile))
		}
	default:
		errs = append(errs, fmt.Errorf("--cert-renewal %q: want auto or off", o.CertRenewal))
	}
	if o.LeaderElect {
		if err := o.leaderElectTiming().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.EtcdCountMetricPollPeriod < 0 {
		errs = append(errs, fmt.Errorf("--etcd-count-metric-poll-period %s: must be 0 (off) or more", o.EtcdCountMetricPollPeriod))
	}
	if o.EtcdCompactionInterval < 0 {
		errs = append(errs, fmt.Errorf("--etcd-compaction-interval %s: must be 0 (off) or more", o.EtcdCompactionInterval))
	}
	if len(o.EtcdServers) > 0 {
		if err := o.etcdDial().CheckEndpoints(); err != nil {
			errs = append(errs, err)
		}
		if !strings.HasSuffix(o.EtcdPrefix, "/registry") || !strings.HasPrefix(o.EtcdPrefix, "/") {
			errs = append(errs, fmt.Errorf("--etcd-prefix %q: must be /registry, or end in /registry (sekisho's keys are /registry/<resource>/...)", o.EtcdPrefix))
		}
	}
	return errs
}

func (o *Options) etcdDial() etcd.DialOptions {
	return etcd.DialOptions{Endpoints: o.EtcdServers, CAFile: o.EtcdCAFile, CertFile: o.EtcdCertFile, KeyFile: o.EtcdKeyFile}
}

func (o Options) leaderElectTiming() leaderelection.Timing {
	return leaderelection.Timing{LeaseDuration: o.LeaderElectLeaseDuration, RenewDeadline: o.LeaderElectRenewDeadline, RetryPeriod: o.LeaderElectRetryPeriod}
}

// The values of --cert-renewal.
const (
	CertRenewalAuto = "auto"
	CertRenewalOff  = "off"
)

// certRenewalDir is the data directory whose certificates the server
// renews: up's, or the parent of the pki directory --tls-cert-file is in.
func (o Options) certRenewalDir() string {
	if o.CertRenewalDir != "" {
		return o.CertRenewalDir
	}
	if dir := filepath.Dir(o.TLSCertFile); o.TLSCertFile != "" && filepath.Base(dir) == "pki" {
		return filepath.Dir(dir)
	}
	return ""
}
