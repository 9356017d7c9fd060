package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sekisho/sekisho/internal/authn"
)

// Authenticator verifies JWTs from the configured issuers. The set of
// issuers can be replaced while running (a reloaded configuration file).
type Authenticator struct {
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
	Now    func() time.Time

	issuers atomic.Pointer[[]*issuerConfig]

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]cachedUser
}

type cachedUser struct {
	user    *authn.User
	expires time.Time
	issuers *[]*issuerConfig // the configuration that vouched for it
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil)

const maxCache = 8192

// New returns an authenticator for the compiled issuers.
func New(issuers []*issuerConfig) *Authenticator {
	a := &Authenticator{Leeway: time.Minute}
	a.Set(issuers)
	return a
}

// Set replaces the issuers (after a configuration reload).
func (a *Authenticator) Set(issuers []*issuerConfig) {
	a.issuers.Store(&issuers)
	a.mu.Lock()
	a.cache = map[[sha256.Size]byte]cachedUser{}
	a.mu.Unlock()
}

// Load is a reload.Loader for an AuthenticationConfiguration file.
func (a *Authenticator) Load(data []byte, exists bool) error {
	if !exists {
		return errors.New("the authentication configuration does not exist")
	}
	issuers, err := ParseConfig(data)
	if err != nil {
		return err
	}
	a.Set(issuers)
	return nil
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// AuthenticateToken implements authn.TokenAuthenticator. A token from an
// issuer that is not configured is not ours; one from a configured
// issuer that fails any check is an error.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authn.User, bool, error) {
	issuers := a.issuers.Load()
	now := a.now()
	sum := sha256.Sum256([]byte(token))
	a.mu.RLock()
	c, hit := a.cache[sum]
	a.mu.RUnlock()
	if hit && c.issuers == issuers && now.Before(c.expires) {
		return c.user, true, nil
	}
	iss, ok := authn.UnverifiedIssuer(token)
	if !ok {
		return nil, false, nil
	}
	idx := slices.IndexFunc(*issuers, func(c *issuerConfig) bool { return c.issuer == iss })
	if idx < 0 {
		return nil, false, nil
	}
	u, exp, err := (*issuers)[idx].authenticate(ctx, token, now, a.Leeway)
	if err != nil {
		reason := authn.ReasonTokenClaimsRejected
		var re reasonError
		if errors.As(err, &re) {
			reason = re.reason
		}
		return nil, false, authn.Fail(reason, fmt.Sprintf("oidc %s: %v", iss, err), fmt.Errorf("oidc %s: %w", iss, err))
	}
	a.mu.Lock()
	if len(a.cache) >= maxCache {
		clear(a.cache)
	}
	a.cache[sum] = cachedUser{user: u, expires: exp, issuers: issuers}
	a.mu.Unlock()
	return u, true, nil
}

// authenticate verifies one token against this issuer and maps its claims
// to a user. It returns the user and when the token expires.
func (c *issuerConfig) authenticate(ctx context.Context, token string, now time.Time, leeway time.Duration) (*authn.User, time.Time, error) {
	jws, err := jose.ParseSignedCompact(token, c.algs)
	if err != nil {
		return nil, time.Time{}, reasonError{authn.ReasonTokenInvalid, fmt.Errorf("malformed JWT or a signature algorithm that is not accepted: %v", err)}
	}
	keys, err := c.keys.lookup(ctx, jws.Signatures[0].Header.KeyID)
	if err != nil {
		return nil, time.Time{}, err
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify(k.Key); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, time.Time{}, reasonError{authn.ReasonTokenInvalid, errors.New("signature does not verify with the issuer's keys")}
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, time.Time{}, fmt.Errorf("malformed claims: %v", err)
	}
	exp, err := c.checkTimes(claims, now, leeway)
	if err != nil {
		return nil, time.Time{}, err
	}
	if got, _ := claims["iss"].(string); got != c.issuer {
		return nil, time.Time{}, fmt.Errorf("issuer %q is not %q", got, c.issuer)
	}
	if auds := audiences(claims["aud"]); !slices.ContainsFunc(c.audiences, func(a string) bool { return slices.Contains(auds, a) }) {
		return nil, time.Time{}, reasonError{authn.ReasonTokenAudience, fmt.Errorf("audience %v does not include any of %v", auds, c.audiences)}
	}
	vars := map[string]any{"claims": jsonToCEL(claims)}
	for _, r := range c.claimRules {
		if r.expr == nil {
			if v, _ := claims[r.claim].(string); v != r.required {
				return nil, time.Time{}, fmt.Errorf("claim %q is %q, want %q", r.claim, v, r.required)
			}
			continue
		}
		ok, err := r.expr.evalBool(vars)
		if err != nil {
			return nil, time.Time{}, err
		}
		if !ok {
			return nil, time.Time{}, fmt.Errorf("claim validation failed: %s", ruleMessage(r))
		}
	}
	u, err := c.mapUser(claims, vars)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(c.userRules) > 0 {
		uvars := map[string]any{"user": map[string]any{"username": u.Name, "uid": u.UID, "groups": u.Groups, "extra": u.Extra}}
		for _, r := range c.userRules {
			ok, err := r.expr.evalBool(uvars)
			if err != nil {
				return nil, time.Time{}, err
			}
			if !ok {
				return nil, time.Time{}, fmt.Errorf("user validation failed: %s", ruleMessage(r))
			}
		}
	}
	return u, exp, nil
}

func ruleMessage(r claimRule) string {
	if r.message != "" {
		return r.message
	}
	return r.expr.source
}

// checkTimes checks exp (required), nbf and iat, with leeway.
func (c *issuerConfig) checkTimes(claims map[string]any, now time.Time, leeway time.Duration) (time.Time, error) {
	num := func(name string) (time.Time, bool, error) {
		v, ok := claims[name]
		if !ok {
			return time.Time{}, false, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return time.Time{}, true, fmt.Errorf("claim %q is not a number", name)
		}
		f, err := n.Float64()
		if err != nil {
			return time.Time{}, true, fmt.Errorf("claim %q: %v", name, err)
		}
		return time.Unix(int64(f), 0), true, nil
	}
	exp, ok, err := num("exp")
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, errors.New("the token has no exp claim")
	}
	if now.After(exp.Add(leeway)) {
		return time.Time{}, reasonError{authn.ReasonTokenExpired, fmt.Errorf("expired at %s", exp.UTC().Format(time.RFC3339))}
	}
	if nbf, ok, err := num("nbf"); err != nil {
		return time.Time{}, err
	} else if ok && now.Add(leeway).Before(nbf) {
		return time.Time{}, fmt.Errorf("not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, ok, err := num("iat"); err != nil {
		return time.Time{}, err
	} else if ok && now.Add(leeway).Before(iat) {
		return time.Time{}, fmt.Errorf("issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	return exp, nil
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mapUser applies the claim mappings.
func (c *issuerConfig) mapUser(claims map[string]any, vars map[string]any) (*authn.User, error) {
	u := &authn.User{Authenticator: "oidc"}
	var err error
	if c.username.expr != nil {
		if u.Name, err = c.username.expr.evalString(vars); err != nil {
			return nil, err
		}
	} else {
		v, ok := claims[c.username.claim].(string)
		if !ok || v == "" {
			return nil, fmt.Errorf("claim %q is missing or not a string", c.username.claim)
		}
		if c.usernameIsEmail {
			if ev, present := claims["email_verified"]; present {
				if b, _ := ev.(bool); !b {
					return nil, errors.New("email_verified is not true, so the email cannot be the user name")
				}
			}
		}
		u.Name = c.username.prefix + v
	}
	if u.Name == "" {
		return nil, errors.New("the user name is empty")
	}
	if c.groups.expr != nil {
		if u.Groups, err = c.groups.expr.evalStrings(vars); err != nil {
			return nil, err
		}
	} else if c.groups.claim != "" {
		switch g := claims[c.groups.claim].(type) {
		case string:
			u.Groups = []string{c.groups.prefix + g}
		case []any:
			for _, x := range g {
				if s, ok := x.(string); ok {
					u.Groups = append(u.Groups, c.groups.prefix+s)
				}
			}
		case nil:
		default:
			return nil, fmt.Errorf("claim %q is neither a string nor a list of strings", c.groups.claim)
		}
	}
	if c.uid.expr != nil {
		if u.UID, err = c.uid.expr.evalString(vars); err != nil {
			return nil, err
		}
	} else if c.uid.claim != "" {
		u.UID, _ = claims[c.uid.claim].(string)
	}
	for _, x := range c.extra {
		vals, err := x.expr.evalStrings(vars)
		if err != nil {
			return nil, err
		}
		if len(vals) > 0 {
			if u.Extra == nil {
				u.Extra = map[string][]string{}
			}
			u.Extra[x.key] = vals
		}
	}
	u.Groups = append(u.Groups, authn.GroupAuthenticated)
	return u, nil
}

// jsonToCEL turns json.Number values into int64 or float64 so CEL sees
// ordinary numbers.
func jsonToCEL(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = jsonToCEL(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = jsonToCEL(val)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// reasonError tags a refusal with its reason for the token's holder.
type reasonError struct {
	reason authn.FailureReason
	err    error
}

func (e reasonError) Error() string { return e.err.Error() }
func (e reasonError) Unwrap() error { return e.err }
