package serviceaccount

import (
	"context"
	"slices"
	"testing"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/pki"
)

// FuzzAuthenticateToken feeds bearer tokens (JWT header, claims and
// signature, well-formed or not) to the service-account authenticator. No
// input panics, and no input authenticates unless it carries the signature
// of a token the signer issued: whatever else a mutated token says, if it
// is accepted its user is exactly the issued token's.
func FuzzAuthenticateToken(f *testing.F) {
	s, a, _ := setup(f, pki.ECDSAP256)
	good, _, err := s.Issue(request(&BoundObject{Kind: "Pod", Name: "web", UID: "pod-uid"}))
	if err != nil {
		f.Fatal(err)
	}
	legacy, err := s.IssueLegacy("team", "builder", "sa-uid", "bound")
	if err != nil {
		f.Fatal(err)
	}
	want, ok, err := a.AuthenticateToken(context.Background(), good)
	if !ok || err != nil {
		f.Fatalf("the seed token does not authenticate: %v", err)
	}
	f.Add(good)
	f.Add(legacy)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2t1YmVybmV0ZXMuZGVmYXVsdC5zdmMuY2x1c3Rlci5sb2NhbCJ9.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		authn.UnverifiedIssuer(token) // must not panic on anything
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
