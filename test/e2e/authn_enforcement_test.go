package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sekisho/sekisho/internal/pki"
)

// Checks that authentication, impersonation and the review APIs refuse
// what they must, each against a real server.

const selfSubjectReviewPath = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
const selfSubjectReviewBody = `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`

// sendHeaders makes one request with c, adding header, and returns the
// status and body.
func (s *server) sendHeaders(t *testing.T, c *http.Client, method, path, body string, header http.Header) (int, string) {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	resp, data := s.send(t, c, method, path, contentType, body, header)
	return resp.StatusCode, data
}

// whoAmI posts a SelfSubjectReview with a bearer token and no certificate.
func (s *server) whoAmI(t *testing.T, token string) (int, string) {
	t.Helper()
	return s.sendHeaders(t, s.anonClient(), "POST", selfSubjectReviewPath, selfSubjectReviewBody,
		http.Header{"Authorization": {"Bearer " + token}})
}

type reviewedUser struct {
	Username, UID string
	Groups        []string
	Extra         map[string][]string
}

func parseSelfSubjectReview(t *testing.T, body string) reviewedUser {
	t.Helper()
	var r struct {
		Status struct {
			UserInfo reviewedUser `json:"userInfo"`
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("SelfSubjectReview %s: %v", body, err)
	}
	return r.Status.UserInfo
}

// TestImpersonationEachPartAuthorized gives user01 the right to
// impersonate some users, groups, uids and extra values and not others. A
// request that asks for an allowed user together with anything refused is
// a 403 naming the refused part, and nothing is applied: the object the
// allowed user could have created does not exist.
func TestImpersonationEachPartAuthorized(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	s.mustKubectl("apply", "-f", writeManifest(t, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: impersonate-some
rules:
- apiGroups: [""]
  resources: [users]
  verbs: [impersonate]
  resourceNames: [jane]
- apiGroups: [""]
  resources: [groups]
  verbs: [impersonate]
  resourceNames: [dev]
- apiGroups: [authentication.k8s.io]
  resources: [uids]
  verbs: [impersonate]
  resourceNames: [uid-ok]
- apiGroups: [authentication.k8s.io]
  resources: [userextras/scopes]
  verbs: [impersonate]
  resourceNames: [view]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: user01-impersonates-some
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-some}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: user01}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: impersonate-builder
  namespace: default
rules:
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [impersonate]
  resourceNames: [builder]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: user01-impersonates-builder
  namespace: default
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: impersonate-builder}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: user01}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: configmap-writer
  namespace: default
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: jane-writes-configmaps
  namespace: default
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-writer}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
`))
	user01 := clientWithCert(t, s, clientCertOf(t, s.userKubeconfig(t, "user01")))
	createConfigMap := func(name string, h http.Header) (int, string) {
		return s.sendHeaders(t, user01, "POST", "/api/v1/namespaces/default/configmaps",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"`+name+`"}}`, h)
	}

	// What is allowed works: jane alone may create a ConfigMap (once the
	// bindings are in force), and every allowed part together is applied.
	var code int
	var body string
	if !waitFor(func() bool {
		code, body = createConfigMap("as-jane", http.Header{"Impersonate-User": {"jane"}})
		return code == 201
	}) {
		t.Fatalf("impersonating jane, who may create ConfigMaps: %d %s", code, body)
	}
	allowed := http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"dev"}, "Impersonate-Uid": {"uid-ok"}, "Impersonate-Extra-Scopes": {"view"}}
	if !waitFor(func() bool {
		code, body = s.sendHeaders(t, user01, "POST", selfSubjectReviewPath, selfSubjectReviewBody, allowed)
		return code == 201
	}) {
		t.Fatalf("impersonating only allowed parts: %d %s", code, body)
	}
	u := parseSelfSubjectReview(t, body)
	if u.Username != "jane" || u.UID != "uid-ok" || !slices.Equal(u.Groups, []string{"dev", "system:authenticated"}) ||
		!slices.Equal(u.Extra["scopes"], []string{"view"}) || len(u.Extra) != 1 {
		t.Errorf("impersonating only allowed parts: %+v", u)
	}
	if !waitFor(func() bool {
		code, body = s.sendHeaders(t, user01, "POST", selfSubjectReviewPath, selfSubjectReviewBody,
			http.Header{"Impersonate-User": {"system:serviceaccount:default:builder"}})
		return code == 201
	}) || parseSelfSubjectReview(t, body).Username != "system:serviceaccount:default:builder" {
		t.Fatalf("impersonating the allowed service account: %d %s", code, body)
	}

	// Each refused part is a 403 that names it, and nothing is applied.
	cases := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"group", http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"ops"}},
			`groups \"ops\" is forbidden: User \"user01\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope`},
		{"one-of-two-groups", http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"dev", "ops"}},
			`groups \"ops\" is forbidden: User \"user01\" cannot impersonate resource \"groups\"`},
		{"masters", http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"system:masters"}},
			`groups \"system:masters\" is forbidden: User \"user01\" cannot impersonate resource \"groups\"`},
		{"uid", http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"uid-other"}},
			`uids.authentication.k8s.io \"uid-other\" is forbidden: User \"user01\" cannot impersonate resource \"uids\" in API group \"authentication.k8s.io\" at the cluster scope`},
		{"extra-value", http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"view", "edit"}},
			`userextras.authentication.k8s.io \"edit\" is forbidden: User \"user01\" cannot impersonate resource \"userextras/scopes\" in API group \"authentication.k8s.io\" at the cluster scope`},
		{"extra-key", http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Project": {"view"}},
			`userextras.authentication.k8s.io \"view\" is forbidden: User \"user01\" cannot impersonate resource \"userextras/project\" in API group \"authentication.k8s.io\"`},
		{"user", http.Header{"Impersonate-User": {"bob"}, "Impersonate-Group": {"dev"}},
			`users \"bob\" is forbidden: User \"user01\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope`},
		{"service-account", http.Header{"Impersonate-User": {"system:serviceaccount:default:deployer"}},
			`serviceaccounts \"deployer\" is forbidden: User \"user01\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"default\"`},
	}
	for _, c := range cases {
		name := "refused-" + c.name
		code, body := createConfigMap(name, c.header)
		if code != 403 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s\nwant 403 with %s", c.name, code, body, c.want)
		}
		if code, body := s.do("GET", "/api/v1/namespaces/default/configmaps/"+name, "", nil); code != 404 {
			t.Errorf("%s: a refused impersonation created the ConfigMap: %d %s", c.name, code, body)
		}
		// The identity a SelfSubjectReview would report is never handed out.
		if code, body := s.sendHeaders(t, user01, "POST", selfSubjectReviewPath, selfSubjectReviewBody, c.header); code != 403 || strings.Contains(body, "userInfo") {
			t.Errorf("%s: SelfSubjectReview: %d %s", c.name, code, body)
		}
	}
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "impersonation refused") }) {
		t.Error("the log does not record the refused impersonation")
	}
}

// TestTokenReviewRequiresPermission: a user who may not create
// tokenreviews learns nothing about a valid token; once allowed, the same
// request answers.
func TestTokenReviewRequiresPermission(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	if !waitFor(func() bool { return s.kubectl("-n", "default", "get", "sa", "default").code == 0 }) {
		t.Fatal("no default service account")
	}
	token := strings.TrimSpace(s.mustKubectl("-n", "default", "create", "token", "default"))
	review := `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":` + jsonString(token) + `}}`
	user01 := clientWithCert(t, s, clientCertOf(t, s.userKubeconfig(t, "user01")))
	code, body := s.doWith(user01, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", strings.NewReader(review))
	const want = `tokenreviews.authentication.k8s.io is forbidden: User \"user01\" cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope`
	if code != 403 || !strings.Contains(body, want) || strings.Contains(body, "system:serviceaccount") || strings.Contains(body, "authenticated") {
		t.Errorf("TokenReview without permission: %d %s", code, body)
	}
	// A service account has no such permission either.
	code, body = s.sendHeaders(t, s.anonClient(), "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review, http.Header{"Authorization": {"Bearer " + token}})
	if code != 403 || !strings.Contains(body, `User \"system:serviceaccount:default:default\" cannot create resource \"tokenreviews\"`) {
		t.Errorf("TokenReview by a service account: %d %s", code, body)
	}

	s.mustKubectl("create", "clusterrole", "token-reviewer", "--verb=create", "--resource=tokenreviews.authentication.k8s.io")
	s.mustKubectl("create", "clusterrolebinding", "user01-reviews", "--clusterrole=token-reviewer", "--user=user01")
	if !waitFor(func() bool {
		code, body = s.doWith(user01, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", strings.NewReader(review))
		return code == 201
	}) || !strings.Contains(body, `"authenticated":true`) || !strings.Contains(body, `"username":"system:serviceaccount:default:default"`) {
		t.Errorf("TokenReview once allowed: %d %s", code, body)
	}
}

// tokenRequest posts a TokenRequest and returns the token, the granted
// expirationSeconds and the expiration timestamp.
func (s *server) tokenRequest(t *testing.T, namespace, account, spec string) (string, int64, time.Time) {
	t.Helper()
	code, body := s.do("POST", "/api/v1/namespaces/"+namespace+"/serviceaccounts/"+account+"/token", "application/json",
		strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":`+spec+`}`))
	if code != 201 {
		t.Fatalf("TokenRequest %s: %d %s", spec, code, body)
	}
	var r struct {
		Spec   struct{ ExpirationSeconds int64 }
		Status struct {
			Token               string
			ExpirationTimestamp time.Time
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r.Status.Token, r.Spec.ExpirationSeconds, r.Status.ExpirationTimestamp
}

// jwtClaims decodes the payload of a JWT without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// signServiceAccountToken signs a bound token with the cluster's sa.key,
// independently of the server's signer but with the claims it writes.
func signServiceAccountToken(t *testing.T, s *server, claims map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, "pki/sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	var alg jose.SignatureAlgorithm
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		alg = jose.RS256
	case *ecdsa.PublicKey:
		alg = map[elliptic.Curve]jose.SignatureAlgorithm{elliptic.P256(): jose.ES256, elliptic.P384(): jose.ES384, elliptic.P521(): jose.ES512}[k.Curve]
	default:
		t.Fatalf("unexpected key type %T", k)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: base64.RawURLEncoding.EncodeToString(sum[:])}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestServiceAccountTokenFlags runs a server with every service-account
// flag changed from `up`'s defaults and checks each one.
func TestServiceAccountTokenFlags(t *testing.T) {
	requireTools(t, "kubectl")
	const first, second = "https://first.example", "https://second.example"
	s := startServer(t,
		"--service-account-issuer", first, "--service-account-issuer", second,
		"--api-audiences", "api-one,api-two",
		"--service-account-max-token-expiration", "2h",
		"--service-account-lookup=false")
	if !waitFor(func() bool { return s.kubectl("-n", "default", "get", "sa", "default").code == 0 }) {
		t.Fatal("no default service account")
	}
	saUID := s.mustKubectl("-n", "default", "get", "sa", "default", "-o", "jsonpath={.metadata.uid}")
	accepted := func(token string) (bool, string) {
		code, body := s.whoAmI(t, token)
		switch code {
		case 201:
			return true, parseSelfSubjectReview(t, body).Username
		case 401:
			return false, ""
		}
		t.Fatalf("SelfSubjectReview with a token: %d %s", code, body)
		return false, ""
	}

	// --service-account-max-token-expiration: a longer request is capped,
	// as kube-apiserver does; a shorter one is granted as asked.
	start := time.Now()
	token, granted, expires := s.tokenRequest(t, "default", "default", `{"expirationSeconds":86400}`)
	c := jwtClaims(t, token)
	if granted != 7200 || c["exp"].(float64)-c["iat"].(float64) != 7200 {
		t.Errorf("asked for 24h with a 2h cap: granted %d, token lives %v s", granted, c["exp"].(float64)-c["iat"].(float64))
	}
	if d := expires.Sub(start); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Errorf("expirationTimestamp %s is %s away, want 2h", expires, d)
	}
	r := s.kubectl("-n", "default", "create", "token", "default", "--duration", "48h")
	if r.code != 0 {
		t.Fatalf("kubectl create token: %+v", r)
	}
	// kube-apiserver's warning, which kubectl prints.
	if !strings.Contains(r.stderr, "Warning: requested expiration of 172800 seconds shortened to 7200 seconds") {
		t.Errorf("no warning for the shortened token: %q", r.stderr)
	}
	viaKubectl := jwtClaims(t, strings.TrimSpace(r.stdout))
	if life := viaKubectl["exp"].(float64) - viaKubectl["iat"].(float64); life != 7200 {
		t.Errorf("kubectl create token --duration 48h with a 2h cap: lives %v s", life)
	}
	short, granted, _ := s.tokenRequest(t, "default", "default", `{"expirationSeconds":3600}`)
	if c := jwtClaims(t, short); granted != 3600 || c["exp"].(float64)-c["iat"].(float64) != 3600 {
		t.Errorf("asked for 1h under a 2h cap: granted %d, claims %v", granted, c)
	}

	// The first issuer signs, and the default audiences are --api-audiences.
	if c["iss"] != first || fmt.Sprint(c["aud"]) != "[api-one api-two]" {
		t.Errorf("issued token: iss %v aud %v", c["iss"], c["aud"])
	}
	if ok, user := accepted(token); !ok || user != "system:serviceaccount:default:default" {
		t.Errorf("the server's own token: %v %q", ok, user)
	}

	// --service-account-issuer given twice: a token whose iss is the
	// second is accepted; an issuer not listed is not ours.
	forge := func(iss string, aud ...string) string {
		now := time.Now()
		return signServiceAccountToken(t, s, map[string]any{
			"iss": iss, "sub": "system:serviceaccount:default:default", "aud": aud,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprintf("e2e-%d", now.UnixNano()),
			"kubernetes.io": map[string]any{"namespace": "default", "serviceaccount": map[string]any{"name": "default", "uid": saUID}},
		})
	}
	for _, c := range []struct {
		name string
		iss  string
		aud  []string
		ok   bool
	}{
		{"first issuer", first, []string{"api-one"}, true},
		{"second issuer", second, []string{"api-two"}, true},
		{"unlisted issuer", "https://third.example", []string{"api-one"}, false},
		// --api-audiences replaces the default audience (the first issuer).
		{"issuer as audience", first, []string{first}, false},
		{"another audience", second, []string{"vault"}, false},
	} {
		if ok, user := accepted(forge(c.iss, c.aud...)); ok != c.ok || (ok && user != "system:serviceaccount:default:default") {
			t.Errorf("%s (iss %s, aud %v): accepted %v as %q, want %v", c.name, c.iss, c.aud, ok, user, c.ok)
		}
	}

	// --api-audiences: TokenRequest tokens for another audience are refused.
	vault, _, _ := s.tokenRequest(t, "default", "default", `{"audiences":["vault"]}`)
	if ok, _ := accepted(vault); ok {
		t.Error("a token for audience vault was accepted by the API")
	}
	apiTwo, _, _ := s.tokenRequest(t, "default", "default", `{"audiences":["api-two"]}`)
	if ok, _ := accepted(apiTwo); !ok {
		t.Error("a token for the listed audience api-two was refused")
	}
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), "audience [vault] does not include any of [api-one api-two]")
	}) {
		t.Error("the log does not explain the audience mismatch")
	}

	// --service-account-lookup=false: a legacy Secret token outlives its
	// Secret, while bound tokens still die with their objects.
	s.mustKubectl("-n", "default", "create", "sa", "legacy")
	s.mustKubectl("apply", "-f", writeManifest(t, `apiVersion: v1
kind: Secret
metadata:
  name: legacy-token
  namespace: default
  annotations:
    kubernetes.io/service-account.name: legacy
type: kubernetes.io/service-account-token
`))
	var legacy string
	if !waitFor(func() bool {
		legacy = s.mustKubectl("-n", "default", "get", "secret", "legacy-token", "-o", "jsonpath={.data.token}")
		return legacy != ""
	}) {
		t.Fatal("the token Secret was not filled")
	}
	legacyToken := string(decodeB64(t, legacy))
	// A token bound to the same Secret tells when the server has seen its deletion.
	secretBound, _, _ := s.tokenRequest(t, "default", "legacy", `{"boundObjectRef":{"apiVersion":"v1","kind":"Secret","name":"legacy-token"}}`)
	s.mustKubectl("-n", "default", "run", "web", "--image=nginx", "--restart=Never")
	podBound, _, _ := s.tokenRequest(t, "default", "default", `{"boundObjectRef":{"apiVersion":"v1","kind":"Pod","name":"web"}}`)
	for name, tok := range map[string]string{"legacy": legacyToken, "secret-bound": secretBound, "pod-bound": podBound} {
		if !waitFor(func() bool { ok, _ := accepted(tok); return ok }) {
			t.Fatalf("the %s token is refused from the start", name)
		}
	}
	s.mustKubectl("-n", "default", "delete", "secret", "legacy-token")
	if !waitFor(func() bool { ok, _ := accepted(secretBound); return !ok }) {
		t.Fatal("a token bound to the deleted Secret still works")
	}
	if ok, user := accepted(legacyToken); !ok || user != "system:serviceaccount:default:legacy" {
		t.Errorf("with --service-account-lookup=false, the legacy token died with its Secret: %v %q", ok, user)
	}
	s.mustKubectl("-n", "default", "delete", "pod", "web")
	if !waitFor(func() bool { ok, _ := accepted(podBound); return !ok }) {
		t.Error("with --service-account-lookup=false, a pod-bound token outlived its pod")
	}
	if ok, _ := accepted(legacyToken); !ok {
		t.Error("the legacy token stopped working")
	}
}

// createBootstrapSecret stores a bootstrap token Secret directly, with
// data as given.
func (s *server) createBootstrapSecret(t *testing.T, id string, data map[string]string) {
	t.Helper()
	enc := map[string]string{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	secret, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
		"metadata": map[string]any{"name": "bootstrap-token-" + id, "namespace": "kube-system"},
		"data":     enc,
	})
	if code, body := s.do("POST", "/api/v1/namespaces/kube-system/secrets", "application/json", strings.NewReader(string(secret))); code != 201 {
		t.Fatalf("creating bootstrap token %s: %d %s", id, code, body)
	}
}

// TestBootstrapTokenRefusals: bootstrap tokens that are expired, not
// meant for authentication, or that claim groups outside
// system:bootstrappers: are refused with 401.
func TestBootstrapTokenRefusals(t *testing.T) {
	s := startServer(t)
	const secret = "0123456789abcdef"
	token := func(id string, extra map[string]string) string {
		data := map[string]string{"token-id": id, "token-secret": secret}
		for k, v := range extra {
			data[k] = v
		}
		s.createBootstrapSecret(t, id, data)
		return id + "." + secret
	}

	// A well-formed token is accepted with its groups: the refusals below
	// come from the one field each gets wrong.
	good := token("good01", map[string]string{"usage-bootstrap-authentication": "true", "auth-extra-groups": "system:bootstrappers:workers"})
	var code int
	var body string
	if !waitFor(func() bool { code, body = s.whoAmI(t, good); return code == 201 }) {
		t.Fatalf("a valid bootstrap token: %d %s", code, body)
	}
	if u := parseSelfSubjectReview(t, body); u.Username != "system:bootstrap:good01" ||
		!slices.Equal(u.Groups, []string{"system:bootstrappers", "system:bootstrappers:workers", "system:authenticated"}) {
		t.Errorf("valid bootstrap token: %+v", u)
	}

	// Each refused token is 401 on every try until the log shows the server
	// looked at its Secret and refused it for the expected reason (before
	// the Secret is in the server's cache, the token is merely unknown).
	refused := func(name, tok, cause string) {
		t.Helper()
		if !waitFor(func() bool {
			if code, body := s.whoAmI(t, tok); code != 401 {
				t.Fatalf("%s: %d %s", name, code, body)
			}
			return strings.Contains(s.logs.String(), cause)
		}) {
			t.Errorf("%s: the log never gave the cause %q", name, cause)
		}
	}
	refused("signing-only usage", token("nouse1", map[string]string{"usage-bootstrap-signing": "true"}),
		"bootstrap token nouse1: not usable for authentication")
	refused(`usage "false"`, token("nouse2", map[string]string{"usage-bootstrap-authentication": "false"}),
		"bootstrap token nouse2: not usable for authentication")
	refused("group system:masters", token("badgr1", map[string]string{"usage-bootstrap-authentication": "true", "auth-extra-groups": "system:bootstrappers:workers,system:masters"}),
		`bootstrap token badgr1: group \"system:masters\": bootstrap token groups must match`)
	refused("group with a trailing colon", token("badgr2", map[string]string{"usage-bootstrap-authentication": "true", "auth-extra-groups": "system:bootstrappers:"}),
		`bootstrap token badgr2: group \"system:bootstrappers:\": bootstrap token groups must match`)

	// A token that expires a few seconds from now works until then and is
	// refused afterwards (by the authenticator, or because the token
	// cleaner has already deleted it: either way a 401).
	exp := time.Now().Add(6 * time.Second).Truncate(time.Second)
	expiring := token("expire", map[string]string{"usage-bootstrap-authentication": "true", "expiration": exp.UTC().Format(time.RFC3339)})
	for {
		code, body := s.whoAmI(t, expiring)
		if code == 201 {
			break
		}
		if time.Now().After(exp.Add(-time.Second)) {
			t.Fatalf("the expiring token was never accepted before it expired: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline := exp.Add(10 * time.Second)
	for {
		code, body := s.whoAmI(t, expiring)
		if code == 401 {
			if time.Now().Before(exp) {
				t.Errorf("the token was refused at %s, before it expired at %s", time.Now(), exp)
			}
			break
		}
		if code != 201 || time.Now().After(deadline) {
			t.Fatalf("expired at %s, still at %s: %d %s", exp, time.Now(), code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := s.whoAmI(t, expiring); code != 401 {
		t.Errorf("an expired token: %d", code)
	}
}
