package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
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
