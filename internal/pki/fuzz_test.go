package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// FuzzParsePEM feeds PEM files to every parser of this package: the
// certificate bundle, the CRL, the certificate request, private and
// public keys. Nothing panics, and what parses encodes back to PEM that
// parses to the same DER.
func FuzzParsePEM(f *testing.F) {
	ca := mustCA(f, ECDSAP256)
	f.Add(EncodeCertificates(ca.Cert))
	crl, err := ca.Revoke(nil, big.NewInt(7), 1, now, now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(crl)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u", Organization: []string{"g"}}}, ca.Key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(EncodeCSR(der))
	key, err := EncodePrivateKey(ca.Key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key)
	pub, err := EncodePublicKey(ca.Cert.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pub)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\ntrailing"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if certs, err := ParseCertificates(data); err == nil {
			again, err := ParseCertificates(EncodeCertificates(certs...))
			if err != nil || len(again) != len(certs) {
				t.Fatalf("re-encoded certificates: %v", err)
			}
			for i := range certs {
				if !bytes.Equal(certs[i].Raw, again[i].Raw) {
					t.Fatalf("certificate %d changed in a round trip", i)
				}
			}
		}
		if lists, err := ParseCRLs(data); err == nil {
			for _, l := range lists {
				if _, err := ParseCRL(pem.EncodeToMemory(&pem.Block{Type: blockCRL, Bytes: l.Raw})); err != nil {
					t.Fatalf("re-encoded CRL: %v", err)
				}
			}
		}
		if cr, err := ParseCSR(data); err == nil {
			again, err := ParseCSR(EncodeCSR(cr.Raw))
			if err != nil || !bytes.Equal(again.Raw, cr.Raw) {
				t.Fatalf("re-encoded certificate request: %v", err)
			}
		}
		if k, err := ParsePrivateKey(data); err == nil {
			enc, err := EncodePrivateKey(k)
			if err != nil {
				t.Fatalf("a parsed key does not encode: %v", err)
			}
			again, err := ParsePrivateKey(enc)
			if err != nil || !again.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
				t.Fatalf("re-encoded private key: %v", err)
			}
		}
		if keys, err := ParsePublicKeys(data); err == nil {
			for _, k := range keys {
				if _, err := EncodePublicKey(k); err != nil {
					t.Fatalf("a parsed public key does not encode: %v", err)
				}
			}
		}
	})
}
