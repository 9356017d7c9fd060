package controlplane

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	sa "github.com/sekisho/sekisho/internal/authn/serviceaccount"
	"github.com/sekisho/sekisho/internal/bootstraptoken"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/controllers/rootcapublisher"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
)

// informers are the in-memory caches the control plane keeps.
type informers struct {
	namespaces, serviceAccounts, secrets, pods, nodes *informer.Informer
	// rootCAMaps are the kube-root-ca.crt ConfigMaps of every namespace,
	// and clusterInfo kube-public's cluster-info: the ConfigMaps the
	// controllers read. Caching every ConfigMap would hold the cluster's
	// ConfigMaps in memory and decode and copy each one written.
	rootCAMaps, clusterInfo *informer.Informer
	// resourceQuotas are read by ResourceQuota admission.
	resourceQuotas *informer.Informer
}

func newInformers(st *store.Store, reg *catalog.Catalog, log *slog.Logger) *informers {
	core := func(resource string) *informer.Informer {
		res, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
		return informer.New(st, res, log)
	}
	inf := &informers{
		namespaces: core("namespaces"), serviceAccounts: core("serviceaccounts"),
		secrets: core("secrets"), pods: core("pods"), nodes: core("nodes"),
		rootCAMaps: core("configmaps"), clusterInfo: core("configmaps"),
		resourceQuotas: core("resourcequotas"),
	}
	inf.rootCAMaps.Fields = fields.OneTermEqualSelector("metadata.name", rootcapublisher.Name)
	inf.clusterInfo.Namespace = metav1.NamespacePublic
	inf.clusterInfo.Fields = fields.OneTermEqualSelector("metadata.name", bootstraptoken.ClusterInfoConfigMap)
	// Quota admission charges from it: a quota that does not read must
	// send admission to storage (which fails on it), not go unseen.
	inf.resourceQuotas.Strict = true
	return inf
}

func (i *informers) all() []*informer.Informer {
	return []*informer.Informer{i.namespaces, i.serviceAccounts, i.secrets, i.rootCAMaps, i.clusterInfo, i.pods, i.nodes, i.resourceQuotas}
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
	// keys verify tokens and are published in the JWKS; replaced whole
	// when a key file changes.
	keys          atomic.Pointer[[]crypto.PublicKey]
	issuer        string
	audiences     []string
	maxExpiration time.Duration

	keyFiles    []string
	signingFile string
	mu          sync.Mutex // serializes reloads
}

// setupServiceAccounts loads the keys and builds the token issuer and
// authenticator. It returns nil when no service-account key is configured.
func setupServiceAccounts(o Options, lookup sa.Lookup) (*serviceAccounts, error) {
	s := &serviceAccounts{maxExpiration: o.ServiceAccountMaxTokenExpiration,
		keyFiles: o.ServiceAccountKeyFiles, signingFile: o.ServiceAccountSigningKeyFile}
	keys, signing, err := s.read()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if len(o.ServiceAccountIssuers) > 0 {
		s.issuer = o.ServiceAccountIssuers[0]
	}
	if signing != nil {
		if s.signer, err = sa.NewSigner(s.issuer, signing); err != nil {
			return nil, fmt.Errorf("--service-account-signing-key-file %s: %w", s.signingFile, err)
		}
	}
	s.keys.Store(&keys)
	s.audiences = o.APIAudiences
	if len(s.audiences) == 0 && s.issuer != "" {
		// Kubernetes' default: tokens for the API are meant for its issuer.
		s.audiences = []string{s.issuer}
	}
	s.authenticator = &sa.Authenticator{
		Keys: keys, Issuers: o.ServiceAccountIssuers, Audiences: s.audiences, Legacy: true,
		Lookup: lookup, LegacyLookup: o.ServiceAccountLookup,
	}
	return s, nil
}

// read loads every key file: the verifying keys (several files, several
// keys in each), and the signing key, whose public half verifies too.
// The signing key's file must be private to its owner, as the other key
// files the server reads.
func (s *serviceAccounts) read() (keys []crypto.PublicKey, signing crypto.Signer, err error) {
	for _, f := range s.keyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-account-key-file: %w", err)
		}
		fileKeys, err := pki.ParsePublicKeys(data)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-account-key-file %s: %w", f, err)
		}
		keys = append(keys, fileKeys...)
	}
	if f := s.signingFile; f != "" {
		info, err := os.Stat(f)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			return nil, nil, fmt.Errorf("--service-account-signing-key-file %s: mode %04o lets others read the private key; want 0600", f, mode)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
		}
		if signing, err = pki.ParsePrivateKey(data); err != nil {
			return nil, nil, fmt.Errorf("--service-account-signing-key-file %s: %w", f, err)
		}
		if !slices.ContainsFunc(keys, func(k crypto.PublicKey) bool { return pki.KeyMatches(signing, k) }) {
			keys = append(keys, signing.Public())
		}
	}
	return keys, signing, nil
}

// watch reloads the key files when any of them changes. The files are
// read again together and swapped in whole; a set that does not load (a
// file unreadable, a key unparsable, a signing key of a type that cannot
// sign, a signing key readable by others) is refused, logged with the
// file, and the keys in force stay.
func (s *serviceAccounts) watch(ctx context.Context, log *slog.Logger) error {
	if s == nil {
		return nil
	}
	files := map[string]string{}
	for _, f := range s.keyFiles {
		files[f] = "--service-account-key-file"
	}
	if s.signingFile != "" {
		files[s.signingFile] = "--service-account-signing-key-file"
	}
	for path, flag := range files {
		if err := watch(ctx, log, flag, path, false, func([]byte, bool) error { return s.reload(log) }); err != nil {
			return err
		}
	}
	return nil
}

func (s *serviceAccounts) reload(log *slog.Logger) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, signing, err := s.read()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return errors.New("no service-account key left in the files; keeping the keys in force")
	}
	// The verifying keys first: a token signed with a new key the moment
	// the signer takes it verifies.
	old := *s.keys.Load()
	s.authenticator.SetKeys(keys)
	s.keys.Store(&keys)
	if signing != nil && s.signer != nil {
		if err := s.signer.SetKey(signing); err != nil {
			return fmt.Errorf("--service-account-signing-key-file %s: %w", s.signingFile, err)
		}
	}
	if !slices.EqualFunc(old, keys, func(a, b crypto.PublicKey) bool { return keyIDOf(a) == keyIDOf(b) }) {
		var ids []string
		for _, k := range keys {
			ids = append(ids, keyIDOf(k))
		}
		var signingID string
		if s.signer != nil {
			signingID = keyIDOf(s.signer.Key().Public())
		}
		log.Info("service-account keys reloaded", "verifying", strings.Join(ids, ","), "signing", signingID)
	}
	return nil
}

func keyIDOf(k crypto.PublicKey) string {
	id, _ := sa.KeyID(k)
	return id
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
	// Both documents follow the keys in force: a rotation publishes the
	// new key (and its algorithm) at once.
	documents := func() (config, jwksJSON []byte, err error) {
		jwks, err := sa.JWKS(*s.keys.Load())
		if err != nil {
			return nil, nil, err
		}
		var algs []string
		for _, k := range jwks.Keys {
			if !slices.Contains(algs, k.Algorithm) {
				algs = append(algs, k.Algorithm)
			}
		}
		if jwksJSON, err = json.Marshal(jwks); err != nil {
			return nil, nil, err
		}
		config, err = json.Marshal(map[string]any{
			"issuer":                                s.issuer,
			"jwks_uri":                              externalURL + "/openid/v1/jwks",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": algs,
		})
		return config, jwksJSON, err
	}
	if _, _, err := documents(); err != nil {
		return nil, err
	}
	serve := func(contentType string, jwks bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			config, jwksJSON, err := documents()
			if err != nil {
				http.Error(w, "the service-account keys cannot be rendered", http.StatusInternalServerError)
				return
			}
			body := config
			if jwks {
				body = jwksJSON
			}
			w.Header().Set("Content-Type", contentType)
			// Short, so that relying parties see a rotated key soon;
			// kube-apiserver says an hour for keys that never change.
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Write(body)
		})
	}
	return map[string]http.Handler{
		"/.well-known/openid-configuration": serve("application/json", false),
		"/openid/v1/jwks":                   serve("application/jwk-set+json", true),
	}, nil
}
