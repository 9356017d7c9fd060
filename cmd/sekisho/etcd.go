package main

import (
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/etcdmember"
)

func newEtcdCommand() *cobra.Command {
	var pkiDir string
	o := etcdmember.Defaults(filepath.Join(defaultDataDir(), "pki"), filepath.Join(defaultDataDir(), "etcd"))
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run an etcd member (etcd's own code, embedded) with the cluster PKI's etcd certificates",
		Long: `Run a real etcd member: go.etcd.io/etcd/server embedded, with etcd's own flag names,
so etcd's documentation applies as written. By default it serves clients and peers over
TLS with the cluster PKI's etcd/server and etcd/peer certificates, requires client and
peer certificates signed by etcd/ca, and refuses plain http on an address that is not
loopback. Point sekisho at it with --etcd-servers and kubeadm's apiserver-etcd-client
certificate.`,
		Example: `  # one member on this machine
  sekisho etcd
  sekisho up --etcd-servers https://127.0.0.1:2379 \
    --etcd-cafile ~/.local/share/sekisho/pki/etcd/ca.crt \
    --etcd-certfile ~/.local/share/sekisho/pki/apiserver-etcd-client.crt \
    --etcd-keyfile ~/.local/share/sekisho/pki/apiserver-etcd-client.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("pki-dir") {
				d := etcdmember.Defaults(pkiDir, o.DataDir)
				for flag, v := range map[string][2]*string{
					"cert-file": {&o.CertFile, &d.CertFile}, "key-file": {&o.KeyFile, &d.KeyFile}, "trusted-ca-file": {&o.TrustedCAFile, &d.TrustedCAFile},
					"peer-cert-file": {&o.PeerCertFile, &d.PeerCertFile}, "peer-key-file": {&o.PeerKeyFile, &d.PeerKeyFile}, "peer-trusted-ca-file": {&o.PeerTrustedCAFile, &d.PeerTrustedCAFile},
				} {
					if !cmd.Flags().Changed(flag) {
						*v[0] = *v[1]
					}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return etcdmember.Run(ctx, o, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&pkiDir, "pki-dir", filepath.Join(defaultDataDir(), "pki"), "the cluster PKI whose etcd certificates are the defaults")
	fs.StringVar(&o.Name, "name", o.Name, "human-readable name for this member")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "path to the data directory")
	fs.StringSliceVar(&o.ListenClientURLs, "listen-client-urls", o.ListenClientURLs, "URLs to listen on for client traffic")
	fs.StringSliceVar(&o.AdvertiseClientURLs, "advertise-client-urls", o.AdvertiseClientURLs, "client URLs to advertise to the rest of the cluster (default: the listen URLs)")
	fs.StringSliceVar(&o.ListenPeerURLs, "listen-peer-urls", o.ListenPeerURLs, "URLs to listen on for peer traffic")
	fs.StringSliceVar(&o.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", o.InitialAdvertisePeerURLs, "this member's peer URLs to advertise to the rest of the cluster (default: the listen URLs)")
	fs.StringVar(&o.InitialCluster, "initial-cluster", o.InitialCluster, "initial cluster configuration for bootstrapping: name=peer-url,... (default: this member alone)")
	fs.StringVar(&o.InitialClusterState, "initial-cluster-state", o.InitialClusterState, "new, or existing to join a running cluster")
	fs.StringVar(&o.InitialClusterToken, "initial-cluster-token", o.InitialClusterToken, "initial cluster token for the etcd cluster during bootstrap")
	fs.StringVar(&o.CertFile, "cert-file", o.CertFile, "path to the client server TLS cert file")
	fs.StringVar(&o.KeyFile, "key-file", o.KeyFile, "path to the client server TLS key file")
	fs.StringVar(&o.TrustedCAFile, "trusted-ca-file", o.TrustedCAFile, "path to the client server TLS trusted CA cert file")
	fs.BoolVar(&o.ClientCertAuth, "client-cert-auth", o.ClientCertAuth, "require client certificates signed by --trusted-ca-file")
	fs.StringVar(&o.PeerCertFile, "peer-cert-file", o.PeerCertFile, "path to the peer server TLS cert file")
	fs.StringVar(&o.PeerKeyFile, "peer-key-file", o.PeerKeyFile, "path to the peer server TLS key file")
	fs.StringVar(&o.PeerTrustedCAFile, "peer-trusted-ca-file", o.PeerTrustedCAFile, "path to the peer server TLS trusted CA file")
	fs.BoolVar(&o.PeerClientCertAuth, "peer-client-cert-auth", o.PeerClientCertAuth, "require peer certificates signed by --peer-trusted-ca-file")
	return cmd
}
