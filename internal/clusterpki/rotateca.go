package clusterpki

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sekisho/sekisho/internal/atomicfile"
	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// A CA rotation replaces a cluster CA in four steps, each one set of
// files written all or nothing, with the step reached recorded among
// them, so that a rotation stopped at any point (a crash, kill -9) resumes
// where it stopped:
//
//  1. generated: a new CA, and its certificate cross-signed by the old CA,
//     are kept in pki/ca-rotation/<CA>/ beside a copy of the old one.
//  2. trusting: every trust bundle holds both CAs: the CA file, which the
//     server reloads as its client CA bundle and publishes (kube-root-ca.crt,
//     extension-apiserver-authentication, cluster-info), and the kubeconfigs'
//     certificate-authority-data.
//  3. reissued: the new CA signs (its certificate first in the CA file, its
//     key the CA key), and every leaf and kubeconfig client certificate it
//     signed before is issued again by it, carrying the cross-signed
//     certificate, so that a peer still trusting only the old CA verifies
//     it. The server reloads its own.
//  4. finished: the old CA leaves every bundle; leaves are issued once more
//     without the cross-signed certificate, and the rotation's files go.
//
// Between 3 and 4 clients move to the new CA: callers check that the
// server has not seen old-CA client certificates for a while before
// finishing (sekisho certs rotate-ca does).

// Phases of a rotation, as recorded.
const (
	PhaseNone      = ""
	PhaseGenerated = "generated"
	PhaseTrusting  = "trusting"
	PhaseReissued  = "reissued"
)

// RotationDir is where the rotation of CA keeps its files.
func RotationDir(ca string) string { return filepath.Join(PKIDir, "ca-rotation", ca) }

// CrossSignedFile is where, relative to the data directory, a rotation of
// ca keeps the new CA's certificate signed by the old one.
func CrossSignedFile(ca string) string { return rotationFiles{RotationDir(ca)}.cross() }

type rotationFiles struct{ dir string }

func rotationOf(spec pki.CASpec) rotationFiles { return rotationFiles{RotationDir(spec.Name)} }

func (r rotationFiles) state() string   { return filepath.Join(r.dir, "state.json") }
func (r rotationFiles) newCert() string { return filepath.Join(r.dir, "new.crt") }
func (r rotationFiles) newKey() string  { return filepath.Join(r.dir, "new.key") }
func (r rotationFiles) cross() string   { return filepath.Join(r.dir, "cross-signed.crt") }
func (r rotationFiles) oldCert() string { return filepath.Join(r.dir, "old.crt") }
func (r rotationFiles) oldKey() string  { return filepath.Join(r.dir, "old.key") }
func (r rotationFiles) all() []string {
	return []string{r.state(), r.newCert(), r.newKey(), r.cross(), r.oldCert(), r.oldKey()}
}
func (s rotationState) done(p string) bool { return phaseOrder(s.Phase) >= phaseOrder(p) }

// rotationState is state.json.
type rotationState struct {
	Phase   string    `json:"phase"`
	Started time.Time `json:"started"`
	// NewCA and OldCA are the CAs' SHA-256 fingerprints.
	NewCA string `json:"newCA"`
	OldCA string `json:"oldCA"`
}

func phaseOrder(p string) int {
	return slices.Index([]string{PhaseNone, PhaseGenerated, PhaseTrusting, PhaseReissued}, p)
}

// CARotation is a rotation's state, for the command to print.
type CARotation struct {
	CA      string
	Phase   string
	Started time.Time
	Old     *x509.Certificate
	New     *x509.Certificate
}

// RotateCAOptions configure a rotation step.
type RotateCAOptions struct {
	Dir string
	// CA is pki.CAKubernetes or pki.CAFrontProxy.
	CA string
	// Validity of the new CA; the old one's lifetime when zero.
	Validity time.Duration
	// CertValidity of the leaves issued again; each keeps its own
	// lifetime when zero.
	CertValidity time.Duration
	Now          time.Time
}

func (o RotateCAOptions) spec() (pki.CASpec, error) {
	if o.CA != pki.CAKubernetes && o.CA != pki.CAFrontProxy {
		return pki.CASpec{}, fmt.Errorf("--ca %q: want %s or %s (not the etcd CA: etcd reads its trust bundles only at start, so its members would go on trusting the old CA until restarted, etcd-io/etcd#11555)", o.CA, pki.CAKubernetes, pki.CAFrontProxy)
	}
	spec, _ := pki.CASpecByName(o.CA)
	return spec, nil
}

// CARotationStatus reads where a rotation of ca stands; Phase is
// PhaseNone when none is under way.
func CARotationStatus(dir, ca string) (CARotation, error) {
	spec, err := RotateCAOptions{CA: ca}.spec()
	if err != nil {
		return CARotation{}, err
	}
	l := Layout{Dir: dir}
	st, err := l.rotationState(spec)
	if err != nil || st.Phase == PhaseNone {
		return CARotation{CA: ca}, err
	}
	r := rotationOf(spec)
	out := CARotation{CA: ca, Phase: st.Phase, Started: st.Started}
	if certs, _, err := l.loadCertChain(r.oldCert()); err == nil && len(certs) > 0 {
		out.Old = certs[0]
	}
	if certs, _, err := l.loadCertChain(r.newCert()); err == nil && len(certs) > 0 {
		out.New = certs[0]
	}
	return out, nil
}

func (l Layout) rotationState(spec pki.CASpec) (rotationState, error) {
	var st rotationState
	data, ok, err := l.readOptional(rotationOf(spec).state())
	if err != nil || !ok {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %w", l.Path(rotationOf(spec).state()), err)
	}
	if phaseOrder(st.Phase) < 0 {
		return st, fmt.Errorf("%s: unknown phase %q", l.Path(rotationOf(spec).state()), st.Phase)
	}
	return st, nil
}

// rotatingCAs are, for a CA under rotation, the old and new CAs (with
// keys) and the cross-signed certificate; nil when none is under way.
type rotatingCAs struct {
	state    rotationState
	old, new *pki.CA
	cross    *x509.Certificate
}

func (l Layout) rotating(spec pki.CASpec) (*rotatingCAs, error) {
	st, err := l.rotationState(spec)
	if err != nil || st.Phase == PhaseNone {
		return nil, err
	}
	r := rotationOf(spec)
	load := func(certRel, keyRel string) (*pki.CA, error) {
		certPEM, err := os.ReadFile(l.Path(certRel))
		if err != nil {
			return nil, err
		}
		keyPEM, err := os.ReadFile(l.Path(keyRel))
		if err != nil {
			return nil, err
		}
		return pki.CAFromPEM(l.Path(certRel), certPEM, l.Path(keyRel), keyPEM)
	}
	rc := &rotatingCAs{state: st}
	if rc.old, err = load(r.oldCert(), r.oldKey()); err != nil {
		return nil, err
	}
	if rc.new, err = load(r.newCert(), r.newKey()); err != nil {
		return nil, err
	}
	cross, _, err := l.loadCertChain(r.cross())
	if err != nil {
		return nil, err
	}
	if len(cross) == 0 {
		return nil, fmt.Errorf("%s: no certificate", l.Path(r.cross()))
	}
	rc.cross = cross[0]
	return rc, nil
}

// StartCARotation is step 1: the new CA and its cross-signed certificate.
func StartCARotation(o RotateCAOptions) (CARotation, error) {
	spec, err := o.spec()
	if err != nil {
		return CARotation{}, err
	}
	l := Layout{Dir: o.Dir}
	st, err := l.rotationState(spec)
	if err != nil {
		return CARotation{}, err
	}
	if st.Phase != PhaseNone {
		return CARotationStatus(o.Dir, o.CA)
	}
	old, err := l.loadCA(spec)
	if err != nil {
		return CARotation{}, err
	}
	if old == nil || old.Key == nil {
		return CARotation{}, fmt.Errorf("cannot rotate %s: %s and its key %s must both be here (an external CA is rotated by whoever holds it)",
			o.CA, l.Path(CertFile(spec.BaseName)), l.Path(KeyFile(spec.BaseName)))
	}
	if !pki.IsSelfSigned(old.Cert) {
		return CARotation{}, fmt.Errorf("cannot rotate %s: it is an intermediate of another CA; have that CA issue a new intermediate", o.CA)
	}
	validity := o.Validity
	if validity <= 0 {
		validity = old.Cert.NotAfter.Sub(old.Cert.NotBefore)
	}
	keyType := pki.KeyTypeOf(old.Key.Public())
	if keyType == "" {
		keyType = pki.ECDSAP256
	}
	key, err := keyType.GenerateKey()
	if err != nil {
		return CARotation{}, err
	}
	cn := spec.CommonName + "-" + o.Now.UTC().Format("20060102-150405")
	next, err := pki.NewSelfSignedCA(cn, key, o.Now, validity)
	if err != nil {
		return CARotation{}, err
	}
	// The cross-signed certificate lives no longer than the old CA, which
	// is as long as anyone needs it.
	crossValidity := min(validity, old.Cert.NotAfter.Sub(o.Now)-pki.ClockSkew)
	if crossValidity <= 0 {
		return CARotation{}, fmt.Errorf("cannot rotate %s: it expires at %s; with no time left to overlap, run certs init afresh", o.CA, old.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	cross, err := old.IssueCA(cn, key, o.Now, crossValidity)
	if err != nil {
		return CARotation{}, err
	}
	r := rotationOf(spec)
	newKeyPEM, err := pki.EncodePrivateKey(key)
	if err != nil {
		return CARotation{}, err
	}
	oldKeyPEM, err := pki.EncodePrivateKey(old.Key)
	if err != nil {
		return CARotation{}, err
	}
	st = rotationState{Phase: PhaseGenerated, Started: o.Now.UTC(), NewCA: fingerprint(next.Cert), OldCA: fingerprint(old.Cert)}
	stateJSON, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return CARotation{}, err
	}
	if err := os.MkdirAll(l.Path(r.dir), ModeDir); err != nil {
		return CARotation{}, err
	}
	if err := atomicfile.WriteAll([]atomicfile.File{
		{Path: l.Path(r.newCert()), Data: pki.EncodeCertificates(next.Cert), Mode: ModeCert, Replace: true},
		{Path: l.Path(r.newKey()), Data: newKeyPEM, Mode: ModeKey, Replace: true},
		{Path: l.Path(r.cross()), Data: pki.EncodeCertificates(cross.Cert), Mode: ModeCert, Replace: true},
		{Path: l.Path(r.oldCert()), Data: pki.EncodeCertificates(old.Cert), Mode: ModeCert, Replace: true},
		{Path: l.Path(r.oldKey()), Data: oldKeyPEM, Mode: ModeKey, Replace: true},
		// Last: the state says the files above are whole.
		{Path: l.Path(r.state()), Data: append(stateJSON, '\n'), Mode: ModeCert, Replace: true},
	}); err != nil {
		return CARotation{}, err
	}
	return CARotationStatus(o.Dir, o.CA)
}

// setState is the state file with phase, for a step's files.
func (rc *rotatingCAs) setState(l Layout, spec pki.CASpec, phase string) (atomicfile.File, error) {
	st := rc.state
	st.Phase = phase
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return atomicfile.File{}, err
	}
	return atomicfile.File{Path: l.Path(rotationOf(spec).state()), Data: append(data, '\n'), Mode: ModeCert, Replace: true}, nil
}

// bundleFiles rewrites the CA file as certs, the signing CA first, and,
// when given, its key.
func bundleFiles(l Layout, spec pki.CASpec, certs []*x509.Certificate, key []byte) []atomicfile.File {
	files := []atomicfile.File{{Path: l.Path(CertFile(spec.BaseName)), Data: pki.EncodeCertificates(certs...), Mode: ModeCert, Replace: true}}
	if key != nil {
		files = append(files, atomicfile.File{Path: l.Path(KeyFile(spec.BaseName)), Data: key, Mode: ModeKey, Replace: true})
	}
	return files
}

// TrustBothCAs is step 2: every bundle trusts the old and the new CA; the
// old one still signs.
func TrustBothCAs(o RotateCAOptions) error {
	spec, err := o.spec()
	if err != nil {
		return err
	}
	l := Layout{Dir: o.Dir}
	rc, err := l.rotating(spec)
	if err != nil || rc == nil || rc.state.done(PhaseTrusting) {
		return err
	}
	bundle := []*x509.Certificate{rc.old.Cert, rc.new.Cert}
	kubeconfigs, _, err := reissueKubeconfigs(l, spec, bundle, nil, nil, o)
	if err != nil {
		return err
	}
	files := append(bundleFiles(l, spec, bundle, nil), kubeconfigs...)
	state, err := rc.setState(l, spec, PhaseTrusting)
	if err != nil {
		return err
	}
	return atomicfile.WriteAll(append(files, state))
}

// ReissueFromNewCA is step 3: the new CA signs, and what the old one
// signed here is issued again by it.
func ReissueFromNewCA(o RotateCAOptions) ([]string, error) {
	spec, err := o.spec()
	if err != nil {
		return nil, err
	}
	l := Layout{Dir: o.Dir}
	rc, err := l.rotating(spec)
	if err != nil || rc == nil || rc.state.done(PhaseReissued) {
		return nil, err
	}
	if !rc.state.done(PhaseTrusting) {
		return nil, errors.New("the rotation has not reached trusting both CAs; run it again to resume in order")
	}
	keyPEM, err := pki.EncodePrivateKey(rc.new.Key)
	if err != nil {
		return nil, err
	}
	bundle := []*x509.Certificate{rc.new.Cert, rc.old.Cert}
	files := bundleFiles(l, spec, bundle, keyPEM)
	signer := &pki.CA{Cert: rc.new.Cert, Key: rc.new.Key, CrossSigned: rc.cross}
	leaves, names, err := reissue(l, spec, bundle, []*x509.Certificate{rc.old.Cert, rc.new.Cert}, signer, o)
	if err != nil {
		return nil, err
	}
	state, err := rc.setState(l, spec, PhaseReissued)
	if err != nil {
		return nil, err
	}
	// The bundles before the leaves: a server reading them in between
	// trusts the new CA already; the state last.
	return names, atomicfile.WriteAll(append(append(files, leaves...), state))
}

// FinishCARotation is step 4: the new CA alone. Callers check first that
// no client still presents an old-CA certificate.
func FinishCARotation(o RotateCAOptions) ([]string, error) {
	spec, err := o.spec()
	if err != nil {
		return nil, err
	}
	l := Layout{Dir: o.Dir}
	rc, err := l.rotating(spec)
	if err != nil || rc == nil {
		return nil, err
	}
	if !rc.state.done(PhaseReissued) {
		return nil, errors.New("the rotation has not reached re-issuing from the new CA; run it again to resume in order")
	}
	bundle := []*x509.Certificate{rc.new.Cert}
	crl, err := crlWithout(l, spec, rc.old.Cert)
	if err != nil {
		return nil, err
	}
	files := append(crl, bundleFiles(l, spec, bundle, nil)...)
	leaves, names, err := reissue(l, spec, bundle, []*x509.Certificate{rc.old.Cert, rc.new.Cert}, rc.new, o)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteAll(append(files, leaves...)); err != nil {
		return nil, err
	}
	// The state goes first: a crash leaves no state, or a state whose
	// files are complete (the step above is then done again).
	r := rotationOf(spec)
	if err := os.Remove(l.Path(r.state())); err != nil {
		return nil, err
	}
	for _, f := range r.all() {
		os.Remove(l.Path(f))
	}
	os.Remove(l.Path(r.dir))
	os.Remove(filepath.Dir(l.Path(r.dir)))
	return names, nil
}

// crlWithout rewrites the cluster CA's revocation list without the lists
// old signed: once old is trusted no more, a server would refuse a file
// holding a list it cannot verify (and not start).
func crlWithout(l Layout, spec pki.CASpec, old *x509.Certificate) ([]atomicfile.File, error) {
	if spec.Name != pki.CAKubernetes {
		return nil, nil
	}
	data, ok, err := l.readOptional(CRLFile)
	if err != nil || !ok || len(bytes.TrimSpace(data)) == 0 {
		return nil, err
	}
	lists, err := pki.ParseCRLs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Path(CRLFile), err)
	}
	var out []byte
	for _, crl := range lists {
		if string(crl.RawIssuer) == string(old.RawSubject) && crl.CheckSignatureFrom(old) == nil {
			continue
		}
		out = append(out, pki.EncodeCRL(crl.Raw)...)
	}
	return []atomicfile.File{{Path: l.Path(CRLFile), Data: out, Mode: ModeCert, Replace: true}}, nil
}

// reissue issues again, from signer, every leaf and kubeconfig client
// certificate of spec's CA that one of issuers signed, keeping its
// subject, SANs, usages and lifetime (or o.CertValidity), with a new key.
func reissue(l Layout, spec pki.CASpec, bundle, issuers []*x509.Certificate, signer *pki.CA, o RotateCAOptions) ([]atomicfile.File, []string, error) {
	var files []atomicfile.File
	var names []string
	for _, name := range pki.LeafNames() {
		if leafCAName(name) != spec.Name {
			continue
		}
		base := pki.LeafBaseName(name)
		certs, ok, err := l.loadCertChain(CertFile(base))
		if err != nil {
			return nil, nil, err
		}
		if !ok || !signedByOne(issuers, certs[0]) {
			continue
		}
		oldKey, _, err := l.loadKey(KeyFile(base))
		if err != nil {
			return nil, nil, err
		}
		key, err := keyLike(oldKey)
		if err != nil {
			return nil, nil, err
		}
		cert, err := signer.Issue(pki.TemplateOf(certs[0]).ValidFor(o.Now, o.validityOf(certs[0])), key.Public())
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		keyPEM, err := pki.EncodePrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		// Key first, then certificate, as every writer of pairs does.
		files = append(files,
			atomicfile.File{Path: l.Path(KeyFile(base)), Data: keyPEM, Mode: ModeKey, Replace: true},
			atomicfile.File{Path: l.Path(CertFile(base)), Data: pki.EncodeCertificates(issuedChain(cert, signer)...), Mode: ModeCert, Replace: true})
		names = append(names, name)
	}
	kubeconfigs, kcNames, err := reissueKubeconfigs(l, spec, bundle, issuers, signer, o)
	if err != nil {
		return nil, nil, err
	}
	return append(files, kubeconfigs...), append(names, kcNames...), nil
}

func signedByOne(issuers []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(issuers, func(ca *x509.Certificate) bool { return pki.SignedBy(c, ca) == nil })
}

// validityOf is the lifetime a certificate is issued again with.
func (o RotateCAOptions) validityOf(c *x509.Certificate) time.Duration {
	if o.CertValidity > 0 {
		return o.CertValidity
	}
	return max(c.NotAfter.Sub(c.NotBefore)-pki.ClockSkew, time.Minute)
}

// reissueKubeconfigs sets, for the cluster CA, every kubeconfig's CA
// bundle to bundle and, when signer is given, issues again from it the
// client certificate one of issuers signed, with a new key.
func reissueKubeconfigs(l Layout, spec pki.CASpec, bundle, issuers []*x509.Certificate, signer *pki.CA, o RotateCAOptions) ([]atomicfile.File, []string, error) {
	if spec.Name != pki.CAKubernetes {
		return nil, nil, nil
	}
	var files []atomicfile.File
	var names []string
	for _, name := range pki.KubeconfigNames() {
		data, ok, err := l.readOptional(name)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		updated, err := kubeconfig.SetCertificateAuthority(data, pki.EncodeCertificates(bundle...))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", l.Path(name), err)
		}
		kc, err := kubeconfig.Parse(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", l.Path(name), err)
		}
		if old, oldKey, err := clientCredentials(kc); signer != nil && err == nil && signedByOne(issuers, old) {
			key, err := keyLike(oldKey)
			if err != nil {
				return nil, nil, err
			}
			cert, err := signer.Issue(pki.TemplateOf(old).ValidFor(o.Now, o.validityOf(old)), key.Public())
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			keyPEM, err := pki.EncodePrivateKey(key)
			if err != nil {
				return nil, nil, err
			}
			if updated, err = kubeconfig.SetClientCertificate(updated, pki.EncodeCertificates(issuedChain(cert, signer)...), keyPEM); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", l.Path(name), err)
			}
			names = append(names, name)
		}
		files = append(files, atomicfile.File{Path: l.Path(name), Data: updated, Mode: ModeKey, Replace: true})
	}
	return files, names, nil
}

// keyLike is a new key of old's type (the default type for others).
func keyLike(old crypto.Signer) (crypto.Signer, error) {
	t := pki.KeyTypeOf(old.Public())
	if t == "" {
		t = pki.ECDSAP256
	}
	return t.GenerateKey()
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
