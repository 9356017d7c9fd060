package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/controlplane"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/etcdmember"
	"github.com/sekisho/sekisho/internal/pki"
)

// defaultDataDir is a per-user directory: $XDG_DATA_HOME/sekisho, else
// ~/.local/share/sekisho.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sekisho")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "sekisho")
	}
	return "sekisho-data"
}

// DefaultServiceAccountIssuer is kubeadm's default issuer.
const DefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// upMaxTokenExpiration is up's --service-account-max-token-expiration.
// kube-apiserver has no cap by default; with one, a rotated-out signing
// key can be removed after a known time (rotate-sa-key's --overlap).
// Kubelets, kubectl create token and the controller-manager ask for an
// hour and renew.
const upMaxTokenExpiration = 24 * time.Hour

func newUpCommand() *cobra.Command {
	o := controlplane.DefaultOptions()
	o.BindAddress = "127.0.0.1"
	var (
		withEtcd  bool
		dataDir   string
		verbosity int
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build the cluster PKI if needed and serve the API: one command for a working control plane",
		Long: `up builds the cluster PKI in the data directory (if it is not there yet), then serves the
Kubernetes API with secure defaults. It accepts every flag of "sekisho serve"; a flag given
overrides up's default. Ctrl-C shuts down gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "data directory: %s\n", dataDir)
			if o.SecurePort == 0 {
				return fmt.Errorf("--secure-port: up needs a fixed port, which it writes into the kubeconfig files")
			}
			if err := upPKI(dataDir, &o); err != nil {
				return err
			}
			flags := cmd.Flags()
			def := func(flag string, target *string, value string) {
				if !flags.Changed(flag) {
					*target = value
				}
			}
			def("tls-cert-file", &o.TLSCertFile, filepath.Join(dataDir, clusterpki.CertFile("apiserver")))
			def("tls-private-key-file", &o.TLSPrivateKeyFile, filepath.Join(dataDir, clusterpki.KeyFile("apiserver")))
			def("client-ca-file", &o.ClientCAFile, filepath.Join(dataDir, clusterpki.CertFile("ca")))
			def("storage-dir", &o.StorageDir, filepath.Join(dataDir, "storage"))
			// up owns its CAs: it renews the server's certificates itself.
			def("cert-renewal", &o.CertRenewal, controlplane.CertRenewalAuto)
			o.CertRenewalDir = dataDir
			// No Service gains an external IP (CVE-2020-8554, CIS 1.2.3)
			// unless the plugin is disabled by name: up's secure default.
			if !slices.Contains(o.DisableAdmissionPlugins, upDeniesExternalIPs) && !slices.Contains(o.EnableAdmissionPlugins, upDeniesExternalIPs) {
				o.EnableAdmissionPlugins = append(o.EnableAdmissionPlugins, upDeniesExternalIPs)
			}
			if !flags.Changed("admission-control-config-file") {
				o.AdmissionControlConfigFile = filepath.Join(dataDir, admissionConfigFile)
				if err := writeIfAbsent(o.AdmissionControlConfigFile, []byte(upAdmissionConfig)); err != nil {
					return err
				}
			}
			// Event writes are rate limited (CIS 1.2.9) when the admission
			// configuration configures the limits, as the one up writes
			// does, unless the plugin is disabled by name. A configuration
			// written by an older up has none, and keeps working.
			if !slices.Contains(o.DisableAdmissionPlugins, upRateLimitsEvents) && !slices.Contains(o.EnableAdmissionPlugins, upRateLimitsEvents) {
				if cfg, err := admission.ReadConfiguration(o.AdmissionControlConfigFile); err == nil && cfg[upRateLimitsEvents] != nil {
					o.EnableAdmissionPlugins = append(o.EnableAdmissionPlugins, upRateLimitsEvents)
				}
			}
			// Every request on record (CIS 1.2.16-1.2.19): up's policy,
			// the user's to edit and reloaded when edited, and a log in
			// the data directory kept as CIS asks. An empty
			// --audit-policy-file turns auditing off.
			if !flags.Changed("audit-policy-file") {
				o.AuditPolicyFile = filepath.Join(dataDir, auditPolicyFile)
				if err := writeIfAbsent(o.AuditPolicyFile, []byte(upAuditPolicy)); err != nil {
					return err
				}
			}
			if o.AuditPolicyFile != "" {
				def("audit-log-path", &o.AuditLog.Path, filepath.Join(dataDir, "audit", "audit.log"))
			}
			for _, v := range []struct {
				flag   string
				target *int
				value  int
			}{{"audit-log-maxage", &o.AuditLog.MaxAge, 30}, {"audit-log-maxbackup", &o.AuditLog.MaxBackups, 10}, {"audit-log-maxsize", &o.AuditLog.MaxSize, 100}} {
				if !flags.Changed(v.flag) {
					*v.target = v.value
				}
			}
			// Secrets encrypted at rest (CIS 1.2.27-1.2.28): a key made at
			// first start, in the data directory, reloaded and rotated
			// with no restart. An empty --encryption-provider-config
			// stores Secrets as they are.
			if !flags.Changed("encryption-provider-config") {
				o.EncryptionProviderConfig = filepath.Join(dataDir, controlplane.EncryptionConfigFile)
				if _, err := os.Stat(o.EncryptionProviderConfig); errors.Is(err, fs.ErrNotExist) {
					if err := encryption.NewConfigFile(o.EncryptionProviderConfig, time.Now()); err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "Secrets are encrypted at rest with a new aesgcm key in %s: back it up with the database, or the Secrets in a backup cannot be read.\n", o.EncryptionProviderConfig)
				}
			}
			if !flags.Changed("encryption-provider-config-automatic-reload") && o.EncryptionProviderConfig != "" {
				o.EncryptionProviderConfigAutomaticReload = true
			}
			// up's own key is rotated by use, with margin for the counts a
			// crash loses (saved every second).
			if !flags.Changed("encryption-rotate-after-writes") && !flags.Changed("encryption-provider-config") {
				o.EncryptionRotateAfterWrites = upRotateAfterWrites
			}
			// Kubelets are reached as kubeadm's kube-apiserver reaches them.
			def("kubelet-client-certificate", &o.KubeletClientCertificate, filepath.Join(dataDir, clusterpki.CertFile("apiserver-kubelet-client")))
			def("kubelet-client-key", &o.KubeletClientKey, filepath.Join(dataDir, clusterpki.KeyFile("apiserver-kubelet-client")))
			if !flags.Changed("kubelet-preferred-address-types") {
				o.KubeletPreferredAddressTypes = []string{"InternalIP", "ExternalIP", "Hostname"}
			}
			// The CSR signer uses the cluster CA, as kubeadm configures kube-controller-manager.
			def("cluster-signing-cert-file", &o.ClusterSigningCertFile, filepath.Join(dataDir, clusterpki.CertFile("ca")))
			def("cluster-signing-key-file", &o.ClusterSigningKeyFile, filepath.Join(dataDir, clusterpki.KeyFile("ca")))
			def("client-crl-file", &o.ClientCRLFile, filepath.Join(dataDir, clusterpki.CRLFile))
			def("service-account-signing-key-file", &o.ServiceAccountSigningKeyFile, filepath.Join(dataDir, clusterpki.SAKeyFile))
			if !flags.Changed("service-account-key-file") {
				o.ServiceAccountKeyFiles = []string{filepath.Join(dataDir, clusterpki.SAPubFile)}
			}
			// The authenticating proxy, as kubeadm configures it.
			if !flags.Changed("requestheader-client-ca-file") {
				o.RequestHeaderClientCAFile = filepath.Join(dataDir, clusterpki.CertFile("front-proxy-ca"))
				defSlice := func(flag string, target *[]string, v ...string) {
					if !flags.Changed(flag) {
						*target = v
					}
				}
				defSlice("requestheader-allowed-names", &o.RequestHeaderAllowedNames, "front-proxy-client")
				defSlice("requestheader-username-headers", &o.RequestHeaderUsernameHeaders, "X-Remote-User")
				defSlice("requestheader-uid-headers", &o.RequestHeaderUIDHeaders, "X-Remote-Uid")
				defSlice("requestheader-group-headers", &o.RequestHeaderGroupHeaders, "X-Remote-Group")
				defSlice("requestheader-extra-headers-prefix", &o.RequestHeaderExtraHeadersPrefix, "X-Remote-Extra-")
			}
			// Aggregated API servers see the front-proxy client, as kubeadm
			// configures kube-apiserver.
			def("proxy-client-cert-file", &o.ProxyClientCertFile, filepath.Join(dataDir, clusterpki.CertFile("front-proxy-client")))
			def("proxy-client-key-file", &o.ProxyClientKeyFile, filepath.Join(dataDir, clusterpki.KeyFile("front-proxy-client")))
			if !flags.Changed("enable-bootstrap-token-auth") {
				o.EnableBootstrapTokenAuth = true
			}
			if !flags.Changed("service-account-issuer") {
				o.ServiceAccountIssuers = []string{DefaultServiceAccountIssuer}
			}
			if !flags.Changed("service-account-max-token-expiration") {
				o.ServiceAccountMaxTokenExpiration = upMaxTokenExpiration
			}
			kubeconfig := filepath.Join(dataDir, "admin.conf")
			o.Ready = func(addr net.Addr) {
				fmt.Fprintf(out, "serving:    https://%s\nkubeconfig: %s\ntry:        kubectl --kubeconfig %s get namespaces\n",
					addr, kubeconfig, kubeconfig)
			}
			ctx, stop := signalContext()
			defer stop()
			log := newLogger(verbosity)
			if withEtcd {
				member, err := startUpEtcd(ctx, flags, &o, dataDir)
				if err != nil {
					return err
				}
				defer member.Close()
				log.Info("etcd member serving", "clients", strings.Join(member.ClientURLs, ","), "dataDir", filepath.Join(dataDir, "etcd"))
			}
			return controlplane.Run(ctx, o, log)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory for the PKI, kubeconfig files and storage")
	cmd.Flags().BoolVar(&withEtcd, "etcd", false, "keep the objects in an etcd member run in this process (DATA_DIR/etcd, the PKI's etcd certificates, client URL the first of --etcd-servers, default https://127.0.0.1:2379, peer URL the next port), to try the etcd path on one machine")
	serveFlags(cmd.Flags(), &o, &verbosity)
	return cmd
}

// upPKI builds (or checks) the PKI for the address up serves on.
func upPKI(dataDir string, o *controlplane.Options) error {
	advertise := o.AdvertiseAddress
	if advertise == "" {
		advertise = o.BindAddress
	}
	ip := net.ParseIP(advertise)
	if ip == nil {
		return fmt.Errorf("--bind-address %q: not an IP address", advertise)
	}
	if ip.IsUnspecified() {
		ip = defaultAdvertiseAddress()
	}
	node, err := os.Hostname()
	if err != nil {
		node = "sekisho"
	}
	rep, err := clusterpki.Init(clusterpki.InitOptions{
		Dir: dataDir,
		Cluster: pki.ClusterConfig{
			NodeName:         strings.ToLower(node),
			AdvertiseAddress: ip,
			BindPort:         o.SecurePort,
			ServiceCIDR:      o.ServiceClusterIPRange,
			DNSDomain:        "cluster.local",
			ExtraSANs:        []string{"localhost", "127.0.0.1"},
		},
		KeyType:      pki.ECDSAP256,
		CertValidity: 8760 * time.Hour,
		CAValidity:   87600 * time.Hour,
		Now:          time.Now(),
	})
	if err != nil {
		return fmt.Errorf("%w (up keeps one cluster per --data-dir; choose another data directory for different addresses)", err)
	}
	for _, m := range rep.Warnings {
		fmt.Fprintf(os.Stdout, "PKI warning: %s\n", m)
	}
	if len(rep.Written) > 0 {
		fmt.Fprintf(os.Stdout, "PKI: wrote %d files\n", len(rep.Written))
	}
	return nil
}

// upDeniesExternalIPs is the admission plugin up runs beyond the
// defaults: external IPs let a Service's creator intercept traffic meant
// for any address (CVE-2020-8554, which Kubernetes leaves unfixed).
const upDeniesExternalIPs = "DenyServiceExternalIPs"

// upRateLimitsEvents is the admission plugin up runs when its admission
// configuration configures it: a flood of Events from one namespace
// cannot crowd out the cluster's writes.
const upRateLimitsEvents = "EventRateLimit"

// admissionConfigFile is the AdmissionConfiguration up writes into the
// data directory the first time, and uses unless told otherwise.
const admissionConfigFile = "admission.yaml"

const auditPolicyFile = "audit-policy.yaml"

// startUpEtcd starts up's own etcd member and points the API server at
// it with kubeadm's apiserver-etcd-client certificate.
func startUpEtcd(ctx context.Context, flags *pflag.FlagSet, o *controlplane.Options, dataDir string) (*etcdmember.Member, error) {
	pkiDir := filepath.Join(dataDir, clusterpki.PKIDir)
	client := "https://127.0.0.1:2379"
	if len(o.EtcdServers) > 0 {
		client = o.EtcdServers[0]
	}
	u, err := url.Parse(client)
	if err != nil || u.Port() == "" {
		return nil, fmt.Errorf("--etcd with --etcd-servers %q: want https://127.0.0.1:PORT", client)
	}
	port, _ := strconv.Atoi(u.Port())
	mo := etcdmember.Defaults(pkiDir, filepath.Join(dataDir, "etcd"))
	mo.Name = "sekisho"
	mo.ListenClientURLs = []string{client}
	mo.ListenPeerURLs = []string{u.Scheme + "://" + net.JoinHostPort(u.Hostname(), strconv.Itoa(port+1))}
	member, err := etcdmember.Start(ctx, mo)
	if err != nil {
		return nil, err
	}
	o.EtcdServers = []string{client}
	for flag, v := range map[string]struct {
		target *string
		value  string
	}{
		"etcd-cafile":   {&o.EtcdCAFile, filepath.Join(pkiDir, "etcd/ca.crt")},
		"etcd-certfile": {&o.EtcdCertFile, filepath.Join(dataDir, clusterpki.CertFile("apiserver-etcd-client"))},
		"etcd-keyfile":  {&o.EtcdKeyFile, filepath.Join(dataDir, clusterpki.KeyFile("apiserver-etcd-client"))},
	} {
		if !flags.Changed(flag) {
			*v.target = v.value
		}
	}
	return member, nil
}

// upRotateAfterWrites is when up rotates its aesgcm key: Kubernetes
// documents rotating before 200,000 writes.
const upRotateAfterWrites = 150_000

// upAuditPolicy is up's audit policy. Health, version and discovery
// reads are not recorded; Secrets, ConfigMaps and the token APIs only
// by metadata (their bodies are credentials, which sekisho redacts at
// any level anyway); RBAC and CSR writes with their request and
// response, so a change of who may do what is on record whole;
// everything else by metadata. RequestReceived is left out: the
// ResponseComplete event says all it does.
const upAuditPolicy = `# Written by sekisho up; edit freely: up does not overwrite it, and
# sekisho reloads it when it changes (an invalid policy is refused and the
# one in force stays).
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
- level: None
  verbs: [get]
  nonResourceURLs: [/healthz*, /livez*, /readyz*, /version, /version/, /api, /api/*, /apis, /apis/*, /openapi/*]
- level: Metadata
  resources:
  - group: ""
    resources: [secrets, configmaps, serviceaccounts/token]
  - group: authentication.k8s.io
    resources: [tokenreviews]
- level: RequestResponse
  verbs: [create, update, patch, delete, deletecollection]
  resources:
  - group: rbac.authorization.k8s.io
  - group: certificates.k8s.io
    resources: [certificatesigningrequests, certificatesigningrequests/approval, certificatesigningrequests/status]
- level: Metadata
`

// upAdmissionConfig is up's admission configuration: Pod Security
// Standards enforced at baseline cluster-wide (no privileged containers,
// host namespaces or hostPath volumes), with warnings and audit at
// restricted; namespaces may choose otherwise with their
// pod-security.kubernetes.io labels; kube-system, where node agents run,
// is exempt. Event writes are limited per namespace (Kubernetes'
// documented example, 50 a second with bursts of 100) and server-wide
// (5,000 a second with bursts of 20,000) by EventRateLimit. The file is
// the user's to edit: up never overwrites it.
const upAdmissionConfig = `# Written by sekisho up; edit freely: up does not overwrite it.
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      enforce-version: latest
      audit: restricted
      audit-version: latest
      warn: restricted
      warn-version: latest
    exemptions:
      usernames: []
      runtimeClasses: []
      namespaces: [kube-system]
- name: EventRateLimit
  configuration:
    apiVersion: eventratelimit.admission.k8s.io/v1alpha1
    kind: Configuration
    limits:
    - {type: Server, qps: 5000, burst: 20000}
    - {type: Namespace, qps: 50, burst: 100, cacheSize: 2000}
`

// writeIfAbsent creates path with data, mode 0600, unless it exists.
func writeIfAbsent(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
