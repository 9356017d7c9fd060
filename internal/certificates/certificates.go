// Package certificates holds the rules of the certificates.k8s.io API:
// what a CertificateSigningRequest must be to be accepted, what each of
// Kubernetes' signers will sign, and how requested usages become X.509 key
// usages.
package certificates

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/pki"
)

// Kubernetes' signer names.
const (
	KubeAPIServerClient        = certificatesv1.KubeAPIServerClientSignerName
	KubeAPIServerClientKubelet = certificatesv1.KubeAPIServerClientKubeletSignerName
	KubeletServing             = certificatesv1.KubeletServingSignerName
	LegacyUnknown              = "kubernetes.io/legacy-unknown"
)

// MinExpirationSeconds is the shortest validity a request may ask for.
const MinExpirationSeconds = 600

// Groups and name prefixes of node identities.
const (
	NodesGroup     = "system:nodes"
	NodeUserPrefix = "system:node:"
	MastersGroup   = "system:masters"
)

var keyUsages = map[certificatesv1.KeyUsage]x509.KeyUsage{
	certificatesv1.UsageSigning:           x509.KeyUsageDigitalSignature,
	certificatesv1.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment,
	certificatesv1.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	certificatesv1.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	certificatesv1.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	certificatesv1.UsageCertSign:          x509.KeyUsageCertSign,
	certificatesv1.UsageCRLSign:           x509.KeyUsageCRLSign,
	certificatesv1.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	certificatesv1.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	certificatesv1.UsageAny:             x509.ExtKeyUsageAny,
	certificatesv1.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	certificatesv1.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	certificatesv1.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	certificatesv1.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	certificatesv1.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	certificatesv1.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	certificatesv1.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

func knownUsages() []string {
	var out []string
	for u := range keyUsages {
		out = append(out, string(u))
	}
	for u := range extKeyUsages {
		out = append(out, string(u))
	}
	slices.Sort(out)
	return out
}

// X509Usages maps requested usages to X.509 key usages and extended key
// usages.
func X509Usages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage) {
	var ku x509.KeyUsage
	var eku []x509.ExtKeyUsage
	for _, u := range usages {
		if k, ok := keyUsages[u]; ok {
			ku |= k
		}
		if e, ok := extKeyUsages[u]; ok && !slices.Contains(eku, e) {
			eku = append(eku, e)
		}
	}
	return ku, eku
}

// signerUsages are the usage sets Kubernetes' signers accept: each request
// must ask for one of the sets exactly (order and "signing" as a synonym
// of "digital signature" aside).
var signerUsages = map[string][][]certificatesv1.KeyUsage{
	KubeAPIServerClient: {
		{certificatesv1.UsageClientAuth},
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		{certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth},
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth},
	},
	KubeAPIServerClientKubelet: {
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth},
	},
	KubeletServing: {
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
	},
}

// usagesFit reports whether usages are exactly one of the signer's sets.
func usagesFit(signer string, usages []certificatesv1.KeyUsage) (bool, string) {
	sets, known := signerUsages[signer]
	if !known {
		return true, ""
	}
	norm := func(list []certificatesv1.KeyUsage) []string {
		var out []string
		for _, u := range list {
			if u == certificatesv1.UsageSigning {
				u = certificatesv1.UsageDigitalSignature
			}
			if !slices.Contains(out, string(u)) {
				out = append(out, string(u))
			}
		}
		slices.Sort(out)
		return out
	}
	got := norm(usages)
	var allowed []string
	for _, set := range sets {
		want := norm(set)
		if slices.Equal(got, want) {
			return true, ""
		}
		allowed = append(allowed, "["+strings.Join(want, ", ")+"]")
	}
	return false, "the signer " + signer + " signs only the usages " + strings.Join(allowed, " or ") + ", not [" + strings.Join(got, ", ") + "]"
}

// ValidateCreate checks a new request: a PEM request whose signature
// verifies, a well-formed signer name that may be used through this API,
// known usages, and a validity of at least 600 seconds.
func ValidateCreate(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateSpec(csr, spec)
	if csr.Spec.SignerName == LegacyUnknown {
		errs = append(errs, field.Invalid(spec.Child("signerName"), csr.Spec.SignerName, "the legacy signerName is not allowed via this API version"))
	}
	errs = append(errs, validateConditions(csr, nil)...)
	if len(csr.Status.Certificate) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "may not be set when a request is created"))
	}
	return errs
}

func validateSpec(csr *certificatesv1.CertificateSigningRequest, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(csr.Spec.Request) == 0 {
		errs = append(errs, field.Required(spec.Child("request"), ""))
	} else if _, err := pki.ParseCSR(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), "<PEM data>", err.Error()))
	}
	errs = append(errs, validateSignerName(csr.Spec.SignerName, spec.Child("signerName"))...)
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), "usages must be provided"))
	}
	seen := map[certificatesv1.KeyUsage]bool{}
	known := knownUsages()
	for i, u := range csr.Spec.Usages {
		p := spec.Child("usages").Index(i)
		switch {
		case !slices.Contains(known, string(u)):
			errs = append(errs, field.NotSupported(p, u, known))
		case seen[u]:
			errs = append(errs, field.Duplicate(p, u))
		}
		seen[u] = true
	}
	if e := csr.Spec.ExpirationSeconds; e != nil && *e < MinExpirationSeconds {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *e, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return errs
}

// ValidateSignerName requires a fully qualified domain and a path:
// example.com/signer-name.
func ValidateSignerName(name string, p *field.Path) field.ErrorList {
	return validateSignerName(name, p)
}

// validateSignerName requires a fully qualified domain and a path:
// example.com/signer-name.
func validateSignerName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	domain, path, ok := strings.Cut(name, "/")
	if !ok || path == "" || strings.HasSuffix(name, "/") {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsFullyQualifiedDomainName(p, domain) {
		errs = append(errs, field.Invalid(p, name, "the domain part "+msg.Detail))
	}
	if len(name) > 571 {
		errs = append(errs, field.TooLong(p, "", 571))
	}
	return errs
}

// condition returns the condition of type t, if present.
func condition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) (certificatesv1.CertificateSigningRequestCondition, bool) {
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return certificatesv1.CertificateSigningRequestCondition{}, false
}

// Approved, Denied and Failed report the request's decisive conditions.
func Approved(csr *certificatesv1.CertificateSigningRequest) bool {
	c, ok := condition(csr, certificatesv1.CertificateApproved)
	return ok && c.Status == corev1.ConditionTrue
}

// Denied reports whether the request carries the Denied condition.
func Denied(csr *certificatesv1.CertificateSigningRequest) bool {
	c, ok := condition(csr, certificatesv1.CertificateDenied)
	return ok && c.Status == corev1.ConditionTrue
}

// Failed reports whether the request carries the Failed condition.
func Failed(csr *certificatesv1.CertificateSigningRequest) bool {
	c, ok := condition(csr, certificatesv1.CertificateFailed)
	return ok && c.Status == corev1.ConditionTrue
}

// validateConditions: each type at most once for Approved, Denied and
// Failed, which must be True; Approved and Denied exclude each other; and
// an update may not take away an Approved, Denied or Failed condition.
func validateConditions(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("status", "conditions")
	seen := map[certificatesv1.RequestConditionType]bool{}
	decisive := []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed}
	for i, c := range csr.Status.Conditions {
		cp := p.Index(i)
		switch {
		case c.Type == "":
			errs = append(errs, field.Required(cp.Child("type"), ""))
		case slices.Contains(decisive, c.Type) && seen[c.Type]:
			errs = append(errs, field.Duplicate(cp.Child("type"), c.Type))
		case slices.Contains(decisive, c.Type) && c.Status != corev1.ConditionTrue:
			errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{string(corev1.ConditionTrue)}))
		}
		if c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown {
			errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{"True", "False", "Unknown"}))
		}
		seen[c.Type] = true
	}
	if seen[certificatesv1.CertificateApproved] && seen[certificatesv1.CertificateDenied] {
		errs = append(errs, field.Invalid(p, certificatesv1.CertificateDenied, "Approved and Denied conditions are mutually exclusive"))
	}
	if old != nil {
		for _, t := range decisive {
			if _, had := condition(old, t); had && !seen[t] {
				errs = append(errs, field.Forbidden(p, fmt.Sprintf("updates may not remove a condition of type %q", t)))
			}
		}
	}
	return errs
}

// ValidateUpdate checks an update of the main resource: the spec never
// changes.
func ValidateUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	if !equalSpec(csr.Spec, old.Spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "field is immutable")}
	}
	return nil
}

func equalSpec(a, b certificatesv1.CertificateSigningRequestSpec) bool {
	return fmt.Sprint(a) == fmt.Sprint(b) && bytes.Equal(a.Request, b.Request)
}

// ValidateApproval checks a write to the approval subresource, which
// changes only conditions.
func ValidateApproval(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateConditions(csr, old)
}

// ValidateStatus checks a write to the status subresource: conditions as
// for approval, and a certificate that is PEM certificates, set only on an
// approved request that has not failed, and never changed once set.
func ValidateStatus(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs := validateConditions(csr, old)
	p := field.NewPath("status", "certificate")
	cert := csr.Status.Certificate
	switch {
	case len(old.Status.Certificate) > 0 && !bytes.Equal(cert, old.Status.Certificate):
		errs = append(errs, field.Forbidden(p, "updates may not modify existing certificate content"))
	case len(cert) == 0 || bytes.Equal(cert, old.Status.Certificate):
	case !Approved(csr):
		errs = append(errs, field.Forbidden(p, "may only be set on an approved request"))
	case Denied(csr) || Failed(csr):
		errs = append(errs, field.Forbidden(p, "may not be set on a denied or failed request"))
	default:
		if err := ValidateCertificatePEM(cert); err != nil {
			errs = append(errs, field.Invalid(p, "<certificate data>", err.Error()))
		}
	}
	return errs
}

// ValidateCertificatePEM requires PEM CERTIFICATE blocks only, at least one,
// each a certificate that parses.
func ValidateCertificatePEM(data []byte) error {
	n := 0
	for rest := data; len(bytes.TrimSpace(rest)) > 0; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return errors.New("must hold only PEM CERTIFICATE blocks")
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
			return fmt.Errorf("PEM block %d must be of type CERTIFICATE without headers", n+1)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("PEM block %d: %v", n+1, err)
		}
	}
	if n == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// CheckSigner reports why a Kubernetes signer cannot honour a request, or
// nil: usages that are not one of the signer's sets, or a request whose
// content the signer does not sign. As in Kubernetes, usages are checked
// here, when a request is approved or signed, not when it is created.
func CheckSigner(signer string, usages []certificatesv1.KeyUsage, cr *x509.CertificateRequest) error {
	if ok, why := usagesFit(signer, usages); !ok {
		return errors.New(why)
	}
	switch signer {
	case KubeAPIServerClient:
		if slices.Contains(cr.Subject.Organization, MastersGroup) {
			return fmt.Errorf("the signer %s does not sign for the group %s", signer, MastersGroup)
		}
		return nil
	case KubeAPIServerClientKubelet:
		if err := nodeSubject(cr); err != nil {
			return err
		}
		if len(cr.DNSNames) > 0 || len(cr.IPAddresses) > 0 || len(cr.EmailAddresses) > 0 || len(cr.URIs) > 0 {
			return errors.New("a kubelet client certificate has no subject alternative names")
		}
		return nil
	case KubeletServing:
		if err := nodeSubject(cr); err != nil {
			return err
		}
		if len(cr.DNSNames) == 0 && len(cr.IPAddresses) == 0 {
			return errors.New("a kubelet serving certificate needs at least one DNS name or IP address")
		}
		if len(cr.EmailAddresses) > 0 || len(cr.URIs) > 0 {
			return errors.New("a kubelet serving certificate may not have email or URI subject alternative names")
		}
		return nil
	}
	return fmt.Errorf("the signer %s is not one sekisho signs for", signer)
}

// nodeSubject requires O=system:nodes exactly and CN=system:node:<name>.
func nodeSubject(cr *x509.CertificateRequest) error {
	if !slices.Equal(cr.Subject.Organization, []string{NodesGroup}) {
		return fmt.Errorf("the organization must be exactly [%s], not %v", NodesGroup, cr.Subject.Organization)
	}
	node, ok := strings.CutPrefix(cr.Subject.CommonName, NodeUserPrefix)
	if !ok || node == "" {
		return fmt.Errorf("the common name must be %s<node name>, not %q", NodeUserPrefix, cr.Subject.CommonName)
	}
	// No Node could carry any other name, so no such identity is issued.
	if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
		return fmt.Errorf("the node name %q in the common name is not a valid node name: %s", node, strings.Join(errs, "; "))
	}
	return nil
}

// Signs reports whether sekisho's signer handles signerName.
func Signs(signerName string) bool {
	_, ok := signerUsages[signerName]
	return ok
}
