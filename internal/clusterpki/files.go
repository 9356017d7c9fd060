// Package clusterpki lays out a cluster's PKI on disk with kubeadm's file
// names: it creates what is missing, validates what exists, renews leaves,
// writes CSRs for an offline CA and reports expiry. The cryptography itself
// lives in package pki.
package clusterpki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sekisho/sekisho/internal/atomicfile"
	"github.com/sekisho/sekisho/internal/pki"
)

// File modes of the PKI: keys are private, certificates world-readable,
// directories closed.
const (
	ModeKey  fs.FileMode = 0o600
	ModeCert fs.FileMode = 0o644
	ModeDir  fs.FileMode = 0o700
)

// PKIDir is the directory under the data dir that holds certificates and keys.
const PKIDir = "pki"

// Layout names the files of a cluster PKI under one data directory.
type Layout struct{ Dir string }

// Path returns the full path of rel, a path relative to the data dir.
func (l Layout) Path(rel string) string { return filepath.Join(l.Dir, rel) }

// CertFile returns the path, relative to the data dir, of a certificate.
func CertFile(base string) string { return filepath.Join(PKIDir, base+".crt") }

// KeyFile returns the path, relative to the data dir, of a private key.
func KeyFile(base string) string { return filepath.Join(PKIDir, base+".key") }

// CSRFile returns the path, relative to the data dir, of a certificate request.
func CSRFile(base string) string { return filepath.Join(PKIDir, base+".csr") }

// The service-account signing key pair.
var (
	SAKeyFile = filepath.Join(PKIDir, "sa.key")
	SAPubFile = filepath.Join(PKIDir, "sa.pub")
)

// readOptional reads rel; a missing file is (nil, false, nil).
func (l Layout) readOptional(rel string) ([]byte, bool, error) {
	data, err := os.ReadFile(l.Path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", l.Path(rel), unwrapPathErr(err))
	}
	return data, true, nil
}

func (l Layout) exists(rel string) bool {
	_, err := os.Stat(l.Path(rel))
	return err == nil
}

// loadCertChain reads a PEM file of one certificate, optionally followed by
// the intermediates above it.
func (l Layout) loadCertChain(rel string) ([]*x509.Certificate, bool, error) {
	data, ok, err := l.readOptional(rel)
	if !ok || err != nil {
		return nil, ok, err
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", l.Path(rel), err)
	}
	return certs, true, nil
}

func (l Layout) loadKey(rel string) (crypto.Signer, bool, error) {
	data, ok, err := l.readOptional(rel)
	if !ok || err != nil {
		return nil, ok, err
	}
	key, err := pki.ParsePrivateKey(data)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", l.Path(rel), err)
	}
	return key, true, nil
}

// loadCA reads a CA certificate and, when present, its key. A certificate
// without its key is an externally managed CA.
func (l Layout) loadCA(spec pki.CASpec) (*pki.CA, error) {
	certRel, keyRel := CertFile(spec.BaseName), KeyFile(spec.BaseName)
	certPEM, certOK, err := l.readOptional(certRel)
	if err != nil {
		return nil, err
	}
	keyPEM, keyOK, err := l.readOptional(keyRel)
	if err != nil {
		return nil, err
	}
	switch {
	case !certOK && keyOK:
		return nil, fmt.Errorf("%s: key exists without its certificate %s; restore the certificate or remove the key", l.Path(keyRel), l.Path(certRel))
	case !certOK:
		return nil, nil
	case !keyOK:
		keyPEM = nil
	}
	ca, err := pki.CAFromPEM(l.Path(certRel), certPEM, l.Path(keyRel), keyPEM)
	if err != nil {
		return nil, err
	}
	// Once a rotation has the new CA signing, what it issues carries the
	// cross-signed certificate, renewals included.
	if rc, err := l.rotating(spec); err == nil && rc != nil && rc.state.done(PhaseReissued) && ca.Cert.Equal(rc.new.Cert) {
		ca.CrossSigned = rc.cross
	}
	return ca, nil
}

// loadCAs reads every cluster CA that exists, keyed by name.
func (l Layout) loadCAs() (map[string]*pki.CA, error) {
	cas := map[string]*pki.CA{}
	for _, spec := range pki.CASpecs() {
		ca, err := l.loadCA(spec)
		if err != nil {
			return nil, err
		}
		if ca != nil {
			cas[spec.Name] = ca
		}
	}
	return cas, nil
}

// issuedChain is what a leaf's certificate file holds: the leaf, then the
// intermediates up to (not including) the root, so a peer that trusts only
// the root can still build the path.
func issuedChain(leaf *x509.Certificate, ca *pki.CA) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	if !pki.IsSelfSigned(ca.Cert) {
		chain = append(chain, ca.Cert)
		chain = append(chain, ca.Chain...)
	}
	if ca.CrossSigned != nil {
		chain = append(chain, ca.CrossSigned)
	}
	return chain
}

// staged collects the files one command will write, so they land together.
type staged struct {
	layout   Layout
	files    []atomicfile.File
	created  []string
	kept     []string
	warnings []string
}

func (s *staged) create(rel string, data []byte, mode fs.FileMode) {
	s.files = append(s.files, atomicfile.File{Path: s.layout.Path(rel), Data: data, Mode: mode})
	s.created = append(s.created, rel)
}

func (s *staged) replace(rel string, data []byte, mode fs.FileMode) {
	s.files = append(s.files, atomicfile.File{Path: s.layout.Path(rel), Data: data, Mode: mode, Replace: true})
	s.created = append(s.created, rel)
}

func (s *staged) keep(rel string) { s.kept = append(s.kept, rel) }

func (s *staged) warn(msg string) { s.warnings = append(s.warnings, msg) }

func (s *staged) commit() (*Report, error) {
	if err := atomicfile.WriteAll(s.files); err != nil {
		return nil, err
	}
	return &Report{Written: s.created, Kept: s.kept, Warnings: s.warnings}, nil
}

// Report lists what a command wrote and what it found already in place,
// as paths relative to the data dir.
type Report struct {
	Written []string
	Kept    []string
	// Warnings are choices made for the user that they should know of.
	Warnings []string
}

func (l Layout) mkdirs() error {
	for _, d := range []string{l.Dir, filepath.Join(l.Dir, PKIDir), filepath.Join(l.Dir, PKIDir, "etcd")} {
		if err := os.MkdirAll(d, ModeDir); err != nil {
			return fmt.Errorf("cannot create directory %s: %w", d, unwrapPathErr(err))
		}
	}
	return nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
