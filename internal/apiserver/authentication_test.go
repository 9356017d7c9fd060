package apiserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// TestAuthorizationHeaderConsumed checks, through the whole filter chain,
// that the Authorization header is gone once authentication has used it:
// the handler that serves the request (and anything it forwards the
// request to) never sees the credential. Other headers are left alone.
func TestAuthorizationHeaderConsumed(t *testing.T) {
	const token = "Bearer secret-token-0123456789"
	var authnSaw []string
	authenticator := authn.AuthenticatorFunc(func(r *http.Request) (*authn.User, bool, error) {
		authnSaw = append(authnSaw, r.Header.Get("Authorization"))
		switch r.Header.Get("Authorization") {
		case token:
			return &authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}}, true, nil
		case "":
			return nil, false, nil
		}
		return nil, false, errors.New("bad token")
	})
	allow := authz.AuthorizerFunc(func(context.Context, authz.Attributes) (authz.Decision, string, error) {
		return authz.Allow, "", nil
	})

	type seen struct {
		called        bool
		authorization []string
		impersonate   string
		other         string
		user          string
	}
	var got seen
	probe := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{called: true, authorization: r.Header.Values("Authorization"),
			impersonate: r.Header.Get("Impersonate-User"), other: r.Header.Get("X-Other")}
		if u := authn.UserFrom(r.Context()); u != nil {
			got.user = u.Name
		}
		w.WriteHeader(http.StatusNoContent)
	})
	reg, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		Catalog: reg, Writer: allowAll(t, store.NewStore(nil)), Authenticator: authenticator, Authorizer: allow,
		Paths:  map[string]http.Handler{"/probe": probe},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(headers map[string]string) int {
		got, authnSaw = seen{}, nil
		r := httptest.NewRequest("GET", "/probe", nil)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w.Code
	}

	// A consumed token: the authenticator saw it, the handler does not.
	if code := serve(map[string]string{"Authorization": token, "X-Other": "kept"}); code != http.StatusNoContent {
		t.Fatalf("valid token: %d", code)
	}
	if len(authnSaw) != 1 || authnSaw[0] != token {
		t.Errorf("the authenticator saw %q, want the token", authnSaw)
	}
	if !got.called || got.user != "alice" {
		t.Fatalf("the handler was not reached as alice: %+v", got)
	}
	if len(got.authorization) != 0 {
		t.Errorf("the handler after authentication sees Authorization %q", got.authorization)
	}
	if got.other != "kept" {
		t.Errorf("another header was dropped: X-Other=%q", got.other)
	}

	// The same when the request impersonates: the headers the handler
	// sees carry neither the credential nor the impersonation.
	if code := serve(map[string]string{"Authorization": token, "Impersonate-User": "bob"}); code != http.StatusNoContent {
		t.Fatalf("impersonating: %d", code)
	}
	if got.user != "bob" || len(got.authorization) != 0 || got.impersonate != "" {
		t.Errorf("impersonating: the handler saw %+v", got)
	}

	// A refused token never reaches the handler.
	if code := serve(map[string]string{"Authorization": "Bearer wrong"}); code != http.StatusUnauthorized || got.called {
		t.Errorf("invalid token: %d, handler called %v", code, got.called)
	}
}
