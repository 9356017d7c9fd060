package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/doctor"
)

func newDoctorCommand() *cobra.Command {
	var (
		cf     clientFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "doctor [-- KUBECTL-COMMAND...]",
		Short: "Say why kubectl cannot connect, authenticate or act, and how to fix it",
		Long: `Walk the path of a request made with a kubeconfig, step by step: the kubeconfig, the
server address, the connection, TLS (the server's certificate, then the client's), the
credential, the identity the server sees, and, given a kubectl command after --, whether
that identity may run it. Each failure names its cause and its fix, as a command where
there is one. When the server refuses a credential, doctor asks it why: the server tells
the holder of that same credential, and nobody else.

Exits 0 when every check passed, 1 when one failed, 2 when some only warned.`,
		Example: `  sekisho doctor
  sekisho doctor --kubeconfig user01.conf -- get pods -n dev
  sekisho doctor -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n > 0 || (n < 0 && len(args) > 0) {
				return fmt.Errorf("unexpected argument %q: put the kubectl command to check after --", args[0])
			}
			if output != "" && output != "json" {
				return fmt.Errorf("-o %q: want json", output)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			rep := doctor.Run(ctx, doctor.Options{Kubeconfig: cf.kubeconfig, Context: cf.context, Now: time.Now(), Command: args})
			if output == "json" {
				if err := rep.PrintJSON(cmd.OutOrStdout()); err != nil {
					return err
				}
			} else {
				rep.Print(cmd.OutOrStdout())
			}
			if code := rep.ExitCode(); code != 0 {
				return silentExit(code)
			}
			return nil
		},
	}
	cf.bind(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: the results as JSON, for monitoring")
	return cmd
}
