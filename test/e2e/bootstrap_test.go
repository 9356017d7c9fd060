package e2e

import (
	"encoding/base64"
	"encoding/json"
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
