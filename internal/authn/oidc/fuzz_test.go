package oidc

import (
	"context"
	"encoding/base64"
	"slices"
	"testing"
)

// FuzzParseConfig feeds AuthenticationConfiguration files to ParseConfig:
// nothing panics, and the same file always gives the same answer.
func FuzzParseConfig(f *testing.F) {
	is := newIssuer(f)
	f.Add(config(is, ""))
	f.Add(config(is, "    claimMappings:\n      username:\n        claim: sub\n        prefix: 'x:'"))
	f.Add([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt: []\n"))
	f.Add([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer: {url: 'http://x', audiences: [a]}\n  claimMappings: {username: {expression: 'claims.sub +'}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		first, err1 := ParseConfig(data)
		second, err2 := ParseConfig(data)
		if (err1 == nil) != (err2 == nil) || len(first) != len(second) {
			t.Fatalf("two parses disagree: %v / %v", err1, err2)
		}
		if err1 != nil && err1.Error() != err2.Error() {
			t.Fatalf("two parses give different errors:\n%v\n%v", err1, err2)
		}
	})
}

// FuzzAuthenticateToken feeds tokens to an authenticator for a live test
// issuer. Nothing panics, and nothing authenticates unless it carries the
// issuer's signature over the seed's claims: an accepted token's user is
// exactly the seed's.
func FuzzAuthenticateToken(f *testing.F) {
	is := newIssuer(f)
	a := New(nil)
	if err := a.Load(config(is, ""), true); err != nil {
		f.Fatal(err)
	}
	good := is.sign(f, is.claims(nil))
	want, ok, err := a.AuthenticateToken(context.Background(), good)
	if !ok || err != nil {
		f.Fatalf("the seed token does not authenticate: %v", err)
	}
	f.Add(good)
	f.Add(is.sign(f, is.claims(map[string]any{"email_verified": false})))
	f.Add(is.sign(f, is.claims(map[string]any{"aud": "someone-else"})))
	f.Add("eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+is.srv.URL+`","aud":"kubernetes","sub":"x"}`)) + ".")
	f.Fuzz(func(t *testing.T, token string) {
		u, ok, err := a.AuthenticateToken(context.Background(), token)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("authenticated with an error: %v", err)
		}
		if u.Name != want.Name || u.UID != want.UID || !slices.Equal(u.Groups, want.Groups) {
			t.Fatalf("token %q authenticated as %+v", token, u)
		}
	})
}
