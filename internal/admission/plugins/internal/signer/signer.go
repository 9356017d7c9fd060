// Package signer answers the question the certificate admission plugins
// share: may this user use a verb on a signer?
package signer

import (
	"context"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// CSRs is the resource the certificate plugins guard.
var CSRs = schema.GroupResource{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests"}

// IsCSRWrite reports whether a is a write of op to a CertificateSigningRequest
// through subresource, and returns the request.
func IsCSRWrite(a *admission.Attributes, op admission.Operation, subresource string) (*certificatesv1.CertificateSigningRequest, bool) {
	if a.Resource.GroupResource() != CSRs || a.Operation != op || a.Subresource != subresource {
		return nil, false
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	return csr, ok
}

// Authorized asks whether u may use verb on the signer
// (certificates.k8s.io "signers"), by its exact name or by its domain's
// wildcard "<domain>/*", as Kubernetes does. No authorizer or no user is
// a refusal.
func Authorized(ctx context.Context, z authz.Authorizer, u *authn.User, verb, signerName string) bool {
	if z == nil || u == nil {
		return false
	}
	names := []string{signerName}
	if domain, _, ok := strings.Cut(signerName, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, name := range names {
		d, _, err := z.Authorize(ctx, authz.Attributes{
			User: u, Verb: verb, Group: certificatesv1.GroupName, Version: "*", Resource: "signers", Name: name, ResourceRequest: true,
		})
		if err == nil && d == authz.Allow {
			return true
		}
	}
	return false
}
