package serviceaccount

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
)

// Lookup answers whether the objects a token names still exist, and with
// which UID. The API server answers from in-memory caches.
type Lookup interface {
	ServiceAccountUID(namespace, name string) (string, bool)
	PodUID(namespace, name string) (string, bool)
	NodeUID(name string) (string, bool)
	SecretUID(namespace, name string) (string, bool)
	// SecretToken returns data["token"] of a Secret.
	SecretToken(namespace, name string) ([]byte, bool)
}

// Authenticator verifies service-account tokens.
type Authenticator struct {
	// Keys verify signatures (--service-account-key-file) until SetKeys
	// replaces them.
	Keys []crypto.PublicKey
	// Issuers accepted for bound tokens (--service-account-issuer).
	Issuers []string
	// Audiences: a bound token must name at least one (--api-audiences).
	Audiences []string
	// Lookup, when set, rejects bound tokens whose service account or bound
	// object (pod, Secret, node) is gone or replaced. Kubernetes always
	// makes these checks for bound tokens.
	Lookup Lookup
	// LegacyLookup applies the same to legacy Secret tokens, and checks
	// that the Secret still holds the token (--service-account-lookup).
	LegacyLookup bool
	// Legacy accepts tokens from service-account token Secrets.
	Legacy bool
	Now    func() time.Time
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration

	keys atomic.Pointer[keySet]
	once sync.Once

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]*verified
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil)

// verified is what signature and claim checks established about a token.
type verified struct {
	namespace, name, uid string
	legacy               bool
	secret               string // legacy tokens: their Secret
	bound                *kubernetesClaims
	keys                 *keySet // the keys that verified it
	jti                  string
	expiry               time.Time // zero for legacy tokens
	audiences            []string
	user                 *authn.User
}

var signatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512}

const maxCache = 8192

// keySet is the verifying keys in force, replaced whole.
type keySet struct {
	list []crypto.PublicKey
	byID map[string]crypto.PublicKey
}

func newKeySet(keys []crypto.PublicKey) *keySet {
	ks := &keySet{list: slices.Clone(keys), byID: map[string]crypto.PublicKey{}}
	for _, k := range keys {
		if kid, err := KeyID(k); err == nil {
			ks.byID[kid] = k
		}
	}
	return ks
}

// SetKeys replaces the verifying keys. A token signed by a key no longer
// among them fails from the next request on, cached or not.
func (a *Authenticator) SetKeys(keys []crypto.PublicKey) {
	a.once.Do(a.init)
	a.keys.Store(newKeySet(keys))
}

func (a *Authenticator) init() {
	a.keys.Store(newKeySet(a.Keys))
	a.cache = map[[sha256.Size]byte]*verified{}
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Leeway == 0 {
		a.Leeway = time.Minute
	}
}

// AuthenticateToken implements authn.TokenAuthenticator. A token from
// another issuer is not ours (the OIDC authenticator may take it); one of
// ours that fails any check is an error.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authn.User, bool, error) {
	a.once.Do(a.init)
	now := a.Now()
	// Only verified tokens of ours are cached, so a hit needs no parsing.
	sum := sha256.Sum256([]byte(token))
	a.mu.RLock()
	v := a.cache[sum]
	a.mu.RUnlock()
	keys := a.keys.Load()
	if v == nil || v.keys != keys || (!v.expiry.IsZero() && now.After(v.expiry.Add(a.Leeway))) {
		iss, ok := authn.UnverifiedIssuer(token)
		if !ok || !(slices.Contains(a.Issuers, iss) || (a.Legacy && iss == LegacyIssuer)) {
			return nil, false, nil
		}
		var err error
		v, err = a.verify(token, iss, keys, now)
		if err != nil {
			reason := authn.ReasonTokenInvalid
			if errors.Is(err, errExpired) {
				reason = authn.ReasonTokenExpired
			}
			return nil, false, authn.Failf(reason, "service account token: %v", err)
		}
		a.mu.Lock()
		if len(a.cache) >= maxCache {
			clear(a.cache)
		}
		v.user = a.user(v)
		a.cache[sum] = v
		a.mu.Unlock()
	}
	if v.legacy && !a.Legacy {
		return nil, false, nil
	}
	if !v.legacy {
		want := authn.AudiencesFrom(ctx)
		if want == nil {
			want = a.Audiences
		}
		if !slices.ContainsFunc(want, func(w string) bool { return slices.Contains(v.audiences, w) }) {
			return nil, false, authn.Failf(authn.ReasonTokenAudience, "service account token: audience %v does not include any of %v", v.audiences, want)
		}
	}
	if err := a.lookup(v, token); err != nil {
		reason := authn.ReasonBoundObjectGone
		if _, ok := err.(accountGone); ok {
			reason = authn.ReasonServiceAccountGone
		}
		return nil, false, authn.Failf(reason, "service account token for %s/%s: %v", v.namespace, v.name, err)
	}
	// A token past its warnafter still works (kube-apiserver extends the
	// tokens kubelets request), and the audit event says it is stale.
	if v.bound != nil && v.bound.WarnAfter != nil && *v.bound.WarnAfter != 0 && now.Unix() > *v.bound.WarnAfter {
		audit.Annotate(ctx, AnnotationStaleToken, fmt.Sprintf("subject: %s%s:%s, seconds after warning threshold: %d",
			UserPrefix, v.namespace, v.name, now.Unix()-*v.bound.WarnAfter))
	}
	return v.user, true, nil
}

// AnnotationStaleToken is kube-apiserver's audit annotation of a token
// used after its warnafter.
const AnnotationStaleToken = "authentication.k8s.io/stale-token"

// claims are every claim a service-account token may carry, decoded in
// one pass with the standard library.
type claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	Expiry    *int64   `json:"exp"`
	NotBefore *int64   `json:"nbf"`
	IssuedAt  *int64   `json:"iat"`
	ID        string   `json:"jti"`
	privateClaims
}

// audience is a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// verify checks the signature and the claims of a token not yet cached.
func (a *Authenticator) verify(token, iss string, ks *keySet, now time.Time) (*verified, error) {
	jws, err := jose.ParseSignedCompact(token, signatureAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed or unsupported JWT: %v", err)
	}
	var keys []crypto.PublicKey
	if kid := jws.Signatures[0].Header.KeyID; kid != "" {
		k, ok := ks.byID[kid]
		if !ok {
			return nil, fmt.Errorf("unknown signing key id %q", kid)
		}
		keys = []crypto.PublicKey{k}
	} else {
		keys = ks.list
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify(k); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, errors.New("signature does not verify with any service-account key")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("malformed claims: %v", err)
	}
	v := &verified{jti: c.ID, keys: ks}
	if iss == LegacyIssuer {
		if c.LegacyNamespace == "" || c.LegacySAName == "" || c.LegacySecretName == "" {
			return nil, errors.New("legacy token lacks its service-account claims")
		}
		v.legacy, v.namespace, v.name, v.uid, v.secret = true, c.LegacyNamespace, c.LegacySAName, c.LegacySAUID, c.LegacySecretName
		return v, nil
	}
	if c.Expiry == nil {
		return nil, errors.New("bound token without an expiry")
	}
	exp := time.Unix(*c.Expiry, 0)
	switch {
	case now.After(exp.Add(a.Leeway)):
		return nil, fmt.Errorf("%w at %s", errExpired, exp.UTC().Format(time.RFC3339))
	case c.NotBefore != nil && now.Add(a.Leeway).Before(time.Unix(*c.NotBefore, 0)):
		return nil, errors.New("not valid yet (nbf is in the future)")
	case c.IssuedAt != nil && now.Add(a.Leeway).Before(time.Unix(*c.IssuedAt, 0)):
		return nil, errors.New("issued in the future")
	}
	if c.Kubernetes == nil {
		return nil, errors.New("token lacks the kubernetes.io claim")
	}
	ns, name, err := splitUser(c.Subject)
	if err != nil {
		return nil, err
	}
	if ns != c.Kubernetes.Namespace || name != c.Kubernetes.ServiceAccount.Name {
		return nil, errors.New("subject does not match the kubernetes.io claim")
	}
	v.namespace, v.name, v.uid, v.bound = ns, name, c.Kubernetes.ServiceAccount.UID, c.Kubernetes
	v.expiry, v.audiences = exp, c.Audience
	return v, nil
}

var errExpired = errors.New("expired")

// accountGone is a lookup failure of the service account itself, as
// opposed to an object the token is bound to.
type accountGone string

func (e accountGone) Error() string { return string(e) }

// lookup checks that what the token names still exists.
func (a *Authenticator) lookup(v *verified, token string) error {
	l := a.Lookup
	if l == nil || (v.legacy && !a.LegacyLookup) {
		return nil
	}
	uid, ok := l.ServiceAccountUID(v.namespace, v.name)
	switch {
	case !ok:
		return accountGone("the service account no longer exists")
	case v.uid != "" && uid != v.uid:
		return accountGone(fmt.Sprintf("the service account was recreated (uid %s, token for %s)", uid, v.uid))
	}
	if v.legacy {
		stored, ok := l.SecretToken(v.namespace, v.secret)
		if !ok {
			return fmt.Errorf("the token Secret %s no longer exists", v.secret)
		}
		if subtle.ConstantTimeCompare(stored, []byte(token)) != 1 {
			return fmt.Errorf("the token does not match the one in Secret %s", v.secret)
		}
		return nil
	}
	check := func(kind string, r *ref, get func() (string, bool)) error {
		if r == nil {
			return nil
		}
		uid, ok := get()
		if !ok {
			return fmt.Errorf("the bound %s %s has been deleted", kind, r.Name)
		}
		if r.UID != "" && uid != r.UID {
			return fmt.Errorf("the bound %s %s was replaced (uid %s, token for %s)", kind, r.Name, uid, r.UID)
		}
		return nil
	}
	b := v.bound
	if err := check("pod", b.Pod, func() (string, bool) { return l.PodUID(v.namespace, b.Pod.Name) }); err != nil {
		return err
	}
	if err := check("secret", b.Secret, func() (string, bool) { return l.SecretUID(v.namespace, b.Secret.Name) }); err != nil {
		return err
	}
	// A pod-bound token also names the pod's node; only a node-bound token
	// dies with its node.
	if b.Pod == nil {
		return check("node", b.Node, func() (string, bool) { return l.NodeUID(b.Node.Name) })
	}
	return nil
}

func (a *Authenticator) user(v *verified) *authn.User {
	u := &authn.User{
		Name:          UserPrefix + v.namespace + ":" + v.name,
		UID:           v.uid,
		Groups:        []string{GroupAll, GroupNamespacePrefix + v.namespace, authn.GroupAuthenticated},
		Authenticator: "service-account",
	}
	extra := map[string][]string{}
	if b := v.bound; b != nil {
		if b.Pod != nil {
			extra[ExtraPodName], extra[ExtraPodUID] = []string{b.Pod.Name}, []string{b.Pod.UID}
		}
		if b.Node != nil {
			extra[ExtraNodeName], extra[ExtraNodeUID] = []string{b.Node.Name}, []string{b.Node.UID}
		}
	}
	if v.jti != "" {
		extra[ExtraCredentialID] = []string{"JTI=" + v.jti}
	}
	if len(extra) > 0 {
		u.Extra = extra
	}
	return u
}
