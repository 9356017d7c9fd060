package clusterpki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
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

	// During a rotation of the cluster CA, certificates of the old CA and
	// of the new one are both in use: each is revoked in the list of the CA
	// that issued it, and a serial alone in both lists.
	signers := []*pki.CA{ca}
	if rc, err := l.rotating(spec); err != nil {
		return nil, err
	} else if rc != nil {
		signers = []*pki.CA{rc.old, rc.new}
	}
	var serial *big.Int
	if o.CertFile != "" {
		cert, err := certFromFile(o.CertFile)
		if err != nil {
			return nil, err
		}
		var issuer *pki.CA
		for _, s := range signers {
			if pki.SignedBy(cert, s.Cert) == nil {
				issuer = s
			}
		}
		if issuer == nil {
			return nil, fmt.Errorf("--cert %s: %v; only certificates of the cluster CA can be revoked here", o.CertFile, pki.SignedBy(cert, ca.Cert))
		}
		signers = []*pki.CA{issuer}
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
	var lists []*x509.RevocationList
	if data, err := os.ReadFile(crlPath); err == nil {
		if len(bytes.TrimSpace(data)) > 0 {
			if lists, err = pki.ParseCRLs(data); err != nil {
				return nil, fmt.Errorf("--crl %s: %v", crlPath, err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--crl: %w", err)
	}
	// One list per issuer: the signer's is replaced by a new one with the
	// serial, the others are kept as they are.
	var out []byte
	for _, signer := range signers {
		var prev *x509.RevocationList
		lists = slices.DeleteFunc(lists, func(crl *x509.RevocationList) bool {
			if string(crl.RawIssuer) == string(signer.Cert.RawSubject) && crl.CheckSignatureFrom(signer.Cert) == nil {
				prev = crl
				return true
			}
			return false
		})
		nextUpdate := o.Now.Add(365 * 24 * time.Hour)
		if signer.Cert.NotAfter.Before(nextUpdate) {
			nextUpdate = signer.Cert.NotAfter
		}
		pemCRL, err := signer.Revoke(prev, serial, reason, o.Now, nextUpdate)
		if err != nil {
			return nil, err
		}
		out = append(out, pemCRL...)
	}
	for _, crl := range lists {
		out = append(out, pki.EncodeCRL(crl.Raw)...)
	}
	if err := atomicfile.WriteFile(crlPath, out, ModeCert); err != nil {
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
