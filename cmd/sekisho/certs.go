package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sekisho/sekisho/internal/apiclient"
	"github.com/sekisho/sekisho/internal/certrenewal"
	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/pki"
)

func newCertsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Build, check and renew the cluster PKI",
	}
	cmd.AddCommand(
		newCertsInitCommand(),
		newCertsGenerateCSRCommand(),
		newCertsCheckExpirationCommand(),
		newCertsRenewCommand(),
		newCertsRevokeCommand(),
		newCertsRotateSAKeyCommand(),
		newCertsRotateCACommand(),
		newCertsEtcdMemberCommand(),
	)
	return cmd
}

// pkiFlags are the flags that shape the cluster's certificates, named as kubeadm names them.
type pkiFlags struct {
	dir                  string
	nodeName             string
	advertiseAddress     string
	bindPort             int
	extraSANs            []string
	serviceCIDR          string
	dnsDomain            string
	controlPlaneEndpoint string
	keyType              string
	certValidity         time.Duration
	caValidity           time.Duration
	rootCACert           string
	rootCAKey            string
}

func (f *pkiFlags) bind(fs *pflag.FlagSet, withDir bool) {
	if withDir {
		fs.StringVar(&f.dir, "dir", "", "data directory: certificates go to DIR/pki, kubeconfig files to DIR (required)")
	}
	fs.StringVar(&f.nodeName, "node-name", "", "node name for the apiserver, etcd and kubelet certificates (default: the hostname)")
	fs.StringVar(&f.advertiseAddress, "apiserver-advertise-address", "", "IP address the API server advertises (default: the first non-loopback IPv4 address, else 127.0.0.1)")
	fs.IntVar(&f.bindPort, "apiserver-bind-port", 6443, "port the API server listens on, used in kubeconfig server URLs")
	fs.StringSliceVar(&f.extraSANs, "apiserver-cert-extra-sans", nil, "extra SANs (IP addresses or DNS names) for the API server certificate")
	fs.StringVar(&f.serviceCIDR, "service-cidr", "10.96.0.0/12", "service IP range; its first address is the kubernetes Service IP")
	fs.StringVar(&f.dnsDomain, "dns-domain", "cluster.local", "cluster DNS domain")
	fs.StringVar(&f.controlPlaneEndpoint, "control-plane-endpoint", "", "stable host[:port] for the control plane, such as a load balancer")
	fs.StringVar(&f.keyType, "key-type", string(pki.ECDSAP256), "key type: "+keyTypeList())
	fs.DurationVar(&f.certValidity, "cert-validity", 8760*time.Hour, "validity of leaf certificates")
	fs.DurationVar(&f.caValidity, "ca-validity", 87600*time.Hour, "validity of CA certificates")
	fs.StringVar(&f.rootCACert, "root-ca-cert", "", "issue the three CAs as intermediates of this root CA certificate")
	fs.StringVar(&f.rootCAKey, "root-ca-key", "", "private key of --root-ca-cert")
}

func keyTypeList() string {
	var names []string
	for _, t := range pki.KeyTypes() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

func (f *pkiFlags) options() (clusterpki.InitOptions, error) {
	if f.dir == "" {
		return clusterpki.InitOptions{}, fmt.Errorf("--dir is required")
	}
	keyType, err := pki.ParseKeyType(f.keyType)
	if err != nil {
		return clusterpki.InitOptions{}, fmt.Errorf("--key-type: %w", err)
	}
	node := f.nodeName
	if node == "" {
		node, err = os.Hostname()
		if err != nil {
			return clusterpki.InitOptions{}, fmt.Errorf("--node-name not given and the hostname is unknown: %w", err)
		}
	}
	var addr net.IP
	if f.advertiseAddress == "" {
		addr = defaultAdvertiseAddress()
	} else if addr = net.ParseIP(f.advertiseAddress); addr == nil {
		return clusterpki.InitOptions{}, fmt.Errorf("--apiserver-advertise-address %q: not an IP address", f.advertiseAddress)
	}
	o := clusterpki.InitOptions{
		Dir: f.dir,
		Cluster: pki.ClusterConfig{
			NodeName:             strings.ToLower(node),
			AdvertiseAddress:     addr,
			BindPort:             f.bindPort,
			ControlPlaneEndpoint: f.controlPlaneEndpoint,
			ServiceCIDR:          f.serviceCIDR,
			DNSDomain:            f.dnsDomain,
			ExtraSANs:            f.extraSANs,
		},
		KeyType:      keyType,
		CertValidity: f.certValidity,
		CAValidity:   f.caValidity,
		Now:          time.Now(),
	}
	if (f.rootCACert == "") != (f.rootCAKey == "") {
		return o, fmt.Errorf("--root-ca-cert and --root-ca-key must be given together")
	}
	if f.rootCACert != "" {
		o.RootCA, err = loadRootCA(f.rootCACert, f.rootCAKey)
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func loadRootCA(certPath, keyPath string) (*pki.CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("--root-ca-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("--root-ca-key: %w", err)
	}
	return pki.CAFromPEM("--root-ca-cert "+certPath, certPEM, "--root-ca-key "+keyPath, keyPEM)
}

// defaultAdvertiseAddress is the first non-loopback, non-link-local IPv4
// address of this host, else 127.0.0.1.
func defaultAdvertiseAddress() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip := ipn.IP.To4(); ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}

func printReport(w io.Writer, r *clusterpki.Report) {
	for _, p := range r.Kept {
		fmt.Fprintf(w, "kept     %s\n", p)
	}
	for _, p := range r.Written {
		fmt.Fprintf(w, "written  %s\n", p)
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}

func newCertsInitCommand() *cobra.Command {
	var f pkiFlags
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Generate every CA, certificate, key and kubeconfig the cluster needs",
		Long: `Generate the cluster PKI under DIR/pki and the kubeconfig files in DIR, with kubeadm's
file names. Files that already exist and fit are kept; a file that exists but does not
fit is reported and nothing is written. A CA certificate without its key is treated as
an external CA: the leaves it signs must already be present.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			r, err := clusterpki.Init(o)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), r)
			fmt.Fprintf(cmd.OutOrStdout(), "The cluster PKI is ready in %s\n", o.Dir)
			return nil
		},
	}
	f.bind(cmd.Flags(), true)
	return cmd
}

func newCertsGenerateCSRCommand() *cobra.Command {
	var f pkiFlags
	cmd := &cobra.Command{
		Use:   "generate-csr --dir DIR",
		Short: "Write a key and a certificate signing request for every leaf and kubeconfig, for an external CA",
		Long: `Write DIR/pki/NAME.key and DIR/pki/NAME.csr for each leaf certificate, and DIR/NAME.conf.key
and DIR/NAME.conf.csr for each kubeconfig. Sign each CSR with your CA (the CSRs request the
right key usages and SANs, so "openssl x509 -req -copy_extensions copyall" keeps them) and save
the certificate beside it as .crt. Then copy the CA certificates without their keys to
DIR/pki and run "sekisho certs init", which validates the certificates and writes the kubeconfigs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			r, err := clusterpki.GenerateCSRs(o)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), r)
			return nil
		},
	}
	f.bind(cmd.Flags(), true)
	return cmd
}

// expiringError is returned by check-expiration --fail-within.
type expiringError struct{ names []string }

func (e *expiringError) Error() string {
	return fmt.Sprintf("%d certificate(s) missing or expiring within the window: %s", len(e.names), strings.Join(e.names, ", "))
}

func (e *expiringError) ExitCode() int { return 2 }

func newCertsCheckExpirationCommand() *cobra.Command {
	var (
		dir            string
		output         string
		failWithin     time.Duration
		kubeconfigPath string
	)
	cmd := &cobra.Command{
		Use:   "check-expiration --dir DIR",
		Short: "Report when each certificate and CA of the cluster PKI expires",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required")
			}
			rep, err := clusterpki.CheckExpiration(dir, time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			renewals := serverRenewals(dir)
			saKeys, _ := clusterpki.ServiceAccountKeys(dir) // none when sa.key is managed elsewhere
			if kubeconfigPath == "" {
				if p := filepath.Join(dir, "admin.conf"); func() bool { _, err := os.Stat(p); return err == nil }() {
					kubeconfigPath = p
				}
			}
			var tokens []bootstrapTokenExpiry
			if kubeconfigPath != "" {
				var err error
				if tokens, err = liveBootstrapTokens(kubeconfigPath, time.Now()); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "bootstrap tokens not listed (%s): %v\n", kubeconfigPath, err)
				}
			}
			var rotations []caRotationStatus
			for _, ca := range []string{pki.CAKubernetes, pki.CAFrontProxy} {
				if st, err := clusterpki.CARotationStatus(dir, ca); err == nil && st.Phase != clusterpki.PhaseNone {
					rotations = append(rotations, caRotationStatus{CA: ca, Phase: st.Phase, Started: st.Started})
				}
			}
			switch output {
			case "", "table":
				printExpiration(out, rep)
				printRenewals(out, renewals)
				printServiceAccountKeys(out, saKeys)
				printBootstrapTokens(out, tokens)
				for _, r := range rotations {
					fmt.Fprintf(out, "\nCA ROTATION UNDER WAY: %s, at %q since %s; run `sekisho certs rotate-ca --dir %s --ca %s` to go on\n",
						r.CA, r.Phase, r.Started.Format("Jan 02, 2006 15:04 MST"), dir, r.CA)
				}
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Kind       string `json:"kind"`
					APIVersion string `json:"apiVersion"`
					*clusterpki.ExpirationReport
					// ServerRenewals: when a server on this directory with
					// --cert-renewal=auto (up's default) renews each of its
					// own certificates.
					ServerRenewals []renewal `json:"serverRenewals,omitempty"`
					// ServiceAccountKeys: the keys in sa.pub, and when
					// rotated-out ones retire.
					ServiceAccountKeys []clusterpki.SAKey `json:"serviceAccountKeys,omitempty"`
					// BootstrapTokens: the live bootstrap tokens (ids only)
					// of the cluster the kubeconfig reaches.
					BootstrapTokens []bootstrapTokenExpiry `json:"bootstrapTokens,omitempty"`
					// CARotations are the CA rotations under way.
					CARotations []caRotationStatus `json:"caRotations,omitempty"`
				}{"CertificateExpirationInfo", "output.sekisho.io/v1alpha1", rep, renewals, saKeys, tokens, rotations}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("-o %q: want table or json", output)
			}
			if failWithin > 0 {
				if bad := rep.ExpiringWithin(failWithin); len(bad) > 0 {
					var names []string
					for _, e := range bad {
						names = append(names, e.Name)
					}
					return &expiringError{names: names}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "data directory holding pki/ and the kubeconfig files (required)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().DurationVar(&failWithin, "fail-within", 0, "exit with status 2 if any certificate is missing or expires within this window, e.g. 720h")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig to list the live bootstrap tokens with (default: DIR/admin.conf when it exists)")
	return cmd
}

// renewal is when the server renews one of its certificates itself.
type renewal struct {
	Name        string    `json:"name"`
	NextRenewal time.Time `json:"nextRenewal"`
}

// serverRenewals lists the server's certificates whose CA key is in dir,
// which the server renews itself with --cert-renewal=auto.
func serverRenewals(dir string) []renewal {
	names, _ := certrenewal.Renewable(dir)
	var out []renewal
	for _, name := range names {
		if at, err := certrenewal.NextRenewal(dir, name); err == nil {
			out = append(out, renewal{Name: name, NextRenewal: at})
		}
	}
	return out
}

// printRenewals adds a third table to kubeadm's two: when the server
// renews its own certificates.
func printRenewals(w io.Writer, renewals []renewal) {
	if len(renewals) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "RENEWED BY THE SERVER (--cert-renewal=auto)\tNEXT RENEWAL")
	for _, r := range renewals {
		fmt.Fprintf(tw, "%s\t%s\n", r.Name, r.NextRenewal.Format("Jan 02, 2006 15:04 MST"))
	}
	tw.Flush()
}

// printServiceAccountKeys lists the keys in sa.pub: which signs, and
// when each rotated-out one retires.
func printServiceAccountKeys(w io.Writer, keys []clusterpki.SAKey) {
	if len(keys) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "SERVICE-ACCOUNT KEY\tSIGNS NEW TOKENS\tRETIRES")
	for _, k := range keys {
		signs, retires := "no", "-"
		if k.Signing {
			signs = "yes"
		}
		if !k.RetireAfter.IsZero() {
			retires = k.RetireAfter.Format("Jan 02, 2006 15:04 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, signs, retires)
	}
	tw.Flush()
}

// caRotationStatus is a CA rotation under way.
type caRotationStatus struct {
	CA      string    `json:"ca"`
	Phase   string    `json:"phase"`
	Started time.Time `json:"started"`
}

// bootstrapTokenExpiry is a live bootstrap token, by id: its secret half
// is never printed.
type bootstrapTokenExpiry struct {
	ID          string     `json:"id"`
	Expires     *time.Time `json:"expires,omitempty"` // nil: never
	Usages      []string   `json:"usages"`
	Description string     `json:"description,omitempty"`
}

// liveBootstrapTokens lists the bootstrap tokens not expired at now.
func liveBootstrapTokens(kubeconfigPath string, now time.Time) ([]bootstrapTokenExpiry, error) {
	c, err := apiclient.New(kubeconfigPath, "")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tokens, err := listBootstrapTokens(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []bootstrapTokenExpiry
	for _, ts := range tokens {
		if t := ts.token; !t.Expired(now) {
			out = append(out, bootstrapTokenExpiry{ID: t.ID, Expires: t.Expiration, Usages: t.Usages, Description: t.Description})
		}
	}
	slices.SortFunc(out, func(a, b bootstrapTokenExpiry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func printBootstrapTokens(w io.Writer, tokens []bootstrapTokenExpiry) {
	if len(tokens) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "BOOTSTRAP TOKEN\tEXPIRES\tRESIDUAL TIME\tUSAGES\tDESCRIPTION")
	for _, t := range tokens {
		exp, residual := "never", "-"
		if t.Expires != nil {
			exp = t.Expires.Format("Jan 02, 2006 15:04 MST")
			residual = clusterpki.HumanDuration(time.Until(*t.Expires))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, exp, residual, strings.Join(t.Usages, ","), t.Description)
	}
	tw.Flush()
}

func printExpiration(w io.Writer, rep *clusterpki.ExpirationReport) {
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	expires := func(e clusterpki.Expiration) (string, string) {
		if e.Missing {
			return "MISSING", "-"
		}
		return e.ExpirationDate.Format("Jan 02, 2006 15:04 MST"), clusterpki.HumanDuration(e.ResidualTime)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED")
	for _, e := range rep.Certificates {
		exp, res := expires(e)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, exp, res, e.CAName, yesNo(e.ExternallyManaged))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED")
	for _, e := range rep.CertificateAuthorities {
		exp, res := expires(e)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, exp, res, yesNo(e.ExternallyManaged))
	}
	tw.Flush()
}

func newCertsRenewCommand() *cobra.Command {
	var (
		dir      string
		validity time.Duration
		reuseKey bool
	)
	cmd := &cobra.Command{
		Use:   "renew all|NAME... --dir DIR",
		Short: "Re-issue leaf certificates and kubeconfig credentials from the same CA",
		Long: `Re-issue certificates with the same subject, SANs and usages, a new serial and a new
validity. A new private key is generated unless --reuse-key is given. NAME is one of:
` + strings.Join(clusterpki.RenewableNames(), ", "),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required")
			}
			r, err := clusterpki.Renew(clusterpki.RenewOptions{
				Dir: dir, Names: args, Validity: validity, ReuseKey: reuseKey, Now: time.Now(),
			})
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "data directory holding pki/ and the kubeconfig files (required)")
	cmd.Flags().DurationVar(&validity, "cert-validity", 8760*time.Hour, "validity of the renewed certificates")
	cmd.Flags().BoolVar(&reuseKey, "reuse-key", false, "keep each certificate's private key instead of generating a new one")
	return cmd
}

func newCertsRevokeCommand() *cobra.Command {
	var o clusterpki.RevokeOptions
	cmd := &cobra.Command{
		Use:   "revoke --dir DIR (--cert FILE | --serial HEX)",
		Short: "Revoke a certificate of the cluster CA by adding it to the CRL the API server checks",
		Long: `Add a certificate issued by the cluster CA (pki/ca.crt) to its certificate revocation list,
DIR/pki/ca.crl by default. A server started with --client-crl-file pointing at that file
(sekisho up does this) refuses the certificate within seconds, also on connections already open.
--cert takes a PEM certificate or a kubeconfig whose client certificate is to be revoked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				return fmt.Errorf("--dir is required")
			}
			o.Now = time.Now()
			serial, err := clusterpki.Revoke(o)
			if err != nil {
				return err
			}
			crl := o.CRL
			if crl == "" {
				crl = filepath.Join(o.Dir, clusterpki.CRLFile)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked serial %X (%s); CRL written to %s\n", serial, o.Reason, crl)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", "", "data directory holding pki/ca.{crt,key} (required)")
	fs.StringVar(&o.CertFile, "cert", "", "certificate to revoke: a PEM file or a kubeconfig")
	fs.StringVar(&o.Serial, "serial", "", "serial number to revoke, in hex")
	fs.StringVar(&o.CRL, "crl", "", "CRL file to update (default DIR/pki/ca.crl)")
	fs.StringVar(&o.Reason, "reason", "unspecified", "RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, ...")
	return cmd
}

func newCertsEtcdMemberCommand() *cobra.Command {
	o := clusterpki.EtcdMemberOptions{KeyType: pki.ECDSAP256, Validity: 8760 * time.Hour}
	var address string
	cmd := &cobra.Command{
		Use:   "etcd-member --dir DIR --etcd-member NAME --etcd-address IP --out OUT",
		Short: "Issue one etcd member's etcd/server and etcd/peer certificates, with its name and address",
		Long: `Issue, with the cluster's etcd CA (DIR/pki/etcd/ca.{crt,key}), the etcd/server and
etcd/peer certificates of one member of an etcd cluster: its name, localhost, its address
and the loopback addresses, as kubeadm issues them for the node an etcd member runs on.
OUT/pki/etcd receives them with etcd/ca.crt: copy OUT to the member's machine and run
sekisho etcd --pki-dir OUT/pki there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				return fmt.Errorf("--dir is required")
			}
			if o.Address = net.ParseIP(address); o.Address == nil {
				return fmt.Errorf("--etcd-address %q: not an IP address", address)
			}
			o.Now = time.Now()
			if err := clusterpki.IssueEtcdMember(o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "etcd member %s (%s): certificates in %s\n", o.Name, o.Address, filepath.Join(o.Out, "pki", "etcd"))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", "", "data directory holding pki/etcd/ca.{crt,key} (required)")
	fs.StringVar(&o.Name, "etcd-member", "", "the member's name, as in --initial-cluster (required)")
	fs.StringVar(&address, "etcd-address", "", "the member's IP address (required)")
	fs.StringVar(&o.Out, "out", "", "directory to write OUT/pki/etcd into (required)")
	fs.DurationVar(&o.Validity, "cert-validity", o.Validity, "validity of the certificates")
	return cmd
}

func newCertsRotateSAKeyCommand() *cobra.Command {
	var (
		dir     string
		overlap time.Duration
		keyType string
		prune   bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-sa-key --dir DIR [--overlap 24h]",
		Short: "Sign service-account tokens with a new key, keeping the old one valid for an overlap",
		Long: `Generate a new service-account signing key: pki/sa.pub gains its public key and
pki/sa.key becomes it. A running server reloads both within a second: new tokens carry the
new key's id, /openid/v1/jwks publishes both keys, and tokens signed with the old key keep
working until the overlap ends. Then the old key leaves sa.pub (a server with
--cert-renewal=auto, up's default, does this itself; otherwise run this command with --prune)
and its tokens stop verifying.

The default overlap is up's --service-account-max-token-expiration, the longest lifetime of a
token it issues; kubelets and kubectl renew theirs hourly. Tokens kept in Secrets of type
kubernetes.io/service-account-token never expire and stop working when their key is removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required")
			}
			out := cmd.OutOrStdout()
			now := time.Now()
			if prune {
				removed, next, err := clusterpki.PruneServiceAccountKeys(dir, now)
				if err != nil {
					return err
				}
				for _, k := range removed {
					fmt.Fprintf(out, "removed %s (retired after %s)\n", k.ID, k.RetireAfter.Format(time.RFC3339))
				}
				if !next.IsZero() {
					fmt.Fprintf(out, "next retirement: %s\n", next.Format(time.RFC3339))
				}
				return nil
			}
			var kt pki.KeyType
			if keyType != "" {
				var err error
				if kt, err = pki.ParseKeyType(keyType); err != nil {
					return fmt.Errorf("--key-type: %w", err)
				}
			}
			r, err := clusterpki.RotateServiceAccountKey(dir, kt, overlap, now)
			if err != nil {
				return err
			}
			for _, k := range r.Removed {
				fmt.Fprintf(out, "removed %s (retired after %s)\n", k.ID, k.RetireAfter.Format(time.RFC3339))
			}
			fmt.Fprintf(out, "signing key: %s (new)\n", r.New.ID)
			fmt.Fprintf(out, "retiring:    %s, verifies tokens until %s\n", r.Retired.ID, r.Retired.RetireAfter.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "data directory holding pki/ (required)")
	cmd.Flags().DurationVar(&overlap, "overlap", upMaxTokenExpiration, "how long the old key keeps verifying tokens: at least the longest token lifetime the server issues")
	cmd.Flags().StringVar(&keyType, "key-type", "", "type of the new key: "+keyTypeList()+" (default: the current key's type)")
	cmd.Flags().BoolVar(&prune, "prune", false, "only remove the keys whose overlap has ended")
	return cmd
}
