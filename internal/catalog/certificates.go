package catalog

import (
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/certificates"
)

// ClusterTrustBundles is certificates.k8s.io/v1 clustertrustbundles. A
// bundle for a signer is named after it, the signer's "/" written ":".
func ClusterTrustBundles() *Resource {
	return stored(certificatesv1.SchemeGroupVersion, "clustertrustbundles", "ClusterTrustBundle", false,
		func() Object { return &certificatesv1.ClusterTrustBundle{} }).
		withFields(func(obj Object) map[string]string {
			return map[string]string{"spec.signerName": obj.(*certificatesv1.ClusterTrustBundle).Spec.SignerName}
		}, "spec.signerName").
		validated(func(obj Object) field.ErrorList {
			b := obj.(*certificatesv1.ClusterTrustBundle)
			var errs field.ErrorList
			if signer := b.Spec.SignerName; signer != "" {
				if prefix := strings.ReplaceAll(signer, "/", ":") + ":"; !strings.HasPrefix(b.Name, prefix) {
					errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), b.Name, "ClusterTrustBundle for signerName "+signer+" must be named with prefix "+prefix))
				}
			} else if strings.Contains(b.Name, ":") {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), b.Name, "ClusterTrustBundle without signer name must not have \":\" in its name"))
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

// PodCertificateRequests is certificates.k8s.io/v1 podcertificaterequests,
// with status: stored; kubelets write them and signers answer.
func PodCertificateRequests() *Resource {
	return stored(certificatesv1.SchemeGroupVersion, "podcertificaterequests", "PodCertificateRequest", true,
		func() Object { return &certificatesv1.PodCertificateRequest{} }).
		withStatus().
		withFields(func(obj Object) map[string]string {
			p := obj.(*certificatesv1.PodCertificateRequest)
			return map[string]string{"spec.signerName": p.Spec.SignerName, "spec.podName": p.Spec.PodName, "spec.nodeName": string(p.Spec.NodeName)}
		}, "spec.signerName", "spec.podName", "spec.nodeName")
}
