package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/doctor"
)

// doctorFailed makes `sekisho doctor` exit non-zero after printing its report.
type doctorFailed struct{}

func (doctorFailed) Error() string { return "some checks failed; see above" }

func newDoctorCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose why kubectl cannot connect or authenticate, and say how to fix it",
		Long: `Walk the client side of a connection with a kubeconfig: the server address resolves and
accepts connections; TLS verifies against the kubeconfig's CA; the client certificate is
valid, has the clientAuth usage and comes from a CA the server accepts; a token is present and
unexpired; and finally ask the server who it thinks you are. Exits non-zero if any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep := doctor.Run(ctx, doctor.Options{Kubeconfig: cf.kubeconfig, Context: cf.context, Now: time.Now()})
			rep.Print(cmd.OutOrStdout())
			if rep.Failed() {
				return doctorFailed{}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "all checks passed")
			return nil
		},
	}
	cf.bind(cmd.Flags())
	return cmd
}
