package controlplane

import (
	"crypto"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	sa "github.com/sekisho/sekisho/internal/authn/serviceaccount"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
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

// issuing returns what TokenRequest issues with: nothing without keys.
func (s *serviceAccounts) issuing() (signer *sa.Signer, audiences []string, maxExpiration time.Duration) {
	if s == nil {
		return nil, nil, 0
	}
	return s.signer, s.audiences, s.maxExpiration
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
