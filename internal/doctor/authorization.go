package doctor

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/sekisho/sekisho/internal/apiclient"
	sekishov1alpha1 "github.com/sekisho/sekisho/internal/apis/sekisho/v1alpha1"
	"github.com/sekisho/sekisho/internal/authz/rbac"
)

// checkAuthorization asks the server whether the user may run the kubectl
// command given, and on a denial names the missing permission and the
// user's nearest rules.
func checkAuthorization(ctx context.Context, r *Report, k *kubeconfig, user *authenticationv1.UserInfo, o Options) {
	if len(o.Command) == 0 {
		return
	}
	c, err := apiclient.FromConfig(k.cfg)
	if err != nil {
		return
	}
	req, err := parseCommand(ctx, c, o.Command, k.namespace)
	if err != nil {
		r.add(Fail, StepAuthorization, "the command cannot be checked: "+err.Error(), "give a kubectl command, such as: sekisho doctor -- get pods -n dev")
		return
	}
	in := &sekishov1alpha1.SelfAccessReview{Spec: sekishov1alpha1.SelfAccessReviewSpec{ResourceAttributes: req}}
	in.APIVersion, in.Kind = sekishov1alpha1.SchemeGroupVersion.String(), "SelfAccessReview"
	var out sekishov1alpha1.SelfAccessReview
	if err := c.Do(ctx, "POST", "/apis/sekisho.io/v1alpha1/selfaccessreviews", in, &out); err != nil {
		// An API server that is not sekisho: whether, without why.
		allowed, err := selfSubjectAccessReview(ctx, c, req)
		switch {
		case err != nil:
			r.add(Fail, StepAuthorization, "asking the server failed: "+err.Error(), "")
		case allowed:
			r.add(OK, StepAuthorization, fmt.Sprintf("%q may %s", user.Username, describe(req)), "")
		default:
			r.add(Fail, StepAuthorization, fmt.Sprintf("%q may not %s", user.Username, describe(req)), grantFix(user.Username, req))
		}
		return
	}
	st := out.Status
	if st.Allowed {
		how := ""
		if g := st.Grant; g != nil {
			how = fmt.Sprintf(", by %s %q of %s %q", g.Role.Kind, g.Role.Name, g.Binding.Kind, g.Binding.Name)
		}
		r.add(OK, StepAuthorization, fmt.Sprintf("%q may %s%s", user.Username, describe(req), how), "")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q may not %s", user.Username, describe(req))
	if len(st.Nearest) == 0 {
		b.WriteString(": no RoleBinding or ClusterRoleBinding gives this user a rule of this kind")
	} else {
		b.WriteString("; the nearest rules:")
		for _, n := range st.Nearest {
			fmt.Fprintf(&b, "\n         %s of %s %q (bound by %s %q): %s", rbac.FormatRule(n.Rule), n.Role.Kind, n.Role.Name, n.Binding.Kind, n.Binding.Name, strings.Join(n.Differences, "; "))
		}
	}
	r.add(Fail, StepAuthorization, b.String(), grantFix(user.Username, req))
}

func selfSubjectAccessReview(ctx context.Context, c *apiclient.Client, ra *authorizationv1.ResourceAttributes) (bool, error) {
	in := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: ra}}
	var out authorizationv1.SelfSubjectAccessReview
	if err := c.Do(ctx, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", in, &out); err != nil {
		return false, err
	}
	return out.Status.Allowed, nil
}

// grantFix is what an administrator runs to grant the request.
func grantFix(user string, ra *authorizationv1.ResourceAttributes) string {
	res := ra.Resource
	if ra.Subresource != "" {
		res += "/" + ra.Subresource
	}
	if ra.Group != "" {
		res += "." + ra.Group
	}
	role := strings.NewReplacer("/", "-", ".", "-").Replace(ra.Verb + "-" + res)
	if ra.Namespace == "" {
		return fmt.Sprintf("an administrator can grant it: kubectl create clusterrole %s --verb=%s --resource=%s && kubectl create clusterrolebinding %s-%s --clusterrole=%s --user=%s",
			role, ra.Verb, res, role, sanitize(user), role, shellQuote(user))
	}
	return fmt.Sprintf("an administrator can grant it: kubectl -n %s create role %s --verb=%s --resource=%s && kubectl -n %s create rolebinding %s-%s --role=%s --user=%s",
		ra.Namespace, role, ra.Verb, res, ra.Namespace, role, sanitize(user), role, shellQuote(user))
}

// sanitize makes a user name usable in an object name.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func describe(ra *authorizationv1.ResourceAttributes) string {
	return sekishov1alpha1.DescribeRequest(ra, nil)
}

// kubectlVerbs maps kubectl's commands to the request they make: the
// RBAC verb (with a name, and without), and a subresource.
var kubectlVerbs = map[string]struct{ named, collection, sub string }{
	"get":          {"get", "list", ""},
	"describe":     {"get", "list", ""},
	"list":         {"list", "list", ""},
	"watch":        {"watch", "watch", ""},
	"create":       {"create", "create", ""},
	"apply":        {"patch", "create", ""},
	"delete":       {"delete", "deletecollection", ""},
	"edit":         {"patch", "patch", ""},
	"patch":        {"patch", "patch", ""},
	"label":        {"patch", "patch", ""},
	"annotate":     {"patch", "patch", ""},
	"replace":      {"update", "update", ""},
	"update":       {"update", "update", ""},
	"scale":        {"patch", "patch", "scale"},
	"logs":         {"get", "get", "log"},
	"exec":         {"create", "create", "exec"},
	"attach":       {"create", "create", "attach"},
	"port-forward": {"create", "create", "portforward"},
}

// parseCommand turns a kubectl command line (VERB RESOURCE[/NAME] [NAME]
// [-n NS | -A] ...) into the request it makes, resolving the resource
// with the server's discovery as kubectl does.
func parseCommand(ctx context.Context, c *apiclient.Client, args []string, namespace string) (*authorizationv1.ResourceAttributes, error) {
	var pos []string
	allNamespaces, watch := false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" || a == "--namespace":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			namespace, i = args[i+1], i+1
		case strings.HasPrefix(a, "--namespace="):
			namespace = strings.TrimPrefix(a, "--namespace=")
		case strings.HasPrefix(a, "-n") && len(a) > 2:
			namespace = a[2:]
		case a == "-A" || a == "--all-namespaces":
			allNamespaces = true
		case a == "-w" || a == "--watch":
			watch = true
		case a == "--":
			i = len(args)
		case strings.HasPrefix(a, "-"):
			// Other flags (-o yaml, -l app=x, -f file) do not change what
			// is authorized; a value may follow.
			if !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && takesValue(a) {
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 {
		return nil, fmt.Errorf("want VERB RESOURCE[/NAME], got %q", strings.Join(args, " "))
	}
	verb, target := pos[0], pos[1]
	resource, name, _ := strings.Cut(target, "/")
	if name == "" && len(pos) > 2 {
		name = pos[2]
	}
	ra := &authorizationv1.ResourceAttributes{Name: name}
	if v, ok := kubectlVerbs[verb]; ok {
		ra.Verb, ra.Subresource = v.collection, v.sub
		if name != "" {
			ra.Verb = v.named
		}
		if verb == "logs" || verb == "exec" || verb == "attach" || verb == "port-forward" {
			// kubectl logs POD: the first word is the pod.
			if name == "" {
				ra.Name = resource
			}
			resource = "pods"
		}
	} else {
		ra.Verb = verb
	}
	if watch {
		ra.Verb = "watch"
	}
	resources, err := c.Resources(ctx)
	if err != nil {
		return nil, err
	}
	found, ok := apiclient.FindResource(resources, resource)
	if !ok {
		return nil, fmt.Errorf("the server has no resource type %q", resource)
	}
	ra.Group, ra.Version, ra.Resource = found.GroupVersion.Group, found.GroupVersion.Version, found.Name
	if found.Namespaced && !allNamespaces {
		ra.Namespace = namespace
	}
	return ra, nil
}

func takesValue(flag string) bool {
	switch flag {
	case "-o", "--output", "-l", "--selector", "-f", "--filename", "-c", "--container", "--field-selector", "--sort-by", "--template":
		return true
	}
	return false
}
