package pki

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Fits reports why an existing certificate cannot serve as the certificate
// described by want, issued by ca. The error says what differs, in words a
// user can act on. Whether the certificate matches its key is checked apart.
func Fits(cert *x509.Certificate, want Template, ca *x509.Certificate, now time.Time) error {
	if err := SignedBy(cert, ca); err != nil {
		return err
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.Subject.CommonName != want.CommonName {
		return fmt.Errorf("CN is %q, want %q", cert.Subject.CommonName, want.CommonName)
	}
	if !sameSet(cert.Subject.Organization, want.Organizations) {
		return fmt.Errorf("O is %s, want %s", listOrNone(cert.Subject.Organization), listOrNone(want.Organizations))
	}
	if want.Kind == KindCA {
		return CheckCA(cert)
	}
	if cert.IsCA {
		return fmt.Errorf("is a CA certificate, want a %s certificate", want.Kind)
	}
	if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("lacks the digitalSignature key usage")
	}
	for _, u := range want.Kind.ExtKeyUsages() {
		if !slices.Contains(cert.ExtKeyUsage, u) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return fmt.Errorf("lacks the %s extended key usage", extKeyUsageName(u))
		}
	}
	for _, name := range want.DNSNames {
		if !slices.Contains(cert.DNSNames, name) {
			return fmt.Errorf("is missing SAN DNS:%s", name)
		}
	}
	for _, ip := range want.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return fmt.Errorf("is missing SAN IP:%s", ip)
		}
	}
	return nil
}

// SignedBy reports whether ca issued cert.
func SignedBy(cert, ca *x509.Certificate) error {
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("is not signed by CA %q: %v", ca.Subject.CommonName, err)
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func extKeyUsageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	}
	return fmt.Sprintf("ExtKeyUsage(%d)", int(u))
}
