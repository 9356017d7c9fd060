package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// NodeRestriction with a node's own credentials, through kubectl: the
// issue's cases (another Node, a pod bound elsewhere, a node-role label)
// and the CVEs it names. Each refusal is one a server without the check
// would have accepted.
func TestNodeRestrictionWithKubectl(t *testing.T) {
	s := startServer(t)
	nodeA := s.userKubeconfig(t, "system:node:node-a", "system:nodes")
	as := func(args ...string) result { return s.kubectlAs(nodeA, args...) }
	refused := func(what string, r result, want string) {
		t.Helper()
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: %d %s\nwant %s", what, r.code, r.stderr+r.stdout, want)
		}
	}
	node := func(name, labels string) string {
		return writeFile(t, name+".json", fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"labels":{%s}}}`, name, labels))
	}
	if r := as("create", "-f", node("node-a", `"kubernetes.io/hostname":"node-a"`)); r.code != 0 {
		t.Fatalf("node-a registering itself: %s", r.stderr)
	}
	refused("node-a creating node-b", as("create", "-f", node("node-b", "")), `node "node-a" is not allowed to modify node "node-b"`)
	refused("node-a registering with a node-role label", as("create", "-f", node("node-a", `"node-role.kubernetes.io/control-plane":""`)),
		`is not allowed to set the following labels: node-role.kubernetes.io/control-plane`)

	// Labels through a patch and through a whole update (PUT): the check
	// compares with the stored Node, not with what the request claims it
	// was (CVE-2021-25735).
	refused("labelling itself node-role", as("label", "node", "node-a", "node-role.kubernetes.io/x="), "is not allowed to modify labels: node-role.kubernetes.io/x")
	refused("labelling itself node-restriction", as("label", "node", "node-a", "node-restriction.kubernetes.io/pool=gold"), "is not allowed to modify labels: node-restriction.kubernetes.io/pool")
	stored := s.mustKubectl("get", "node", "node-a", "-o", "json")
	replaced := strings.Replace(stored, `"kubernetes.io/hostname": "node-a"`, `"kubernetes.io/hostname": "node-a", "node-role.kubernetes.io/x": ""`, 1)
	if replaced == stored {
		t.Fatalf("no label to extend in %s", stored)
	}
	refused("a PUT adding a node-role label", as("replace", "-f", writeFile(t, "replaced.json", replaced)), "is not allowed to modify labels: node-role.kubernetes.io/x")
	if r := as("label", "node", "node-a", "topology.kubernetes.io/zone=z1"); r.code != 0 {
		t.Errorf("node-a setting an allowed label: %s", r.stderr)
	}
	// Owner references on its own Node (CVE-2025-5187: a node that owns
	// itself to something can have itself deleted by the collector).
	refused("adding an owner reference", as("patch", "node", "node-a", "--type=merge", "-p",
		`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Namespace","name":"default","uid":"00000000-0000-0000-0000-000000000001"}]}}`),
		`node "node-a" is not allowed to modify ownerReferences`)
	refused("tainting itself", as("taint", "node", "node-a", "dedicated=infra:NoSchedule"), `node "node-a" is not allowed to modify taints`)

	// Pods: only mirror pods bound to itself, naming no API object
	// (CVE-2025-4563 for resource claims).
	uid := s.mustKubectl("get", "node", "node-a", "-o", "jsonpath={.metadata.uid}")
	s.mustKubectl("-n", "default", "create", "secret", "generic", "db-password", "--from-literal=k=v")
	pod := func(name, nodeName, mirror, extra string) string {
		annotations := ""
		if mirror != "" {
			annotations = `"annotations":{"kubernetes.io/config.mirror":"x"},"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"node-a","uid":"` + mirror + `","controller":true}],`
		}
		return writeFile(t, name+".json", fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"default",%s"labels":{"a":"b"}},
"spec":{"nodeName":%q,"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]%s}}`, name, annotations, nodeName, extra))
	}
	refused("a pod that is not a mirror pod", as("create", "-f", pod("plain", "node-a", "", "")), `node "node-a" can only create mirror pods`)
	refused("a mirror pod bound to node-b", as("create", "-f", pod("elsewhere", "node-b", uid, "")), `node "node-a" can only create pods with spec.nodeName set to itself`)
	// The ServiceAccount plugin, which runs first, refuses it as
	// kube-apiserver's does.
	refused("a mirror pod reading a secret", as("create", "-f", pod("secretive", "node-a", uid, `,"volumes":[{"name":"s","secret":{"secretName":"db-password"}}]`)),
		`pods "secretive" is forbidden: a mirror pod may not reference secrets`)
	refused("a mirror pod claiming a device", as("create", "-f", pod("claims", "node-a", uid, `,"resourceClaims":[{"name":"gpu","resourceClaimName":"gpu-claim"}]`)),
		`node "node-a" can not create pods that reference resourceclaims`)
	if r := as("create", "-f", pod("static-web", "node-a", uid, "")); r.code != 0 {
		t.Errorf("node-a creating its own mirror pod: %s", r.stderr)
	}

	// Another node's pods and their tokens: the Node authorizer refuses
	// before admission is asked.
	s.mustKubectl("create", "-f", pod("web-b", "node-b", "", ""))
	refused("updating node-b's pod status", as("-n", "default", "patch", "pod", "web-b", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Failed"}}`),
		`User "system:node:node-a" cannot get resource "pods/status"`)
	refused("a token for a pod on node-b", as("-n", "default", "create", "token", "default", "--bound-object-kind=Pod", "--bound-object-name=web-b"),
		`User "system:node:node-a" cannot create resource "serviceaccounts/token"`)
	// Leases: its own, in kube-node-lease.
	lease := func(ns, name string) string {
		return writeFile(t, ns+name+".json", fmt.Sprintf(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":%q,"namespace":%q},"spec":{"holderIdentity":%q}}`, name, ns, name))
	}
	if r := as("create", "-f", lease("kube-node-lease", "node-a")); r.code != 0 {
		t.Errorf("node-a creating its lease: %s", r.stderr)
	}
	refused("node-b's lease", as("create", "-f", lease("kube-node-lease", "node-b")), "can only access node lease with the same name as the requesting node")
}
