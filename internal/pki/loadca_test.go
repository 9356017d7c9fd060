package pki

import (
	"crypto"
	"strings"
	"testing"
	"time"
)

func TestCAFromPEM(t *testing.T) {
	ca, other := mustCA(t, ECDSAP256), mustCA(t, ECDSAP256)
	leafKey, err := ECDSAP256.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(Template{CommonName: "leaf", Kind: KindClient}.ValidFor(now, time.Hour), leafKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyPEMOf := func(k crypto.Signer) []byte {
		data, err := EncodePrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	certPEM, keyPEM := EncodeCertificates(ca.Cert), keyPEMOf(ca.Key)
	cases := []struct {
		name            string
		certPEM, keyPEM []byte
		want            string
	}{
		{"a CA and its key", certPEM, keyPEM, ""},
		{"a CA without its key", certPEM, nil, ""},
		{"a leaf certificate", EncodeCertificates(leaf), keyPEMOf(leafKey), "ca.crt: not a CA certificate"},
		{"another CA's key", certPEM, keyPEMOf(other.Key), "ca.crt: certificate does not match private key ca.key"},
		{"no certificate", []byte("junk"), keyPEM, "ca.crt: "},
		{"a key that does not parse", certPEM, []byte("junk"), "ca.key: "},
	}
	for _, c := range cases {
		got, err := CAFromPEM("ca.crt", c.certPEM, "ca.key", c.keyPEM)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && (got.Cert == nil || (c.keyPEM != nil) != (got.Key != nil)):
			t.Errorf("%s: loaded %+v", c.name, got)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error starting %q", c.name, err, c.want)
		}
	}
}

// A bundle holds the CA, the chain above it, and then other CAs (a
// rotation's new CA): only the certificates that signed one another are
// the chain issued certificates carry.
func TestCAFromPEMChainStopsAtOtherCAs(t *testing.T) {
	root := mustCA(t, ECDSAP256)
	key, err := ECDSAP256.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	intermediate, err := root.IssueCA("intermediate", key, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	unrelated := mustCA(t, ECDSAP256)
	keyPEM, _ := EncodePrivateKey(key)
	ca, err := CAFromPEM("ca.crt", EncodeCertificates(intermediate.Cert, root.Cert, unrelated.Cert), "ca.key", keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(ca.Chain) != 1 || !ca.Chain[0].Equal(root.Cert) {
		t.Errorf("chain of %d certificates, want the root alone", len(ca.Chain))
	}
	ca, err = CAFromPEM("ca.crt", EncodeCertificates(root.Cert, unrelated.Cert), "ca.key", nil)
	if err != nil || len(ca.Chain) != 0 {
		t.Errorf("a root followed by another CA: chain %d, %v", len(ca.Chain), err)
	}
}
