package clusterpki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// InitOptions configure Init and GenerateCSRs.
type InitOptions struct {
	Dir          string
	Cluster      pki.ClusterConfig
	KeyType      pki.KeyType
	CertValidity time.Duration
	CAValidity   time.Duration
	// RootCA, when set, issues the three cluster CAs as its intermediates.
	RootCA *pki.CA
	Now    time.Time
}

func (o InitOptions) validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("--dir: must not be empty"))
	}
	if err := o.Cluster.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := pki.ParseKeyType(string(o.KeyType)); err != nil {
		errs = append(errs, fmt.Errorf("--key-type: %w", err))
	}
	if o.CertValidity <= 0 {
		errs = append(errs, fmt.Errorf("--cert-validity: must be positive, got %s", o.CertValidity))
	}
	if o.CAValidity <= 0 {
		errs = append(errs, fmt.Errorf("--ca-validity: must be positive, got %s", o.CAValidity))
	}
	if o.CertValidity > 0 && o.CAValidity > 0 && o.CertValidity > o.CAValidity {
		errs = append(errs, fmt.Errorf("--cert-validity %s is longer than --ca-validity %s: certificates cannot outlive their CA", o.CertValidity, o.CAValidity))
	}
	if o.RootCA != nil {
		if o.RootCA.Key == nil {
			errs = append(errs, errors.New("--root-ca-key: the root CA's key is required to issue intermediates"))
		} else if o.Now.After(o.RootCA.Cert.NotAfter) {
			errs = append(errs, fmt.Errorf("--root-ca-cert: the root CA expired at %s", o.RootCA.Cert.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	return errors.Join(errs...)
}

// Init builds every CA, leaf certificate, kubeconfig and the service-account
// key pair of the cluster under o.Dir. Files that exist and fit are kept; a
// file that exists but does not fit is an error naming it, and nothing at
// all is written. A CA certificate present without its key is an external
// CA: its leaves must already exist, and are validated.
func Init(o InitOptions) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	l := Layout{Dir: o.Dir}
	if err := l.mkdirs(); err != nil {
		return nil, err
	}
	cas, err := l.loadCAs()
	if err != nil {
		return nil, err
	}
	b := &initBuilder{o: o, l: l, cas: cas, stage: &staged{layout: l}}
	for _, spec := range pki.CASpecs() {
		if err := b.planCA(spec); err != nil {
			return nil, err
		}
	}
	for _, spec := range o.Cluster.LeafSpecs() {
		if err := b.planLeaf(spec); err != nil {
			return nil, err
		}
	}
	for _, spec := range o.Cluster.KubeconfigSpecs() {
		if err := b.planKubeconfig(spec); err != nil {
			return nil, err
		}
	}
	if err := b.planServiceAccountKey(); err != nil {
		return nil, err
	}
	if err := b.keys.generate(); err != nil {
		return nil, err
	}
	for _, step := range b.steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return b.stage.commit()
}

// initBuilder plans Init in two passes: the first reads and checks what
// exists and records which keys are needed; after all keys are generated at
// once, the recorded steps issue certificates in order (CAs first).
type initBuilder struct {
	o     InitOptions
	l     Layout
	cas   map[string]*pki.CA
	stage *staged
	keys  pendingKeys
	steps []func() error
}

func (b *initBuilder) then(step func() error) { b.steps = append(b.steps, step) }

func (b *initBuilder) planCA(spec pki.CASpec) error {
	certRel, keyRel := CertFile(spec.BaseName), KeyFile(spec.BaseName)
	if ca := b.cas[spec.Name]; ca != nil {
		if b.o.Now.After(ca.Cert.NotAfter) {
			return fmt.Errorf("%s: CA certificate expired at %s", b.l.Path(certRel), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if b.o.RootCA != nil {
			if err := pki.SignedBy(ca.Cert, b.o.RootCA.Cert); err != nil {
				return fmt.Errorf("%s: %v (given by --root-ca-cert)", b.l.Path(certRel), err)
			}
		}
		b.stage.keep(certRel)
		if ca.Key != nil {
			b.stage.keep(keyRel)
		}
		return nil
	}
	var key crypto.Signer
	b.keys.want(b.o.KeyType, &key)
	b.then(func() error {
		var (
			ca  *pki.CA
			err error
		)
		if root := b.o.RootCA; root != nil {
			// An intermediate cannot outlive its root: one that would is
			// cut at the root's expiry, and the cut is reported (a
			// 10-year root and the 10-year default validity would
			// otherwise always clash by the seconds between them).
			validity := b.o.CAValidity
			if end := b.o.Now.Add(validity); end.After(root.Cert.NotAfter) {
				validity = root.Cert.NotAfter.Sub(b.o.Now)
				b.stage.warn(fmt.Sprintf("CA %q: --ca-validity %s would end at %s, after the root CA %q (%s); it is cut to end with the root",
					spec.CommonName, b.o.CAValidity, end.UTC().Format(time.RFC3339), root.Cert.Subject.CommonName, root.Cert.NotAfter.UTC().Format(time.RFC3339)))
			}
			ca, err = root.IssueCA(spec.CommonName, key, b.o.Now, validity)
			err = validityError(err, "--ca-validity", validity)
		} else {
			ca, err = pki.NewSelfSignedCA(spec.CommonName, key, b.o.Now, b.o.CAValidity)
		}
		if err != nil {
			return err
		}
		keyPEM, err := pki.EncodePrivateKey(key)
		if err != nil {
			return err
		}
		b.cas[spec.Name] = ca
		b.stage.create(keyRel, keyPEM, ModeKey)
		b.stage.create(certRel, pki.EncodeCertificates(append([]*x509.Certificate{ca.Cert}, ca.Chain...)...), ModeCert)
		return nil
	})
	return nil
}

// externalCAError explains why a leaf cannot be created under an external CA.
func (b *initBuilder) externalCAError(caName, missing, csrRel string) error {
	spec, _ := pki.CASpecByName(caName)
	return fmt.Errorf("%s is missing and CA %q is external (%s has no key %s), so sekisho cannot sign it; "+
		"run `sekisho certs generate-csr --dir %s`, sign %s with that CA and save the result as %s",
		b.l.Path(missing), caName, b.l.Path(CertFile(spec.BaseName)), b.l.Path(KeyFile(spec.BaseName)),
		b.l.Dir, b.l.Path(csrRel), b.l.Path(missing))
}

func (b *initBuilder) planLeaf(spec pki.CertSpec) error {
	certRel, keyRel := CertFile(spec.BaseName), KeyFile(spec.BaseName)
	certs, certOK, err := b.l.loadCertChain(certRel)
	if err != nil {
		return err
	}
	key, keyOK, err := b.l.loadKey(keyRel)
	if err != nil {
		return err
	}
	if certOK {
		if !keyOK {
			return fmt.Errorf("%s: certificate exists without its private key %s", b.l.Path(certRel), b.l.Path(keyRel))
		}
		if !pki.KeyMatches(key, certs[0].PublicKey) {
			return fmt.Errorf("%s: certificate does not match private key %s", b.l.Path(certRel), b.l.Path(keyRel))
		}
		b.then(func() error {
			ca := b.cas[spec.CA]
			if err := pki.Fits(certs[0], spec.Template(), ca.Cert, b.o.Now); err != nil {
				if ca.Key == nil {
					return fmt.Errorf("%s: %v", b.l.Path(certRel), err)
				}
				return fmt.Errorf("%s: %v; remove it and %s to have them regenerated", b.l.Path(certRel), err, b.l.Path(keyRel))
			}
			b.stage.keep(certRel)
			b.stage.keep(keyRel)
			return nil
		})
		return nil
	}
	if ca := b.cas[spec.CA]; ca != nil && ca.Key == nil {
		return b.externalCAError(spec.CA, certRel, CSRFile(spec.BaseName))
	}
	if keyOK {
		b.stage.keep(keyRel)
	} else {
		b.keys.want(b.o.KeyType, &key)
	}
	b.then(func() error {
		ca := b.cas[spec.CA]
		cert, err := ca.Issue(b.validity(spec.Template()), key.Public())
		if err != nil {
			return validityError(err, "--cert-validity", b.o.CertValidity)
		}
		if !keyOK {
			keyPEM, err := pki.EncodePrivateKey(key)
			if err != nil {
				return err
			}
			b.stage.create(keyRel, keyPEM, ModeKey)
		}
		b.stage.create(certRel, pki.EncodeCertificates(issuedChain(cert, ca)...), ModeCert)
		return nil
	})
	return nil
}

func (b *initBuilder) validity(t pki.Template) pki.Template {
	return t.ValidFor(b.o.Now, b.o.CertValidity)
}

func (b *initBuilder) kubeconfigServer(spec pki.KubeconfigSpec) string {
	if spec.Local {
		return b.o.Cluster.LocalServerURL()
	}
	return b.o.Cluster.ServerURL()
}

func (b *initBuilder) planKubeconfig(spec pki.KubeconfigSpec) error {
	rel := spec.Name
	server := b.kubeconfigServer(spec)
	data, ok, err := b.l.readOptional(rel)
	if err != nil {
		return err
	}
	if ok {
		b.then(func() error {
			if err := checkKubeconfig(data, spec, server, b.cas[pki.CAKubernetes], b.o.Now); err != nil {
				return fmt.Errorf("%s: %v", b.l.Path(rel), err)
			}
			b.stage.keep(rel)
			return nil
		})
		return nil
	}
	if ca := b.cas[pki.CAKubernetes]; ca != nil && ca.Key == nil {
		return b.planExternalKubeconfig(spec, server)
	}
	var key crypto.Signer
	b.keys.want(b.o.KeyType, &key)
	b.then(func() error {
		ca := b.cas[pki.CAKubernetes]
		cert, err := ca.Issue(b.validity(spec.Template()), key.Public())
		if err != nil {
			return validityError(err, "--cert-validity", b.o.CertValidity)
		}
		data, err := renderKubeconfig(spec, server, ca, cert, key)
		if err != nil {
			return err
		}
		b.stage.create(rel, data, ModeKey)
		return nil
	})
	return nil
}

// planExternalKubeconfig assembles a kubeconfig from a certificate an
// external CA signed (NAME.crt) and the key `certs generate-csr` wrote (NAME.key).
func (b *initBuilder) planExternalKubeconfig(spec pki.KubeconfigSpec, server string) error {
	certRel, keyRel := spec.Name+".crt", spec.Name+".key"
	certs, certOK, err := b.l.loadCertChain(certRel)
	if err != nil {
		return err
	}
	key, keyOK, err := b.l.loadKey(keyRel)
	if err != nil {
		return err
	}
	if !certOK || !keyOK {
		return fmt.Errorf("%s is missing and CA %q is external (%s has no key), so sekisho cannot sign its client certificate; "+
			"run `sekisho certs generate-csr --dir %s`, sign %s with that CA and save the result as %s",
			b.l.Path(spec.Name), pki.CAKubernetes, b.l.Path(CertFile("ca")), b.l.Dir, b.l.Path(spec.Name+".csr"), b.l.Path(certRel))
	}
	ca := b.cas[pki.CAKubernetes]
	if !pki.KeyMatches(key, certs[0].PublicKey) {
		return fmt.Errorf("%s: certificate does not match private key %s", b.l.Path(certRel), b.l.Path(keyRel))
	}
	if err := pki.Fits(certs[0], spec.Template(), ca.Cert, b.o.Now); err != nil {
		return fmt.Errorf("%s: %v", b.l.Path(certRel), err)
	}
	data, err := renderKubeconfig(spec, server, ca, certs[0], key)
	if err != nil {
		return err
	}
	b.stage.create(spec.Name, data, ModeKey)
	return nil
}

func renderKubeconfig(spec pki.KubeconfigSpec, server string, ca *pki.CA, cert *x509.Certificate, key crypto.Signer) ([]byte, error) {
	keyPEM, err := pki.EncodePrivateKey(key)
	if err != nil {
		return nil, err
	}
	return kubeconfig.Render(kubeconfig.Spec{
		ClusterName: pki.ClusterName,
		UserName:    spec.UserName,
		Server:      server,
		CAPEM:       pki.EncodeCertificates(ca.Cert),
		CertPEM:     pki.EncodeCertificates(issuedChain(cert, ca)...),
		KeyPEM:      keyPEM,
	})
}

// checkKubeconfig reports why an existing kubeconfig does not fit spec.
func checkKubeconfig(data []byte, spec pki.KubeconfigSpec, server string, ca *pki.CA, now time.Time) error {
	kc, err := kubeconfig.Parse(data)
	if err != nil {
		return err
	}
	if kc.Server != server {
		return fmt.Errorf("server is %q, want %q; remove the file to regenerate it", kc.Server, server)
	}
	caCerts, err := pki.ParseCertificates(kc.CAPEM)
	if err != nil {
		return fmt.Errorf("certificate-authority-data: %v", err)
	}
	if !bytes.Equal(caCerts[0].Raw, ca.Cert.Raw) {
		return fmt.Errorf("certificate-authority-data is not the cluster CA %s", CertFile("ca"))
	}
	cert, key, err := clientCredentials(kc)
	if err != nil {
		return err
	}
	if !pki.KeyMatches(key, cert.PublicKey) {
		return errors.New("client certificate does not match client key")
	}
	if err := pki.Fits(cert, spec.Template(), ca.Cert, now); err != nil {
		return fmt.Errorf("client certificate %v", err)
	}
	return nil
}

func clientCredentials(kc kubeconfig.Spec) (*x509.Certificate, crypto.Signer, error) {
	certs, err := pki.ParseCertificates(kc.CertPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("client-certificate-data: %v", err)
	}
	key, err := pki.ParsePrivateKey(kc.KeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("client-key-data: %v", err)
	}
	return certs[0], key, nil
}

func (b *initBuilder) planServiceAccountKey() error {
	key, keyOK, err := b.l.loadKey(SAKeyFile)
	if err != nil {
		return err
	}
	pubData, pubOK, err := b.l.readOptional(SAPubFile)
	if err != nil {
		return err
	}
	switch {
	case keyOK && pubOK:
		pubs, err := pki.ParsePublicKeys(pubData)
		if err != nil {
			return fmt.Errorf("%s: %v", b.l.Path(SAPubFile), err)
		}
		// After a rotation sa.pub holds the retiring keys too.
		if !slices.ContainsFunc(pubs, func(p crypto.PublicKey) bool { return pki.KeyMatches(key, p) }) {
			return fmt.Errorf("%s: no public key matches private key %s", b.l.Path(SAPubFile), b.l.Path(SAKeyFile))
		}
		b.stage.keep(SAKeyFile)
		b.stage.keep(SAPubFile)
		return nil
	case pubOK:
		return fmt.Errorf("%s: public key exists without its private key %s", b.l.Path(SAPubFile), b.l.Path(SAKeyFile))
	}
	if keyOK {
		b.stage.keep(SAKeyFile)
	} else {
		b.keys.want(b.o.KeyType, &key)
	}
	b.then(func() error {
		if !keyOK {
			keyPEM, err := pki.EncodePrivateKey(key)
			if err != nil {
				return err
			}
			b.stage.create(SAKeyFile, keyPEM, ModeKey)
		}
		pubPEM, err := pki.EncodePublicKey(key.Public())
		if err != nil {
			return err
		}
		b.stage.create(SAPubFile, pubPEM, ModeCert)
		return nil
	})
	return nil
}

// pendingKeys collects the keys a command needs so that they are generated
// together, in parallel.
type pendingKeys struct {
	types []pki.KeyType
	dsts  []*crypto.Signer
}

func (p *pendingKeys) want(t pki.KeyType, dst *crypto.Signer) {
	p.types = append(p.types, t)
	p.dsts = append(p.dsts, dst)
}

func (p *pendingKeys) generate() error {
	keys, err := pki.GenerateKeysOf(p.types)
	if err != nil {
		return err
	}
	for i, k := range keys {
		*p.dsts[i] = k
	}
	return nil
}
