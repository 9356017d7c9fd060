package catalog

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	sekishov1alpha1 "github.com/sekisho/sekisho/internal/apis/sekisho/v1alpha1"
)

// ReviewFunc answers a request to a virtual resource (Resource.Virtual).
type ReviewFunc func(ctx context.Context, in Object) (Object, error)

// ActionFunc answers an action subresource (Subresource.Action) of parent,
// with an object of the subresource's kind or a Status.
type ActionFunc func(ctx context.Context, parent, in Object) (runtime.Object, error)

// ActionKey names an action subresource.
type ActionKey struct {
	Resource    schema.GroupVersionResource
	Subresource string
}

// Review adapts a typed review handler to a ReviewFunc.
func Review[T Object](h func(context.Context, T) (T, error)) ReviewFunc {
	return func(ctx context.Context, in Object) (Object, error) { return h(ctx, in.(T)) }
}

type dryRunKey struct{}

// WithDryRun marks ctx as the context of a dry run: an ActionFunc that
// writes must write nothing.
func WithDryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

// DryRun reports whether ctx is a dry run's.
func DryRun(ctx context.Context) bool { v, _ := ctx.Value(dryRunKey{}).(bool); return v }

// Action adapts a typed action handler to an ActionFunc.
func Action[P, T Object](h func(context.Context, P, T) (T, error)) ActionFunc {
	return func(ctx context.Context, parent, in Object) (runtime.Object, error) {
		return h(ctx, parent.(P), in.(T))
	}
}

// virtual describes a create-only resource that answers instead of
// storing.
func virtual(gv schema.GroupVersion, name, singular, kind string, namespaced bool, newObj func() Object) *Resource {
	return &Resource{
		GroupVersion: gv, Name: name, SingularName: singular, Kind: kind, Namespaced: namespaced,
		New: newObj, Virtual: true,
	}
}

// accessReviews are the authorization.k8s.io reviews and sekisho's own.
func accessReviews() []*Resource {
	gv := authorizationv1.SchemeGroupVersion
	return []*Resource{
		virtual(gv, "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false,
			func() Object { return &authorizationv1.SubjectAccessReview{} }),
		virtual(gv, "localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", true,
			func() Object { return &authorizationv1.LocalSubjectAccessReview{} }),
		virtual(gv, "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false,
			func() Object { return &authorizationv1.SelfSubjectAccessReview{} }),
		virtual(gv, "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", false,
			func() Object { return &authorizationv1.SelfSubjectRulesReview{} }),
		virtual(sekishov1alpha1.SchemeGroupVersion, "accessreviews", "accessreview", "AccessReview", false,
			func() Object { return &sekishov1alpha1.AccessReview{} }),
		virtual(sekishov1alpha1.SchemeGroupVersion, "selfaccessreviews", "selfaccessreview", "SelfAccessReview", false,
			func() Object { return &sekishov1alpha1.SelfAccessReview{} }),
	}
}
