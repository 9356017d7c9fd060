package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBootstrapTokens creates, lists, uses, signs, expires and deletes
// bootstrap tokens with sekisho's own CLI.
func TestBootstrapTokens(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	kc := s.kubeconfig()
	token := strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", kc, "--description", "join node-1"))
	if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(token) {
		t.Fatalf("token create printed %q", token)
	}
	id := token[:6]
	list := mustSekisho(t, "token", "list", "--kubeconfig", kc)
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(token) + `\s+23h\s+\S+\s+authentication,signing\s+join node-1\s+system:bootstrappers:kubeadm:default-node-token$`).MatchString(list) {
		t.Errorf("token list:\n%s", list)
	}

	// The token authenticates as system:bootstrap:<id>.
	ok, user, _ := s.review(t, token)
	if !ok || user != "system:bootstrap:"+id {
		t.Errorf("review: %v %s", ok, user)
	}
	code, body := s.do("POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json",
		strings.NewReader(`{"spec":{"token":"`+token+`"}}`))
	var r struct {
		Status struct{ User struct{ Groups []string } }
	}
	json.Unmarshal([]byte(body), &r)
	if code != 201 || strings.Join(r.Status.User.Groups, ",") != "system:bootstrappers,system:bootstrappers:kubeadm:default-node-token,system:authenticated" {
		t.Errorf("groups: %d %s", code, body)
	}
	// The right id with a wrong secret is refused, and the log says so.
	if ok, _, _ := s.review(t, id+".0000000000000000"); ok {
		t.Error("wrong secret accepted")
	}
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "bootstrap token "+id+": wrong secret") }) {
		t.Error("the log does not explain the wrong secret")
	}

	// cluster-info carries a signature for the signing token.
	var sig string
	if !waitFor(func() bool {
		sig = s.mustKubectl("-n", "kube-public", "get", "cm", "cluster-info", "-o", "jsonpath={.data.jws-kubeconfig-"+id+"}")
		return sig != ""
	}) {
		t.Fatal("cluster-info is not signed for the token")
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(sig, ".")[0])
	if string(header) != `{"alg":"HS256","kid":"`+id+`"}` || !strings.Contains(sig, "..") {
		t.Errorf("signature %q", sig)
	}
	if cfg := s.mustKubectl("-n", "kube-public", "get", "cm", "cluster-info", "-o", "jsonpath={.data.kubeconfig}"); !strings.Contains(cfg, "certificate-authority-data:") || !strings.Contains(cfg, s.url("")) {
		t.Errorf("cluster-info kubeconfig:\n%s", cfg)
	}

	// An expiring token is removed soon after it expires.
	short := strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", kc, "--ttl", "2s"))
	if !waitFor(func() bool {
		return s.kubectl("-n", "kube-system", "get", "secret", "bootstrap-token-"+short[:6]).code != 0
	}) {
		t.Error("the expired token Secret was not cleaned up")
	}

	// Bad input and delete.
	for _, args := range [][]string{
		{"token", "create", "--kubeconfig", kc, "--groups", "system:masters"},
		{"token", "create", "--kubeconfig", kc, "--usages", "everything"},
		{"token", "create", "--kubeconfig", kc, "NOT-A-TOKEN"},
		{"token", "delete", "--kubeconfig", kc, "bad id"},
	} {
		if r := sekisho(t, args...); r.code == 0 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if out := mustSekisho(t, "token", "delete", "--kubeconfig", kc, token); !strings.Contains(out, `bootstrap token "`+id+`" deleted`) {
		t.Errorf("delete: %s", out)
	}
	if !waitFor(func() bool { ok, _, _ := s.review(t, token); return !ok }) {
		t.Error("a deleted token still authenticates")
	}
}

// `sekisho token revoke-joined` deletes a token once every node that
// joined with it is registered, following the trail the approver leaves
// on the token's Secret after the request itself is gone, and keeps a
// token whose node has not registered and one no node has used.
// check-expiration lists the live tokens, by id only.
func TestTokenRevokeJoined(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	ca := filepath.Join(s.dir, "pki/ca.crt")
	newToken := func(description string) (token, id string) {
		token = strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", admin, "--description", description))
		return token, strings.Split(token, ".")[0]
	}
	joined, joinedID := newToken("joined")
	pending, pendingID := newToken("pending")
	_, unusedID := newToken("unused")

	// Each used token asks for a node's client certificate, as a
	// kubelet's TLS bootstrap does.
	join := func(token, node string) {
		t.Helper()
		manifest := writeFile(t, node+".yaml", csrManifest("node-csr-"+node, "kubernetes.io/kube-apiserver-client-kubelet",
			nodeRequest(t, node, nil), 0, "digital signature", "client auth"))
		r := run(t, "kubectl", "--kubeconfig", os.DevNull, "--server", s.url(""), "--certificate-authority", ca, "--token", token, "create", "-f", manifest)
		if r.code != 0 {
			t.Fatalf("CSR for %s: %s", node, r.stderr)
		}
		if !waitFor(func() bool { _, issued := s.csrState(t, "node-csr-"+node); return issued }) {
			t.Fatalf("%s's request was not approved and signed", node)
		}
	}
	join(joined, "worker-a")
	join(pending, "worker-b")
	if got := s.mustKubectl("-n", "kube-system", "get", "secret", "bootstrap-token-"+joinedID, "-o", "jsonpath={.metadata.annotations.sekisho\\.io/joined-nodes}"); got != "worker-a" {
		t.Errorf("the joined node recorded on the token: %q", got)
	}
	s.mustKubectl("create", "-f", writeFile(t, "node-a.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: worker-a\n"))
	// The request is cleaned up after an hour; the Secret's record stays.
	s.mustKubectl("delete", "csr", "node-csr-worker-a")

	dry := mustSekisho(t, "token", "revoke-joined", "--dry-run", "--kubeconfig", admin)
	for _, want := range []string{"would delete " + joinedID + ": worker-a joined", "kept " + pendingID + ": worker-b not registered yet",
		"kept " + unusedID + ": no node has joined with it"} {
		if !strings.Contains(dry, want) {
			t.Errorf("--dry-run does not say %q:\n%s", want, dry)
		}
	}
	if !strings.Contains(mustSekisho(t, "token", "list", "--kubeconfig", admin), joinedID) {
		t.Fatal("--dry-run deleted a token")
	}

	// check-expiration lists the three live tokens by id, never a secret.
	table := mustSekisho(t, "certs", "check-expiration", "--dir", s.dir)
	for _, id := range []string{joinedID, pendingID, unusedID} {
		if !strings.Contains(table, id) {
			t.Errorf("check-expiration does not list token %s:\n%s", id, table)
		}
	}
	if strings.Contains(table, joined) || strings.Contains(table, pending) || !strings.Contains(table, "BOOTSTRAP TOKEN") {
		t.Errorf("check-expiration's token table:\n%s", table)
	}
	var rep struct{ BootstrapTokens []struct{ ID string } }
	if err := json.Unmarshal([]byte(mustSekisho(t, "certs", "check-expiration", "--dir", s.dir, "-o", "json")), &rep); err != nil || len(rep.BootstrapTokens) != 3 {
		t.Errorf("check-expiration -o json bootstrapTokens: %+v %v", rep.BootstrapTokens, err)
	}

	out := mustSekisho(t, "token", "revoke-joined", "--kubeconfig", admin)
	if !strings.Contains(out, "deleted "+joinedID+": worker-a joined") {
		t.Errorf("revoke-joined:\n%s", out)
	}
	list := mustSekisho(t, "token", "list", "--kubeconfig", admin)
	if strings.Contains(list, joinedID) || !strings.Contains(list, pendingID) || !strings.Contains(list, unusedID) {
		t.Errorf("tokens after revoke-joined:\n%s", list)
	}
	if r := run(t, "kubectl", "--kubeconfig", os.DevNull, "--server", s.url(""), "--certificate-authority", ca, "--token", joined, "auth", "whoami"); r.code == 0 {
		t.Errorf("the revoked token still authenticates: %s", r.stdout)
	}
}
