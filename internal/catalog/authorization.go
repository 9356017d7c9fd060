package catalog

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	sekishov1alpha1 "github.com/sekisho/sekisho/internal/apis/sekisho/v1alpha1"
)

// AuthorizationHandlers implement the access review APIs; the control
// plane supplies them because they need the authorizers.
type AuthorizationHandlers struct {
	SubjectAccessReview      func(ctx context.Context, r *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error)
	LocalSubjectAccessReview func(ctx context.Context, r *authorizationv1.LocalSubjectAccessReview) (*authorizationv1.LocalSubjectAccessReview, error)
	SelfSubjectAccessReview  func(ctx context.Context, r *authorizationv1.SelfSubjectAccessReview) (*authorizationv1.SelfSubjectAccessReview, error)
	SelfSubjectRulesReview   func(ctx context.Context, r *authorizationv1.SelfSubjectRulesReview) (*authorizationv1.SelfSubjectRulesReview, error)
	AccessReview             func(ctx context.Context, r *sekishov1alpha1.AccessReview) (*sekishov1alpha1.AccessReview, error)
	SelfAccessReview         func(ctx context.Context, r *sekishov1alpha1.SelfAccessReview) (*sekishov1alpha1.SelfAccessReview, error)
}

// virtual builds a create-only resource that answers with h.
func virtual[T Object](gv schema.GroupVersion, name, singular, kind string, namespaced bool, newObj func() T, h func(context.Context, T) (T, error)) *Resource {
	return &Resource{
		GroupVersion: gv, Name: name, SingularName: singular, Kind: kind, Namespaced: namespaced,
		New: func() Object { return newObj() },
		Create: func(ctx context.Context, obj Object) (Object, error) {
			return h(ctx, obj.(T))
		},
	}
}

// authorizationResources are the access review resources whose handlers
// are set.
func authorizationResources(h AuthorizationHandlers) []*Resource {
	gv := authorizationv1.SchemeGroupVersion
	var out []*Resource
	if h.SubjectAccessReview != nil {
		out = append(out, virtual(gv, "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false,
			func() *authorizationv1.SubjectAccessReview { return &authorizationv1.SubjectAccessReview{} }, h.SubjectAccessReview))
	}
	if h.LocalSubjectAccessReview != nil {
		out = append(out, virtual(gv, "localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", true,
			func() *authorizationv1.LocalSubjectAccessReview { return &authorizationv1.LocalSubjectAccessReview{} }, h.LocalSubjectAccessReview))
	}
	if h.SelfSubjectAccessReview != nil {
		out = append(out, virtual(gv, "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false,
			func() *authorizationv1.SelfSubjectAccessReview { return &authorizationv1.SelfSubjectAccessReview{} }, h.SelfSubjectAccessReview))
	}
	if h.SelfSubjectRulesReview != nil {
		out = append(out, virtual(gv, "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", false,
			func() *authorizationv1.SelfSubjectRulesReview { return &authorizationv1.SelfSubjectRulesReview{} }, h.SelfSubjectRulesReview))
	}
	if h.AccessReview != nil {
		out = append(out, virtual(sekishov1alpha1.SchemeGroupVersion, "accessreviews", "accessreview", "AccessReview", false,
			func() *sekishov1alpha1.AccessReview { return &sekishov1alpha1.AccessReview{} }, h.AccessReview))
	}
	if h.SelfAccessReview != nil {
		out = append(out, virtual(sekishov1alpha1.SchemeGroupVersion, "selfaccessreviews", "selfaccessreview", "SelfAccessReview", false,
			func() *sekishov1alpha1.SelfAccessReview { return &sekishov1alpha1.SelfAccessReview{} }, h.SelfAccessReview))
	}
	return out
}
