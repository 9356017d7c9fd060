package clusterpki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// RenewOptions configure Renew.
type RenewOptions struct {
	Dir string
	// Names are leaf or kubeconfig names as check-expiration prints them,
	// or "all".
	Names    []string
	Validity time.Duration
	// ReuseKey keeps each certificate's private key. By default a new key
	// is generated, since rotating a certificate should rotate its key.
	ReuseKey bool
	Now      time.Time
}

// RenewableNames lists what Renew accepts, besides "all".
func RenewableNames() []string {
	return append(pki.LeafNames(), pki.KubeconfigNames()...)
}

func (o RenewOptions) names() ([]string, error) {
	if len(o.Names) == 0 {
		return nil, fmt.Errorf("name what to renew: all, or one of %s", strings.Join(RenewableNames(), ", "))
	}
	var out []string
	for _, n := range o.Names {
		switch {
		case n == "all":
			out = append(out, RenewableNames()...)
		case slices.Contains(RenewableNames(), n):
			out = append(out, n)
		default:
			return nil, fmt.Errorf("unknown certificate %q (want all, or one of %s)", n, strings.Join(RenewableNames(), ", "))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Renew re-issues leaf certificates and kubeconfig client certificates from
// the same CA, with the same subject, SANs and usages, a new serial and a
// new validity. Either every named certificate is renewed or none is.
func Renew(o RenewOptions) (*Report, error) {
	names, err := o.names()
	if err != nil {
		return nil, err
	}
	if o.Validity <= 0 {
		return nil, fmt.Errorf("--cert-validity: must be positive, got %s", o.Validity)
	}
	l := Layout{Dir: o.Dir}
	cas, err := l.loadCAs()
	if err != nil {
		return nil, err
	}
	stage := &staged{layout: l}
	var keys pendingKeys
	var steps []func() error
	for _, name := range names {
		var step func() error
		if slices.Contains(pki.KubeconfigNames(), name) {
			step, err = planRenewKubeconfig(l, cas, name, o, stage, &keys)
		} else {
			step, err = planRenewLeaf(l, cas, name, o, stage, &keys)
		}
		if err != nil {
			return nil, err
		}
		steps = append(steps, step)
	}
	if err := keys.generate(); err != nil {
		return nil, err
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return stage.commit()
}

// signerFor returns the CA called caName, refusing an external one with a
// message that says what to do instead.
func signerFor(l Layout, cas map[string]*pki.CA, caName, what string) (*pki.CA, error) {
	spec, _ := pki.CASpecByName(caName)
	ca := cas[caName]
	if ca == nil {
		return nil, fmt.Errorf("cannot renew %s: CA certificate %s does not exist; run `sekisho certs init` first", what, l.Path(CertFile(spec.BaseName)))
	}
	if ca.Key == nil {
		return nil, fmt.Errorf("cannot renew %s: CA %q is externally managed (%s is not present); have that CA re-issue the certificate",
			what, caName, l.Path(KeyFile(spec.BaseName)))
	}
	return ca, nil
}

// caOf finds which cluster CA issued cert.
func caOf(cas map[string]*pki.CA, cert *x509.Certificate) (*pki.CA, string) {
	for _, spec := range pki.CASpecs() {
		if ca := cas[spec.Name]; ca != nil && pki.SignedBy(cert, ca.Cert) == nil {
			return ca, spec.Name
		}
	}
	return nil, ""
}

func leafCAName(name string) string {
	switch {
	case strings.HasPrefix(name, "etcd-"), name == "apiserver-etcd-client":
		return pki.CAEtcd
	case name == "front-proxy-client":
		return pki.CAFrontProxy
	}
	return pki.CAKubernetes
}

// newKeyFor queues a fresh key of the same type as old (falling back to the
// default type for keys sekisho does not generate), or reuses old.
func newKeyFor(old crypto.Signer, reuse bool, keys *pendingKeys) *crypto.Signer {
	key := new(crypto.Signer)
	if reuse {
		*key = old
		return key
	}
	t := pki.KeyTypeOf(old.Public())
	if t == "" {
		t = pki.ECDSAP256
	}
	keys.want(t, key)
	return key
}

func planRenewLeaf(l Layout, cas map[string]*pki.CA, name string, o RenewOptions, stage *staged, keys *pendingKeys) (func() error, error) {
	base := pki.LeafBaseName(name)
	certRel, keyRel := CertFile(base), KeyFile(base)
	ca, err := signerFor(l, cas, leafCAName(name), l.Path(certRel))
	if err != nil {
		return nil, err
	}
	certs, certOK, err := l.loadCertChain(certRel)
	if err != nil {
		return nil, err
	}
	oldKey, keyOK, err := l.loadKey(keyRel)
	if err != nil {
		return nil, err
	}
	if !certOK || !keyOK {
		return nil, fmt.Errorf("cannot renew %s: %s or %s does not exist; run `sekisho certs init` first", name, l.Path(certRel), l.Path(keyRel))
	}
	if !pki.KeyMatches(oldKey, certs[0].PublicKey) {
		return nil, fmt.Errorf("%s: certificate does not match private key %s", l.Path(certRel), l.Path(keyRel))
	}
	if err := pki.SignedBy(certs[0], ca.Cert); err != nil {
		return nil, fmt.Errorf("%s: %v", l.Path(certRel), err)
	}
	key := newKeyFor(oldKey, o.ReuseKey, keys)
	return func() error {
		cert, err := ca.Issue(pki.TemplateOf(certs[0]).ValidFor(o.Now, o.Validity), (*key).Public())
		if err != nil {
			return validityError(err, "--cert-validity", o.Validity)
		}
		if !o.ReuseKey {
			keyPEM, err := pki.EncodePrivateKey(*key)
			if err != nil {
				return err
			}
			stage.replace(keyRel, keyPEM, ModeKey)
		}
		stage.replace(certRel, pki.EncodeCertificates(issuedChain(cert, ca)...), ModeCert)
		return nil
	}, nil
}

func planRenewKubeconfig(l Layout, cas map[string]*pki.CA, name string, o RenewOptions, stage *staged, keys *pendingKeys) (func() error, error) {
	data, ok, err := l.readOptional(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("cannot renew %s: %s does not exist; run `sekisho certs init` first", name, l.Path(name))
	}
	kc, err := kubeconfig.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", l.Path(name), err)
	}
	old, oldKey, err := clientCredentials(kc)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", l.Path(name), err)
	}
	ca, caName := caOf(cas, old)
	if ca == nil {
		return nil, fmt.Errorf("%s: client certificate is not signed by any cluster CA", l.Path(name))
	}
	if _, err := signerFor(l, cas, caName, l.Path(name)); err != nil {
		return nil, err
	}
	key := newKeyFor(oldKey, o.ReuseKey, keys)
	return func() error {
		cert, err := ca.Issue(pki.TemplateOf(old).ValidFor(o.Now, o.Validity), (*key).Public())
		if err != nil {
			return validityError(err, "--cert-validity", o.Validity)
		}
		keyPEM, err := pki.EncodePrivateKey(*key)
		if err != nil {
			return err
		}
		updated, err := kubeconfig.SetClientCertificate(data, pki.EncodeCertificates(issuedChain(cert, ca)...), keyPEM)
		if err != nil {
			return fmt.Errorf("%s: %v", l.Path(name), err)
		}
		stage.replace(name, updated, ModeKey)
		return nil
	}, nil
}

// validityError names the flag whose value made a certificate outlive its CA.
func validityError(err error, flag string, validity time.Duration) error {
	var outlives *pki.OutlivesCAError
	if errors.As(err, &outlives) {
		return fmt.Errorf("%s %s: %w", flag, validity, err)
	}
	return err
}
