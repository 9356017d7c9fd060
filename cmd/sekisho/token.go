package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenDeleteCommand(), newTokenRevokeJoinedCommand())
	return cmd
}

const bootstrapSecretsPath = "/api/v1/namespaces/kube-system/secrets"

// tokenSecret is a bootstrap token and the Secret it is kept in.
type tokenSecret struct {
	secret *corev1.Secret
	token  bootstraptoken.Token
}

// listBootstrapTokens reads the bootstrap token Secrets; malformed ones
// are left out.
func listBootstrapTokens(ctx context.Context, c *apiclient.Client) ([]tokenSecret, error) {
	var list corev1.SecretList
	q := url.Values{"fieldSelector": {"type=" + string(corev1.SecretTypeBootstrapToken)}}
	if err := c.Do(ctx, "GET", bootstrapSecretsPath+"?"+q.Encode(), nil, &list); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	var out []tokenSecret
	for i := range list.Items {
		sec := &list.Items[i]
		sec.Namespace = metav1.NamespaceSystem
		if t, err := bootstraptoken.FromSecret(sec); err == nil {
			out = append(out, tokenSecret{sec, t})
		}
	}
	return out, nil
}

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
			tokens, err := listBootstrapTokens(context.Background(), c)
			if err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
			for _, ts := range tokens {
				t := ts.token
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

func newTokenRevokeJoinedCommand() *cobra.Command {
	var (
		cf     clientFlags
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "revoke-joined",
		Short: "Delete the bootstrap tokens whose nodes have all joined",
		Long: `Delete each bootstrap token that nodes have joined with, once every such node is registered.
A node joined with a token when its kubelet client certificate request, made as
system:bootstrap:<token id>, was approved: sekisho's approver records the node on the
token's Secret (annotation ` + bootstraptoken.AnnotationJoinedNodes + `), and requests not yet cleaned
up count too. A token no node has used is kept, as is one whose nodes have not all
registered. A token changed while this runs is kept; run it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx := context.Background()
			tokens, err := listBootstrapTokens(ctx, c)
			if err != nil {
				return err
			}
			var csrs certificatesv1.CertificateSigningRequestList
			if err := c.Do(ctx, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", nil, &csrs); err != nil {
				return fmt.Errorf("list certificate signing requests: %w", err)
			}
			var nodes corev1.NodeList
			if err := c.Do(ctx, "GET", "/api/v1/nodes", nil, &nodes); err != nil {
				return fmt.Errorf("list nodes: %w", err)
			}
			registered := map[string]bool{}
			for _, n := range nodes.Items {
				registered[n.Name] = true
			}
			out := cmd.OutOrStdout()
			for _, ts := range tokens {
				sec, t := ts.secret, ts.token
				joined := joinedWith(sec, t.ID, csrs.Items)
				var waiting []string
				for _, n := range joined {
					if !registered[n] {
						waiting = append(waiting, n)
					}
				}
				switch {
				case len(joined) == 0:
					fmt.Fprintf(out, "kept %s: no node has joined with it\n", t.ID)
					continue
				case len(waiting) > 0:
					fmt.Fprintf(out, "kept %s: %s not registered yet\n", t.ID, strings.Join(waiting, ", "))
					continue
				case dryRun:
					fmt.Fprintf(out, "would delete %s: %s joined\n", t.ID, strings.Join(joined, ", "))
					continue
				}
				// Only the Secret this decision read: a node recorded since
				// makes the delete fail, and the token stays.
				opts := metav1.DeleteOptions{TypeMeta: metav1.TypeMeta{Kind: "DeleteOptions", APIVersion: "v1"},
					Preconditions: &metav1.Preconditions{UID: &sec.UID, ResourceVersion: &sec.ResourceVersion}}
				err = c.Do(ctx, "DELETE", bootstrapSecretsPath+"/"+sec.Name, &opts, nil)
				switch {
				case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
					fmt.Fprintf(out, "kept %s: it changed meanwhile; run again\n", t.ID)
				case err != nil:
					return fmt.Errorf("delete token %s: %w", t.ID, err)
				default:
					fmt.Fprintf(out, "deleted %s: %s joined\n", t.ID, strings.Join(joined, ", "))
				}
			}
			return nil
		},
	}
	cf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be deleted, and delete nothing")
	return cmd
}

// joinedWith lists the nodes that joined with token id: those recorded on
// its Secret, and those named by the approved kubelet client requests its
// bootstrap user made.
func joinedWith(sec *corev1.Secret, id string, csrs []certificatesv1.CertificateSigningRequest) []string {
	nodes := bootstraptoken.JoinedNodes(sec)
	for _, csr := range csrs {
		if csr.Spec.Username != bootstraptoken.UserPrefix+id || csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName ||
			!slices.ContainsFunc(csr.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool {
				return c.Type == certificatesv1.CertificateApproved
			}) {
			continue
		}
		block, _ := pem.Decode(csr.Spec.Request)
		if block == nil {
			continue
		}
		cr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			continue
		}
		if node, ok := strings.CutPrefix(cr.Subject.CommonName, "system:node:"); ok && !slices.Contains(nodes, node) {
			nodes = append(nodes, node)
		}
	}
	slices.Sort(nodes)
	return nodes
}
