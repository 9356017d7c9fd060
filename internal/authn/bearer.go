package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// MaxTokenBytes bounds a bearer token. Real tokens (JWTs with many groups
// included) stay far below it; anything longer is refused before any
// parsing, so an oversized token costs nothing.
const MaxTokenBytes = 64 << 10

// TokenAuthenticatorFunc adapts a function to TokenAuthenticator.
type TokenAuthenticatorFunc func(ctx context.Context, token string) (*User, bool, error)

// AuthenticateToken implements TokenAuthenticator.
func (f TokenAuthenticatorFunc) AuthenticateToken(ctx context.Context, token string) (*User, bool, error) {
	return f(ctx, token)
}

// TokenChain asks each token authenticator in order; the first valid
// answer wins and errors are collected.
type TokenChain []TokenAuthenticator

// AuthenticateToken implements TokenAuthenticator.
func (c TokenChain) AuthenticateToken(ctx context.Context, token string) (*User, bool, error) {
	var errs []error
	for _, a := range c {
		u, ok, err := a.AuthenticateToken(ctx, token)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return u, true, nil
		}
	}
	return nil, false, errors.Join(errs...)
}

// errInvalidToken is the cause logged for a bearer token nobody recognised.
var errInvalidToken = Fail(ReasonTokenUnknown, UnknownTokenMessage, errors.New("bearer token: not recognised by any token authenticator"))

// BearerToken authenticates the token in "Authorization: Bearer ...".
// A request that carries a token nobody accepts is invalid, not merely
// unrecognised: it must not fall through to anonymous access.
type BearerToken struct {
	Tokens TokenAuthenticator
}

// Authenticate implements Authenticator.
func (b *BearerToken) Authenticate(r *http.Request) (*User, bool, error) {
	token, ok := BearerTokenOf(r)
	if !ok {
		return nil, false, nil
	}
	if len(token) > MaxTokenBytes {
		return nil, false, Failf(ReasonTokenTooLarge, "bearer token: %d bytes, over the limit of %d", len(token), MaxTokenBytes)
	}
	u, ok, err := b.Tokens.AuthenticateToken(r.Context(), token)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, errInvalidToken
	}
	return u, true, nil
}

// BearerTokenOf returns the token of an "Authorization: Bearer" header.
func BearerTokenOf(r *http.Request) (string, bool) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// WithAnonymous lets requests without credentials through as
// system:anonymous. A request whose credentials are invalid still fails:
// only the absence of credentials is anonymous.
func WithAnonymous(inner Authenticator) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (*User, bool, error) {
		u, ok, err := inner.Authenticate(r)
		if ok || err != nil {
			return u, ok, err
		}
		return &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}, Authenticator: "anonymous"}, true, nil
	})
}
