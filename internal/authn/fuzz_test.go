package authn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzBearerToken feeds Authorization headers to the bearer authenticator
// in front of a token authenticator that knows one token. Nothing panics,
// and a request authenticates only when the header carries exactly that
// token after "Bearer", in any case, with surrounding spaces.
func FuzzBearerToken(f *testing.F) {
	const secret = "0123456789abcdef.fedcba9876543210"
	for _, h := range []string{"Bearer " + secret, "bearer  " + secret + " ", "Basic " + secret, "Bearer", "Bearer " + secret + "x", "Bearer \x00" + secret, ""} {
		f.Add(h)
	}
	known := TokenAuthenticatorFunc(func(_ context.Context, token string) (*User, bool, error) {
		if subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1 {
			return &User{Name: "alice"}, true, nil
		}
		return nil, false, nil
	})
	a := &BearerToken{Tokens: known}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header["Authorization"] = []string{header}
		u, ok, err := a.Authenticate(r)
		scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
		valid := strings.EqualFold(scheme, "bearer") && strings.TrimSpace(rest) == secret
		if ok != valid || (ok && (u.Name != "alice" || err != nil)) {
			t.Fatalf("header %q: ok=%v user=%v err=%v, valid=%v", header, ok, u, err, valid)
		}
		// A token of no one's, or a header of another scheme, never falls
		// through to anonymous: only no bearer header at all does.
		if token, has := BearerTokenOf(r); has && !valid {
			if _, ok, err := WithAnonymous(a).Authenticate(r); ok || err == nil {
				t.Fatalf("header %q (token %q) was let through as anonymous", header, token)
			}
		}
	})
}

// FuzzUnverifiedIssuer: reading the issuer of any string never panics, and
// a token built around an issuer reads back that issuer.
func FuzzUnverifiedIssuer(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzc3VlciJ9.c2ln", "https://issuer")
	f.Add("a.b.c", "")
	f.Add("..", "x")
	f.Fuzz(func(t *testing.T, token, issuer string) {
		UnverifiedIssuer(token)
		claims, _ := json.Marshal(map[string]string{"iss": issuer})
		built := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".sig"
		got, ok := UnverifiedIssuer(built)
		// JSON cannot carry invalid UTF-8: Marshal replaced it.
		var want struct{ Iss string }
		json.Unmarshal(claims, &want)
		if !ok || got != want.Iss {
			t.Fatalf("issuer %q read back as %q (%v)", issuer, got, ok)
		}
	})
}
