// Package authnapi answers the authentication.k8s.io APIs: TokenRequest
// (serviceaccounts/{name}/token), TokenReview and SelfSubjectReview. The
// access reviews are its neighbour, accessreview.
package authnapi

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/authn"
	sa "github.com/sekisho/sekisho/internal/authn/serviceaccount"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
	"github.com/sekisho/sekisho/internal/warning"
)

// API answers the authentication requests.
type API struct {
	// Signer issues service-account tokens; without one, TokenRequest
	// answers 503.
	Signer *sa.Signer
	// TokenAudiences are the audiences of a requested token that names
	// none; MaxExpiration caps its lifetime (0: no cap).
	TokenAudiences []string
	MaxExpiration  time.Duration
	// Tokens are the token authenticators TokenReview asks, and
	// APIAudiences the audiences of a review that names none.
	Tokens       authn.TokenAuthenticator
	APIAudiences []string
	// Catalog and Objects read the objects a token is bound to.
	Catalog *catalog.Catalog
	Objects *store.Store
	Log     *slog.Logger
}

var gv = authenticationv1.SchemeGroupVersion

// Reviews returns the answers of the review resources, by resource.
func (s *API) Reviews() map[schema.GroupVersionResource]catalog.ReviewFunc {
	return map[schema.GroupVersionResource]catalog.ReviewFunc{
		gv.WithResource("tokenreviews"):       catalog.Review(s.TokenReview),
		gv.WithResource("selfsubjectreviews"): catalog.Review(s.SelfSubjectReview),
	}
}

// Actions returns the answer of serviceaccounts/token.
func (s *API) Actions() map[catalog.ActionKey]catalog.ActionFunc {
	return map[catalog.ActionKey]catalog.ActionFunc{
		{Resource: corev1.SchemeGroupVersion.WithResource("serviceaccounts"), Subresource: "token"}: catalog.Action(s.TokenRequest),
	}
}

// TokenRequest answers POST serviceaccounts/{name}/token: a token for
// the account, bound to an object when the request says so.
func (s *API) TokenRequest(ctx context.Context, account *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if s.Signer == nil {
		return nil, apierrors.NewServiceUnavailable("token issuance is not configured: start the server with --service-account-signing-key-file and --service-account-issuer")
	}
	spec := &req.Spec
	invalid := func(errs ...*field.Error) error {
		return apierrors.NewInvalid(schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenRequest"}, account.Name, errs)
	}
	if spec.ExpirationSeconds == nil {
		spec.ExpirationSeconds = ptr(int64(sa.DefaultTokenExpiration / time.Second))
	}
	if *spec.ExpirationSeconds < sa.MinimumExpirationSecond {
		return nil, invalid(field.Invalid(field.NewPath("spec", "expirationSeconds"), *spec.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
	}
	if *spec.ExpirationSeconds > 1<<32 {
		return nil, invalid(field.TooLong(field.NewPath("spec", "expirationSeconds"), *spec.ExpirationSeconds, 1<<32))
	}
	if max := int64(s.MaxExpiration / time.Second); max > 0 && *spec.ExpirationSeconds > max {
		warning.Warn(ctx, fmt.Sprintf("requested expiration of %d seconds shortened to %d seconds", *spec.ExpirationSeconds, max))
		*spec.ExpirationSeconds = max
	}
	if len(spec.Audiences) == 0 {
		spec.Audiences = s.TokenAudiences
	}
	r := sa.Request{
		Namespace: account.Namespace, ServiceAccount: account.Name, ServiceAccountUID: string(account.UID),
		Audiences: spec.Audiences, Expiration: time.Duration(*spec.ExpirationSeconds) * time.Second,
	}
	if ref := spec.BoundObjectRef; ref != nil {
		bound, node, err := s.boundObject(ctx, account.Namespace, ref)
		if err != nil {
			return nil, err
		}
		r.Bound, r.NodeOfPod = bound, node
	}
	token, exp, err := s.Signer.Issue(r)
	if err != nil {
		return nil, err
	}
	out := req.DeepCopy()
	out.Name, out.Namespace = account.Name, account.Namespace
	out.CreationTimestamp = metav1.Now()
	out.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	return out, nil
}

// boundObject checks the object a token is bound to and returns it (and,
// for a pod, its node).
func (s *API) boundObject(ctx context.Context, namespace string, ref *authenticationv1.BoundObjectReference) (*sa.BoundObject, *sa.BoundObject, error) {
	p := field.NewPath("spec", "boundObjectRef")
	invalid := func(errs ...*field.Error) error {
		return apierrors.NewInvalid(schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenRequest"}, "", errs)
	}
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return nil, nil, invalid(field.NotSupported(p.Child("apiVersion"), ref.APIVersion, []string{"v1"}))
	}
	var resource, ns string
	switch ref.Kind {
	case "Pod":
		resource, ns = "pods", namespace
	case "Secret":
		resource, ns = "secrets", namespace
	case "Node":
		resource = "nodes"
	default:
		return nil, nil, invalid(field.NotSupported(p.Child("kind"), ref.Kind, []string{"Pod", "Secret", "Node"}))
	}
	if ref.Name == "" {
		return nil, nil, invalid(field.Required(p.Child("name"), ""))
	}
	res, _ := s.Catalog.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
	obj, err := s.Objects.GetObject(ctx, res, ns, ref.Name)
	if err != nil {
		return nil, nil, err
	}
	if ref.UID != "" && ref.UID != obj.GetUID() {
		return nil, nil, apierrors.NewConflict(res.GroupResource(), ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record (%s); the object might have been deleted and then recreated", ref.UID, obj.GetUID()))
	}
	bound := &sa.BoundObject{Kind: ref.Kind, Name: ref.Name, UID: string(obj.GetUID())}
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
		nodes, _ := s.Catalog.Lookup(corev1.SchemeGroupVersion.WithResource("nodes"))
		if node, err := s.Objects.GetObject(ctx, nodes, "", pod.Spec.NodeName); err == nil {
			return bound, &sa.BoundObject{Kind: "Node", Name: node.GetName(), UID: string(node.GetUID())}, nil
		}
	}
	return bound, nil, nil
}

// TokenReview runs the token authenticators on the token, honouring
// spec.audiences. A refused token is an answer, not an error: the reason
// goes to the log, never to the caller.
func (s *API) TokenReview(ctx context.Context, review *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	if review.Spec.Token == "" {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenReview"}, "",
			field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
	}
	out := review.DeepCopy()
	out.Status = authenticationv1.TokenReviewStatus{}
	auds := review.Spec.Audiences
	if len(auds) == 0 {
		auds = s.APIAudiences
	}
	if s.Tokens == nil || len(review.Spec.Token) > authn.MaxTokenBytes {
		out.Status.Error = "invalid bearer token"
		return out, nil
	}
	u, ok, err := s.Tokens.AuthenticateToken(authn.WithAudiences(ctx, auds), review.Spec.Token)
	if err != nil || !ok {
		cause := "not recognised by any token authenticator"
		if err != nil {
			cause = err.Error()
		}
		s.Log.Info("token review: token refused", "cause", cause)
		out.Status.Error = "invalid bearer token"
		return out, nil
	}
	out.Status.Authenticated = true
	out.Status.Audiences = auds
	out.Status.User = userInfo(u)
	return out, nil
}

// SelfSubjectReview answers "who am I" with the requester's identity.
func (s *API) SelfSubjectReview(ctx context.Context, review *authenticationv1.SelfSubjectReview) (*authenticationv1.SelfSubjectReview, error) {
	u := authn.UserFrom(ctx)
	if u == nil {
		return nil, apierrors.NewUnauthorized("no user")
	}
	out := review.DeepCopy()
	out.CreationTimestamp = metav1.Now()
	out.Status.UserInfo = userInfo(u)
	return out, nil
}

func userInfo(u *authn.User) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range u.Extra {
			info.Extra[k] = v
		}
	}
	return info
}

func ptr[T any](v T) *T { return &v }
