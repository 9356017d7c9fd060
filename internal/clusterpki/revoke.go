package clusterpki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sekisho/sekisho/internal/atomicfile"
	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// CRLFile is where `certs revoke` keeps the cluster CA's revocation list
// by default, and where `up` looks for it.
var CRLFile = filepath.Join(PKIDir, "ca.crl")

// RevokeOptions configure Revoke. Exactly one of CertFile and Serial is set.
type RevokeOptions struct {
	Dir string
	// CertFile is a PEM certificate, or a kubeconfig whose client
	// certificate is to be revoked.
	CertFile string
	// Serial is the serial number in hex, as openssl prints it.
	Serial string
	// CRL defaults to DIR/pki/ca.crl.
	CRL    string
	Reason string
	Now    time.Time
}

// Revoke adds a certificate issued by the cluster CA to its CRL, creating
// the CRL if needed. It returns the revoked serial.
func Revoke(o RevokeOptions) (*big.Int, error) {
	if (o.CertFile == "") == (o.Serial == "") {
		return nil, errors.New("give exactly one of --cert and --serial")
	}
	reason, err := pki.ParseRevocationReason(o.Reason)
	if err != nil {
		return nil, fmt.Errorf("--reason: %w", err)
	}
	l := Layout{Dir: o.Dir}
	spec, _ := pki.CASpecByName(pki.CAKubernetes)
	ca, err := l.loadCA(spec)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		return nil, fmt.Errorf("%s does not exist; run `sekisho certs init --dir %s` first", l.Path(CertFile("ca")), o.Dir)
	}
	if ca.Key == nil {
		return nil, fmt.Errorf("cannot sign a CRL: CA %q is externally managed (%s is not present)", pki.CAKubernetes, l.Path(KeyFile("ca")))
	}

	var serial *big.Int
	if o.CertFile != "" {
		cert, err := certFromFile(o.CertFile)
		if err != nil {
			return nil, err
		}
		if err := pki.SignedBy(cert, ca.Cert); err != nil {
			return nil, fmt.Errorf("--cert %s: %v; only certificates of the cluster CA can be revoked here", o.CertFile, err)
		}
		serial = cert.SerialNumber
	} else {
		s := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(o.Serial), "0x"), ":", "")
		var ok bool
		serial, ok = new(big.Int).SetString(s, 16)
		if !ok || serial.Sign() <= 0 {
			return nil, fmt.Errorf("--serial %q: not a positive hexadecimal number", o.Serial)
		}
	}

	crlPath := o.CRL
	if crlPath == "" {
		crlPath = l.Path(CRLFile)
	}
	var prev *x509.RevocationList
	if data, err := os.ReadFile(crlPath); err == nil {
		if prev, err = pki.ParseCRL(data); err != nil {
			return nil, fmt.Errorf("--crl %s: %v", crlPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--crl: %w", err)
	}
	nextUpdate := o.Now.Add(365 * 24 * time.Hour)
	if ca.Cert.NotAfter.Before(nextUpdate) {
		nextUpdate = ca.Cert.NotAfter
	}
	pemCRL, err := ca.Revoke(prev, serial, reason, o.Now, nextUpdate)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(crlPath, pemCRL, ModeCert); err != nil {
		return nil, err
	}
	return serial, nil
}

// certFromFile reads a PEM certificate, or the client certificate of a kubeconfig.
func certFromFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--cert: %w", err)
	}
	if certs, err := pki.ParseCertificates(data); err == nil {
		return certs[0], nil
	}
	kc, err := kubeconfig.LoadFile(path)
	if err != nil || len(kc.CertPEM) == 0 {
		return nil, fmt.Errorf("--cert %s: neither a PEM certificate nor a kubeconfig with a client certificate", path)
	}
	certs, err := pki.ParseCertificates(kc.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("--cert %s: client-certificate-data: %v", path, err)
	}
	return certs[0], nil
}
