package pki

import (
	"strings"
	"testing"
)

func TestPrivateKeyRoundTrip(t *testing.T) {
	for _, kt := range []KeyType{ECDSAP256, ECDSAP384, RSA2048} {
		key, err := kt.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		pemBytes, err := EncodePrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		want := "EC PRIVATE KEY"
		if strings.HasPrefix(string(kt), "rsa") {
			want = "RSA PRIVATE KEY"
		}
		if !strings.Contains(string(pemBytes), "BEGIN "+want) {
			t.Errorf("%s: not encoded as %s", kt, want)
		}
		back, err := ParsePrivateKey(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		if !KeyMatches(back, key.Public()) {
			t.Errorf("%s: round trip changed the key", kt)
		}
		pub, err := EncodePublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		pubs, err := ParsePublicKeys(pub)
		if err != nil || !KeyMatches(key, pubs[0]) {
			t.Errorf("%s: public key round trip: %v", kt, err)
		}
	}
}

func TestParseRejectsCorruptPEM(t *testing.T) {
	cases := map[string]string{
		"empty":         "",
		"garbage":       "hello",
		"truncated":     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"wrong type":    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"trailing junk": string(EncodeCertificates(mustCA(t, ECDSAP256).Cert)) + "junk",
	}
	for name, data := range cases {
		if _, err := ParseCertificates([]byte(data)); err == nil {
			t.Errorf("ParseCertificates(%s) accepted corrupt input", name)
		}
		if _, err := ParsePrivateKey([]byte(data)); err == nil {
			t.Errorf("ParsePrivateKey(%s) accepted corrupt input", name)
		}
	}
	if _, err := ParseKeyType("dsa-1024"); err == nil || !strings.Contains(err.Error(), "ecdsa-p256") {
		t.Errorf("ParseKeyType error should list the valid types: %v", err)
	}
}
