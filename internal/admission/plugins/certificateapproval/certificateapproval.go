// Package certificateapproval is kube-apiserver's CertificateApproval
// plugin: approving or denying a CertificateSigningRequest (a write to its
// approval subresource) needs "approve" on the request's signer.
package certificateapproval

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/internal/signer"
	"github.com/sekisho/sekisho/internal/authz"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "CertificateApproval"

// Plugin is the CertificateApproval admission plugin.
type Plugin struct {
	// Authorizer is the server's whole chain, so that any mode can grant
	// the permission.
	Authorizer authz.Authorizer
}

var _ admission.Validator = (*Plugin)(nil)

// Validate implements admission.Validator.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	csr, ok := signer.IsCSRWrite(a, admission.Update, "approval")
	if !ok || signer.Authorized(ctx, p.Authorizer, a.User, "approve", csr.Spec.SignerName) {
		return nil
	}
	return apierrors.NewForbidden(signer.CSRs, a.Name, fmt.Errorf("user not permitted to approve requests with signerName %q", csr.Spec.SignerName))
}
