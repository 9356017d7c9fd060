package x509

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

// FuzzCRLLoad feeds CRL files to a CRL that already revokes one
// certificate. Nothing panics; no file un-revokes it, whatever it holds;
// and no file revokes anything unless it carries the CA's signature.
func FuzzCRLLoad(f *testing.F) {
	fx := newFixture(f)
	revoked := issue(f, fx.ca, "revoked", nil, pki.KindClient, time.Hour)
	bystander := issue(f, fx.ca, "bystander", nil, pki.KindClient, time.Hour)
	first, err := fx.ca.Revoke(nil, revoked.SerialNumber, 1, now, now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	l, _ := pki.ParseCRL(first)
	second, _ := fx.ca.Revoke(l, bystander.SerialNumber, 4, now.Add(time.Hour), now.Add(2*time.Hour))
	foreign, _ := fx.other.Revoke(nil, bystander.SerialNumber, 1, now, now.Add(time.Hour))
	f.Add(first)
	f.Add(second)
	f.Add(foreign)
	f.Add(append(append([]byte{}, first...), second...))
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		crl := &CRL{CAs: func() []*x509.Certificate { return []*x509.Certificate{fx.ca.Cert} }}
		if err := crl.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := crl.Load(first, true); err != nil {
			t.Fatal(err)
		}
		err := crl.Load(data, true)
		if ok, _ := crl.Revoked(revoked); !ok {
			t.Fatalf("a CRL file un-revoked a certificate (load error: %v)", err)
		}
		if ok, _ := crl.Revoked(bystander); ok && err == nil {
			// Only the CA can revoke: the file must hold a list that
			// verifies against it and names the serial.
			lists, perr := pki.ParseCRLs(data)
			if perr != nil {
				t.Fatalf("revoked from a file that does not parse: %v", perr)
			}
			signed := false
			for _, l := range lists {
				for _, e := range l.RevokedCertificateEntries {
					if l.CheckSignatureFrom(fx.ca.Cert) == nil && e.SerialNumber.Cmp(bystander.SerialNumber) == 0 {
						signed = true
					}
				}
			}
			if !signed {
				t.Fatal("a serial was revoked by a list the CA did not sign")
			}
		}
		if crl.Len() > 2+len(data) {
			t.Fatalf("%d revocations from %d bytes", crl.Len(), len(data))
		}
	})
}
