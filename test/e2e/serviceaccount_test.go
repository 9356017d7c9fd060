package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// review asks the server who a token belongs to, through TokenReview.
func (s *server) review(t *testing.T, token string, audiences ...string) (bool, string, string) {
	t.Helper()
	aud, _ := json.Marshal(audiences)
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":` + jsonString(token) + `,"audiences":` + string(aud) + `}}`
	code, resp := s.do("POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", strings.NewReader(body))
	if code != 201 {
		t.Fatalf("tokenreview: %d %s", code, resp)
	}
	var r struct {
		Status struct {
			Authenticated bool
			User          struct {
				Username string
				Extra    map[string][]string
			}
			Error string
		}
	}
	json.Unmarshal([]byte(resp), &r)
	pod := ""
	if v := r.Status.User.Extra["authentication.kubernetes.io/pod-name"]; len(v) > 0 {
		pod = v[0]
	}
	return r.Status.Authenticated, r.Status.User.Username, pod
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestServiceAccountTokens covers kubectl create token, bound tokens dying
// with their object, TokenRequest validation, legacy token Secrets, the
// default service accounts and issuer discovery.
func TestServiceAccountTokens(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	if !waitFor(func() bool {
		return strings.Contains(s.mustKubectl("get", "sa", "-A", "-o", "name"), "serviceaccount/default")
	}) {
		t.Fatal("no default service account")
	}
	s.mustKubectl("create", "ns", "team")
	s.mustKubectl("-n", "team", "create", "sa", "builder")
	if !waitFor(func() bool { return s.kubectl("-n", "team", "get", "sa", "default").code == 0 }) {
		t.Fatal("new namespace got no default service account")
	}

	token := strings.TrimSpace(s.mustKubectl("-n", "team", "create", "token", "builder"))
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss, Sub, Jti string
		Aud           []string
		Exp, Iat      int64
		K8s           struct {
			Namespace      string
			ServiceAccount struct{ Name, UID string }
		} `json:"kubernetes.io"`
	}
	json.Unmarshal(payload, &claims)
	if claims.Iss != "https://kubernetes.default.svc.cluster.local" || claims.Sub != "system:serviceaccount:team:builder" ||
		claims.Jti == "" || claims.K8s.Namespace != "team" || claims.K8s.ServiceAccount.UID == "" || claims.Exp-claims.Iat != 3600 {
		t.Errorf("claims: %s", payload)
	}
	if ok, user, _ := s.review(t, token); !ok || user != "system:serviceaccount:team:builder" {
		t.Errorf("review: %v %s", ok, user)
	}
	if ok, _, _ := s.review(t, token, "vault"); ok {
		t.Error("token accepted for an audience it was not issued for")
	}

	// Bound to a pod: dies when the pod goes.
	s.mustKubectl("-n", "team", "run", "web", "--image=nginx", "--restart=Never")
	podToken := strings.TrimSpace(s.mustKubectl("-n", "team", "create", "token", "builder", "--bound-object-kind", "Pod", "--bound-object-name", "web", "--duration", "20m"))
	if ok, _, pod := s.review(t, podToken); !ok || pod != "web" {
		t.Fatalf("pod-bound token: %v pod=%q", ok, pod)
	}
	s.mustKubectl("-n", "team", "delete", "pod", "web")
	if !waitFor(func() bool { ok, _, _ := s.review(t, podToken); return !ok }) {
		t.Error("pod-bound token outlived its pod")
	}
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "the bound pod web has been deleted") }) {
		t.Error("the log does not explain the refused token")
	}

	// The account goes: its tokens stop.
	s.mustKubectl("-n", "team", "delete", "sa", "builder")
	if !waitFor(func() bool { ok, _, _ := s.review(t, token); return !ok }) {
		t.Error("token outlived its service account")
	}

	// TokenRequest validation.
	if r := s.kubectl("-n", "team", "create", "token", "default", "--duration", "5m"); r.code == 0 || !strings.Contains(r.stderr, "may not specify a duration less than 10 minutes") {
		t.Errorf("5m token: %+v", r)
	}
	if r := s.kubectl("-n", "team", "create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "ghost"); r.code == 0 || !strings.Contains(r.stderr, `pods "ghost" not found`) {
		t.Errorf("token bound to a missing pod: %+v", r)
	}

	// Legacy token Secrets are filled in, work, and die with the Secret.
	s.mustKubectl("-n", "team", "create", "sa", "legacy")
	manifest := writeManifest(t, `apiVersion: v1
kind: Secret
metadata:
  name: legacy-token
  namespace: team
  annotations:
    kubernetes.io/service-account.name: legacy
type: kubernetes.io/service-account-token
`)
	s.mustKubectl("apply", "-f", manifest)
	var legacy string
	if !waitFor(func() bool {
		legacy = s.mustKubectl("-n", "team", "get", "secret", "legacy-token", "-o", "jsonpath={.data.token}")
		return legacy != ""
	}) {
		t.Fatal("the token Secret was not filled")
	}
	raw, _ := base64.StdEncoding.DecodeString(legacy)
	if ok, user, _ := s.review(t, string(raw)); !ok || user != "system:serviceaccount:team:legacy" {
		t.Errorf("legacy token: %v %s", ok, user)
	}
	if ca := s.mustKubectl("-n", "team", "get", "secret", "legacy-token", "-o", "jsonpath={.data.ca\\.crt}"); ca == "" {
		t.Error("token Secret lacks ca.crt")
	}
	s.mustKubectl("-n", "team", "delete", "secret", "legacy-token")
	if !waitFor(func() bool { ok, _, _ := s.review(t, string(raw)); return !ok }) {
		t.Error("legacy token outlived its Secret")
	}

	// Issuer discovery documents.
	cfg := s.mustKubectl("get", "--raw", "/.well-known/openid-configuration")
	if !strings.Contains(cfg, `"issuer":"https://kubernetes.default.svc.cluster.local"`) || !strings.Contains(cfg, `/openid/v1/jwks"`) {
		t.Errorf("openid-configuration: %s", cfg)
	}
	if jwks := s.mustKubectl("get", "--raw", "/openid/v1/jwks"); !strings.Contains(jwks, `"alg":"ES256"`) || !strings.Contains(jwks, `"kid":`) {
		t.Errorf("jwks: %s", jwks)
	}

	// A malformed, huge or forged bearer token is a fast 401.
	for name, tok := range map[string]string{
		"1 MB token":       strings.Repeat("a", 1000000),
		"malformed base64": "eyJhbGciOiJFUzI1NiJ9.!!!.###",
		"forged claims":    parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://kubernetes.default.svc.cluster.local","sub":"system:serviceaccount:kube-system:admin"}`)) + "." + parts[2],
	} {
		req := mustRequest(t, "GET", s.url("/api/v1/namespaces"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		resp, err := s.anonClient().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || time.Since(start) > 2*time.Second {
			t.Errorf("%s: %d after %s", name, resp.StatusCode, time.Since(start))
		}
	}
}

// Every namespace gets kube-root-ca.crt with the cluster CA, kept as it
// should be when edited or deleted; when the CA file gains a CA (as in a
// rotation), that ConfigMap, legacy token Secrets,
// extension-apiserver-authentication and cluster-info all carry both
// within seconds.
func TestRootCAPublished(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t)
	caFile := filepath.Join(s.dir, "pki", "ca.crt")
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	published := func(ns string) string {
		r := s.kubectl("-n", ns, "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}")
		return strings.TrimSpace(r.stdout)
	}
	s.mustKubectl("create", "namespace", "team")
	if !waitFor(func() bool { return published("team") == strings.TrimSpace(string(ca)) }) {
		t.Fatalf("kube-root-ca.crt in a new namespace: %q", published("team"))
	}
	if d := s.mustKubectl("-n", "team", "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.metadata.annotations.kubernetes\\.io/description}"); !strings.HasPrefix(d, "Contains a CA bundle") {
		t.Errorf("description annotation: %q", d)
	}
	s.mustKubectl("-n", "team", "patch", "configmap", "kube-root-ca.crt", "--type=merge", "-p", `{"data":{"ca.crt":"tampered"}}`)
	if !waitFor(func() bool { return published("team") == strings.TrimSpace(string(ca)) }) {
		t.Errorf("an edited kube-root-ca.crt was not put back: %q", published("team"))
	}
	s.mustKubectl("-n", "team", "delete", "configmap", "kube-root-ca.crt")
	if !waitFor(func() bool { return published("team") == strings.TrimSpace(string(ca)) }) {
		t.Errorf("a deleted kube-root-ca.crt was not recreated")
	}

	// A legacy token Secret, filled with the CA in force.
	s.mustKubectl("create", "-f", writeFile(t, "token.yaml", `apiVersion: v1
kind: Secret
metadata:
  name: legacy
  namespace: team
  annotations:
    kubernetes.io/service-account.name: default
type: kubernetes.io/service-account-token
`))
	tokenCA := func() string {
		b64 := s.mustKubectl("-n", "team", "get", "secret", "legacy", "-o", "jsonpath={.data.ca\\.crt}")
		data, _ := base64.StdEncoding.DecodeString(b64)
		return string(data)
	}
	if !waitFor(func() bool { return strings.TrimSpace(tokenCA()) == strings.TrimSpace(string(ca)) }) {
		t.Fatalf("the legacy token Secret's ca.crt: %q", tokenCA())
	}

	// A second CA joins the bundle.
	dir := t.TempDir()
	must(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", filepath.Join(dir, "new.key"), "-out", filepath.Join(dir, "new.crt"), "-days", "1", "-subj", "/CN=next-ca")
	next, _ := os.ReadFile(filepath.Join(dir, "new.crt"))
	both := append(append([]byte{}, ca...), next...)
	if err := os.WriteFile(caFile+".tmp", both, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Rename(caFile+".tmp", caFile)
	nextBody := strings.TrimSpace(strings.Split(strings.Split(string(next), "-----BEGIN CERTIFICATE-----")[1], "-----END")[0])
	has := func(text string) bool {
		return strings.Contains(strings.ReplaceAll(text, "\n", ""), strings.ReplaceAll(nextBody, "\n", ""))
	}
	for _, ns := range []string{"default", "team", "kube-system"} {
		if !waitFor(func() bool { return has(published(ns)) }) {
			t.Errorf("kube-root-ca.crt in %s does not carry the new CA", ns)
		}
	}
	if !waitFor(func() bool { return has(tokenCA()) }) {
		t.Error("the legacy token Secret's ca.crt does not carry the new CA")
	}
	if !waitFor(func() bool {
		return has(s.mustKubectl("-n", "kube-system", "get", "configmap", "extension-apiserver-authentication", "-o", "jsonpath={.data.client-ca-file}"))
	}) {
		t.Error("extension-apiserver-authentication does not carry the new CA")
	}
	clusterInfoCA := func() string {
		kc := s.mustKubectl("-n", "kube-public", "get", "configmap", "cluster-info", "-o", "jsonpath={.data.kubeconfig}")
		_, b64, _ := strings.Cut(kc, "certificate-authority-data: ")
		b64, _, _ = strings.Cut(b64, "\n")
		data, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		return string(data)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !has(clusterInfoCA()) {
		if time.Now().After(deadline) {
			t.Fatal("cluster-info does not carry the new CA")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
