package e2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// servingSerial is the serial of the certificate a new TLS connection to s
// is served.
func (s *server) servingSerial(t *testing.T) string {
	t.Helper()
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), &tls.Config{RootCAs: s.caPool(t), ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// `sekisho certs renew apiserver` on a running server: the next TLS
// connection is served the new certificate, a connection already open
// goes on, and a broken file afterwards is refused with a log line while
// the renewed certificate stays in force.
func TestServingCertificateReloads(t *testing.T) {
	s := startServer(t)
	before := s.servingSerial(t)

	// A connection opened before the renewal, kept alive across it.
	client := s.client(true)
	get := func() (reused bool) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.url("/api/v1/namespaces/default"), nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
		return reused
	}
	get()

	mustSekisho(t, "certs", "renew", "apiserver", "--dir", s.dir)
	var after string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if after = s.servingSerial(t); after != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %s 5s after the renewal", before)
		}
	}
	if !get() {
		t.Error("the connection opened before the renewal was not kept")
	}
	if !strings.Contains(s.logs.String(), "certificate reloaded") {
		t.Errorf("the reload was not logged:\n%s", s.logs.String())
	}

	certFile := filepath.Join(s.dir, "pki", "apiserver.crt")
	good, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.logs.String(), "reload failed"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a broken certificate file was not reported:\n%s", s.logs.String())
		}
	}
	if !strings.Contains(s.logs.String(), certFile) {
		t.Errorf("the reload failure does not name %s:\n%s", certFile, s.logs.String())
	}
	if got := s.servingSerial(t); got != after {
		t.Errorf("with a broken file the server serves %s, want the last good %s", got, after)
	}
	os.WriteFile(certFile, good, 0o644)
}

// up renews its own serving certificate at two thirds of its lifetime:
// with a 30-second certificate, under a client that opens a new TLS
// connection for every request, the server renews it twice in 50 s, and
// no request fails.
func TestServerRenewsItsOwnCertificate(t *testing.T) {
	s := startServer(t)
	mustSekisho(t, "certs", "renew", "apiserver", "--cert-validity", "30s", "--dir", s.dir)
	pool := s.caPool(t)
	var requests, failures int
	serials := map[string]bool{}
	var firstErr error
	for end := time.Now().Add(50 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(s.url("/readyz"))
		requests++
		if err != nil {
			failures++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		serials[resp.TLS.PeerCertificates[0].SerialNumber.Text(16)] = true
		resp.Body.Close()
	}
	t.Logf("%d requests on new connections, %d failed, %d serving certificates seen", requests, failures, len(serials))
	if failures > 0 {
		t.Errorf("%d of %d requests failed; first: %v", failures, requests, firstErr)
	}
	if len(serials) < 3 {
		t.Errorf("saw %d serving certificates in 50 s of a 30 s certificate renewed at 20 s; want 3 or more\n%s", len(serials), s.logs.String())
	}
	if n := strings.Count(s.logs.String(), `"certificate renewed" certificate=apiserver`); n < 2 {
		t.Errorf("%d renewals logged, want 2 or more:\n%s", n, s.logs.String())
	}
	// check-expiration says when the next renewal falls: within the
	// 30-second certificate's lifetime.
	var rep struct {
		ServerRenewals []struct {
			Name        string
			NextRenewal time.Time
		}
	}
	if err := json.Unmarshal([]byte(mustSekisho(t, "certs", "check-expiration", "--dir", s.dir, "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rep.ServerRenewals {
		if r.Name == "apiserver" {
			found = true
			if until := time.Until(r.NextRenewal); until > 30*time.Second || until < -10*time.Second {
				t.Errorf("next renewal of apiserver in %v; want within its 30 s lifetime", until)
			}
		}
	}
	if !found {
		t.Errorf("check-expiration lists no server renewal of apiserver: %+v", rep)
	}
}

// jwtKeyID is the kid in a JWT's header.
func jwtKeyID(t *testing.T, token string) string {
	t.Helper()
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// jwksKeyIDs lists the key ids /openid/v1/jwks publishes.
func (s *server) jwksKeyIDs(t *testing.T) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal([]byte(s.mustKubectl("get", "--raw", "/openid/v1/jwks")), &set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	slices.Sort(ids)
	return ids
}

// `sekisho certs rotate-sa-key` on a running server: new tokens are
// signed with the new key, both keys are published and verify during the
// overlap, and when it ends the server retires the old key itself and the
// old token stops working. Broken key files are refused with a log line
// naming them, and the keys in force stay.
func TestServiceAccountKeyRotates(t *testing.T) {
	s := startServer(t)
	// The service account controller creates "default" just after start.
	if !waitFor(func() bool { return s.kubectl("-n", "default", "get", "sa", "default").code == 0 }) {
		t.Fatal("no default service account")
	}
	tokenKeyID := func() (string, string) {
		tok, _, _ := s.tokenRequest(t, "default", "default", `{}`)
		return tok, jwtKeyID(t, tok)
	}
	works := func(token string) bool {
		code, _ := s.whoAmI(t, token)
		return code == 201
	}
	oldToken, oldID := tokenKeyID()
	if ids := s.jwksKeyIDs(t); !slices.Equal(ids, []string{oldID}) {
		t.Fatalf("JWKS %v before the rotation, want [%s]", ids, oldID)
	}

	out := mustSekisho(t, "certs", "rotate-sa-key", "--dir", s.dir, "--overlap", "20s")
	rotated := time.Now()
	if !strings.Contains(out, "retiring:    "+oldID) {
		t.Fatalf("rotate-sa-key:\n%s", out)
	}
	var newToken, newID string
	if !waitFor(func() bool { newToken, newID = tokenKeyID(); return newID != oldID }) {
		t.Fatalf("new tokens still signed with %s", oldID)
	}
	if !strings.Contains(out, "signing key: "+newID) {
		t.Errorf("tokens are signed with %s; rotate-sa-key said:\n%s", newID, out)
	}
	if ids, want := s.jwksKeyIDs(t), slices.Sorted(slices.Values([]string{oldID, newID})); !slices.Equal(ids, want) {
		t.Errorf("JWKS %v during the overlap, want %v", ids, want)
	}
	if !works(oldToken) || !works(newToken) {
		t.Fatal("during the overlap both tokens must work")
	}

	// A broken sa.pub is refused; what is in force stays.
	saPub := filepath.Join(s.dir, "pki", "sa.pub")
	good, err := os.ReadFile(saPub)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(saPub, []byte("-----BEGIN PUBLIC KEY-----\nbroken\n-----END PUBLIC KEY-----\n"), 0o644)
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "--service-account-key-file "+saPub) }) {
		t.Errorf("a broken sa.pub was not reported:\n%s", s.logs.String())
	}
	if !works(oldToken) || !works(newToken) {
		t.Error("a broken sa.pub changed the keys in force")
	}
	os.WriteFile(saPub, good, 0o644)

	// A signing key that others can read is refused.
	saKey := filepath.Join(s.dir, "pki", "sa.key")
	goodKey, _ := os.ReadFile(saKey)
	other := t.TempDir()
	mustSekisho(t, "certs", "init", "--dir", other)
	wide, _ := os.ReadFile(filepath.Join(other, "pki", "sa.key"))
	tmp := saKey + ".new"
	os.WriteFile(tmp, wide, 0o644)
	os.Chmod(tmp, 0o644)
	os.Rename(tmp, saKey)
	if !waitFor(func() bool { return strings.Contains(s.logs.String(), "lets others read the private key") }) {
		t.Errorf("a world-readable sa.key was not refused:\n%s", s.logs.String())
	}
	if _, id := tokenKeyID(); id != newID {
		t.Errorf("a refused sa.key signs tokens: kid %s, want %s", id, newID)
	}
	os.WriteFile(tmp, goodKey, 0o600)
	os.Rename(tmp, saKey)

	// The server retires the old key when the overlap ends (it checks
	// every 5 s): the old token fails, the new one works.
	time.Sleep(time.Until(rotated.Add(20 * time.Second)))
	deadline := time.Now().Add(15 * time.Second)
	for works(oldToken) {
		if time.Now().After(deadline) {
			t.Fatalf("the old token works %v after the overlap ended\n%s", time.Since(rotated.Add(20*time.Second)), s.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !works(newToken) {
		t.Error("the new token stopped working")
	}
	if ids := s.jwksKeyIDs(t); !slices.Equal(ids, []string{newID}) {
		t.Errorf("JWKS %v after the overlap, want [%s]", ids, newID)
	}
	if !strings.Contains(s.logs.String(), "service-account key retired") {
		t.Errorf("the retirement was not logged:\n%s", s.logs.String())
	}
}

// A certificate given with --tls-sni-cert-key is served to clients asking
// for its name, curl verifying it, while others get the default serving
// certificate; replaced, it is served from the next connection, and a
// broken replacement is refused with a log line.
func TestSNICertificateServedAndReloaded(t *testing.T) {
	requireTools(t, "openssl", "curl")
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "sni.crt"), filepath.Join(dir, "sni.key")
	selfSigned := func(cn string) {
		t.Helper()
		must(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			"-keyout", key+".new", "-out", crt+".new", "-days", "1", "-subj", "/CN="+cn, "-addext", "subjectAltName=DNS:sni.example.com")
		os.Chmod(key+".new", 0o600)
		os.Rename(key+".new", key)
		os.Rename(crt+".new", crt)
	}
	selfSigned("first")
	s := startServer(t, "--tls-sni-cert-key="+crt+","+key+":sni.example.com")
	port := strconv.Itoa(s.port)
	sniSubject := func() string {
		t.Helper()
		r := run(t, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", "sni.example.com:"+port+":127.0.0.1",
			"--cacert", crt, "-v", "https://sni.example.com:"+port+"/readyz")
		if r.code != 0 {
			return "curl failed: " + r.stderr
		}
		for _, line := range strings.Split(r.stderr, "\n") {
			if i := strings.Index(line, "subject: "); i >= 0 {
				return strings.TrimSpace(line[i+len("subject: "):])
			}
		}
		return "no subject in: " + r.stderr
	}
	if got := sniSubject(); got != "CN=first" && got != "CN = first" {
		t.Fatalf("SNI sni.example.com served %q", got)
	}
	if serial := s.servingSerial(t); serial == "" {
		t.Fatal("no default certificate")
	}
	if r := run(t, "curl", "-sS", "-o", "/dev/null", "--cacert", filepath.Join(s.dir, "pki", "ca.crt"), "https://localhost:"+port+"/readyz"); r.code != 0 {
		t.Errorf("the default certificate for localhost: %s", r.stderr)
	}

	selfSigned("second")
	if !waitFor(func() bool { got := sniSubject(); return got == "CN=second" || got == "CN = second" }) {
		t.Fatalf("the replaced SNI certificate is not served: %s", sniSubject())
	}
	os.WriteFile(crt, []byte("not a certificate"), 0o644)
	if !waitFor(func() bool {
		return strings.Contains(s.logs.String(), "reload failed") && strings.Contains(s.logs.String(), crt)
	}) {
		t.Errorf("a broken SNI certificate was not reported:\n%s", s.logs.String())
	}
	// The last good one stays in force (the client cannot verify it
	// against the broken file, so it only reads what it is served).
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{ServerName: "sni.example.com", InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "second" {
		t.Errorf("with a broken SNI file the server serves CN=%s, want the last good one", cn)
	}
}
