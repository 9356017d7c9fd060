package clusterpki

import (
	"crypto"

	"github.com/sekisho/sekisho/internal/pki"
)

// GenerateCSRs writes a private key and a certificate signing request for
// every leaf certificate and kubeconfig client certificate that does not
// exist yet, so an offline CA can sign them. Leaves go to pki/NAME.{key,csr};
// kubeconfig credentials to NAME.conf.{key,csr} in the data dir. After the
// signed certificates are saved beside them as .crt files, `certs init`
// validates them and assembles the kubeconfigs. Existing keys are reused.
func GenerateCSRs(o InitOptions) (*Report, error) {
	if err := o.Cluster.Validate(); err != nil {
		return nil, err
	}
	if _, err := pki.ParseKeyType(string(o.KeyType)); err != nil {
		return nil, err
	}
	l := Layout{Dir: o.Dir}
	if err := l.mkdirs(); err != nil {
		return nil, err
	}
	stage := &staged{layout: l}
	var keys pendingKeys
	var steps []func() error

	plan := func(existing, keyRel, csrRel string, t pki.Template) error {
		if l.exists(existing) {
			stage.keep(existing)
			return nil
		}
		key, keyOK, err := l.loadKey(keyRel)
		if err != nil {
			return err
		}
		keyPtr := &key
		if keyOK {
			stage.keep(keyRel)
		} else {
			keyPtr = new(crypto.Signer)
			keys.want(o.KeyType, keyPtr)
		}
		steps = append(steps, func() error {
			der, err := pki.NewCSR(t, *keyPtr)
			if err != nil {
				return err
			}
			if !keyOK {
				keyPEM, err := pki.EncodePrivateKey(*keyPtr)
				if err != nil {
					return err
				}
				stage.create(keyRel, keyPEM, ModeKey)
			}
			stage.replace(csrRel, pki.EncodeCSR(der), ModeCert)
			return nil
		})
		return nil
	}
	for _, spec := range o.Cluster.LeafSpecs() {
		if err := plan(CertFile(spec.BaseName), KeyFile(spec.BaseName), CSRFile(spec.BaseName), spec.Template()); err != nil {
			return nil, err
		}
	}
	for _, spec := range o.Cluster.KubeconfigSpecs() {
		if err := plan(spec.Name, spec.Name+".key", spec.Name+".csr", spec.Template()); err != nil {
			return nil, err
		}
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
