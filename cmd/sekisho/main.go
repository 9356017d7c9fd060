// Command sekisho is the security core of a Kubernetes cluster: it builds the
// cluster PKI and serves a Kubernetes-compatible API.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		if msg := oneLine(err); msg != "" {
			fmt.Fprintf(os.Stderr, "sekisho: %s\n", msg)
		}
		code := 1
		var ec exitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		os.Exit(code)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "sekisho",
		Short:         "The security core of a Kubernetes cluster: PKI, authentication, authorization, admission and audit",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(
		newVersionCommand(),
		newCertsCommand(),
		newKubeconfigCommand(),
		newUpCommand(),
		newServeCommand(),
		newTokenCommand(),
		newDoctorCommand(),
		newRBACCommand(),
		newAuditCommand(),
		newEncryptionCommand(),
		newKMSPluginCommand(),
		newEtcdCommand(),
	)
	return root
}

// exitCoder lets an error choose the process exit status.
type exitCoder interface{ ExitCode() int }

// oneLine folds a multi-error into a single line, so every CLI failure is
// one line naming what is wrong.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
