// Package certificatesubjectrestriction is kube-apiserver's
// CertificateSubjectRestriction plugin: a request to the
// kubernetes.io/kube-apiserver-client signer may not ask for the
// system:masters group, whose members no authorizer can refuse.
package certificatesubjectrestriction

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/internal/signer"
	"github.com/sekisho/sekisho/internal/certificates"
	"github.com/sekisho/sekisho/internal/pki"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "CertificateSubjectRestriction"

// Plugin is the CertificateSubjectRestriction admission plugin.
type Plugin struct{}

var _ admission.Validator = Plugin{}

// Validate implements admission.Validator. A request that does not parse
// passes here: validation refuses it with the reason.
func (Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	csr, ok := signer.IsCSRWrite(a, admission.Create, "")
	if !ok || csr.Spec.SignerName != certificates.KubeAPIServerClient {
		return nil
	}
	cr, err := pki.ParseCSR(csr.Spec.Request)
	if err != nil || !slices.Contains(cr.Subject.Organization, certificates.MastersGroup) {
		return nil
	}
	return apierrors.NewForbidden(signer.CSRs, a.Name, fmt.Errorf("use of %s signer with %s group is not allowed", certificates.KubeAPIServerClient, certificates.MastersGroup))
}
