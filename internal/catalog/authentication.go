package catalog

import (
	authenticationv1 "k8s.io/api/authentication/v1"
)

// TokenSubresource is serviceaccounts/token, the TokenRequest API: an
// action on a ServiceAccount.
func TokenSubresource() *Subresource {
	return &Subresource{
		Name:             "token",
		Action:           true,
		New:              func() Object { return &authenticationv1.TokenRequest{} },
		GroupVersionKind: authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"),
		Verbs:            []string{"create"},
	}
}

// TokenReviews is authentication.k8s.io/v1 tokenreviews.
func TokenReviews() *Resource {
	return virtual(authenticationv1.SchemeGroupVersion, "tokenreviews", "tokenreview", "TokenReview", false,
		func() Object { return &authenticationv1.TokenReview{} })
}

// SelfSubjectReviews is authentication.k8s.io/v1 selfsubjectreviews.
func SelfSubjectReviews() *Resource {
	return virtual(authenticationv1.SchemeGroupVersion, "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false,
		func() Object { return &authenticationv1.SelfSubjectReview{} })
}
