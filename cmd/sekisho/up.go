package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/clusterpki"
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

func newUpCommand() *cobra.Command {
	var f pkiFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build the cluster PKI in a data directory and serve the API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "data directory: %s\n", f.dir)
			o, err := f.options()
			if err != nil {
				return err
			}
			r, err := clusterpki.Init(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "PKI ready: %d files written, %d kept\n", len(r.Written), len(r.Kept))
			fmt.Fprintf(out, "admin kubeconfig: %s\n", filepath.Join(f.dir, "super-admin.conf"))
			fmt.Fprintln(out, "The API server is not built yet; `up` stops after the PKI.")
			return nil
		},
	}
	cmd.Flags().StringVar(&f.dir, "data-dir", defaultDataDir(), "data directory for the PKI, kubeconfigs and storage")
	f.bind(cmd.Flags(), false)
	return cmd
}
