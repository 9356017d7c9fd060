package catalog

import (
	"crypto/x509"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/certificates"
)

// ClusterTrustBundles is certificates.k8s.io/v1 clustertrustbundles. A
// bundle for a signer is named after it, the signer's "/" written ":".
func ClusterTrustBundles() *Resource {
	r := stored(certificatesv1.SchemeGroupVersion, "clustertrustbundles", "ClusterTrustBundle", false,
		func() Object { return &certificatesv1.ClusterTrustBundle{} })
	r.ValidateName = nameAny // the rule depends on spec.signerName: see trustBundleName
	return r.
		withFields(func(obj Object) map[string]string {
			return map[string]string{"spec.signerName": obj.(*certificatesv1.ClusterTrustBundle).Spec.SignerName}
		}, "spec.signerName").
		validated(func(obj Object) field.ErrorList {
			b := obj.(*certificatesv1.ClusterTrustBundle)
			var errs field.ErrorList
			for _, msg := range trustBundleName(b.Name, b.Spec.SignerName) {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), b.Name, msg))
			}
			if strings.TrimSpace(b.Spec.TrustBundle) == "" {
				errs = append(errs, field.Required(field.NewPath("spec", "trustBundle"), ""))
			} else if err := certificates.ValidateCertificatePEM([]byte(b.Spec.TrustBundle)); err != nil {
				errs = append(errs, field.Invalid(field.NewPath("spec", "trustBundle"), "<value omitted>", err.Error()))
			}
			return errs
		}, func(obj, old Object) field.ErrorList {
			if obj.(*certificatesv1.ClusterTrustBundle).Spec.SignerName != old.(*certificatesv1.ClusterTrustBundle).Spec.SignerName {
				return field.ErrorList{field.Invalid(field.NewPath("spec", "signerName"), obj.(*certificatesv1.ClusterTrustBundle).Spec.SignerName, "field is immutable")}
			}
			return nil
		})
}

// trustBundleName is a ClusterTrustBundle's name rule: a bundle of a signer
// is named "<signer with / as :>:<DNS subdomain>", any other bundle is a DNS
// subdomain without ":".
func trustBundleName(name, signer string) []string {
	if signer == "" {
		if strings.Contains(name, ":") {
			return []string{"ClusterTrustBundle without signer name must not have \":\" in its name"}
		}
		return nameDNSSubdomain(name, false)
	}
	prefix := strings.ReplaceAll(signer, "/", ":") + ":"
	if !strings.HasPrefix(name, prefix) {
		return []string{"ClusterTrustBundle for signerName " + signer + " must be named with prefix " + prefix}
	}
	return nameDNSSubdomain(strings.TrimPrefix(name, prefix), false)
}

// PodCertificateRequests is certificates.k8s.io/v1 podcertificaterequests,
// with status: stored; kubelets write them and signers answer.
func PodCertificateRequests() *Resource {
	r := stored(certificatesv1.SchemeGroupVersion, "podcertificaterequests", "PodCertificateRequest", true,
		func() Object { return &certificatesv1.PodCertificateRequest{} }).
		withStatus().
		withFields(func(obj Object) map[string]string {
			p := obj.(*certificatesv1.PodCertificateRequest)
			return map[string]string{"spec.signerName": p.Spec.SignerName, "spec.podName": p.Spec.PodName, "spec.nodeName": string(p.Spec.NodeName)}
		}, "spec.signerName", "spec.podName", "spec.nodeName")
	r.NamespaceUnselectable = true // its field labels omit metadata.namespace
	r.Validate = func(obj Object) field.ErrorList {
		return validatePodCertificateRequest(&obj.(*certificatesv1.PodCertificateRequest).Spec)
	}
	return r
}

// Bounds of a PodCertificateRequest's maxExpirationSeconds: an hour to 91
// days, and at most a day for Kubernetes' own signers.
const (
	pcrMinExpiration           = 60 * 60
	pcrMaxExpiration           = 91 * 24 * 60 * 60
	pcrKubernetesMaxExpiration = 24 * 60 * 60
)

// validatePodCertificateRequest checks what kube-apiserver checks of a new
// request: its signer, the pod, account and node it names with their
// UIDs, the expiration bound, and its key as a stub PKCS#10 request.
func validatePodCertificateRequest(s *certificatesv1.PodCertificateRequestSpec) field.ErrorList {
	spec := field.NewPath("spec")
	errs := certificates.ValidateSignerName(s.SignerName, spec.Child("signerName"))
	for _, named := range []struct {
		name, uid string
		nameField string
		uidField  string
	}{
		{s.PodName, string(s.PodUID), "podName", "podUID"},
		{s.ServiceAccountName, string(s.ServiceAccountUID), "serviceAccountName", "serviceAccountUID"},
		{string(s.NodeName), string(s.NodeUID), "nodeName", "nodeUID"},
	} {
		errs = append(errs, invalidBy(validation.IsDNS1123Subdomain, named.name, spec.Child(named.nameField))...)
		switch {
		case named.uid == "":
			errs = append(errs, field.Invalid(spec.Child(named.uidField), named.uid, "must not be empty"))
		case len(named.uid) > 128:
			errs = append(errs, field.TooLong(spec.Child(named.uidField), named.uid, 128))
		}
	}
	if e := s.MaxExpirationSeconds; e == nil {
		errs = append(errs, field.Required(spec.Child("maxExpirationSeconds"), "must be set"))
	} else {
		max := pcrMaxExpiration
		if strings.HasPrefix(s.SignerName, "kubernetes.io/") {
			max = pcrKubernetesMaxExpiration
		}
		if *e < pcrMinExpiration || int(*e) > max {
			errs = append(errs, field.Invalid(spec.Child("maxExpirationSeconds"), *e, fmt.Sprintf("must be in the range [%d, %d]", pcrMinExpiration, max)))
		}
	}
	// The deprecated pkixPublicKey and proofOfPossession are not in v1:
	// a v1 request carries its key as a stub PKCS#10 request.
	if len(s.StubPKCS10Request) == 0 {
		errs = append(errs, field.Invalid(spec, field.OmitValueType{}, "exactly one of (stubPKCS10Request) or (pkixPublicKey, proofOfPossession) must be set"))
	} else if _, err := x509.ParseCertificateRequest(s.StubPKCS10Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("stubPKCS10Request"), "<binary>", err.Error()))
	}
	return errs
}
