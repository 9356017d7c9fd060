package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
)

// canI runs kubectl auth can-i as kubeconfig and returns kubectl's answer
// ("yes", "no", or "no - reason"), checking the exit status matches.
func (s *server) canI(kubeconfig string, args ...string) string {
	s.t.Helper()
	r := s.kubectlAs(kubeconfig, append([]string{"auth", "can-i"}, args...)...)
	answer := strings.TrimSpace(r.stdout)
	switch {
	case r.code == 0 && answer == "yes":
	case r.code == 1 && strings.HasPrefix(answer, "no"):
	default:
		s.t.Fatalf("kubectl auth can-i %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return answer
}

// TestRBACWithKubectl creates roles and bindings with kubectl and checks
// kubectl auth can-i for each RBAC rule form, as kube-apiserver answers it.
func TestRBACWithKubectl(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	k := func(args ...string) string {
		t.Helper()
		return s.mustKubectlAs(admin, args...)
	}
	for _, ns := range []string{"dev", "prod"} {
		k("create", "namespace", ns)
	}
	k("-n", "dev", "create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,pods/log")
	k("-n", "dev", "create", "rolebinding", "alice-reads", "--role=pod-reader", "--user=alice")
	k("-n", "dev", "create", "role", "cm-one", "--verb=get,update", "--resource=configmaps", "--resource-name=app-config")
	k("-n", "dev", "create", "rolebinding", "alice-cm", "--role=cm-one", "--user=alice")
	k("create", "clusterrole", "deployer", "--verb=*", "--resource=networkpolicies.networking.k8s.io,*/status")
	k("-n", "prod", "create", "rolebinding", "ops-deploy", "--clusterrole=deployer", "--group=ops")
	k("create", "clusterrole", "logs-reader", "--verb=get", "--non-resource-url=/logs/*,/metrics")
	k("create", "clusterrolebinding", "ops-logs", "--clusterrole=logs-reader", "--group=ops")
	k("create", "clusterrole", "everything-in-coordination", "--verb=list", "--resource=*.coordination.k8s.io")
	k("create", "clusterrolebinding", "robot-leases", "--clusterrole=everything-in-coordination", "--serviceaccount=dev:robot")
	// Only a subresource; only a subresource of one named object.
	k("-n", "dev", "create", "role", "log-only", "--verb=get", "--resource=pods/log")
	k("-n", "dev", "create", "rolebinding", "dave-logs", "--role=log-only", "--user=dave")
	k("-n", "dev", "create", "role", "web-logs", "--verb=get", "--resource=pods/log", "--resource-name=web")
	k("-n", "dev", "create", "rolebinding", "erin-web-logs", "--role=web-logs", "--user=erin")

	cases := []struct {
		as   []string
		args []string
		want string
	}{
		// Verbs, and a role bound in one namespace only.
		{[]string{"--as", "alice"}, []string{"list", "pods", "-n", "dev"}, "yes"},
		{[]string{"--as", "alice"}, []string{"watch", "pods", "-n", "dev"}, "yes"},
		{[]string{"--as", "alice"}, []string{"delete", "pods", "-n", "dev"}, "no"},
		{[]string{"--as", "alice"}, []string{"list", "pods", "-n", "prod"}, "no"},
		{[]string{"--as", "alice"}, []string{"list", "pods", "-A"}, "no"},
		// Subresources: pods/log granted, pods/exec not.
		{[]string{"--as", "alice"}, []string{"get", "pods", "--subresource", "log", "-n", "dev"}, "yes"},
		{[]string{"--as", "alice"}, []string{"get", "pods", "--subresource", "exec", "-n", "dev"}, "no"},
		// resourceNames: one ConfigMap by name, and not a list.
		{[]string{"--as", "alice"}, []string{"get", "configmaps/app-config", "-n", "dev"}, "yes"},
		{[]string{"--as", "alice"}, []string{"update", "configmaps/app-config", "-n", "dev"}, "yes"},
		{[]string{"--as", "alice"}, []string{"get", "configmaps/other", "-n", "dev"}, "no"},
		{[]string{"--as", "alice"}, []string{"list", "configmaps", "-n", "dev"}, "no"},
		// A RoleBinding to a ClusterRole grants only in its namespace; groups
		// from --as-group; "*" verbs; apiGroups; "*/status".
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"delete", "networkpolicies.networking.k8s.io", "-n", "prod"}, "yes"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"patch", "netpol", "-n", "prod"}, "yes"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"delete", "networkpolicies", "-n", "dev"}, "no"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"update", "pods", "--subresource", "status", "-n", "prod"}, "yes"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"patch", "services", "--subresource", "status", "-n", "prod"}, "yes"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"update", "pods", "-n", "prod"}, "no"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"update", "leases.coordination.k8s.io", "--subresource", "status", "-n", "prod"}, "no"},
		{[]string{"--as", "bob"}, []string{"delete", "networkpolicies", "-n", "prod"}, "no"},
		// Non-resource URLs, exact and with a trailing "*".
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"get", "/logs/kube-apiserver.log"}, "yes"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"get", "/metrics"}, "yes"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"get", "/metrics/slis"}, "no"},
		{[]string{"--as", "bob", "--as-group", "ops"}, []string{"post", "/logs/x"}, "no"},
		// A ServiceAccount subject; every resource of a group.
		{[]string{"--as", "system:serviceaccount:dev:robot"}, []string{"list", "leases.coordination.k8s.io", "-A"}, "yes"},
		{[]string{"--as", "system:serviceaccount:dev:robot"}, []string{"list", "pods", "-n", "dev"}, "no"},
		{[]string{"--as", "system:serviceaccount:prod:robot"}, []string{"list", "leases.coordination.k8s.io", "-A"}, "no"},
		// The default policy: every authenticated user may discover and review itself.
		{[]string{"--as", "carol"}, []string{"get", "/api"}, "yes"},
		{[]string{"--as", "carol"}, []string{"create", "selfsubjectaccessreviews.authorization.k8s.io"}, "yes"},
		{[]string{"--as", "carol"}, []string{"get", "secrets", "-n", "kube-system"}, "no"},
		// admin.conf's group is bound to cluster-admin.
		{nil, []string{"*", "*"}, "yes"},
	}
	for _, c := range cases {
		if got := s.canI(admin, append(c.args, c.as...)...); got != c.want {
			t.Errorf("can-i %s %s = %q, want %q", strings.Join(c.args, " "), strings.Join(c.as, " "), got, c.want)
		}
	}

	// --list, as alice in dev.
	list := s.kubectlAs(admin, "auth", "can-i", "--list", "-n", "dev", "--as", "alice").stdout
	for _, want := range []string{
		"pods/log   ", "[get list watch]", "configmaps", "[app-config]", "[get update]",
		"selfsubjectaccessreviews.authorization.k8s.io", "[/api]",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("can-i --list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "networkpolicies") {
		t.Errorf("can-i --list in dev shows prod's grants:\n%s", list)
	}

	// A 403 names the request exactly as Kubernetes does.
	r := s.kubectlAs(admin, "get", "pods", "-n", "kube-system", "--as", "user01")
	if r.code == 0 || !strings.Contains(r.stderr, `Error from server (Forbidden): pods is forbidden: User "user01" cannot list resource "pods" in API group "" in the namespace "kube-system"`) {
		t.Errorf("forbidden list: %d %s", r.code, r.stderr)
	}

	// SubjectAccessReview and LocalSubjectAccessReview through kubectl create.
	sar := writeFile(t, "sar.yaml", `apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  user: alice
  resourceAttributes: {namespace: dev, verb: list, resource: pods}
`)
	out := k("create", "-f", sar, "-o", "jsonpath={.status.allowed} {.status.reason}")
	if out != `true RBAC: allowed by RoleBinding "alice-reads/dev" of Role "pod-reader" to User "alice"` {
		t.Errorf("SubjectAccessReview: %s", out)
	}
	lsar := writeFile(t, "lsar.yaml", `apiVersion: authorization.k8s.io/v1
kind: LocalSubjectAccessReview
metadata: {namespace: prod}
spec:
  user: alice
  resourceAttributes: {namespace: dev, verb: list, resource: pods}
`)
	r = s.kubectlAs(admin, "create", "-f", lsar)
	if r.code == 0 || !strings.Contains(r.stderr, "spec.resourceAttributes.namespace: Invalid value: \"dev\": must match metadata.namespace") {
		t.Errorf("LocalSubjectAccessReview across namespaces: %d %s", r.code, r.stderr)
	}
	bad := writeFile(t, "bad-sar.yaml", `apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  resourceAttributes: {verb: list, resource: pods}
`)
	r = s.kubectlAs(admin, "create", "-f", bad)
	if r.code == 0 || !strings.Contains(r.stderr, "at least one of user or group must be specified") {
		t.Errorf("SubjectAccessReview without a user: %d %s", r.code, r.stderr)
	}

	// who-can and explain, answered by the server.
	whoCan := mustSekisho(t, "rbac", "who-can", "list", "pods", "-n", "dev", "--kubeconfig", admin)
	if n := strings.Count(whoCan, "system:masters"); n != 1 {
		t.Errorf("who-can lists system:masters %d times:\n%s", n, whoCan)
	}
	for _, want := range []string{"User             alice", "RoleBinding/alice-reads -n dev", "Role/pod-reader -n dev", "(always allowed, before RBAC)"} {
		if !strings.Contains(whoCan, want) {
			t.Errorf("who-can lacks %q:\n%s", want, whoCan)
		}
	}
	if strings.Contains(whoCan, "ops") {
		t.Errorf("who-can lists prod's deployers for pods in dev:\n%s", whoCan)
	}
	// who-can with a name (RESOURCE/NAME or --name) and a subresource: a
	// subject is listed only when its rule's resourceNames and
	// subresources match the request.
	type row struct{ kind, subject, binding, role string }
	alicePods := row{"User", "alice", "RoleBinding/alice-reads -n dev", "Role/pod-reader -n dev"}
	aliceCM := row{"User", "alice", "RoleBinding/alice-cm -n dev", "Role/cm-one -n dev"}
	dave := row{"User", "dave", "RoleBinding/dave-logs -n dev", "Role/log-only -n dev"}
	erin := row{"User", "erin", "RoleBinding/erin-web-logs -n dev", "Role/web-logs -n dev"}
	ops := row{"Group", "ops", "RoleBinding/ops-deploy -n prod", "ClusterRole/deployer"}
	for _, c := range []struct {
		args      []string
		listed    []row
		notListed []string // subjects
	}{
		// resourceNames: the named ConfigMap only, by RESOURCE/NAME or --name.
		{[]string{"get", "configmaps/app-config", "-n", "dev"}, []row{aliceCM}, nil},
		{[]string{"update", "configmaps", "--name", "app-config", "-n", "dev"}, []row{aliceCM}, nil},
		{[]string{"get", "configmaps/app-config", "--name", "app-config", "-n", "dev"}, []row{aliceCM}, nil},
		{[]string{"get", "configmaps/other", "-n", "dev"}, nil, []string{"alice"}},
		{[]string{"get", "configmaps", "--name", "other", "-n", "dev"}, nil, []string{"alice"}},
		{[]string{"get", "configmaps", "-n", "dev"}, nil, []string{"alice"}},
		{[]string{"delete", "configmaps/app-config", "-n", "dev"}, nil, []string{"alice"}},
		// Subresources: pods/log is not pods, nor pods/exec.
		{[]string{"get", "pods", "--subresource", "log", "-n", "dev"}, []row{alicePods, dave}, []string{"erin"}},
		{[]string{"get", "pods", "-n", "dev"}, []row{alicePods}, []string{"dave", "erin"}},
		{[]string{"get", "pods", "--subresource", "exec", "-n", "dev"}, nil, []string{"alice", "dave", "erin"}},
		{[]string{"get", "pods", "--subresource", "log", "-n", "prod"}, nil, []string{"alice", "dave", "erin"}},
		// A subresource of one named object.
		{[]string{"get", "pods/web", "--subresource", "log", "-n", "dev"}, []row{alicePods, dave, erin}, nil},
		{[]string{"get", "pods", "--name", "web", "--subresource", "log", "-n", "dev"}, []row{alicePods, dave, erin}, nil},
		{[]string{"get", "pods/db", "--subresource", "log", "-n", "dev"}, []row{alicePods, dave}, []string{"erin"}},
		{[]string{"get", "pods/web", "-n", "dev"}, []row{alicePods}, []string{"dave", "erin"}},
		// "*/status" from a ClusterRole bound in prod.
		{[]string{"update", "pods", "--subresource", "status", "-n", "prod"}, []row{ops}, nil},
		{[]string{"update", "pods/web", "--subresource", "status", "-n", "prod"}, []row{ops}, nil},
		{[]string{"update", "pods", "-n", "prod"}, nil, []string{"ops"}},
	} {
		r := sekisho(t, append(append([]string{"rbac", "who-can"}, c.args...), "--kubeconfig", admin)...)
		what := strings.Join(c.args, " ")
		if r.code != 0 {
			t.Errorf("who-can %s: exit %d %s", what, r.code, r.stderr)
			continue
		}
		rows := map[string][]string{} // subject → its lines
		for _, line := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				rows[f[1]] = append(rows[f[1]], line)
			}
		}
		for _, want := range c.listed {
			found := false
			for _, line := range rows[want.subject] {
				f := strings.Fields(line)
				found = found || f[0] == want.kind && strings.Contains(line, want.binding) && strings.Contains(line, want.role)
			}
			if !found {
				t.Errorf("who-can %s does not list %s %s by %s of %s:\n%s", what, want.kind, want.subject, want.binding, want.role, r.stdout)
			}
		}
		for _, subj := range c.notListed {
			if len(rows[subj]) > 0 {
				t.Errorf("who-can %s lists %s:\n%s", what, subj, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, "system:masters") {
			t.Errorf("who-can %s does not note system:masters:\n%s", what, r.stdout)
		}
	}
	if r := sekisho(t, "rbac", "who-can", "get", "configmaps/app-config", "--name", "other", "-n", "dev", "--kubeconfig", admin); r.code == 0 ||
		!strings.Contains(r.stderr, `configmaps/app-config names "app-config" but --name is "other"`) {
		t.Errorf("who-can with two different names: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := sekisho(t, "rbac", "who-can", "get", "/metrics", "--subresource", "log", "--kubeconfig", admin); r.code == 0 ||
		!strings.Contains(r.stderr, "--name and --subresource apply to resources, not to paths") {
		t.Errorf("who-can a path with --subresource: %d %s %s", r.code, r.stdout, r.stderr)
	}

	explain := sekisho(t, "rbac", "explain", "--as", "alice", "delete", "pods", "-n", "dev", "--kubeconfig", admin)
	if explain.code != 1 || !strings.Contains(explain.stdout, `verb "delete" is not in ["get" "list" "watch"]`) || !strings.Contains(explain.stdout, `RoleBinding "alice-reads" in namespace "dev"`) {
		t.Errorf("explain a denial: %d %s %s", explain.code, explain.stdout, explain.stderr)
	}
	explain = sekisho(t, "rbac", "explain", "--as", "alice", "list", "pods", "-n", "prod", "--kubeconfig", admin)
	if explain.code != 1 || !strings.Contains(explain.stdout, `the binding grants only in namespace "dev", not "prod"`) {
		t.Errorf("explain a denial in another namespace: %d %s", explain.code, explain.stdout)
	}
	explain = sekisho(t, "rbac", "explain", "--as", "bob", "--as-group", "ops", "get", "/metrics", "--kubeconfig", admin)
	if explain.code != 0 || !strings.Contains(explain.stdout, `ClusterRoleBinding "ops-logs"`) {
		t.Errorf("explain an allowed path: %d %s", explain.code, explain.stdout)
	}
	// The access review API is authorized like SubjectAccessReview.
	r = s.kubectlAs(admin, "--as", "alice", "create", "--validate=false", "-f", writeFile(t, "ar.yaml", `apiVersion: sekisho.io/v1alpha1
kind: AccessReview
spec:
  resourceAttributes: {namespace: dev, verb: list, resource: pods}
`))
	if r.code == 0 || !strings.Contains(r.stderr, `cannot create resource "accessreviews" in API group "sekisho.io" at the cluster scope`) {
		t.Errorf("alice may ask who-can: %d %s", r.code, r.stderr)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAdminConfRevocation: admin.conf works through the kubeadm:cluster-admins
// binding, stops when that binding is deleted, and stays stopped across a
// restart (the binding is created only when the store is new).
func TestAdminConfRevocation(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	if r := s.kubectlAs(admin, "get", "namespaces"); r.code != 0 {
		t.Fatalf("admin.conf: %d %s", r.code, r.stderr)
	}
	s.mustKubectl("delete", "clusterrolebinding", "kubeadm:cluster-admins")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.kubectlAs(admin, "get", "namespaces")
		if r.code != 0 && strings.Contains(r.stderr, `User "kubernetes-admin" cannot list resource "namespaces"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin.conf still works after its binding was deleted: %d %s %s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A restart reconciles the default policy but does not bring kubeadm's
	// binding back; the defaults are still there.
	s.stop()
	s.start()
	if r := s.kubectlAs(admin, "get", "namespaces"); r.code == 0 {
		t.Errorf("admin.conf works again after a restart")
	}
	if r := s.kubectl("get", "clusterrolebinding", "kubeadm:cluster-admins"); r.code == 0 {
		t.Errorf("kubeadm:cluster-admins was recreated")
	}
	if r := s.kubectl("get", "clusterrolebinding", "system:basic-user"); r.code != 0 {
		t.Errorf("default binding missing: %s", r.stderr)
	}
}

// TestDefaultPolicyReconcile: a deleted default is recreated at start, a
// rule an admin added is kept, and autoupdate=false protects a role.
func TestDefaultPolicyReconcile(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	s.mustKubectl("delete", "clusterrole", "system:basic-user")
	s.mustKubectl("patch", "clusterrole", "system:discovery", "--type=json", "-p", `[{"op":"add","path":"/rules/-","value":{"verbs":["get"],"nonResourceURLs":["/custom"]}}]`)
	s.mustKubectl("annotate", "--overwrite", "clusterrole", "system:public-info-viewer", "rbac.authorization.kubernetes.io/autoupdate=false")
	s.mustKubectl("patch", "clusterrole", "system:public-info-viewer", "--type=json", "-p", `[{"op":"remove","path":"/rules/0/nonResourceURLs/0"}]`)
	protected := s.mustKubectl("get", "clusterrole", "system:public-info-viewer", "-o", "jsonpath={.rules}")
	s.stop()
	s.start()
	if r := s.kubectl("get", "clusterrole", "system:basic-user"); r.code != 0 {
		t.Errorf("deleted default role not recreated: %s", r.stderr)
	}
	if out := s.mustKubectl("get", "clusterrole", "system:discovery", "-o", "jsonpath={.rules}"); !strings.Contains(out, "/custom") || !strings.Contains(out, "/version") {
		t.Errorf("reconcile lost a rule: %s", out)
	}
	if out := s.mustKubectl("get", "clusterrole", "system:public-info-viewer", "-o", "jsonpath={.rules}"); out != protected {
		t.Errorf("autoupdate=false role changed:\n got %s\nwant %s", out, protected)
	}
}

// TestEscalationPrevention: each way of granting oneself more is refused
// with the missing rules listed, and allowed with escalate or bind.
func TestEscalationPrevention(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	s.mustKubectl("create", "namespace", "team")
	// dana may write roles and bindings in team, and read pods.
	s.mustKubectl("-n", "team", "create", "role", "rbac-editor", "--verb=create,update,patch,get,list", "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io")
	s.mustKubectl("-n", "team", "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	s.mustKubectl("-n", "team", "create", "rolebinding", "dana-rbac", "--role=rbac-editor", "--user=dana")
	s.mustKubectl("-n", "team", "create", "rolebinding", "dana-pods", "--role=pod-reader", "--user=dana")
	s.mustKubectl("-n", "team", "create", "role", "pod-deleter", "--verb=delete", "--resource=pods")
	dana := []string{"--as", "dana", "-n", "team"}

	// A role within what dana holds is fine; one beyond it is refused.
	if r := s.kubectl(append(dana, "create", "role", "subset", "--verb=get", "--resource=pods")...); r.code != 0 {
		t.Errorf("creating a role within her rights: %s", r.stderr)
	}
	r := s.kubectl(append(dana, "create", "role", "more", "--verb=get,delete", "--resource=pods,secrets")...)
	wantMsg := `roles.rbac.authorization.k8s.io "more" is forbidden: user "dana" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}
{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}`
	if r.code == 0 || !strings.Contains(r.stderr, wantMsg) {
		t.Errorf("escalating role:\n got %s\nwant %s", r.stderr, wantMsg)
	}
	// Updating a role to add a rule she lacks is refused too.
	r = s.kubectl(append(dana, "patch", "role", "subset", "--type=json", "-p", `[{"op":"add","path":"/rules/0/verbs/-","value":"delete"}]`)...)
	if r.code == 0 || !strings.Contains(r.stderr, "attempting to grant RBAC permissions not currently held") {
		t.Errorf("escalating update: %d %s", r.code, r.stderr)
	}
	// Binding a role she does not hold is refused; binding one she holds is not.
	r = s.kubectl(append(dana, "create", "rolebinding", "eve-deletes", "--role=pod-deleter", "--user=eve")...)
	if r.code == 0 || !strings.Contains(r.stderr, `{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`) {
		t.Errorf("escalating binding: %d %s", r.code, r.stderr)
	}
	if r := s.kubectl(append(dana, "create", "rolebinding", "eve-reads", "--role=pod-reader", "--user=eve")...); r.code != 0 {
		t.Errorf("binding a role she holds: %s", r.stderr)
	}
	// An aggregationRule needs full authority.
	s.mustKubectl("create", "clusterrole", "cr-writer", "--verb=create", "--resource=clusterroles.rbac.authorization.k8s.io")
	s.mustKubectl("create", "clusterrolebinding", "dana-cr", "--clusterrole=cr-writer", "--user=dana")
	r = s.kubectl("--as", "dana", "create", "clusterrole", "gatherer", "--aggregation-rule=x=y")
	if r.code == 0 || !strings.Contains(r.stderr, "must have cluster-admin privileges to use the aggregationRule") {
		t.Errorf("aggregation rule without full authority: %d %s", r.code, r.stderr)
	}

	// With escalate on roles, the same role is allowed; with bind on
	// pod-deleter, the same binding is.
	s.mustKubectl("-n", "team", "create", "role", "escalator", "--verb=escalate", "--resource=roles.rbac.authorization.k8s.io")
	s.mustKubectl("-n", "team", "create", "rolebinding", "dana-escalate", "--role=escalator", "--user=dana")
	if r := s.kubectl(append(dana, "create", "role", "more", "--verb=get,delete", "--resource=pods,secrets")...); r.code != 0 {
		t.Errorf("escalating role with escalate: %s", r.stderr)
	}
	s.mustKubectl("-n", "team", "create", "role", "binder", "--verb=bind", "--resource=roles.rbac.authorization.k8s.io", "--resource-name=pod-deleter")
	s.mustKubectl("-n", "team", "create", "rolebinding", "dana-bind", "--role=binder", "--user=dana")
	if r := s.kubectl(append(dana, "create", "rolebinding", "eve-deletes", "--role=pod-deleter", "--user=eve")...); r.code != 0 {
		t.Errorf("binding with bind: %s", r.stderr)
	}
	// bind is honoured by name: another role she lacks is still refused.
	s.mustKubectl("-n", "team", "create", "role", "secret-reader", "--verb=get", "--resource=secrets")
	if r := s.kubectl(append(dana, "create", "rolebinding", "eve-secrets", "--role=secret-reader", "--user=eve")...); r.code == 0 {
		t.Errorf("bind on pod-deleter allowed binding secret-reader")
	}
	// system:masters is exempt.
	if r := s.kubectl("-n", "team", "create", "role", "anything", "--verb=*", "--resource=*"); r.code != 0 {
		t.Errorf("system:masters refused: %s", r.stderr)
	}
}

// TestClusterRoleAggregation: an aggregated role follows label changes on
// the roles it selects.
func TestClusterRoleAggregation(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	// admin, edit and view are aggregated once each at start, not once per
	// level of the chain view → edit → admin (checked when the test ends:
	// nothing it does touches them).
	defer func() {
		for _, role := range []string{"admin", "edit", "view"} {
			if n := strings.Count(s.logs.String(), `msg="aggregated clusterrole" name=`+role+" "); n != 1 {
				t.Errorf("clusterrole %s aggregated %d times:\n%s", role, n, s.logs.String())
			}
		}
	}()
	s.mustKubectl("create", "clusterrole", "monitoring", "--aggregation-rule=team.example/aggregate-to-monitoring=true")
	s.mustKubectl("create", "clusterrole", "read-metrics", "--verb=get", "--resource=pods")
	s.mustKubectl("create", "clusterrolebinding", "mon", "--clusterrole=monitoring", "--user=mo")
	rules := func() string {
		return s.mustKubectl("get", "clusterrole", "monitoring", "-o", "jsonpath={.rules}")
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: rules are %s", what, rules())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := rules(); got != "" && got != "null" {
		t.Fatalf("aggregated role starts with rules %s", got)
	}
	s.mustKubectl("label", "clusterrole", "read-metrics", "team.example/aggregate-to-monitoring=true")
	eventually("label added", func() bool { return strings.Contains(rules(), `"pods"`) })
	if got := s.canI(s.kubeconfig(), "get", "pods", "--as", "mo", "-A"); got != "yes" {
		t.Errorf("aggregated rule not granted: %s", got)
	}
	// A rule added to the selected role flows through.
	s.mustKubectl("patch", "clusterrole", "read-metrics", "--type=json", "-p", `[{"op":"add","path":"/rules/-","value":{"verbs":["list"],"apiGroups":[""],"resources":["nodes"]}}]`)
	eventually("rule added", func() bool { return strings.Contains(rules(), `"nodes"`) })
	s.mustKubectl("label", "clusterrole", "read-metrics", "team.example/aggregate-to-monitoring-")
	eventually("label removed", func() bool { return !strings.Contains(rules(), `"pods"`) })
	if got := s.canI(s.kubeconfig(), "get", "pods", "--as", "mo", "-A"); got != "no" {
		t.Errorf("rule still granted after the label was removed: %s", got)
	}
}

// TestNodeAuthorizer: a node reads only what its pods use, and asking for
// anything else, existing or not, is Forbidden.
func TestNodeAuthorizer(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	nodeA := s.userKubeconfig(t, "system:node:node-a", "system:nodes")
	nodeB := s.userKubeconfig(t, "system:node:node-b", "system:nodes")
	for _, name := range []string{"for-a", "for-b", "shared"} {
		s.mustKubectl("-n", "default", "create", "secret", "generic", name, "--from-literal=k=v")
	}
	s.mustKubectl("-n", "default", "create", "configmap", "cm-a", "--from-literal=k=v")
	pod := func(name, node, secret string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"default"},
"spec":{"nodeName":%q,"containers":[{"name":"c","image":"busybox","envFrom":[{"secretRef":{"name":%q}}]}],
"volumes":[{"name":"s","secret":{"secretName":"shared"}},{"name":"c","configMap":{"name":"cm-a"}}]}}`, name, node, secret)
	}
	for _, p := range []string{pod("pa", "node-a", "for-a"), pod("pb", "node-b", "for-b")} {
		f := writeFile(t, "pod.json", p)
		s.mustKubectl("create", "-f", f)
	}
	get := func(kc string, args ...string) result {
		t.Helper()
		var r result
		deadline := time.Now().Add(10 * time.Second)
		for { // the graph follows the pod watch; allow it a moment
			r = s.kubectlAs(kc, append([]string{"-n", "default", "get"}, args...)...)
			if r.code == 0 || time.Now().After(deadline) {
				return r
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if r := get(nodeA, "secret", "for-a"); r.code != 0 {
		t.Errorf("node-a reading its pod's secret: %s", r.stderr)
	}
	if r := get(nodeA, "secret", "shared"); r.code != 0 {
		t.Errorf("node-a reading a shared secret: %s", r.stderr)
	}
	if r := get(nodeA, "configmap", "cm-a"); r.code != 0 {
		t.Errorf("node-a reading its pod's configmap: %s", r.stderr)
	}
	if r := get(nodeA, "pod", "pa"); r.code != 0 {
		t.Errorf("node-a reading its pod: %s", r.stderr)
	}
	if r := get(nodeB, "secret", "for-b"); r.code != 0 {
		t.Errorf("node-b reading its pod's secret: %s", r.stderr)
	}
	for _, c := range []struct{ what, kind, name string }{
		{"node-b's secret", "secret", "for-b"},
		{"a secret that does not exist", "secret", "no-such-secret"},
		{"node-b's pod", "pod", "pb"},
	} {
		r := s.kubectlAs(nodeA, "-n", "default", "get", c.kind, c.name)
		want := fmt.Sprintf(`%ss %q is forbidden: User "system:node:node-a" cannot get resource "%ss" in API group "" in the namespace "default"`, c.kind, c.name, c.kind)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("node-a reading %s:\n got %d %s\nwant %s", c.what, r.code, r.stderr, want)
		}
	}
	if r := s.kubectlAs(nodeA, "-n", "default", "get", "secrets"); r.code == 0 {
		t.Errorf("node-a listed every secret")
	}
	// Moving the pod away takes the access with it.
	s.mustKubectl("-n", "default", "delete", "pod", "pa", "--grace-period=0", "--force")
	deadline := time.Now().Add(10 * time.Second)
	for s.kubectlAs(nodeA, "-n", "default", "get", "secret", "for-a").code == 0 {
		if time.Now().After(deadline) {
			t.Fatal("node-a still reads for-a after its pod is gone")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhookAuthorizer asks a real HTTPS SubjectAccessReview webhook after
// Node and RBAC: its allow and deny count, its answers are cached, and its
// failure allows nothing.
func TestWebhookAuthorizer(t *testing.T) {
	requireTools(t, "kubectl")
	var calls atomic.Int64
	var broken atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if broken.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		var sar authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(r.Body).Decode(&sar); err != nil || sar.Kind != "SubjectAccessReview" || sar.APIVersion != "authorization.k8s.io/v1" {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		st := authorizationv1.SubjectAccessReviewStatus{}
		ra := sar.Spec.ResourceAttributes
		switch {
		case sar.Spec.User == "wendy" && ra != nil && ra.Resource == "configmaps" && ra.Verb == "list":
			st.Allowed, st.Reason = true, "wendy reads configmaps"
		case sar.Spec.User == "wendy" && ra != nil && ra.Resource == "secrets":
			st.Denied, st.Reason = true, "no secrets for wendy"
		}
		sar.Status = st
		json.NewEncoder(w).Encode(sar)
	}))
	defer srv.Close()
	s := startServer(t, "--authorization-mode", "Node,RBAC,Webhook", "--authorization-webhook-config-file", webhookKubeconfig(t, srv),
		"--authorization-webhook-cache-unauthorized-ttl", "0")
	s.mustKubectl("-n", "default", "create", "role", "secret-reader", "--verb=get,list", "--resource=secrets")
	s.mustKubectl("-n", "default", "create", "rolebinding", "wendy-secrets", "--role=secret-reader", "--user=wendy")
	admin := filepath.Join(s.dir, "admin.conf")

	if got := s.canI(admin, "list", "configmaps", "-n", "default", "--as", "wendy"); got != "yes" {
		t.Errorf("webhook allow: %s", got)
	}
	// RBAC comes first and allows before the webhook's deny is asked.
	if got := s.canI(admin, "list", "secrets", "-n", "default", "--as", "wendy"); got != "yes" {
		t.Errorf("RBAC before the webhook: %s", got)
	}
	// The webhook's deny ends the chain for what RBAC does not allow.
	if got := s.canI(admin, "delete", "secrets", "-n", "default", "--as", "wendy"); got != "no - no secrets for wendy" {
		t.Errorf("webhook deny: %q", got)
	}
	if got := s.canI(admin, "list", "pods", "-n", "default", "--as", "wendy"); got != "no" {
		t.Errorf("webhook no opinion: %q", got)
	}
	// Allowed answers are cached: no further calls for the same request.
	before := calls.Load()
	for range 3 {
		s.canI(admin, "list", "configmaps", "-n", "default", "--as", "wendy")
	}
	if calls.Load() != before {
		t.Errorf("cached allow not used: %d more calls", calls.Load()-before)
	}
	// A failing webhook allows nothing new: a request it has not answered
	// before is denied, and the server log says why.
	broken.Store(true)
	if got := s.canI(admin, "list", "configmaps", "-n", "kube-system", "--as", "wendy"); !strings.HasPrefix(got, "no") {
		t.Errorf("broken webhook allowed: %s", got)
	}
	r := s.kubectlAs(admin, "--as", "wendy", "get", "configmaps", "-n", "kube-system")
	if r.code == 0 || !strings.Contains(r.stderr, `User "wendy" cannot list resource "configmaps"`) {
		t.Errorf("broken webhook: %d %s", r.code, r.stderr)
	}
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "answered 500") }) {
		t.Errorf("the server log does not show the webhook's failure:\n%s", s.logs.String())
	}
}
