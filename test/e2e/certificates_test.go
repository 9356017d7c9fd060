package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// csrManifest renders a CertificateSigningRequest for a PEM request.
func csrManifest(name, signer string, request []byte, expirationSeconds int, usages ...string) string {
	exp := ""
	if expirationSeconds > 0 {
		exp = fmt.Sprintf("  expirationSeconds: %d\n", expirationSeconds)
	}
	var u strings.Builder
	for _, x := range usages {
		fmt.Fprintf(&u, "  - %s\n", x)
	}
	return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: %s
spec:
  request: %s
  signerName: %s
%s  usages:
%s`, name, base64.StdEncoding.EncodeToString(request), signer, exp, u.String())
}

// TestSeedOnboarding runs seed 000's onboarding procedure exactly as a user
// would, with openssl and kubectl: key, CSR, approval, certificate,
// Role and RoleBinding, kubeconfig credentials, and access as the new user.
func TestSeedOnboarding(t *testing.T) {
	requireTools(t, "kubectl", "openssl", "base64")
	s := startServer(t)
	dir := t.TempDir()
	admin := filepath.Join(s.dir, "admin.conf")
	k := func(args ...string) string {
		t.Helper()
		return s.mustKubectlAs(admin, args...)
	}
	key, csrFile, crt := filepath.Join(dir, "user01.key"), filepath.Join(dir, "user01.csr"), filepath.Join(dir, "user01.crt")
	// 1. A private key and a CSR with CN=user01.
	must(t, "openssl", "genrsa", "-out", key, "2048")
	must(t, "openssl", "req", "-new", "-key", key, "-out", csrFile, "-subj", "/CN=user01")
	request, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	// 2. The manifest, valid 30 days.
	manifest := writeFile(t, "csr.yaml", csrManifest("user01", "kubernetes.io/kube-apiserver-client", request, 2592000, "client auth"))
	// 3. Apply it.
	k("apply", "-f", manifest)
	// 4. Pending, with Kubernetes' columns.
	out := k("get", "csr")
	if !strings.Contains(out, "NAME     AGE   SIGNERNAME                            REQUESTOR          REQUESTEDDURATION   CONDITION") ||
		!strings.Contains(out, "kubernetes.io/kube-apiserver-client   kubernetes-admin   30d                 Pending") {
		t.Errorf("kubectl get csr:\n%s", out)
	}
	// 5. Approve.
	k("certificate", "approve", "user01")
	// 6. Read the certificate, once the signer has written it, with the
	// seed's pipeline verbatim: kubectl's jsonpath through the real base64 -d.
	if !waitFor(func() bool { return k("get", "csr", "user01", "-o", "jsonpath={.status.certificate}") != "" }) {
		t.Fatalf("no certificate after approval:\n%s", k("get", "csr", "user01", "-o", "yaml"))
	}
	pipeline := exec.Command("sh", "-c", `kubectl get csr user01 -o jsonpath='{.status.certificate}' | base64 -d > user01.crt`)
	pipeline.Dir = dir
	pipeline.Env = append(os.Environ(), "KUBECONFIG="+admin, "KUBECACHEDIR="+s.cache)
	if out, err := pipeline.CombinedOutput(); err != nil {
		t.Fatalf("kubectl get csr | base64 -d: %v\n%s", err, out)
	}
	certPEM, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(certPEM); block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("base64 -d did not give a PEM certificate:\n%q", certPEM)
	}
	if out := k("get", "csr", "user01"); !strings.Contains(out, "Approved,Issued") {
		t.Errorf("condition after signing:\n%s", out)
	}
	// 7. notAfter is 30 days away, within minutes; the subject and usage are as asked.
	enddate := strings.TrimPrefix(strings.TrimSpace(must(t, "openssl", "x509", "-in", crt, "-noout", "-enddate")), "notAfter=")
	notAfter, err := time.Parse("Jan _2 15:04:05 2006 MST", enddate)
	if err != nil {
		t.Fatalf("openssl enddate %q: %v", enddate, err)
	}
	if d := time.Until(notAfter) - 30*24*time.Hour; d > 2*time.Minute || d < -2*time.Minute {
		t.Errorf("notAfter %s is %s off 30 days from now", notAfter, d)
	}
	text := must(t, "openssl", "x509", "-in", crt, "-noout", "-subject", "-ext", "extendedKeyUsage")
	if !strings.Contains(text, "CN = user01") || !strings.Contains(text, "TLS Web Client Authentication") || strings.Contains(text, "Server") {
		t.Errorf("certificate:\n%s", text)
	}
	must(t, "openssl", "verify", "-CAfile", filepath.Join(s.dir, "pki/ca.crt"), crt)
	// 8. A Role and a RoleBinding for user01.
	k("create", "namespace", "development")
	k("create", "role", "developer", "--verb=create,get,list,update,delete", "--resource=pods", "-n", "development")
	k("create", "rolebinding", "developer-binding-user01", "--role=developer", "--user=user01", "-n", "development")
	// 9. Credentials and a context.
	kc := filepath.Join(dir, "kubeconfig")
	data, _ := os.ReadFile(admin)
	os.WriteFile(kc, data, 0o600)
	cluster := strings.TrimSpace(s.kubectlAs(kc, "config", "view", "-o", "jsonpath={.clusters[0].name}").stdout)
	for _, args := range [][]string{
		{"config", "set-credentials", "user01", "--client-key=" + key, "--client-certificate=" + crt, "--embed-certs=true"},
		{"config", "set-context", "user01", "--cluster=" + cluster, "--user=user01"},
		{"config", "use-context", "user01"},
	} {
		if r := s.kubectlAs(kc, args...); r.code != 0 {
			t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r.stderr)
		}
	}
	// 10. As user01: allowed in development, forbidden elsewhere.
	if r := s.kubectlAs(kc, "get", "pods", "-n", "development"); r.code != 0 {
		t.Errorf("user01 listing pods in development: %s", r.stderr)
	}
	if r := s.kubectlAs(kc, "get", "pods", "-n", "default"); r.code == 0 ||
		!strings.Contains(r.stderr, `pods is forbidden: User "user01" cannot list resource "pods" in API group "" in the namespace "default"`) {
		t.Errorf("user01 listing pods in default: %d %s", r.code, r.stderr)
	}
	// 11. whoami.
	if r := s.kubectlAs(kc, "auth", "whoami"); r.code != 0 || !strings.Contains(r.stdout, "user01") {
		t.Errorf("whoami: %s %s", r.stdout, r.stderr)
	}
}

// TestNodeBootstrap: a bootstrap token creates a kubelet client CSR, which
// is approved and signed on its own, and the certificate is the node.
func TestNodeBootstrap(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t)
	dir := t.TempDir()
	admin := filepath.Join(s.dir, "admin.conf")
	token := strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", admin))
	key, csrFile := filepath.Join(dir, "node.key"), filepath.Join(dir, "node.csr")
	must(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	must(t, "openssl", "req", "-new", "-key", key, "-out", csrFile, "-subj", "/O=system:nodes/CN=system:node:worker-1")
	request, _ := os.ReadFile(csrFile)
	manifest := writeFile(t, "node-csr.yaml", csrManifest("node-csr-worker-1", "kubernetes.io/kube-apiserver-client-kubelet", request, 0, "digital signature", "client auth"))
	ca := filepath.Join(s.dir, "pki/ca.crt")
	asToken := []string{"--kubeconfig", os.DevNull, "--server", s.url(""), "--certificate-authority", ca, "--token", token}
	r := run(t, "kubectl", append(asToken, "create", "-f", manifest)...)
	if r.code != 0 {
		t.Fatalf("creating the CSR with the bootstrap token: %s", r.stderr)
	}
	var certPEM []byte
	deadline := time.Now().Add(10 * time.Second)
	for len(certPEM) == 0 {
		b64 := s.mustKubectl("get", "csr", "node-csr-worker-1", "-o", "jsonpath={.status.certificate}")
		certPEM, _ = base64.StdEncoding.DecodeString(b64)
		if time.Now().After(deadline) {
			t.Fatalf("not approved and signed:\n%s", s.mustKubectl("get", "csr", "node-csr-worker-1", "-o", "yaml"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := s.mustKubectl("get", "csr", "node-csr-worker-1", "-o", "jsonpath={.spec.username} {.status.conditions[0].reason}")
	if !strings.HasPrefix(out, "system:bootstrap:") || !strings.HasSuffix(out, "AutoApproved") {
		t.Errorf("requester and approval: %s", out)
	}
	crt := filepath.Join(dir, "node.crt")
	os.WriteFile(crt, certPEM, 0o600)
	who := run(t, "kubectl", "--kubeconfig", os.DevNull, "--server", s.url(""), "--certificate-authority", ca,
		"--client-certificate", crt, "--client-key", key, "auth", "whoami")
	if who.code != 0 || !strings.Contains(who.stdout, "system:node:worker-1") || !strings.Contains(who.stdout, "system:nodes") {
		t.Errorf("the node's certificate: %s %s", who.stdout, who.stderr)
	}
	// The node renews its own certificate (selfnodeclient): approved on its
	// own. Asking for another node's identity is not.
	asNode := []string{"--kubeconfig", os.DevNull, "--server", s.url(""), "--certificate-authority", ca, "--client-certificate", crt, "--client-key", key}
	renew := writeFile(t, "renew.yaml", csrManifest("renew-worker-1", "kubernetes.io/kube-apiserver-client-kubelet", request, 0, "digital signature", "client auth"))
	if r := run(t, "kubectl", append(asNode, "create", "-f", renew)...); r.code != 0 {
		t.Fatalf("renewal request: %s", r.stderr)
	}
	must(t, "openssl", "req", "-new", "-key", key, "-out", csrFile, "-subj", "/O=system:nodes/CN=system:node:worker-2")
	other, _ := os.ReadFile(csrFile)
	if r := run(t, "kubectl", append(asNode, "create", "-f", writeFile(t, "other.yaml", csrManifest("steal-worker-2", "kubernetes.io/kube-apiserver-client-kubelet", other, 0, "digital signature", "client auth")))...); r.code != 0 {
		t.Fatalf("request for another node: %s", r.stderr)
	}
	if !waitFor(func() bool { return strings.Contains(s.mustKubectl("get", "csr", "renew-worker-1"), "Approved,Issued") }) {
		t.Errorf("renewal not approved:\n%s", s.mustKubectl("get", "csr", "renew-worker-1", "-o", "yaml"))
	}
	if out := s.mustKubectl("get", "csr", "steal-worker-2"); !strings.Contains(out, "Pending") {
		t.Errorf("a node's request for another node's identity was decided:\n%s", out)
	}

	// A serving certificate request is never approved on its own.
	must(t, "openssl", "req", "-new", "-key", key, "-out", csrFile, "-subj", "/O=system:nodes/CN=system:node:worker-1", "-addext", "subjectAltName=DNS:worker-1")
	request, _ = os.ReadFile(csrFile)
	serving := writeFile(t, "serving.yaml", csrManifest("serving-worker-1", "kubernetes.io/kubelet-serving", request, 0, "digital signature", "server auth"))
	s.mustKubectl("create", "-f", serving)
	time.Sleep(500 * time.Millisecond)
	if out := s.mustKubectl("get", "csr", "serving-worker-1"); !strings.Contains(out, "Pending") {
		t.Errorf("serving CSR was decided on its own:\n%s", out)
	}
	// Approved by an administrator, it is signed for server auth.
	s.mustKubectl("certificate", "approve", "serving-worker-1")
	if !waitFor(func() bool {
		return strings.Contains(s.mustKubectl("get", "csr", "serving-worker-1"), "Approved,Issued")
	}) {
		t.Errorf("serving CSR not signed:\n%s", s.mustKubectl("get", "csr", "serving-worker-1", "-o", "yaml"))
	}
}

// TestCSRBadInput: each bad request is refused with a clear Status and
// nothing is issued.
func TestCSRBadInput(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "k.key")
	must(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	csrFor := func(subj string) []byte {
		t.Helper()
		path := filepath.Join(dir, "r.csr")
		must(t, "openssl", "req", "-new", "-key", key, "-out", path, "-subj", subj)
		data, _ := os.ReadFile(path)
		return data
	}
	good := csrFor("/CN=mallory")
	// A request whose signature does not verify: one bit of the
	// signature flipped.
	block, _ := pem.Decode(good)
	der := bytes.Clone(block.Bytes)
	der[len(der)-3] ^= 0x01
	tampered := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if cr, err := x509.ParseCertificateRequest(der); err != nil || cr.CheckSignature() == nil {
		t.Fatalf("the tampered request should parse and fail its signature check: %v", err)
	}
	const client = "kubernetes.io/kube-apiserver-client"
	for _, c := range []struct {
		what, manifest, want string
	}{
		{"invalid PEM", csrManifest("bad-pem", client, []byte("not a PEM request"), 0, "client auth"),
			`spec.request: Invalid value: "<PEM data>": PEM block type must be CERTIFICATE REQUEST`},
		{"bad signature", csrManifest("bad-sig", client, tampered, 0, "client auth"),
			"the certificate request's signature does not verify"},
		{"system:masters", csrManifest("masters", client, csrFor("/O=system:masters/CN=mallory"), 0, "client auth"),
			`use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`},
		{"unknown usage", csrManifest("unknown-usage", client, good, 0, "client auth", "teleportation"),
			`spec.usages[1]: Unsupported value: "teleportation"`},
		{"short expiration", csrManifest("short", client, good, 599, "client auth"),
			"spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)"},
		{"legacy signer", csrManifest("legacy", "kubernetes.io/legacy-unknown", good, 0, "client auth"),
			"the legacy signerName is not allowed via this API version"},
	} {
		r := s.kubectl("create", "-f", writeFile(t, "bad.yaml", c.manifest))
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s:\n got %d %s\nwant %s", c.what, r.code, r.stderr, c.want)
		}
	}
	if out := s.mustKubectl("get", "csr", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("refused requests were stored: %s", out)
	}
	// Over the body size limit: 413, nothing stored.
	huge := csrManifest("huge", client, append(bytes.Repeat([]byte("A"), 4<<20), good...), 0, "client auth")
	code, body := s.do("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", "application/yaml", strings.NewReader(huge))
	if code != 413 || !strings.Contains(body, `"reason":"RequestEntityTooLarge"`) {
		t.Errorf("oversized request: %d %.200s", code, body)
	}

	// Usages that do not fit the signer are taken, as by kube-apiserver,
	// and refused by the signer once approved: Failed, never signed.
	s.mustKubectl("create", "-f", writeFile(t, "usages.yaml", csrManifest("usages", client, good, 0, "client auth", "server auth")))
	s.mustKubectl("certificate", "approve", "usages")
	failed := func() bool {
		out := s.mustKubectl("get", "csr", "usages", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].message}|{.status.certificate}`)
		return strings.HasPrefix(out, "the signer kubernetes.io/kube-apiserver-client signs only the usages [client auth] or") && strings.HasSuffix(out, "|")
	}
	if !waitFor(failed) {
		t.Errorf("a request whose usages do not fit was not failed by the signer: %s", s.mustKubectl("get", "csr", "usages", "-o", "yaml"))
	}
	s.mustKubectl("delete", "csr", "usages")

	// The requester's identity is the server's to record, whatever the body says.
	forged := strings.Replace(csrManifest("forged", client, good, 0, "client auth"), "spec:\n", "spec:\n  username: system:admin\n  groups: [system:masters]\n", 1)
	s.mustKubectl("create", "-f", writeFile(t, "forged.yaml", forged))
	if out := s.mustKubectl("get", "csr", "forged", "-o", "jsonpath={.spec.username} {.spec.groups}"); out != `kubernetes-super-admin ["system:masters","system:authenticated"]` {
		t.Errorf("requester identity: %s", out)
	}

	// Approving needs "approve" on the signer, beyond update on the approval subresource.
	s.mustKubectl("create", "clusterrole", "csr-approval-writer", "--verb=get,update", "--resource=certificatesigningrequests.certificates.k8s.io/approval,certificatesigningrequests.certificates.k8s.io")
	s.mustKubectl("create", "clusterrolebinding", "ann-csr", "--clusterrole=csr-approval-writer", "--user=ann")
	r := s.kubectl("certificate", "approve", "forged", "--as", "ann")
	if r.code == 0 || !strings.Contains(r.stderr, `user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`) {
		t.Errorf("approving without approve: %d %s", r.code, r.stderr)
	}
	// The same write over HTTPS, as ann: 403 Forbidden, from the signer
	// check rather than RBAC (which allows her the approval subresource).
	approveForged := withCondition(t, s.mustKubectl("get", "csr", "forged", "-o", "json"), "Approved")
	code, body = s.doAs("ann", "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/forged/approval", approveForged)
	if code != 403 || !strings.Contains(body, `"reason":"Forbidden"`) || !strings.Contains(body, `"code":403`) ||
		!strings.Contains(body, `certificatesigningrequests.certificates.k8s.io \"forged\" is forbidden: user not permitted to approve requests with signerName \"kubernetes.io/kube-apiserver-client\"`) {
		t.Errorf("approving without approve: HTTP %d %s", code, body)
	}
	if out := s.mustKubectl("get", "csr", "forged", "-o", "jsonpath={.status.conditions}"); out != "" {
		t.Errorf("a refused approval changed the conditions: %s", out)
	}
	// kubectl create clusterrole cannot name "signers", which no server
	// serves as a resource; a manifest can, as Kubernetes' docs show.
	s.mustKubectl("apply", "-f", writeFile(t, "approver.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: client-approver
rules:
- apiGroups: [certificates.k8s.io]
  resources: [signers]
  resourceNames: ["kubernetes.io/*"]
  verbs: [approve]
`))
	s.mustKubectl("create", "clusterrolebinding", "ann-approve", "--clusterrole=client-approver", "--user=ann")
	if r := s.kubectl("certificate", "deny", "forged", "--as", "ann"); r.code != 0 {
		t.Errorf("denying with approve on kubernetes.io/*: %s", r.stderr)
	}
	// Approving a denied request is refused by the server (kubectl refuses
	// it before asking; a raw write reaches the server).
	denied := s.mustKubectl("get", "csr", "forged", "-o", "json")
	approvedToo := strings.Replace(denied, `"conditions": [`, `"conditions": [{"type": "Approved", "status": "True", "reason": "Sneaky"}, `, 1)
	r = s.kubectl("replace", "--raw", "/apis/certificates.k8s.io/v1/certificatesigningrequests/forged/approval", "-f", writeFile(t, "both.json", approvedToo))
	if r.code == 0 || !strings.Contains(r.stderr, "Approved and Denied conditions are mutually exclusive") {
		t.Errorf("approving a denied request: %d %s", r.code, r.stderr)
	}
	// Over HTTPS: 422 Invalid, as Kubernetes answers, whoever asks.
	for _, as := range []string{"", "ann"} {
		code, body = s.doAs(as, "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/forged/approval", approvedToo)
		if code != 422 || !strings.Contains(body, `"reason":"Invalid"`) || !strings.Contains(body, `"code":422`) ||
			!strings.Contains(body, `status.conditions: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive`) {
			t.Errorf("approving a denied request as %q: HTTP %d %s", as, code, body)
		}
	}
	if out := s.mustKubectl("get", "csr", "forged", "-o", `jsonpath={.status.conditions[*].type}`); out != "Denied" {
		t.Errorf("conditions after the refused approvals: %s", out)
	}
	if out := s.mustKubectl("get", "csr", "forged", "-o", "jsonpath={.status.certificate}"); out != "" {
		t.Errorf("a denied request was signed")
	}

	// The approval subresource does not change the spec.
	s.mustKubectl("create", "-f", writeFile(t, "spec.yaml", csrManifest("spec-change", client, good, 0, "client auth")))
	obj := s.mustKubectl("get", "csr", "spec-change", "-o", "json")
	changed := strings.Replace(obj, `"signerName": "kubernetes.io/kube-apiserver-client"`, `"signerName": "example.com/other"`, 1)
	changed = strings.Replace(changed, `"status": {}`, `"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "Test"}]}`, 1)
	code, body = s.do("PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/spec-change/approval", "application/json", strings.NewReader(changed))
	if code != 200 {
		t.Fatalf("approval write: %d %s", code, body)
	}
	if out := s.mustKubectl("get", "csr", "spec-change", "-o", "jsonpath={.spec.signerName}"); out != client {
		t.Errorf("the approval subresource changed the spec: %s", out)
	}
	// Setting the certificate needs "sign" on the signer. A request for a
	// signer sekisho does not sign, approved, is for an external signer to
	// fulfil: ann may update the status subresource but not sign; with
	// "sign" on example.com/* she may.
	s.mustKubectl("create", "-f", writeFile(t, "ext.yaml", csrManifest("external", "example.com/signer", good, 0, "client auth")))
	s.mustKubectl("certificate", "approve", "external")
	s.mustKubectl("create", "clusterrole", "csr-status-writer", "--verb=get,update", "--resource=certificatesigningrequests.certificates.k8s.io/status")
	s.mustKubectl("create", "clusterrolebinding", "ann-status", "--clusterrole=csr-status-writer", "--user=ann")
	caPEM, _ := os.ReadFile(filepath.Join(s.dir, "pki/ca.crt")) // any certificate will do for the check
	withCert := writeFile(t, "status.json", strings.Replace(s.mustKubectl("get", "csr", "external", "-o", "json"), `"status": {`,
		`"status": {"certificate": "`+base64.StdEncoding.EncodeToString(caPEM)+`",`, 1))
	r = s.kubectl("replace", "--raw", "/apis/certificates.k8s.io/v1/certificatesigningrequests/external/status", "--as", "ann", "-f", withCert)
	if r.code == 0 || !strings.Contains(r.stderr, `user not permitted to sign requests with signerName "example.com/signer"`) {
		t.Errorf("setting a certificate without sign: %d %s", r.code, r.stderr)
	}
	s.mustKubectl("apply", "-f", writeFile(t, "signer.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: example-signer
rules:
- apiGroups: [certificates.k8s.io]
  resources: [signers]
  resourceNames: ["example.com/*"]
  verbs: [sign]
`))
	s.mustKubectl("create", "clusterrolebinding", "ann-sign", "--clusterrole=example-signer", "--user=ann")
	if r := s.kubectl("replace", "--raw", "/apis/certificates.k8s.io/v1/certificatesigningrequests/external/status", "--as", "ann", "-f", withCert); r.code != 0 {
		t.Errorf("an external signer with sign: %s", r.stderr)
	}
	if out := s.mustKubectl("get", "csr", "external"); !strings.Contains(out, "Approved,Issued") {
		t.Errorf("external signer's certificate not recorded:\n%s", out)
	}
}

// TestCSRSigningLimits: --cluster-signing-duration caps the validity, a
// request the signer cannot honour fails with a reason, and without the
// CA's key an approved request stays unsigned with an event saying why.
func TestCSRSigningLimits(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t, "--cluster-signing-duration", "2h")
	dir := t.TempDir()
	key := filepath.Join(dir, "k.key")
	must(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	csrFor := func(subj string) []byte {
		path := filepath.Join(dir, "r.csr")
		must(t, "openssl", "req", "-new", "-key", key, "-out", path, "-subj", subj)
		data, _ := os.ReadFile(path)
		return data
	}
	waitCondition := func(name, want string) string {
		t.Helper()
		var out string
		if !waitFor(func() bool {
			out = s.mustKubectl("get", "csr", name)
			return strings.Contains(out, want)
		}) {
			t.Fatalf("%s never became %s:\n%s", name, want, s.mustKubectl("get", "csr", name, "-o", "yaml"))
		}
		return out
	}
	s.mustKubectl("create", "-f", writeFile(t, "long.yaml", csrManifest("long", "kubernetes.io/kube-apiserver-client", csrFor("/CN=long"), 2592000, "client auth")))
	s.mustKubectl("certificate", "approve", "long")
	waitCondition("long", "Approved,Issued")
	b64 := s.mustKubectl("get", "csr", "long", "-o", "jsonpath={.status.certificate}")
	certPEM, _ := base64.StdEncoding.DecodeString(b64)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(cert.NotAfter) - 2*time.Hour; d > time.Minute || d < -time.Minute {
		t.Errorf("validity not capped at 2h: notAfter %s", cert.NotAfter)
	}
	if skew := time.Since(cert.NotBefore); skew < 4*time.Minute || skew > 6*time.Minute {
		t.Errorf("notBefore is not backdated about 5 minutes: %s ago", skew)
	}

	// A kubelet client request whose subject is not a node's fails, with the reason.
	s.mustKubectl("create", "-f", writeFile(t, "wrong.yaml", csrManifest("wrong-node", "kubernetes.io/kube-apiserver-client-kubelet",
		csrFor("/O=system:nodes/CN=worker-2"), 0, "digital signature", "client auth")))
	s.mustKubectl("certificate", "approve", "wrong-node")
	waitCondition("wrong-node", "Approved,Failed")
	out := s.mustKubectl("get", "csr", "wrong-node", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message} [{.status.certificate}]`)
	if !strings.HasPrefix(out, `SignerValidationFailure: the common name must be system:node:<node name>, not "worker-2" []`) {
		t.Errorf("failed condition: %s", out)
	}

	// Without the CA's key (an external CA), approved requests stay unsigned.
	if err := os.Remove(filepath.Join(s.dir, "pki/ca.key")); err != nil {
		t.Fatal(err)
	}
	s.mustKubectl("create", "-f", writeFile(t, "ext.yaml", csrManifest("no-key", "kubernetes.io/kube-apiserver-client", csrFor("/CN=nokey"), 0, "client auth")))
	s.mustKubectl("certificate", "approve", "no-key")
	var events string
	if !waitFor(func() bool {
		events = s.mustKubectl("get", "events", "-n", "default", "--field-selector", "involvedObject.name=no-key", "-o", "jsonpath={.items[*].reason}: {.items[*].message}")
		return strings.Contains(events, "SigningDisabled")
	}) {
		t.Fatalf("no event about the missing key: %q", events)
	}
	if !strings.Contains(events, "the cluster CA's private key is not present") {
		t.Errorf("event: %s", events)
	}
	if out := s.mustKubectl("get", "csr", "no-key"); !strings.HasSuffix(strings.TrimSpace(out), "Approved") {
		t.Errorf("without a key:\n%s", out)
	}
}

// withCondition adds a True condition of the given type to a CSR's JSON.
func withCondition(t *testing.T, csrJSON, typ string) string {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(csrJSON), &obj); err != nil {
		t.Fatal(err)
	}
	status, _ := obj["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
	}
	conds, _ := status["conditions"].([]any)
	status["conditions"] = append(conds, map[string]any{"type": typ, "status": "True", "reason": "Test"})
	obj["status"] = status
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// doAs sends a JSON request as super-admin impersonating user (no
// impersonation when user is empty), and returns status and body.
func (s *server) doAs(user, method, path, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url(path), strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Impersonate-User", user)
	}
	resp, err := s.client(true).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
