package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/kmsplugin"
	"github.com/sekisho/sekisho/internal/reload"
)

func newKMSPluginCommand() *cobra.Command {
	var listen, keyFile string
	cmd := &cobra.Command{
		Use:   "kms-plugin",
		Short: "Run a KMS v2 plugin that wraps data keys with keys from a file, for development and tests",
		Long: `Run a KMS v2 plugin (the k8s.io/kms gRPC API) on a unix socket. It wraps the API
server's data keys with AES-256-GCM keys read from --key-file (0600), one a line:

  <key id> <base64 of 32 random bytes>

The first line's key wraps new data keys; every key listed unwraps. Put a new line
first to rotate: the plugin reloads the file, and API servers pick up the new key id
within seconds and re-encrypt. This is a reference plugin: the keys sit in a file
beside the server. A production cluster puts a KMS or an HSM behind the same API.

In the EncryptionConfiguration:

  - kms: {apiVersion: v2, name: dev, endpoint: unix:///path/to/kms.sock}`,
		Example: `  echo "key-1 $(head -c 32 /dev/urandom | base64)" > kms-keys && chmod 600 kms-keys
  sekisho kms-plugin --listen /run/sekisho/kms.sock --key-file kms-keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" || keyFile == "" {
				return fmt.Errorf("--listen and --key-file are required")
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p := &kmsplugin.Plugin{Log: log}
			f := &reload.File{Path: keyFile, Log: log, Interval: time.Second, Load: func(data []byte, _ bool) error {
				if err := encryption.CheckPrivate(keyFile); err != nil {
					return err
				}
				if err := p.SetKeys(data); err != nil {
					return fmt.Errorf("%s: %w", keyFile, err)
				}
				return nil
			}}
			if err := f.Start(ctx); err != nil {
				return fmt.Errorf("--key-file: %w", err)
			}
			log.Info("KMS v2 plugin serving", "socket", listen, "keyFile", keyFile)
			return p.Serve(ctx, listen)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "the unix socket to serve on (made 0600)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the key-encryption keys, one \"<key id> <base64 of 32 bytes>\" a line, the current one first (0600)")
	return cmd
}
