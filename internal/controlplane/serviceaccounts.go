package controlplane

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
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
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
	"github.com/sekisho/sekisho/internal/warning"
)

// informers are the in-memory caches the control plane keeps.
type informers struct {
	namespaces, serviceAccounts, secrets, configMaps, pods, nodes *informer.Informer
}

func newInformers(st *store.Store, reg *catalog.Catalog, log *slog.Logger) *informers {
	core := func(resource string) *informer.Informer {
		res, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
		return informer.New(st, res, log)
	}
	return &informers{
		namespaces: core("namespaces"), serviceAccounts: core("serviceaccounts"),
		secrets: core("secrets"), configMaps: core("configmaps"), pods: core("pods"), nodes: core("nodes"),
	}
}

func (i *informers) all() []*informer.Informer {
	return []*informer.Informer{i.namespaces, i.serviceAccounts, i.secrets, i.configMaps, i.pods, i.nodes}
}

// ServiceAccountUID and the rest implement serviceaccount.Lookup.
func (i *informers) ServiceAccountUID(ns, name string) (string, bool) {
	return uidOf(i.serviceAccounts.Get(ns, name))
}
func (i *informers) PodUID(ns, name string) (string, bool)    { return uidOf(i.pods.Get(ns, name)) }
func (i *informers) NodeUID(name string) (string, bool)       { return uidOf(i.nodes.Get("", name)) }
func (i *informers) SecretUID(ns, name string) (string, bool) { return uidOf(i.secrets.Get(ns, name)) }
func (i *informers) SecretToken(ns, name string) ([]byte, bool) {
	o, ok := i.secrets.Get(ns, name)
	if !ok {
		return nil, false
	}
	t, ok := o.(*corev1.Secret).Data[corev1.ServiceAccountTokenKey]
	return t, ok
}

// secret reads a cached Secret.
func (i *informers) secret(ns, name string) (*corev1.Secret, bool) {
	o, ok := i.secrets.Get(ns, name)
	if !ok {
		return nil, false
	}
	return o.(*corev1.Secret), true
}

func uidOf(o catalog.Object, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	return string(o.GetUID()), true
}

// serviceAccounts issues and verifies service-account tokens.
type serviceAccounts struct {
	signer        *sa.Signer
	authenticator *sa.Authenticator
	keys          []crypto.PublicKey
	issuer        string
	audiences     []string
	maxExpiration time.Duration
	st            *store.Store
	reg           *catalog.Catalog
}

// setupServiceAccounts loads the keys and builds the token issuer and
// authenticator. It returns nil when no service-account key is configured.
func setupServiceAccounts(o Options, lookup sa.Lookup) (*serviceAccounts, error) {
	s := &serviceAccounts{maxExpiration: o.ServiceAccountMaxTokenExpiration}
	for _, f := range o.ServiceAccountKeyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--service-account-key-file: %w", err)
		}
		keys, err := pki.ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("--service-account-key-file %s: %w", f, err)
		}
		s.keys = append(s.keys, keys...)
	}
	if len(o.ServiceAccountIssuers) > 0 {
		s.issuer = o.ServiceAccountIssuers[0]
	}
	if f := o.ServiceAccountSigningKeyFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
		}
		key, err := pki.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("--service-account-signing-key-file %s: %w", f, err)
		}
		if s.signer, err = sa.NewSigner(s.issuer, key); err != nil {
			return nil, fmt.Errorf("--service-account-signing-key-file %s: %w", f, err)
		}
		if !slices.ContainsFunc(s.keys, func(k crypto.PublicKey) bool { return pki.KeyMatches(key, k) }) {
			s.keys = append(s.keys, key.Public())
		}
	}
	if len(s.keys) == 0 {
		return nil, nil
	}
	s.audiences = o.APIAudiences
	if len(s.audiences) == 0 && s.issuer != "" {
		// Kubernetes' default: tokens for the API are meant for its issuer.
		s.audiences = []string{s.issuer}
	}
	s.authenticator = &sa.Authenticator{
		Keys: s.keys, Issuers: o.ServiceAccountIssuers, Audiences: s.audiences, Legacy: true,
		Lookup: lookup, LegacyLookup: o.ServiceAccountLookup,
	}
	return s, nil
}

// tokenRequest implements POST serviceaccounts/{name}/token.
func (s *serviceAccounts) tokenRequest(ctx context.Context, account *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if s == nil || s.signer == nil {
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
	if max := int64(s.maxExpiration / time.Second); max > 0 && *spec.ExpirationSeconds > max {
		warning.Warn(ctx, fmt.Sprintf("requested expiration of %d seconds shortened to %d seconds", *spec.ExpirationSeconds, max))
		*spec.ExpirationSeconds = max
	}
	if len(spec.Audiences) == 0 {
		spec.Audiences = s.audiences
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
	token, exp, err := s.signer.Issue(r)
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
func (s *serviceAccounts) boundObject(ctx context.Context, namespace string, ref *authenticationv1.BoundObjectReference) (*sa.BoundObject, *sa.BoundObject, error) {
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
	res, _ := s.reg.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
	obj, err := s.st.GetObject(ctx, res, ns, ref.Name)
	if err != nil {
		return nil, nil, err
	}
	if ref.UID != "" && ref.UID != obj.GetUID() {
		return nil, nil, apierrors.NewConflict(res.GroupResource(), ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record (%s); the object might have been deleted and then recreated", ref.UID, obj.GetUID()))
	}
	bound := &sa.BoundObject{Kind: ref.Kind, Name: ref.Name, UID: string(obj.GetUID())}
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
		nodes, _ := s.reg.Lookup(corev1.SchemeGroupVersion.WithResource("nodes"))
		if node, err := s.st.GetObject(ctx, nodes, "", pod.Spec.NodeName); err == nil {
			return bound, &sa.BoundObject{Kind: "Node", Name: node.GetName(), UID: string(node.GetUID())}, nil
		}
	}
	return bound, nil, nil
}

// discoveryHandlers serve the issuer's OpenID discovery document and key
// set, so that systems outside the cluster can verify its tokens.
func (s *serviceAccounts) discoveryHandlers(externalURL string) (map[string]http.Handler, error) {
	if s == nil || s.signer == nil || !strings.HasPrefix(s.issuer, "https://") {
		return nil, nil
	}
	jwks, err := sa.JWKS(s.keys)
	if err != nil {
		return nil, err
	}
	jwksJSON, err := json.Marshal(jwks)
	if err != nil {
		return nil, err
	}
	var algs []string
	for _, k := range jwks.Keys {
		if !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	config, err := json.Marshal(map[string]any{
		"issuer":                                s.issuer,
		"jwks_uri":                              externalURL + "/openid/v1/jwks",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
	})
	if err != nil {
		return nil, err
	}
	serve := func(contentType string, body []byte) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Write(body)
		})
	}
	return map[string]http.Handler{
		"/.well-known/openid-configuration": serve("application/json", config),
		"/openid/v1/jwks":                   serve("application/jwk-set+json", jwksJSON),
	}, nil
}

// tokenReview implements TokenReview: it runs the token authenticators on
// the token, honouring spec.audiences.
func tokenReview(tokens authn.TokenAuthenticator, apiAudiences []string, log *slog.Logger) func(context.Context, *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	return func(ctx context.Context, review *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
		if review.Spec.Token == "" {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenReview"}, "",
				field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
		}
		out := review.DeepCopy()
		out.Status = authenticationv1.TokenReviewStatus{}
		auds := review.Spec.Audiences
		if len(auds) == 0 {
			auds = apiAudiences
		}
		if tokens == nil || len(review.Spec.Token) > authn.MaxTokenBytes {
			out.Status.Error = "invalid bearer token"
			return out, nil
		}
		u, ok, err := tokens.AuthenticateToken(authn.WithAudiences(ctx, auds), review.Spec.Token)
		if err != nil || !ok {
			cause := "not recognised by any token authenticator"
			if err != nil {
				cause = err.Error()
			}
			log.Info("token review: token refused", "cause", cause)
			out.Status.Error = "invalid bearer token"
			return out, nil
		}
		out.Status.Authenticated = true
		out.Status.Audiences = auds
		out.Status.User = userInfo(u)
		return out, nil
	}
}

// selfSubjectReview answers "who am I" with the requester's identity.
func selfSubjectReview(ctx context.Context, review *authenticationv1.SelfSubjectReview) (*authenticationv1.SelfSubjectReview, error) {
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
