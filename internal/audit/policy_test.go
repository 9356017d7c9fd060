package audit

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	kubepolicy "k8s.io/apiserver/pkg/audit/policy"
)

// examplePolicy uses every kind of match: users, groups, verbs,
// namespaces, groups of resources with subresource and name forms,
// non-resource URLs with wildcards, and omitStages and omitManagedFields
// at both the policy and the rule.
const examplePolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
  resources: [{group: "", resources: ["endpoints", "services", "services/status"]}]
- level: None
  userGroups: ["system:nodes"]
  verbs: ["get"]
  resources: [{group: "", resources: ["nodes", "nodes/status"]}]
- level: None
  nonResourceURLs: ["/healthz*", "/version", "/readyz"]
- level: RequestResponse
  omitManagedFields: false
  resources: [{group: "rbac.authorization.k8s.io"}, {group: "certificates.k8s.io", resources: ["*/approval", "certificatesigningrequests/*"]}]
- level: Metadata
  omitStages: [ResponseStarted]
  resources: [{group: "", resources: ["secrets", "configmaps"]}, {group: "authentication.k8s.io", resources: ["tokenreviews"]}]
- level: Request
  namespaces: ["kube-system"]
  resources: [{group: "", resources: ["configmaps"], resourceNames: ["kubeadm-config"]}, {group: "apps", resources: ["deployments/scale"]}]
- level: Request
  verbs: ["create", "delete"]
  userGroups: ["system:serviceaccounts"]
  resources: [{group: "*", resources: ["pods/*"]}]
- level: Metadata
  nonResourceURLs: ["/apis/*"]
- level: Metadata
  users: ["alice"]
`

// Every request of a random sample is judged as kube-apiserver's own
// policy checker judges it.
func TestPolicyDecidesAsKubeAPIServer(t *testing.T) {
	ours, err := ParsePolicy([]byte(examplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := kubepolicy.LoadPolicyFromBytes([]byte(examplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	kube := kubepolicy.NewPolicyRuleEvaluator(kp)

	pick := func(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[auditv1.Level]int{}
	for range 20000 {
		req := Request{
			User:   pick(r, "alice", "bob", "system:kube-proxy", "system:node:n1"),
			Groups: [][]string{nil, {"system:nodes"}, {"system:serviceaccounts", "system:authenticated"}, {"system:authenticated"}}[r.IntN(4)],
			Verb:   pick(r, "get", "list", "watch", "create", "update", "patch", "delete"),
		}
		if r.IntN(4) == 0 {
			req.Path = pick(r, "/healthz", "/healthz/etcd", "/version", "/version/x", "/readyz", "/apis", "/apis/apps/v1", "/metrics", "/")
		} else {
			req.ResourceRequest = true
			req.APIGroup = pick(r, "", "apps", "rbac.authorization.k8s.io", "certificates.k8s.io", "authentication.k8s.io", "batch")
			req.Namespace = pick(r, "", "default", "kube-system")
			req.Resource = pick(r, "pods", "secrets", "configmaps", "services", "endpoints", "nodes", "deployments", "roles", "certificatesigningrequests", "tokenreviews")
			req.Subresource = pick(r, "", "", "status", "scale", "approval", "log", "exec")
			req.Name = pick(r, "", "kubeadm-config", "x")
		}
		got := ours.Decide(req)
		want := kube.EvaluatePolicyRule(&authorizer.AttributesRecord{
			User: &user.DefaultInfo{Name: req.User, Groups: req.Groups}, Verb: req.Verb,
			ResourceRequest: req.ResourceRequest, APIGroup: req.APIGroup, Namespace: req.Namespace,
			Resource: req.Resource, Subresource: req.Subresource, Name: req.Name, Path: req.Path,
		})
		wantStages := make([]string, 0, len(want.OmitStages))
		for _, s := range want.OmitStages {
			wantStages = append(wantStages, string(s))
		}
		gotStages := make([]string, 0, len(got.OmitStages))
		for _, s := range got.OmitStages {
			gotStages = append(gotStages, string(s))
		}
		slices.Sort(wantStages)
		slices.Sort(gotStages)
		if string(got.Level) != string(want.Level) || !slices.Equal(gotStages, wantStages) || got.OmitManagedFields != want.OmitManagedFields {
			t.Fatalf("%+v:\n got %s %v omitManagedFields=%v\nwant %s %v omitManagedFields=%v", req, got.Level, gotStages, got.OmitManagedFields, want.Level, wantStages, want.OmitManagedFields)
		}
		seen[got.Level]++
	}
	for _, l := range []auditv1.Level{auditv1.LevelNone, auditv1.LevelMetadata, auditv1.LevelRequest, auditv1.LevelRequestResponse} {
		if seen[l] == 0 {
			t.Errorf("no request of the sample was at level %s: the sample does not cover the policy", l)
		}
	}
}

// Policies kube-apiserver refuses are refused with the field named, and
// so is an unknown field, which kube-apiserver only warns about.
func TestPolicyRefusals(t *testing.T) {
	head := "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
	for _, c := range []struct{ policy, want string }{
		{head + "rules:\n- level: Everything\n", `rules[0].level: Unsupported value: "Everything"`},
		{head + "rules:\n- {}\n", "rules[0].level: Required value"},
		{head + "omitStages: [Done]\nrules:\n- level: None\n", `omitStages[0]: Invalid value: "Done": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic`},
		{head + "rules:\n- level: None\n  nonResourceURLs: [healthz]\n", "rules[0].nonResourceURLs[0]: Invalid value: \"healthz\": non-resource URL rules must begin with a '/' character"},
		{head + "rules:\n- level: None\n  nonResourceURLs: [\"/a*/b\"]\n", "non-resource URL wildcards '*' must be the final character of the rule"},
		{head + "rules:\n- level: None\n  nonResourceURLs: [/healthz]\n  namespaces: [a]\n", "rules cannot apply to both regular resources and non-resource URLs"},
		{head + "rules:\n- level: None\n  resources: [{group: rbac.authorization.k8s.io/v1}]\n", `rules[0].resources.group: Invalid value: "rbac.authorization.k8s.io/v1"`},
		{head + "rules:\n- level: None\n  resources: [{resourceNames: [a]}]\n", "using resourceNames requires at least one resource"},
		{head + "rules: []\n", "rules: the policy has none"},
		{"apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: None\n", `apiVersion "audit.k8s.io/v1beta1", kind "Policy": want audit.k8s.io/v1 Policy`},
		{head + "rules:\n- level: None\n  userGroup: [x]\n", `unknown field "rules[0].userGroup"`},
		{head + "rules: [\n", "not YAML or JSON"},
	} {
		_, err := ParsePolicy([]byte(c.policy))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error with %q", c.policy, err, c.want)
		}
	}
}
