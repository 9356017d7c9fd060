package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

// doctorRun runs sekisho doctor with a kubeconfig (and optionally a
// command to check after --) and returns its output and exit status.
func doctorRun(t *testing.T, kubeconfig string, command ...string) result {
	t.Helper()
	args := []string{"doctor", "--kubeconfig", kubeconfig}
	if len(command) > 0 {
		args = append(append(args, "--"), command...)
	}
	return sekisho(t, args...)
}

// expectDoctor runs doctor and checks its exit status and that its output
// holds every wanted line fragment.
func expectDoctor(t *testing.T, kubeconfig string, code int, wants ...string) string {
	t.Helper()
	r := doctorRun(t, kubeconfig)
	if r.code != code {
		t.Errorf("doctor with %s: exit %d, want %d:\n%s%s", filepath.Base(kubeconfig), r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("doctor output for %s lacks %q:\n%s", filepath.Base(kubeconfig), w, r.stdout)
		}
	}
	return r.stdout
}

// fixCommand finds the fix printed under the check that failed with the
// given detail, and returns the command in it: the text from its first
// openssl, kubectl or sekisho on.
func fixCommand(t *testing.T, out, detail string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.Contains(l, detail) || i+1 >= len(lines) {
			continue
		}
		fix, ok := strings.CutPrefix(strings.TrimSpace(lines[i+1]), "fix: ")
		if !ok {
			break
		}
		for _, cmd := range []string{"openssl ", "kubectl ", "sekisho "} {
			if j := strings.Index(fix, cmd); j >= 0 {
				return fix[j:]
			}
		}
	}
	t.Fatalf("no command in the fix for %q:\n%s", detail, out)
	return ""
}

// runFix runs a fix command with sh in dir, with sekisho on PATH and the
// kubeconfig in KUBECONFIG, replacing the placeholder DIR with dataDir.
func runFix(t *testing.T, command, dir, dataDir, kubeconfig string) string {
	t.Helper()
	command = strings.ReplaceAll(command, "--dir DIR", "--dir "+dataDir)
	cmd := exec.Command("sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+filepath.Dir(sekishoBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the fix %q failed: %v\n%s", command, err, out)
	}
	return string(out)
}

// kubeconfigFor writes a kubeconfig for the server whose user entry
// userName holds the given credential flags (kubectl config set-credentials).
func kubeconfigFor(t *testing.T, s *server, userName string, creds ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(userName, " ", "_")+".conf")
	k := func(args ...string) {
		t.Helper()
		must(t, "kubectl", append([]string{"--kubeconfig", path}, args...)...)
	}
	k("config", "set-cluster", "kubernetes", "--server", s.url(""), "--certificate-authority", filepath.Join(s.dir, "pki/ca.crt"), "--embed-certs")
	k(append([]string{"config", "set-credentials", userName}, creds...)...)
	k("config", "set-context", "ctx", "--cluster", "kubernetes", "--user", userName)
	k("config", "use-context", "ctx")
	return path
}

// onboard runs seed 000's onboarding for a key and request made by the
// caller: the CSR object, its approval, and the certificate, which it
// writes next to the key. It returns the certificate's path.
func onboard(t *testing.T, s *server, name, key, csr string) string {
	t.Helper()
	request, err := os.ReadFile(csr)
	if err != nil {
		t.Fatal(err)
	}
	s.mustKubectl("create", "-f", writeFile(t, name+".yaml", csrManifest(name, "kubernetes.io/kube-apiserver-client", request, 86400, "client auth")))
	s.mustKubectl("certificate", "approve", name)
	var certPEM []byte
	if !waitFor(func() bool {
		certPEM, _ = base64.StdEncoding.DecodeString(s.mustKubectl("get", "csr", name, "-o", "jsonpath={.status.certificate}"))
		return len(certPEM) > 0
	}) {
		t.Fatalf("CSR %s was not signed", name)
	}
	crt := strings.TrimSuffix(key, ".key") + ".crt"
	if err := os.WriteFile(crt, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return crt
}

// TestDoctorHealthy: a working kubeconfig passes every step, the
// authorization of a command is checked, and -o json says so.
func TestDoctorHealthy(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	admin := filepath.Join(s.dir, "admin.conf")
	expectDoctor(t, admin, 0, "[ok] kubeconfig", "[ok] address", "[ok] connection", "[ok] TLS server", "[ok] TLS client", "[ok] credential",
		`[ok] identity: the server knows you as "kubernetes-admin"`, "all checks passed")
	r := doctorRun(t, admin, "get", "pods", "-n", "kube-system")
	if r.code != 0 || !strings.Contains(r.stdout, `[ok] authorization: "kubernetes-admin" may list pods in namespace "kube-system", by ClusterRole "cluster-admin"`) {
		t.Errorf("authorization of a command: %d\n%s", r.code, r.stdout)
	}
	r = sekisho(t, "doctor", "--kubeconfig", admin, "-o", "json")
	var rep struct {
		Outcome string
		Results []struct{ Status, Step, Detail, Fix string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Outcome != "ok" || len(rep.Results) < 7 || rep.Results[6].Step != "identity" {
		t.Errorf("-o json: %d %s", r.code, r.stdout)
	}
	// A fresh 24-hour certificate is not about to expire.
	fresh := filepath.Join(t.TempDir(), "fresh.conf")
	mustSekisho(t, "kubeconfig", "user", "--dir", s.dir, "--client-name", "fresh", "--validity", "24h", "--out", fresh)
	if out := expectDoctor(t, fresh, 0, "[ok] credential"); strings.Contains(out, "[warn]") {
		t.Errorf("a fresh certificate warns:\n%s", out)
	}
}

// TestDoctorSeedTable drives doctor through each row of seed 000's
// troubleshooting table and each case the issue lists, against a real
// server, checking the step, the cause and the fix, and running the fix
// where it is a command.
func TestDoctorSeedTable(t *testing.T) {
	requireTools(t, "kubectl", "openssl")
	s := startServer(t)
	dir := t.TempDir()

	t.Run("certificate made without -subj", func(t *testing.T) {
		key, csr := filepath.Join(dir, "user01.key"), filepath.Join(dir, "user01.csr")
		must(t, "openssl", "genrsa", "-out", key, "2048")
		must(t, "openssl", "req", "-new", "-key", key, "-out", csr, "-batch") // no -subj: openssl's defaults
		crt := onboard(t, s, "user01-nosubj", key, csr)
		kc := kubeconfigFor(t, s, "user01", "--client-certificate", crt, "--client-key", key)
		out := expectDoctor(t, kc, 1, `[FAIL] credential: the certificate's CN (the user name) is empty: it was made without -subj`, "Internet Widgits Pty Ltd")
		fix := fixCommand(t, out, "is empty: it was made without -subj")
		if !strings.Contains(fix, "-subj /CN=user01") {
			t.Fatalf("fix: %s", fix)
		}
		runFix(t, fix, dir, s.dir, kc)
		crt = onboard(t, s, "user01", key, csr)
		must(t, "kubectl", "--kubeconfig", kc, "config", "set-credentials", "user01", "--client-certificate", crt, "--client-key", key)
		expectDoctor(t, kc, 0, `[ok] identity: the server knows you as "user01"`)
	})

	t.Run("CN other than the user name", func(t *testing.T) {
		s.mustKubectl("create", "namespace", "dev")
		s.mustKubectl("-n", "dev", "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
		s.mustKubectl("-n", "dev", "create", "rolebinding", "user03", "--role=pod-reader", "--user=user03")
		key, csr := filepath.Join(dir, "taro.key"), filepath.Join(dir, "taro.csr")
		must(t, "openssl", "genrsa", "-out", key, "2048")
		must(t, "openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=Taro Yamada")
		crt := onboard(t, s, "taro", key, csr)
		kc := kubeconfigFor(t, s, "user03", "--client-certificate", crt, "--client-key", key)
		must(t, "kubectl", "--kubeconfig", kc, "config", "set-context", "ctx", "--namespace", "dev")
		out := expectDoctor(t, kc, 1, `[FAIL] identity: the server knows you as "Taro Yamada", the certificate's CN, not as "user03", the kubeconfig's user name, and grants "Taro Yamada" nothing in namespace "dev"`)
		fix := fixCommand(t, out, `not as "user03"`)
		runFix(t, fix[:strings.Index(fix, ", then")], dir, s.dir, kc)
		if subj := must(t, "openssl", "req", "-in", filepath.Join(dir, "user03.csr"), "-noout", "-subject"); !strings.Contains(subj, "CN = user03") && !strings.Contains(subj, "CN=user03") {
			t.Errorf("the fix made a request for %s", subj)
		}
		// The command the user wants, and why it is refused.
		r := doctorRun(t, kc, "get", "pods")
		if r.code != 1 || !strings.Contains(r.stdout, `[FAIL] authorization: "Taro Yamada" may not list pods in namespace "dev"`) ||
			!strings.Contains(r.stdout, "kubectl -n dev create rolebinding") {
			t.Errorf("authorization of get pods:\n%s", r.stdout)
		}
		// Bound under the CN, the mismatch is only a warning: exit 2.
		s.mustKubectl("-n", "dev", "create", "rolebinding", "taro", "--role=pod-reader", "--user=Taro Yamada")
		waitFor(func() bool { return doctorRun(t, kc).code == 2 })
		expectDoctor(t, kc, 2, `[warn] identity: the server knows you as "Taro Yamada" (the certificate's CN), not as "user03"`, "all checks passed, with warnings")
	})

	t.Run("exec plugin not installed, old exec version, removed auth-provider", func(t *testing.T) {
		missing := kubeconfigFor(t, s, "oidc", "--exec-api-version=client.authentication.k8s.io/v1", "--exec-command=kubelogin-missing", "--exec-arg=get-token")
		expectDoctor(t, missing, 1, `[FAIL] credential: the user "oidc" gets its credential from a plugin, and the exec credential plugin "kubelogin-missing" is not installed: no such command on PATH`,
			"install kubelogin", "[ok] TLS server")
		old := kubeconfigFor(t, s, "oidc", "--exec-api-version=client.authentication.k8s.io/v1alpha1", "--exec-command=kubelogin-missing")
		out := expectDoctor(t, old, 1, `runs the exec plugin "kubelogin-missing" as client.authentication.k8s.io/v1alpha1, which kubectl no longer accepts`)
		runFix(t, fixCommand(t, out, "v1alpha1, which kubectl"), dir, s.dir, old)
		if out := expectDoctor(t, old, 1, "is not installed"); strings.Contains(out, "v1alpha1") {
			t.Errorf("the fix did not take:\n%s", out)
		}
		ap := kubeconfigFor(t, s, "oidc", "--auth-provider=oidc", "--auth-provider-arg=idp-issuer-url=https://idp.example.com", "--auth-provider-arg=client-id=kubernetes")
		expectDoctor(t, ap, 1, `[FAIL] credential: the user "oidc" uses the auth-provider "oidc", which kubectl no longer has`,
			"--exec-arg=--oidc-issuer-url=https://idp.example.com --exec-arg=--oidc-client-id=kubernetes")
	})

	t.Run("invalid token, deleted service account, expired bootstrap token", func(t *testing.T) {
		kc := kubeconfigFor(t, s, "t", "--token", "not-a-real-token")
		expectDoctor(t, kc, 1, "[FAIL] credential: the server refused the credential: no token authenticator recognises this token")
		s.mustKubectl("create", "serviceaccount", "gone")
		tok := strings.TrimSpace(s.mustKubectl("create", "token", "gone"))
		s.mustKubectl("delete", "serviceaccount", "gone")
		kc = kubeconfigFor(t, s, "t", "--token", tok)
		waitFor(func() bool { return strings.Contains(doctorRun(t, kc).stdout, "no longer exists") })
		out := expectDoctor(t, kc, 1, "[FAIL] credential: the server refused the credential: service account token for default/gone: the service account no longer exists")
		runFix(t, fixCommand(t, out, "no longer exists"), dir, s.dir, filepath.Join(s.dir, "admin.conf"))
		s.mustKubectl("get", "serviceaccount", "gone")
		boot := strings.TrimSpace(mustSekisho(t, "token", "create", "--kubeconfig", filepath.Join(s.dir, "admin.conf"), "--ttl", "2s"))
		kc = kubeconfigFor(t, s, "boot", "--token", boot)
		if !waitFor(func() bool {
			return strings.Contains(doctorRun(t, kc).stdout, "no token authenticator recognises this token")
		}) {
			t.Errorf("an expired bootstrap token:\n%s", doctorRun(t, kc).stdout)
		}
		expectDoctor(t, kc, 1, "sekisho token create")
	})

	t.Run("revoked and expired certificates", func(t *testing.T) {
		revoked := s.userKubeconfig(t, "mallory")
		mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", revoked)
		waitFor(func() bool { return doctorRun(t, revoked).code == 1 })
		expectDoctor(t, revoked, 1, `[FAIL] credential: the server refused the credential: certificate CN="mallory" serial`, "is revoked", "stays so: get a new one")
		short := filepath.Join(t.TempDir(), "short.conf")
		mustSekisho(t, "kubeconfig", "user", "--dir", s.dir, "--client-name", "brief", "--validity", "1s", "--out", short)
		waitFor(func() bool { return strings.Contains(doctorRun(t, short).stdout, "expired at") })
		expectDoctor(t, short, 1, `[FAIL] credential: the client certificate CN="brief"`, "expired at")
	})

	t.Run("wrong server address", func(t *testing.T) {
		kc := kubeconfigFor(t, s, "u", "--token", "x")
		must(t, "kubectl", "--kubeconfig", kc, "config", "set-cluster", "kubernetes", "--server", "https://127.0.0.1:1")
		expectDoctor(t, kc, 1, "[FAIL] connection: nothing accepts connections at 127.0.0.1:1")
		must(t, "kubectl", "--kubeconfig", kc, "config", "set-cluster", "kubernetes", "--server", "https://no-such-host.invalid:6443")
		expectDoctor(t, kc, 1, "[FAIL] address: the server address no-such-host.invalid does not resolve")
		must(t, "kubectl", "--kubeconfig", kc, "config", "set-cluster", "kubernetes", "--server", "http://127.0.0.1:6443")
		expectDoctor(t, kc, 1, "[FAIL] address: http://127.0.0.1:6443 does not use https")
	})

	t.Run("another cluster's CA and certificate", func(t *testing.T) {
		other := startServer(t)
		wrongCA := kubeconfigFor(t, s, "u", "--token", "x")
		must(t, "kubectl", "--kubeconfig", wrongCA, "config", "set-cluster", "kubernetes", "--certificate-authority", filepath.Join(other.dir, "pki/ca.crt"), "--embed-certs")
		expectDoctor(t, wrongCA, 1, `[FAIL] TLS server: the server's certificate (issued by "kubernetes-ca") is not trusted by the kubeconfig's certificate-authority`)
		foreign := filepath.Join(t.TempDir(), "foreign.conf")
		data, _ := os.ReadFile(other.kubeconfig())
		os.WriteFile(foreign, data, 0o600)
		must(t, "kubectl", "--kubeconfig", foreign, "config", "set-cluster", "kubernetes", "--server", s.url(""), "--certificate-authority", filepath.Join(s.dir, "pki/ca.crt"), "--embed-certs")
		expectDoctor(t, foreign, 1, "[warn] TLS client", "may come from another cluster", "[FAIL] credential: the server refused the credential", "signed by unknown authority")
	})
}

// TestDoctorServerCertificateExpired: the server's own certificate
// expires while it runs. Doctor says so at the TLS server step, and its
// fix, run, mends it.
func TestDoctorServerCertificateExpired(t *testing.T) {
	requireTools(t, "kubectl")
	// A server that does not renew its own certificate (up would renew
	// this one at once: --cert-renewal=auto).
	s := startServer(t, "--cert-renewal=off")
	s.stop()
	certFile := filepath.Join(s.dir, "pki/apiserver.crt")
	end := reissueCertificate(t, certFile, filepath.Join(s.dir, "pki/ca.crt"), filepath.Join(s.dir, "pki/ca.key"), filepath.Join(s.dir, "pki/apiserver.key"), 3*time.Second)
	s.start()
	admin := filepath.Join(s.dir, "admin.conf")
	for time.Now().Before(end.Add(100 * time.Millisecond)) {
		time.Sleep(50 * time.Millisecond) // until the certificate has expired
	}
	out := expectDoctor(t, admin, 1, `[FAIL] TLS server: the API server's certificate (CN="kube-apiserver", issued by "kubernetes-ca") expired at`)
	if strings.Contains(out, "secure port") {
		t.Errorf("the fix blames the port:\n%s", out)
	}
	runFix(t, fixCommand(t, out, "expired at"), t.TempDir(), s.dir, admin)
	s.stop()
	s.start()
	expectDoctor(t, admin, 0, "[ok] TLS server", "all checks passed")
}

// reissueCertificate re-issues the certificate in certFile, with its key,
// subject and names, to end after the given time, and returns its end.
func reissueCertificate(t *testing.T, certFile, caCertFile, caKeyFile, keyFile string, after time.Duration) time.Time {
	t.Helper()
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	caCerts, err := pki.ParseCertificates(read(caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := pki.ParsePrivateKey(read(caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificates(read(certFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParsePrivateKey(read(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	ca := &pki.CA{Cert: caCerts[0], Key: caKey}
	start := time.Now().Add(-time.Hour)
	cert, err := ca.Issue(pki.TemplateOf(certs[0]).ValidFor(start, time.Hour+after), key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pki.EncodeCertificates(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	return cert.NotAfter
}

// TestDoctorNoKubeconfig: with no kubeconfig anywhere, doctor says where
// it looked and points at the one sekisho up wrote, not at kubectl's old
// KUBERNETES_MASTER.
func TestDoctorNoKubeconfig(t *testing.T) {
	home := t.TempDir()
	cmd := exec.Command(sekishoBin, "doctor")
	cmd.Env = append(filterEnv(os.Environ(), "KUBECONFIG", "HOME", "XDG_DATA_HOME"), "HOME="+home)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "[FAIL] kubeconfig: no kubeconfig: --kubeconfig is not given, $KUBECONFIG is not set, and "+home+"/.kube/config does not exist") ||
		strings.Contains(string(out), "KUBERNETES_MASTER") || !strings.Contains(string(out), "run sekisho up") {
		t.Errorf("no kubeconfig: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	// Once sekisho up has written its files, the fix names them.
	data := filepath.Join(home, ".local/share/sekisho")
	os.MkdirAll(data, 0o700)
	os.WriteFile(filepath.Join(data, "admin.conf"), []byte("{}"), 0o600)
	cmd = exec.Command(sekishoBin, "doctor")
	cmd.Env = append(filterEnv(os.Environ(), "KUBECONFIG", "HOME", "XDG_DATA_HOME"), "HOME="+home)
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "export KUBECONFIG="+filepath.Join(data, "admin.conf")) {
		t.Errorf("with sekisho up's files:\n%s", out)
	}
}

func filterEnv(env []string, drop ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if name == d {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// TestDiagnosisEndpointNoLeaks: the cause of a refusal reaches the holder
// of the same credential and administrators, and nobody else; for them the
// endpoint is indistinguishable from a failed authentication, whether the
// Audit-Id exists or not.
func TestDiagnosisEndpointNoLeaks(t *testing.T) {
	requireTools(t, "kubectl", "curl")
	s := startServer(t)
	revoked := s.userKubeconfig(t, "mallory")
	mustSekisho(t, "certs", "revoke", "--dir", s.dir, "--cert", revoked)
	mallory := clientWithCert(t, s, clientCertOf(t, revoked))
	var resp *http.Response
	waitFor(func() bool {
		resp, _ = s.send(t, mallory, "GET", "/api/v1/namespaces", "", "", nil)
		return resp.StatusCode == 401
	})
	id := resp.Header.Get("Audit-Id")
	path := "/diagnose/authentication/" + id
	_, refusal := s.send(t, s.anonClient(), "GET", "/api/v1/namespaces", "", "", nil)

	// The holder, with the same certificate: the message, not the cause.
	resp, body := s.send(t, mallory, "GET", path, "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"reason":"CertificateRevoked"`) || strings.Contains(body, `"cause"`) {
		t.Errorf("the holder: %d %s", resp.StatusCode, body)
	}
	// An administrator: everything.
	resp, body = s.send(t, s.client(true), "GET", path, "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"cause":"x509: certificate CN=\"mallory\"`) {
		t.Errorf("an administrator: %d %s", resp.StatusCode, body)
	}
	// Nobody else, whatever they present.
	other := clientWithCert(t, s, clientCertOf(t, s.userKubeconfig(t, "alice")))
	for _, c := range []struct {
		who  string
		c    *http.Client
		path string
	}{
		{"no credential", s.anonClient(), path},
		{"another user", other, path},
		{"another user, an unknown id", other, "/diagnose/authentication/no-such-id"},
		{"the holder, an unknown id", mallory, "/diagnose/authentication/no-such-id"},
	} {
		resp, body := s.send(t, c.c, "GET", c.path, "", "", nil)
		if resp.StatusCode != 401 || body != refusal {
			t.Errorf("%s: %d %s, want exactly the 401 of authentication %s", c.who, resp.StatusCode, body, refusal)
		}
	}
	// A bearer token that does not match is no key either, as curl sends it.
	got := must(t, "curl", "-sS", "--cacert", filepath.Join(s.dir, "pki/ca.crt"), "-H", "Authorization: Bearer guess", s.url(path))
	if strings.TrimSpace(got) != refusal {
		t.Errorf("curl with a guessed token: %s", got)
	}
}
