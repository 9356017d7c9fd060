package catalog

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
)

// AuthenticationHandlers implement the authentication APIs; the control
// plane supplies them because they need the authenticators.
type AuthenticationHandlers struct {
	TokenRequest      func(ctx context.Context, sa *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
	TokenReview       func(ctx context.Context, review *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)
	SelfSubjectReview func(ctx context.Context, review *authenticationv1.SelfSubjectReview) (*authenticationv1.SelfSubjectReview, error)
}

// TokenSubresource is serviceaccounts/token, the TokenRequest API.
func TokenSubresource(h func(ctx context.Context, sa *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)) *Subresource {
	return &Subresource{
		Name:             "token",
		New:              func() Object { return &authenticationv1.TokenRequest{} },
		GroupVersionKind: authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"),
		Verbs:            []string{"create"},
		Create: func(ctx context.Context, parent, in Object) (Object, error) {
			return h(ctx, parent.(*corev1.ServiceAccount), in.(*authenticationv1.TokenRequest))
		},
	}
}

// TokenReviews is authentication.k8s.io/v1 tokenreviews.
func TokenReviews(h func(ctx context.Context, r *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)) *Resource {
	return &Resource{
		GroupVersion: authenticationv1.SchemeGroupVersion, Name: "tokenreviews", SingularName: "tokenreview", Kind: "TokenReview",
		New: func() Object { return &authenticationv1.TokenReview{} },
		Create: func(ctx context.Context, obj Object) (Object, error) {
			return h(ctx, obj.(*authenticationv1.TokenReview))
		},
	}
}

// SelfSubjectReviews is authentication.k8s.io/v1 selfsubjectreviews.
func SelfSubjectReviews(h func(ctx context.Context, r *authenticationv1.SelfSubjectReview) (*authenticationv1.SelfSubjectReview, error)) *Resource {
	return &Resource{
		GroupVersion: authenticationv1.SchemeGroupVersion, Name: "selfsubjectreviews", SingularName: "selfsubjectreview", Kind: "SelfSubjectReview",
		New: func() Object { return &authenticationv1.SelfSubjectReview{} },
		Create: func(ctx context.Context, obj Object) (Object, error) {
			return h(ctx, obj.(*authenticationv1.SelfSubjectReview))
		},
	}
}
