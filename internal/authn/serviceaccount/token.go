// Package serviceaccount issues and verifies service-account tokens: the
// bound, expiring JWTs of the TokenRequest API and the legacy tokens kept
// in Secrets.
package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/pki"
)

// LegacyIssuer is the issuer of tokens stored in Secrets.
const LegacyIssuer = "kubernetes/serviceaccount"

// Well-known names of the service-account identity.
const (
	UserPrefix              = "system:serviceaccount:"
	GroupAll                = "system:serviceaccounts"
	GroupNamespacePrefix    = "system:serviceaccounts:"
	ExtraPodName            = "authentication.kubernetes.io/pod-name"
	ExtraPodUID             = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName           = "authentication.kubernetes.io/node-name"
	ExtraNodeUID            = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID       = authn.ExtraCredentialID
	legacyNamespaceClaim    = "kubernetes.io/serviceaccount/namespace"
	legacySecretNameClaim   = "kubernetes.io/serviceaccount/secret.name"
	legacySANameClaim       = "kubernetes.io/serviceaccount/service-account.name"
	legacySAUIDClaim        = "kubernetes.io/serviceaccount/service-account.uid"
	minimumTokenExpiration  = 10 * time.Minute
	DefaultTokenExpiration  = time.Hour
	MinimumExpirationSecond = int64(600)
)

// ref names a Kubernetes object in a token.
type ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// kubernetesClaims is the "kubernetes.io" claim of a bound token.
type kubernetesClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount ref    `json:"serviceaccount"`
	Pod            *ref   `json:"pod,omitempty"`
	Secret         *ref   `json:"secret,omitempty"`
	Node           *ref   `json:"node,omitempty"`
	WarnAfter      *int64 `json:"warnafter,omitempty"`
}

// privateClaims are the non-standard claims of both token kinds.
type privateClaims struct {
	Kubernetes *kubernetesClaims `json:"kubernetes.io,omitempty"`

	LegacyNamespace  string `json:"kubernetes.io/serviceaccount/namespace,omitempty"`
	LegacySecretName string `json:"kubernetes.io/serviceaccount/secret.name,omitempty"`
	LegacySAName     string `json:"kubernetes.io/serviceaccount/service-account.name,omitempty"`
	LegacySAUID      string `json:"kubernetes.io/serviceaccount/service-account.uid,omitempty"`
}

// BoundObject is what a bound token dies with.
type BoundObject struct {
	Kind string // Pod, Secret or Node
	Name string
	UID  string
}

// Request describes a token to issue.
type Request struct {
	Namespace, ServiceAccount, ServiceAccountUID string
	Audiences                                    []string
	Expiration                                   time.Duration
	Bound                                        *BoundObject
	// NodeOfPod, for a pod-bound token, records the pod's node as Kubernetes does.
	NodeOfPod *BoundObject
	// WarnAfter, when set, is the age after which the token is reported
	// stale (the warnafter claim of kube-apiserver's extended tokens).
	WarnAfter time.Duration
}

// Signer issues tokens with one private key at a time. SetKey replaces
// the key for every token issued after it returns, so a rotated
// --service-account-signing-key-file takes effect without a restart.
type Signer struct {
	Issuer string
	Now    func() time.Time

	current atomic.Pointer[signingKey]
}

// signingKey is one key with what signing with it needs, swapped whole.
type signingKey struct {
	key    crypto.Signer
	signer jose.Signer
	alg    jose.SignatureAlgorithm
}

// NewSigner prepares a signer for key, which must be RSA or ECDSA.
func NewSigner(issuer string, key crypto.Signer) (*Signer, error) {
	s := &Signer{Issuer: issuer, Now: time.Now}
	if err := s.SetKey(key); err != nil {
		return nil, err
	}
	return s, nil
}

// SetKey makes key the one new tokens are signed with. On error the key
// in force stays.
func (s *Signer) SetKey(key crypto.Signer) error {
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return err
	}
	kid, err := KeyID(key.Public())
	if err != nil {
		return err
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return err
	}
	s.current.Store(&signingKey{key: key, signer: js, alg: alg})
	return nil
}

// Key is the private key new tokens are signed with.
func (s *Signer) Key() crypto.Signer { return s.current.Load().key }

// algorithmFor picks the JWS algorithm Kubernetes uses for a key type.
func algorithmFor(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	}
	return "", fmt.Errorf("unsupported service-account key type %T (want RSA or ECDSA)", pub)
}

// KeyID is the key's "kid", as Kubernetes computes it (pki.KeyID).
func KeyID(pub crypto.PublicKey) (string, error) { return pki.KeyID(pub) }

// Algorithm is the JWS algorithm of the signer.
func (s *Signer) Algorithm() string { return string(s.current.Load().alg) }

// Issue signs a bound token; it returns the token and when it expires.
func (s *Signer) Issue(r Request) (string, time.Time, error) {
	now := s.Now()
	exp := now.Add(r.Expiration)
	std := jwt.Claims{
		Issuer:    s.Issuer,
		Subject:   UserPrefix + r.Namespace + ":" + r.ServiceAccount,
		Audience:  jwt.Audience(r.Audiences),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(exp),
		ID:        string(uuid.NewUUID()),
	}
	kc := &kubernetesClaims{Namespace: r.Namespace, ServiceAccount: ref{Name: r.ServiceAccount, UID: r.ServiceAccountUID}}
	if r.WarnAfter > 0 {
		warn := now.Add(r.WarnAfter).Unix()
		kc.WarnAfter = &warn
	}
	if b := r.Bound; b != nil {
		switch b.Kind {
		case "Pod":
			kc.Pod = &ref{Name: b.Name, UID: b.UID}
			if n := r.NodeOfPod; n != nil {
				kc.Node = &ref{Name: n.Name, UID: n.UID}
			}
		case "Secret":
			kc.Secret = &ref{Name: b.Name, UID: b.UID}
		case "Node":
			kc.Node = &ref{Name: b.Name, UID: b.UID}
		default:
			return "", time.Time{}, fmt.Errorf("cannot bind a token to a %s", b.Kind)
		}
	}
	token, err := jwt.Signed(s.current.Load().signer).Claims(std).Claims(privateClaims{Kubernetes: kc}).Serialize()
	return token, exp, err
}

// IssueLegacy signs a token for a service-account token Secret. Legacy
// tokens never expire; they die with their Secret.
func (s *Signer) IssueLegacy(namespace, serviceAccount, serviceAccountUID, secretName string) (string, error) {
	std := jwt.Claims{Issuer: LegacyIssuer, Subject: UserPrefix + namespace + ":" + serviceAccount}
	pc := privateClaims{LegacyNamespace: namespace, LegacySecretName: secretName, LegacySAName: serviceAccount, LegacySAUID: serviceAccountUID}
	return jwt.Signed(s.current.Load().signer).Claims(std).Claims(pc).Serialize()
}

// JWKS renders public keys as a JSON Web Key Set for /openid/v1/jwks.
func JWKS(keys []crypto.PublicKey) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	for _, k := range keys {
		alg, err := algorithmFor(k)
		if err != nil {
			return set, err
		}
		kid, err := KeyID(k)
		if err != nil {
			return set, err
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(alg), Use: "sig"})
	}
	return set, nil
}

// splitUser parses system:serviceaccount:NS:NAME.
func splitUser(sub string) (ns, name string, err error) {
	rest, ok := strings.CutPrefix(sub, UserPrefix)
	if !ok {
		return "", "", errors.New("subject is not a service account")
	}
	ns, name, ok = strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" {
		return "", "", errors.New("malformed service-account subject")
	}
	return ns, name, nil
}
