package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// errNotCA is why a certificate cannot sign others.
var errNotCA = errors.New("not a CA certificate (needs basic constraints CA:TRUE and the certSign key usage)")

// CheckCA reports why cert cannot act as a CA, or nil.
func CheckCA(cert *x509.Certificate) error {
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errNotCA
	}
	return nil
}

// CAFromPEM is the one way a CA is loaded: its certificate (followed by
// the chain above it, nearest first) and, unless keyPEM is nil, its
// private key. The certificate must be a CA and the key must be its own.
// A CA without a key is managed outside sekisho and signs nothing.
// certName and keyName say where each came from (a path, a flag and a
// path) so that an error names the file at fault.
func CAFromPEM(certName string, certPEM []byte, keyName string, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certName, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", certName)
	}
	// The chain is the run of certificates each of which signed the one
	// before it (an intermediate CA's issuers). What follows is other CAs
	// in the same bundle, such as the new CA during a rotation, which
	// trust but do not sign.
	n := 1
	for n < len(certs) && certs[n-1].CheckSignatureFrom(certs[n]) == nil {
		n++
	}
	ca := &CA{Cert: certs[0], Chain: certs[1:n]}
	if err := CheckCA(ca.Cert); err != nil {
		return nil, fmt.Errorf("%s: %w", certName, err)
	}
	if keyPEM == nil {
		return ca, nil
	}
	if ca.Key, err = ParsePrivateKey(keyPEM); err != nil {
		return nil, fmt.Errorf("%s: %w", keyName, err)
	}
	if !KeyMatches(ca.Key, ca.Cert.PublicKey) {
		return nil, fmt.Errorf("%s: certificate does not match private key %s", certName, keyName)
	}
	return ca, nil
}
