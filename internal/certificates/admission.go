package certificates

import (
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/pki"
)

var csrResource = certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests")

// Admission enforces what the certificates API requires of writers, as
// kube-apiserver's CertificateApproval, CertificateSigning and
// CertificateSubjectRestriction plugins and the CSR strategy do:
//
//   - on create, spec.username, uid, groups and extra are the requester's,
//     whatever the body said;
//   - a kube-apiserver-client request may not ask for O=system:masters;
//   - writing the approval subresource needs "approve" on the signer;
//   - setting status.certificate needs "sign" on the signer.
//
// The signer permissions are checked with the server's authorizer on
// certificates.k8s.io "signers", by the signer's name or by "<domain>/*".
type Admission struct {
	Authorizer authz.Authorizer
}

// Admit implements admission.Mutator: it records who made a request.
func (p *Admission) Admit(_ context.Context, a *admission.Attributes) error {
	if a.Resource.GroupResource() != csrResource.GroupResource() || a.Operation != admission.Create || a.Subresource != "" {
		return nil
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok || a.User == nil {
		return nil
	}
	csr.Spec.Username, csr.Spec.UID = a.User.Name, a.User.UID
	csr.Spec.Groups = slices.Clone(a.User.Groups)
	csr.Spec.Extra = nil
	if len(a.User.Extra) > 0 {
		csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range a.User.Extra {
			csr.Spec.Extra[k] = slices.Clone(v)
		}
	}
	return nil
}

// Validate implements admission.Validator.
func (p *Admission) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Resource.GroupResource() != csrResource.GroupResource() {
		return nil
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return nil
	}
	gr := csrResource.GroupResource()
	switch {
	case a.Operation == admission.Create && a.Subresource == "" && csr.Spec.SignerName == KubeAPIServerClient:
		cr, err := pki.ParseCSR(csr.Spec.Request)
		if err != nil {
			return nil // validation reports it
		}
		if slices.Contains(cr.Subject.Organization, MastersGroup) {
			return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("use of %s signer with %s group is not allowed", KubeAPIServerClient, MastersGroup))
		}
	case a.Operation == admission.Update && a.Subresource == "approval":
		if !p.authorizedForSigner(ctx, a.User, "approve", csr.Spec.SignerName) {
			return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("user not permitted to approve requests with signerName %q", csr.Spec.SignerName))
		}
	case a.Operation == admission.Update && a.Subresource == "status":
		old, _ := a.OldObject.(*certificatesv1.CertificateSigningRequest)
		if old != nil && string(old.Status.Certificate) == string(csr.Status.Certificate) {
			return nil
		}
		if !p.authorizedForSigner(ctx, a.User, "sign", csr.Spec.SignerName) {
			return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("user not permitted to sign requests with signerName %q", csr.Spec.SignerName))
		}
	}
	return nil
}

// authorizedForSigner asks whether u may use verb on the signer, by its
// exact name or by its domain's wildcard.
func (p *Admission) authorizedForSigner(ctx context.Context, u *authn.User, verb, signer string) bool {
	if p.Authorizer == nil || u == nil {
		return false
	}
	names := []string{signer}
	if domain, _, ok := strings.Cut(signer, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, name := range names {
		d, _, err := p.Authorizer.Authorize(ctx, authz.Attributes{
			User: u, Verb: verb, Group: certificatesv1.GroupName, Version: "*", Resource: "signers", Name: name, ResourceRequest: true,
		})
		if err == nil && d == authz.Allow {
			return true
		}
	}
	return false
}
