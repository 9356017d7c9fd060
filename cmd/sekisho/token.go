package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/apiclient"
	"github.com/sekisho/sekisho/internal/bootstraptoken"
	"github.com/sekisho/sekisho/internal/catalog"
)

// clientFlags are how a command reaches the API server, as kubectl's.
type clientFlags struct{ kubeconfig, context string }

func (f *clientFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context (default: the current one)")
}

func (f *clientFlags) client() (*apiclient.Client, error) {
	return apiclient.New(f.kubeconfig, f.context)
}

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bootstrap tokens, with which nodes join the cluster",
	}
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenDeleteCommand())
	return cmd
}

const bootstrapSecretsPath = "/api/v1/namespaces/kube-system/secrets"

func newTokenCreateCommand() *cobra.Command {
	var (
		cf          clientFlags
		ttl         time.Duration
		groups      []string
		usages      []string
		description string
	)
	cmd := &cobra.Command{
		Use:   "create [TOKEN]",
		Short: "Create a bootstrap token and print it",
		Long: `Create a bootstrap token as a Secret in kube-system and print the token alone on stdout,
as kubeadm does. TOKEN may be given in the form [a-z0-9]{6}.[a-z0-9]{16}; by default one is
generated.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return fmt.Errorf("--ttl: must not be negative, got %s", ttl)
			}
			if err := bootstraptoken.ValidateGroups(groups); err != nil {
				return fmt.Errorf("--groups: %w", err)
			}
			if err := bootstraptoken.ValidateUsages(usages); err != nil {
				return fmt.Errorf("--usages: %w", err)
			}
			t, err := bootstraptoken.Generate()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				id, secret, ok := bootstraptoken.Parse(args[0])
				if !ok {
					return fmt.Errorf("token %q: want the form [a-z0-9]{6}.[a-z0-9]{16}", args[0])
				}
				t.ID, t.Secret = id, secret
			}
			t.Usages, t.Groups, t.Description = usages, groups, description
			if ttl > 0 {
				exp := time.Now().Add(ttl)
				t.Expiration = &exp
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.Do(context.Background(), "POST", bootstrapSecretsPath, t.ToSecret(), nil); err != nil {
				return fmt.Errorf("create token: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.String())
			return nil
		},
	}
	fs := cmd.Flags()
	cf.bind(fs)
	fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid (0: never expires)")
	fs.StringSliceVar(&groups, "groups", []string{bootstraptoken.DefaultExtraGroup}, "extra groups of the token's user, each system:bootstrappers:...")
	fs.StringSliceVar(&usages, "usages", []string{bootstraptoken.UsageSigning, bootstraptoken.UsageAuthentication}, "what the token may be used for: signing, authentication")
	fs.StringVar(&description, "description", "", "a human-readable note on what the token is for")
	return cmd
}

func newTokenListCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the bootstrap tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var list corev1.SecretList
			q := url.Values{"fieldSelector": {"type=" + string(corev1.SecretTypeBootstrapToken)}}
			if err := c.Do(context.Background(), "GET", bootstrapSecretsPath+"?"+q.Encode(), nil, &list); err != nil {
				return fmt.Errorf("list tokens: %w", err)
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
			for i := range list.Items {
				list.Items[i].Namespace = metav1.NamespaceSystem
				t, err := bootstraptoken.FromSecret(&list.Items[i])
				if err != nil {
					continue
				}
				ttl, expires := "<forever>", "<never>"
				if t.Expiration != nil {
					ttl = catalog.HumanDuration(t.Expiration.Sub(now))
					expires = t.Expiration.UTC().Format(time.RFC3339)
				}
				desc := t.Description
				if desc == "" {
					desc = "<none>"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t, ttl, expires, strings.Join(t.Usages, ","), desc, strings.Join(t.Groups, ","))
			}
			return tw.Flush()
		},
	}
	cf.bind(cmd.Flags())
	return cmd
}

func newTokenDeleteCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "delete TOKEN-ID|TOKEN...",
		Short: "Delete bootstrap tokens",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			for _, a := range args {
				id := a
				if tid, _, ok := bootstraptoken.Parse(a); ok {
					id = tid
				}
				if len(id) != 6 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
					return fmt.Errorf("%q is neither a token id ([a-z0-9]{6}) nor a token", a)
				}
				if err := c.Do(context.Background(), "DELETE", bootstrapSecretsPath+"/"+bootstraptoken.SecretPrefix+id, nil, nil); err != nil {
					return fmt.Errorf("delete token %s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "bootstrap token %q deleted\n", id)
			}
			return nil
		},
	}
	cf.bind(cmd.Flags())
	return cmd
}
