package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func mustCA(t testing.TB, kt KeyType) *CA {
	t.Helper()
	key, err := kt.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := NewSelfSignedCA("test-ca", key, now, 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestIssueEveryKindAndKeyType(t *testing.T) {
	for _, kt := range []KeyType{ECDSAP256, ECDSAP384, RSA2048} {
		ca := mustCA(t, kt)
		if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 || ca.Cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
			t.Fatalf("%s: CA lacks CA:TRUE, certSign or cRLSign", kt)
		}
		if KeyTypeOf(ca.Cert.PublicKey) != kt {
			t.Errorf("KeyTypeOf = %q, want %q", KeyTypeOf(ca.Cert.PublicKey), kt)
		}
		for _, kind := range []Kind{KindClient, KindServer, KindServerClient} {
			key, err := kt.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			tmpl := Template{
				CommonName: "leaf", Organizations: []string{"g1", "g2"}, Kind: kind,
				DNSNames: []string{"a.example"}, IPs: []net.IP{net.ParseIP("192.0.2.1")},
			}.ValidFor(now, 24*time.Hour)
			cert, err := ca.Issue(tmpl, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if err := Fits(cert, tmpl, ca.Cert, now); err != nil {
				t.Errorf("%s/%s: issued cert does not fit its own template: %v", kt, kind, err)
			}
			if KindOf(cert) != kind {
				t.Errorf("KindOf = %s, want %s", KindOf(cert), kind)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
				t.Errorf("%s: key usage = %v", kind, cert.KeyUsage)
			}
			if !cert.NotBefore.Equal(now.Add(-ClockSkew)) || !cert.NotAfter.Equal(now.Add(24*time.Hour)) {
				t.Errorf("validity %s..%s", cert.NotBefore, cert.NotAfter)
			}
			if !KeyMatches(key, cert.PublicKey) {
				t.Error("key does not match cert")
			}
		}
	}
}

func TestSerialsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewSerial()
		if err != nil {
			t.Fatal(err)
		}
		if s.Sign() <= 0 || seen[s.String()] {
			t.Fatalf("bad or repeated serial %s", s)
		}
		seen[s.String()] = true
	}
}

func TestIssueRefusesToOutliveTheCA(t *testing.T) {
	ca := mustCA(t, ECDSAP256)
	key, _ := ECDSAP256.GenerateKey()
	_, err := ca.Issue(Template{CommonName: "x", Kind: KindClient}.ValidFor(now, 11*365*24*time.Hour), key.Public())
	var outlives *OutlivesCAError
	if !errors.As(err, &outlives) {
		t.Fatalf("got %v, want OutlivesCAError", err)
	}
	if _, err := ca.Issue(Template{CommonName: "x", Kind: KindClient}.ValidFor(now, -time.Hour), key.Public()); err == nil {
		t.Fatal("negative validity accepted")
	}
	external := &CA{Cert: ca.Cert}
	if _, err := external.Issue(Template{CommonName: "x", Kind: KindClient}.ValidFor(now, time.Hour), key.Public()); !errors.Is(err, ErrExternalCA) {
		t.Fatalf("external CA signed: %v", err)
	}
}

func TestIntermediateCA(t *testing.T) {
	root := mustCA(t, ECDSAP256)
	key, _ := ECDSAP256.GenerateKey()
	inter, err := root.IssueCA("inter", key, now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if IsSelfSigned(inter.Cert) || !IsSelfSigned(root.Cert) {
		t.Fatal("IsSelfSigned is wrong")
	}
	if len(inter.Chain) != 0 {
		t.Errorf("an intermediate directly under the root needs no chain, got %d", len(inter.Chain))
	}
	leafKey, _ := ECDSAP256.GenerateKey()
	leaf, err := inter.Issue(Template{CommonName: "leaf", Kind: KindServer, DNSNames: []string{"x"}}.ValidFor(now, time.Hour), leafKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters.AddCert(inter.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now, DNSName: "x"}); err != nil {
		t.Fatalf("chain does not verify to the root: %v", err)
	}
	if _, err := inter.IssueCA("too-long", key, now, 2*365*24*time.Hour); err == nil {
		t.Fatal("sub-CA outliving its parent accepted")
	}
}

func TestFitsExplainsEachMismatch(t *testing.T) {
	ca := mustCA(t, ECDSAP256)
	other := mustCA(t, ECDSAP256)
	key, _ := ECDSAP256.GenerateKey()
	want := Template{CommonName: "kube-apiserver", Kind: KindServer, DNSNames: []string{"kubernetes"}, IPs: []net.IP{net.ParseIP("10.96.0.1")}}
	issue := func(c *CA, t2 Template) *x509.Certificate {
		cert, err := c.Issue(t2.ValidFor(now, time.Hour), key.Public())
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	cases := []struct {
		name string
		cert *x509.Certificate
		at   time.Time
		want string
	}{
		{"other CA", issue(other, want), now, "is not signed by CA"},
		{"expired", issue(ca, want), now.Add(2 * time.Hour), "expired at"},
		{"CN", issue(ca, Template{CommonName: "x", Kind: KindServer, DNSNames: want.DNSNames, IPs: want.IPs}), now, `CN is "x"`},
		{"O", issue(ca, Template{CommonName: want.CommonName, Organizations: []string{"system:masters"}, Kind: KindServer, DNSNames: want.DNSNames, IPs: want.IPs}), now, "O is [system:masters], want (none)"},
		{"usage", issue(ca, Template{CommonName: want.CommonName, Kind: KindClient, DNSNames: want.DNSNames, IPs: want.IPs}), now, "lacks the serverAuth"},
		{"DNS SAN", issue(ca, Template{CommonName: want.CommonName, Kind: KindServer, IPs: want.IPs}), now, "missing SAN DNS:kubernetes"},
		{"IP SAN", issue(ca, Template{CommonName: want.CommonName, Kind: KindServer, DNSNames: want.DNSNames}), now, "missing SAN IP:10.96.0.1"},
		{"fits", issue(ca, want), now, ""},
	}
	for _, c := range cases {
		err := Fits(c.cert, want, ca.Cert, c.at)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCSRRequestsUsagesAndSANs(t *testing.T) {
	key, _ := ECDSAP256.GenerateKey()
	tmpl := Template{CommonName: "kube-etcd", Kind: KindServerClient, DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := NewCSR(tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(EncodeCSR(der))
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != "kube-etcd" || !slices.Equal(csr.DNSNames, tmpl.DNSNames) || !csr.IPAddresses[0].Equal(tmpl.IPs[0]) {
		t.Fatalf("CSR subject/SANs wrong: %+v", csr.Subject)
	}
	var ku x509.KeyUsage
	var ekus []x509.ExtKeyUsage
	for _, e := range csr.Extensions {
		switch {
		case e.Id.Equal(oidKeyUsage):
			if !e.Critical {
				t.Error("keyUsage should be critical")
			}
			ku = decodeKeyUsageForTest(t, e.Value)
		case e.Id.Equal(oidExtKeyUsage):
			ekus = decodeEKUForTest(t, e.Value)
		case e.Id.Equal(oidBasicConstraints):
			if c := certWithExtension(t, oidBasicConstraints, e.Value); !c.BasicConstraintsValid || c.IsCA {
				t.Error("requested basic constraints are not CA:FALSE")
			}
		}
	}
	if ku != KindServerClient.KeyUsage() {
		t.Errorf("requested key usage %v, want %v", ku, KindServerClient.KeyUsage())
	}
	if !slices.Equal(ekus, KindServerClient.ExtKeyUsages()) {
		t.Errorf("requested EKUs %v, want %v", ekus, KindServerClient.ExtKeyUsages())
	}
}

// decodeKeyUsageForTest parses a keyUsage extension by wrapping it in a
// certificate crypto/x509 parses, so the test does not share our encoder.
func decodeKeyUsageForTest(t *testing.T, v []byte) x509.KeyUsage {
	t.Helper()
	c := certWithExtension(t, oidKeyUsage, v)
	return c.KeyUsage
}

func decodeEKUForTest(t *testing.T, v []byte) []x509.ExtKeyUsage {
	t.Helper()
	return certWithExtension(t, oidExtKeyUsage, v).ExtKeyUsage
}

func certWithExtension(t *testing.T, id asn1.ObjectIdentifier, v []byte) *x509.Certificate {
	t.Helper()
	key, _ := ECDSAP256.GenerateKey()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		NotBefore:       now,
		NotAfter:        now.Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: id, Value: v}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignRequest(t *testing.T) {
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, err := NewSelfSignedCA("root", rootKey, now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	inter, err := root.IssueCA("intermediate", interKey, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "alice", Organization: []string{"dev"}, OrganizationalUnit: []string{"team"}},
	}, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	cr, _ := x509.ParseCertificateRequest(der)
	for _, c := range []struct {
		ca        *CA
		chainLen  int
		notAfter  time.Time
		wantAfter time.Time
	}{
		{root, 1, now.Add(time.Hour), now.Add(time.Hour)},
		{inter, 2, now.Add(time.Hour), now.Add(time.Hour)},
		// Longer than the CA: cut at the CA's expiry.
		{inter, 2, now.Add(72 * time.Hour), inter.Cert.NotAfter},
	} {
		chain, err := c.ca.SignRequest(cr, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, now.Add(-ClockSkew), c.notAfter)
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) != c.chainLen {
			t.Fatalf("chain of %d, want %d", len(chain), c.chainLen)
		}
		leaf := chain[0]
		if leaf.Subject.CommonName != "alice" || leaf.Subject.Organization[0] != "dev" || leaf.Subject.OrganizationalUnit[0] != "team" {
			t.Errorf("subject %s", leaf.Subject)
		}
		if leaf.KeyUsage != x509.KeyUsageDigitalSignature || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || leaf.IsCA {
			t.Errorf("usages %v %v CA=%v", leaf.KeyUsage, leaf.ExtKeyUsage, leaf.IsCA)
		}
		if !leaf.NotAfter.Equal(c.wantAfter.Truncate(time.Second)) && leaf.NotAfter.Sub(c.wantAfter).Abs() > time.Second {
			t.Errorf("notAfter %s, want %s", leaf.NotAfter, c.wantAfter)
		}
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root.Cert)
		for _, c := range chain[1:] {
			inters.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("the chain does not verify to the root: %v", err)
		}
	}
	if _, err := (&CA{Cert: root.Cert}).SignRequest(cr, 0, nil, now, now.Add(time.Hour)); err != ErrExternalCA {
		t.Errorf("external CA: %v", err)
	}
}
