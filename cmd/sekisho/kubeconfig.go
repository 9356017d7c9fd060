package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/atomicfile"
	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/pki"
)

func newKubeconfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Write kubeconfig files",
	}
	cmd.AddCommand(newKubeconfigUserCommand())
	return cmd
}

func newKubeconfigUserCommand() *cobra.Command {
	var (
		o       clusterpki.UserOptions
		keyType string
		out     string
	)
	cmd := &cobra.Command{
		Use:   "user --dir DIR --client-name NAME",
		Short: "Issue a short-lived client certificate from the cluster CA and write a kubeconfig for it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				return fmt.Errorf("--dir is required")
			}
			o.KeyType = pki.KeyType(keyType)
			o.Now = time.Now()
			data, err := clusterpki.UserKubeconfig(o)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := atomicfile.WriteFile(out, data, clusterpki.ModeKey); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s for user %q\n", out, o.ClientName)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", "", "data directory holding pki/ca.{crt,key} (required)")
	fs.StringVar(&o.ClientName, "client-name", "", "user name: the certificate's CN (required)")
	fs.StringSliceVar(&o.Orgs, "org", nil, "group: a certificate O; repeatable")
	fs.DurationVar(&o.Validity, "validity", 24*time.Hour, "how long the certificate is valid")
	fs.StringVar(&o.Server, "server", "", "API server URL (default: the server of DIR/admin.conf)")
	fs.BoolVar(&o.AllowSystemMasters, "allow-system-masters", false, "permit --org system:masters, which bypasses authorization: RBAC cannot take its rights away, only sekisho certs revoke can")
	fs.StringVar(&keyType, "key-type", string(pki.ECDSAP256), "key type: "+keyTypeList())
	fs.StringVar(&out, "out", "", "write the kubeconfig to this file (mode 0600) instead of stdout")
	return cmd
}
