package keypair

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// localConn is a connection whose local address is an IP a client dialled.
type localConn struct {
	net.Conn
	ip string
}

func (c localConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 6443} }

func TestSNISelection(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	pair := func(name string, serial int64, cn string, dns ...string) *Pair {
		t.Helper()
		certPEM, keyPEM := issueFor(t, serial, cn, dns, now.Add(-time.Hour), now.Add(time.Hour))
		p := &Pair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key"), Interval: 10 * time.Millisecond}
		os.WriteFile(p.CertFile, certPEM, 0o644)
		os.WriteFile(p.KeyFile, keyPEM, 0o600)
		return p
	}
	s := &SNI{
		Default: pair("default", 1, "kube-apiserver", "localhost"),
		Named: []Named{
			{Pair: pair("a", 2, "a.example.com", "a.example.com", "*.wild.example.com")},
			{Pair: pair("b", 3, "b", "b.example.com"), Names: []string{"explicit.example.com", "10.1.2.3"}},
			// A later pair naming a.example.com on its flag wins over the
			// certificate's own name: explicit names come first.
			{Pair: pair("c", 4, "c", "c.example.com"), Names: []string{"a.example.com", "*.example.com"}},
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	serial := func(hello *tls.ClientHelloInfo) int64 {
		t.Helper()
		c, err := s.GetCertificate(hello)
		if err != nil || c == nil {
			t.Fatalf("%+v: %v", hello, err)
		}
		return c.Leaf.SerialNumber.Int64()
	}
	for _, tc := range []struct {
		name, local string
		want        int64
	}{
		{"a.example.com", "", 4},      // named on a flag beats the certificate's name
		{"A.Example.COM.", "", 4},     // case and a trailing dot do not matter
		{"x.wild.example.com", "", 2}, // the certificate's wildcard
		{"explicit.example.com", "", 3},
		{"b.example.com", "", 4},      // names on the flag replace the certificate's: *.example.com
		{"c.example.com", "", 4},      // c's flag names replace its certificate's, and match by wildcard
		{"other.org", "", 1},          // nothing matches: the default
		{"", "10.1.2.3", 3},           // no SNI: the address the client reached
		{"", "127.0.0.1", 1},          // an address nothing names
		{"localhost", "", 1},          // the default's own name needs no entry
		{"deep.x.example.com", "", 1}, // a wildcard covers one label
	} {
		hello := &tls.ClientHelloInfo{ServerName: tc.name}
		if tc.local != "" {
			hello.Conn = localConn{ip: tc.local}
		}
		if got := serial(hello); got != tc.want {
			t.Errorf("SNI %q at %q: serial %d, want %d", tc.name, tc.local, got, tc.want)
		}
	}

	// A reloaded pair is served from the next handshake, by its new names.
	certPEM, keyPEM := issueFor(t, 5, "a2", []string{"*.wild.example.com", "new.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	a := s.Named[0].Pair
	os.WriteFile(a.KeyFile+".tmp", keyPEM, 0o600)
	os.WriteFile(a.CertFile+".tmp", certPEM, 0o644)
	os.Rename(a.KeyFile+".tmp", a.KeyFile)
	os.Rename(a.CertFile+".tmp", a.CertFile)
	deadline := time.Now().Add(5 * time.Second)
	for serial(&tls.ClientHelloInfo{ServerName: "new.example.com"}) != 5 {
		if time.Now().After(deadline) {
			t.Fatal("the reloaded SNI pair is not served by its new name")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseSNIFlag(t *testing.T) {
	cert, key, names, err := ParseSNIFlag("/p/a.crt,/p/a.key:*.Example.com, 10.0.0.1")
	if err != nil || cert != "/p/a.crt" || key != "/p/a.key" || strings.Join(names, " ") != "*.example.com 10.0.0.1" {
		t.Errorf("got %q %q %q %v", cert, key, names, err)
	}
	if _, _, names, err := ParseSNIFlag("a.crt,a.key"); err != nil || names != nil {
		t.Errorf("no names: %v %v", names, err)
	}
	for _, bad := range []string{"a.crt", "a.crt,", ",a.key", "a.crt,a.key,b", "a.crt,a.key:bad_name", "a.crt,a.key:"} {
		if _, _, _, err := ParseSNIFlag(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
