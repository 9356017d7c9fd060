package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Kind says what a certificate is used for. It decides key usage, extended
// key usage and basic constraints.
type Kind int

// The kinds of certificate in a cluster PKI.
const (
	KindClient       Kind = iota + 1 // client auth
	KindServer                       // server auth
	KindServerClient                 // server and client auth, as etcd uses
	KindCA                           // certificate authority
)

func (k Kind) String() string {
	switch k {
	case KindClient:
		return "client"
	case KindServer:
		return "server"
	case KindServerClient:
		return "server+client"
	case KindCA:
		return "CA"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ExtKeyUsages returns the extended key usages a certificate of this kind carries.
func (k Kind) ExtKeyUsages() []x509.ExtKeyUsage {
	switch k {
	case KindClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case KindServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case KindServerClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return nil
}

// KeyUsage returns the key usage bits of this kind, as the Kubernetes PKI
// requirements list them.
func (k Kind) KeyUsage() x509.KeyUsage {
	if k == KindCA {
		return x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	}
	return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
}

// KindOf infers the kind of an existing certificate from its extensions.
func KindOf(c *x509.Certificate) Kind {
	if c.IsCA {
		return KindCA
	}
	server := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	client := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	switch {
	case server && client:
		return KindServerClient
	case server:
		return KindServer
	case client:
		return KindClient
	}
	return 0
}

// Template is what a certificate says about its subject.
type Template struct {
	CommonName    string
	Organizations []string
	Kind          Kind
	DNSNames      []string
	IPs           []net.IP
	NotBefore     time.Time
	NotAfter      time.Time
}

// ValidFor returns t valid from now (backdated by ClockSkew) for d.
func (t Template) ValidFor(now time.Time, d time.Duration) Template {
	t.NotBefore = now.Add(-ClockSkew)
	t.NotAfter = now.Add(d)
	return t
}

// TemplateOf returns the template that would re-issue c unchanged but for
// its validity.
func TemplateOf(c *x509.Certificate) Template {
	return Template{
		CommonName:    c.Subject.CommonName,
		Organizations: slices.Clone(c.Subject.Organization),
		Kind:          KindOf(c),
		DNSNames:      slices.Clone(c.DNSNames),
		IPs:           slices.Clone(c.IPAddresses),
	}
}

// CA is a certificate authority. Key is nil when the CA is externally
// managed: its certificate is known but it cannot sign.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the certificates above Cert when Cert is an intermediate,
	// nearest first, excluding the root. It is appended to issued leaves so
	// a peer that trusts only the root can build the path.
	Chain []*x509.Certificate
	// CrossSigned, during a rotation of this CA, is its certificate signed
	// by the CA it replaces. Issued leaves carry it, so that a peer still
	// trusting only the old CA verifies them through it.
	CrossSigned *x509.Certificate
}

// ErrExternalCA is returned when an externally managed CA is asked to sign.
var ErrExternalCA = errors.New("the CA is externally managed (its key is not present)")

// ClockSkew backdates NotBefore so that a peer whose clock is a little behind
// still accepts a certificate issued just now.
const ClockSkew = 5 * time.Minute

// NewSelfSignedCA creates a root CA certificate for key.
func NewSelfSignedCA(cn string, key crypto.Signer, now time.Time, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("CA validity must be positive, got %s", validity)
	}
	tmpl, err := certTemplate(Template{CommonName: cn, Kind: KindCA}.ValidFor(now, validity))
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// IssueCA creates an intermediate CA signed by ca.
func (ca *CA) IssueCA(cn string, key crypto.Signer, now time.Time, validity time.Duration) (*CA, error) {
	cert, err := ca.Issue(Template{CommonName: cn, Kind: KindCA}.ValidFor(now, validity), key.Public())
	if err != nil {
		return nil, err
	}
	chain := append([]*x509.Certificate{ca.Cert}, ca.Chain...)
	if IsSelfSigned(ca.Cert) {
		chain = slices.Clone(ca.Chain)
	}
	return &CA{Cert: cert, Key: key, Chain: chain}, nil
}

// Issue signs a certificate for pub described by t. NotAfter may not pass
// the CA's own NotAfter: a certificate that outlives its issuer would fail
// verification before its own expiry, which is a silent outage.
func (ca *CA) Issue(t Template, pub crypto.PublicKey) (*x509.Certificate, error) {
	if ca.Key == nil {
		return nil, ErrExternalCA
	}
	if !t.NotAfter.After(t.NotBefore) {
		return nil, fmt.Errorf("certificate %q: validity must be positive", t.CommonName)
	}
	if t.NotAfter.After(ca.Cert.NotAfter) {
		return nil, &OutlivesCAError{Subject: t.CommonName, NotAfter: t.NotAfter, CA: ca.Cert.Subject.CommonName, CANotAfter: ca.Cert.NotAfter}
	}
	tmpl, err := certTemplate(t)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", t.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// OutlivesCAError reports a certificate whose requested validity ends after
// its CA's.
type OutlivesCAError struct {
	Subject    string
	NotAfter   time.Time
	CA         string
	CANotAfter time.Time
}

func (e *OutlivesCAError) Error() string {
	// Two times a few seconds apart must not print the same.
	layout := time.RFC3339
	if e.NotAfter.Truncate(time.Second).Equal(e.CANotAfter.Truncate(time.Second)) {
		layout = time.RFC3339Nano
	}
	return fmt.Sprintf("certificate %q would expire at %s, after its CA %q (%s); shorten the validity",
		e.Subject, e.NotAfter.UTC().Format(layout), e.CA, e.CANotAfter.UTC().Format(layout))
}

func certTemplate(t Template) (*x509.Certificate, error) {
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	c := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   t.CommonName,
			Organization: t.Organizations,
		},
		NotBefore:             t.NotBefore.UTC(),
		NotAfter:              t.NotAfter.UTC(),
		KeyUsage:              t.Kind.KeyUsage(),
		ExtKeyUsage:           t.Kind.ExtKeyUsages(),
		BasicConstraintsValid: true,
		IsCA:                  t.Kind == KindCA,
		DNSNames:              t.DNSNames,
		IPAddresses:           t.IPs,
	}
	if t.Kind == 0 {
		return nil, fmt.Errorf("certificate %q: no kind", t.CommonName)
	}
	return c, nil
}

// NewSerial returns a random positive 128-bit serial number, as RFC 5280
// recommends for unpredictability.
func NewSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// NewCSR creates a PKCS#10 request for t signed by key. It asks for t's
// SANs, key usage and extended key usage, so a CA that copies requested
// extensions (openssl x509 -req -copy_extensions copyall) issues exactly
// what sekisho would.
func NewCSR(t Template, key crypto.Signer) ([]byte, error) {
	exts, err := requestedExtensions(t)
	if err != nil {
		return nil, err
	}
	req := &x509.CertificateRequest{
		Subject: pkix.Name{
			CommonName:   t.CommonName,
			Organization: t.Organizations,
		},
		DNSNames:        t.DNSNames,
		IPAddresses:     t.IPs,
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, req, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR for %q: %w", t.CommonName, err)
	}
	return der, nil
}

// requestedExtensions encodes t's key usage and extended key usage as
// X.509 extensions for a certificate request.
func requestedExtensions(t Template) ([]pkix.Extension, error) {
	ku := t.Kind.KeyUsage()
	var bits asn1.BitString
	for i := range 9 {
		if ku&(1<<i) != 0 {
			bits.BitLength = i + 1
		}
	}
	bits.Bytes = make([]byte, (bits.BitLength+7)/8)
	for i := range bits.BitLength {
		if ku&(1<<i) != 0 {
			bits.Bytes[i/8] |= 0x80 >> (i % 8)
		}
	}
	kuValue, err := asn1.Marshal(bits)
	if err != nil {
		return nil, err
	}
	exts := []pkix.Extension{{Id: oidKeyUsage, Critical: true, Value: kuValue}}
	if t.Kind != KindCA {
		// basicConstraints CA:FALSE is the empty SEQUENCE: cA defaults to false.
		exts = append(exts, pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: []byte{0x30, 0x00}})
	}
	var ekus []asn1.ObjectIdentifier
	for _, u := range t.Kind.ExtKeyUsages() {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			ekus = append(ekus, oidServerAuth)
		case x509.ExtKeyUsageClientAuth:
			ekus = append(ekus, oidClientAuth)
		}
	}
	if len(ekus) > 0 {
		v, err := asn1.Marshal(ekus)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidExtKeyUsage, Value: v})
	}
	return exts, nil
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidServerAuth       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidClientAuth       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
)

// IsSelfSigned reports whether c is a root: issued by itself under its own key.
func IsSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil && slices.Equal(c.RawIssuer, c.RawSubject)
}

// SignRequest issues a certificate for a certificate request whose
// signature has been verified: its subject and subject alternative names
// are copied from the request, and its usages are exactly keyUsage and
// extKeyUsages (what a CertificateSigningRequest asked for and its signer
// allowed). A validity that would outlive the CA is cut short at the CA's
// expiry, as Kubernetes' signer does. The certificate is returned first,
// followed by the intermediates up to (not including) the root, as every
// certificate file sekisho writes holds them.
func (ca *CA) SignRequest(cr *x509.CertificateRequest, keyUsage x509.KeyUsage, extKeyUsages []x509.ExtKeyUsage, notBefore, notAfter time.Time) ([]*x509.Certificate, error) {
	if ca.Key == nil {
		return nil, ErrExternalCA
	}
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("certificate %q: the CA expires at %s, before the certificate would start", cr.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               cr.Subject,
		NotBefore:             notBefore.UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              keyUsage,
		ExtKeyUsage:           extKeyUsages,
		BasicConstraintsValid: true,
		DNSNames:              cr.DNSNames,
		IPAddresses:           cr.IPAddresses,
		EmailAddresses:        cr.EmailAddresses,
		URIs:                  cr.URIs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, cr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", cr.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	chain := []*x509.Certificate{cert}
	if !IsSelfSigned(ca.Cert) {
		chain = append(chain, ca.Cert)
		chain = append(chain, ca.Chain...)
	}
	if ca.CrossSigned != nil {
		chain = append(chain, ca.CrossSigned)
	}
	return chain, nil
}
