// Package certificatesigning is kube-apiserver's CertificateSigning
// plugin: setting or changing status.certificate of a
// CertificateSigningRequest needs "sign" on the request's signer.
package certificatesigning

import (
	"bytes"
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/internal/signer"
	"github.com/sekisho/sekisho/internal/authz"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "CertificateSigning"

// Plugin is the CertificateSigning admission plugin.
type Plugin struct {
	// Authorizer is the server's whole chain, so that any mode can grant
	// the permission.
	Authorizer authz.Authorizer
}

var _ admission.Validator = (*Plugin)(nil)

// Validate implements admission.Validator. A status write that leaves the
// certificate as it was (a condition only) needs nothing more.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	csr, ok := signer.IsCSRWrite(a, admission.Update, "status")
	if !ok {
		return nil
	}
	if old, _ := a.OldObject.(*certificatesv1.CertificateSigningRequest); old != nil && bytes.Equal(old.Status.Certificate, csr.Status.Certificate) {
		return nil
	}
	if signer.Authorized(ctx, p.Authorizer, a.User, "sign", csr.Spec.SignerName) {
		return nil
	}
	return apierrors.NewForbidden(signer.CSRs, a.Name, fmt.Errorf("user not permitted to sign requests with signerName %q", csr.Spec.SignerName))
}
