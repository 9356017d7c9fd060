package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/sekisho/sekisho/internal/apiclient"
	sekishov1alpha1 "github.com/sekisho/sekisho/internal/apis/sekisho/v1alpha1"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

func newRBACCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Ask RBAC who can do something, and why a user can or cannot",
	}
	cmd.AddCommand(newWhoCanCommand(), newExplainCommand())
	return cmd
}

// requestFlags describe the request asked about, with kubectl auth can-i's
// flags.
type requestFlags struct {
	cf            clientFlags
	namespace     string
	allNamespaces bool
	name          string
	subresource   string
	output        string
}

func (f *requestFlags) bind(fs *pflag.FlagSet) {
	f.cf.bind(fs)
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the request (default: the context's)")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "ask about every namespace: only cluster-wide grants count")
	fs.StringVar(&f.name, "name", "", "name of the object (or give RESOURCE/NAME)")
	fs.StringVar(&f.subresource, "subresource", "", "subresource, such as log or status")
	fs.StringVarP(&f.output, "output", "o", "", "json for the whole AccessReview")
}

// spec turns VERB and RESOURCE[/NAME] or a path into the review's spec,
// resolving the resource with the server's discovery as kubectl does.
func (f *requestFlags) spec(ctx context.Context, c *apiclient.Client, errOut io.Writer, verb, target string) (sekishov1alpha1.AccessReviewSpec, error) {
	if strings.HasPrefix(target, "/") {
		if f.name != "" || f.subresource != "" {
			return sekishov1alpha1.AccessReviewSpec{}, errors.New("--name and --subresource apply to resources, not to paths")
		}
		return sekishov1alpha1.AccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: verb, Path: target}}, nil
	}
	resource, name, _ := strings.Cut(target, "/")
	if f.name != "" {
		if name != "" && name != f.name {
			return sekishov1alpha1.AccessReviewSpec{}, fmt.Errorf("%s names %q but --name is %q", target, name, f.name)
		}
		name = f.name
	}
	resources, err := c.Resources(ctx)
	if err != nil {
		return sekishov1alpha1.AccessReviewSpec{}, err
	}
	ra := &authorizationv1.ResourceAttributes{Verb: verb, Name: name, Subresource: f.subresource}
	namespaced := true
	if r, ok := apiclient.FindResource(resources, resource); ok {
		ra.Group, ra.Resource, namespaced = r.GroupVersion.Group, r.Name, r.Namespaced
	} else {
		// As kubectl auth can-i: warn, and ask about the name as typed.
		fmt.Fprintf(errOut, "Warning: the server doesn't have a resource type %q\n", resource)
		ra.Resource, ra.Group, _ = strings.Cut(resource, ".")
	}
	switch {
	case !namespaced || f.allNamespaces:
	case f.namespace != "":
		ra.Namespace = f.namespace
	default:
		ra.Namespace = apiclient.Namespace(f.cf.kubeconfig, f.cf.context)
	}
	return sekishov1alpha1.AccessReviewSpec{ResourceAttributes: ra}, nil
}

func review(ctx context.Context, c *apiclient.Client, spec sekishov1alpha1.AccessReviewSpec) (*sekishov1alpha1.AccessReview, error) {
	in := &sekishov1alpha1.AccessReview{Spec: spec}
	in.APIVersion, in.Kind = sekishov1alpha1.SchemeGroupVersion.String(), "AccessReview"
	out := &sekishov1alpha1.AccessReview{}
	if err := c.Do(ctx, "POST", "/apis/sekisho.io/v1alpha1/accessreviews", in, out); err != nil {
		return nil, err
	}
	return out, nil
}

func newWhoCanCommand() *cobra.Command {
	var f requestFlags
	cmd := &cobra.Command{
		Use:   "who-can VERB (RESOURCE[/NAME] | /PATH)",
		Short: "List every user, group and service account RBAC allows to make a request",
		Long: `List every subject that a RoleBinding or ClusterRoleBinding allows to make the request,
with the binding and role that allow it, answered by the server from its RBAC index.
Members of system:masters are always allowed, before RBAC is asked. Other authorizers
(Node, Webhook) may allow more; who-can answers for RBAC.`,
		Example: `  sekisho rbac who-can delete pods -n prod
  sekisho rbac who-can get secrets/db-password -n prod
  sekisho rbac who-can get pods --subresource log
  sekisho rbac who-can get /metrics`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			c, err := f.cf.client()
			if err != nil {
				return err
			}
			spec, err := f.spec(ctx, c, cmd.ErrOrStderr(), args[0], args[1])
			if err != nil {
				return err
			}
			out, err := review(ctx, c, spec)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			printWhoCan(cmd.OutOrStdout(), out)
			return nil
		},
	}
	f.bind(cmd.Flags())
	return cmd
}

func printWhoCan(w io.Writer, r *sekishov1alpha1.AccessReview) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSUBJECT\tBINDING\tROLE")
	for _, g := range r.Status.AlwaysAllowedGroups {
		fmt.Fprintf(tw, "Group\t%s\t(always allowed, before RBAC)\t\n", g)
	}
	for _, g := range r.Status.Subjects {
		// A group allowed before RBAC is listed once, above, even when a
		// binding names it too (cluster-admin names system:masters).
		if g.Subject.Kind == rbacv1.GroupKind && slices.Contains(r.Status.AlwaysAllowedGroups, g.Subject.Name) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Subject.Kind, subject(g.Subject), ref(g.Binding), ref(g.Role))
	}
	tw.Flush()
}

func subject(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

func ref(r sekishov1alpha1.ObjectReference) string {
	if r.Namespace != "" {
		return r.Kind + "/" + r.Name + " -n " + r.Namespace
	}
	return r.Kind + "/" + r.Name
}

func newExplainCommand() *cobra.Command {
	var (
		f      requestFlags
		as     string
		groups []string
	)
	cmd := &cobra.Command{
		Use:   "explain --as USER [--as-group GROUP]... VERB (RESOURCE[/NAME] | /PATH)",
		Short: "Say which binding and rule allow a user's request, or which rules came nearest",
		Long: `Ask the server to decide a request for a user and explain the decision: the
RoleBinding or ClusterRoleBinding, role and rule that allow it or, on a denial, the
user's rules that come nearest, each with what it lacks. As with kubectl --as, the
user is also in system:authenticated (and a service account in its groups); give
--as-group for the rest. Exits 1 when the request is denied, as kubectl auth can-i does.`,
		Example: `  sekisho rbac explain --as alice delete pods -n dev
  sekisho rbac explain --as system:serviceaccount:ci:deployer patch leases.coordination.k8s.io -n prod`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if as == "" {
				return errors.New("--as is required: whose request to explain")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			c, err := f.cf.client()
			if err != nil {
				return err
			}
			spec, err := f.spec(ctx, c, cmd.ErrOrStderr(), args[0], args[1])
			if err != nil {
				return err
			}
			spec.User, spec.Groups = as, impersonatedGroups(as, groups)
			out, err := review(ctx, c, spec)
			if err != nil {
				return err
			}
			if f.output == "json" {
				if err := printJSON(cmd.OutOrStdout(), out); err != nil {
					return err
				}
			} else {
				printExplanation(cmd.OutOrStdout(), out)
			}
			if !out.Status.Allowed {
				return silentExit(1)
			}
			return nil
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVar(&as, "as", "", "user whose request to explain")
	cmd.Flags().StringSliceVar(&groups, "as-group", nil, "a group of the user; repeatable")
	return cmd
}

// impersonatedGroups are the groups the server gives an impersonated user:
// those asked for, a service account's groups, and system:authenticated.
func impersonatedGroups(user string, groups []string) []string {
	out := slices.Clone(groups)
	if rest, ok := strings.CutPrefix(user, "system:serviceaccount:"); ok {
		if ns, _, ok := strings.Cut(rest, ":"); ok {
			out = append(out, "system:serviceaccounts", "system:serviceaccounts:"+ns)
		}
	}
	switch {
	case user == authn.UserAnonymous:
		out = append(out, authn.GroupUnauthenticated)
	case !slices.Contains(out, authn.GroupAuthenticated):
		out = append(out, authn.GroupAuthenticated)
	}
	return out
}

func printExplanation(w io.Writer, r *sekishov1alpha1.AccessReview) {
	st := r.Status
	who := fmt.Sprintf("%q (groups %s)", r.Spec.User, strings.Join(r.Spec.Groups, ", "))
	if st.Allowed {
		fmt.Fprintf(w, "allowed: %s may %s\n", who, describeRequest(r.Spec))
		switch {
		case st.Grant != nil:
			g := st.Grant
			fmt.Fprintf(w, "  by rule %s\n  of %s\n  bound to %s %q by %s\n",
				rbac.FormatRule(g.Rule), refText(g.Role), g.Subject.Kind, subject(g.Subject), refText(g.Binding))
		case st.Reason != "":
			fmt.Fprintf(w, "  reason: %s\n", st.Reason)
		}
		return
	}
	fmt.Fprintf(w, "denied: %s may not %s\n", who, describeRequest(r.Spec))
	if st.Reason != "" {
		fmt.Fprintf(w, "  the authorizers said: %s\n", st.Reason)
	}
	if len(st.Nearest) == 0 {
		fmt.Fprintln(w, "  no binding gives this user any rule of this kind")
		return
	}
	fmt.Fprintln(w, "nearest rules:")
	for _, n := range st.Nearest {
		fmt.Fprintf(w, "  %s\n    of %s, bound to %s %q by %s\n", rbac.FormatRule(n.Rule), refText(n.Role), n.Subject.Kind, subject(n.Subject), refText(n.Binding))
		for _, d := range n.Differences {
			fmt.Fprintf(w, "    - %s\n", d)
		}
	}
}

func refText(r sekishov1alpha1.ObjectReference) string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s %q in namespace %q", r.Kind, r.Name, r.Namespace)
	}
	return fmt.Sprintf("%s %q", r.Kind, r.Name)
}

func describeRequest(s sekishov1alpha1.AccessReviewSpec) string {
	return sekishov1alpha1.DescribeRequest(s.ResourceAttributes, s.NonResourceAttributes)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// silentExit ends the command with a status and no message, as kubectl
// auth can-i does on "no".
type silentExit int

func (e silentExit) Error() string { return "" }

// ExitCode implements exitCoder.
func (e silentExit) ExitCode() int { return int(e) }
