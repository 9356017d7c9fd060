package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// TestAuthenticationDiagnosis: the holder of a refused credential, and an
// administrator, learn why it was refused; nobody else learns anything,
// not even whether the Audit-Id exists.
func TestAuthenticationDiagnosis(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	authenticator := authn.AuthenticatorFunc(func(r *http.Request) (*authn.User, bool, error) {
		switch tok, _ := authn.BearerTokenOf(r); tok {
		case "":
			return nil, false, nil
		case "admin-token":
			return &authn.User{Name: "admin"}, true, nil
		case "alice-token":
			return &authn.User{Name: "alice"}, true, nil
		case "revoked-token":
			return nil, false, authn.Fail(authn.ReasonTokenExpired, "the token expired at noon", errors.New("precise: token id 42 expired at 12:00 (secret cause)"))
		}
		return nil, false, errors.New("plain failure without an explanation")
	})
	allowAdmin := authz.AuthorizerFunc(func(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
		if a.User.Name == "admin" {
			return authz.Allow, "", nil
		}
		return authz.NoOpinion, "", nil
	})
	reg, _ := catalog.New()
	s, err := New(Config{Catalog: reg, Writer: allowAll(t, store.NewStore(nil)), Authenticator: authenticator, Authorizer: allowAdmin,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	do := func(path, token string) (int, string, string) {
		r := httptest.NewRequest("GET", path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w.Code, w.Body.String(), w.Header().Get("Audit-Id")
	}
	code, unauthorizedBody, id := do("/api/v1/namespaces", "revoked-token")
	if code != 401 || id == "" {
		t.Fatalf("refused request: %d, Audit-Id %q", code, id)
	}
	_, _, plainID := do("/api/v1/namespaces", "garbage-token")

	// The holder reads the message, not the precise cause.
	code, body, _ := do(DiagnosisPathPrefix+id, "revoked-token")
	var d AuthenticationDiagnosis
	if code != 200 || json.Unmarshal([]byte(body), &d) != nil || d.Reason != authn.ReasonTokenExpired ||
		d.Message != "the token expired at noon" || d.Cause != "" || d.Kind != "AuthenticationDiagnosis" || d.AuditID != id {
		t.Fatalf("holder: %d %s", code, body)
	}
	if strings.Contains(body, "secret cause") {
		t.Fatalf("the holder read the precise cause: %s", body)
	}
	// A failure without an explanation discloses nothing specific.
	code, body, _ = do(DiagnosisPathPrefix+plainID, "garbage-token")
	if code != 200 || !strings.Contains(body, `"reason":"Unknown"`) || strings.Contains(body, "plain failure") {
		t.Fatalf("unexplained failure: %d %s", code, body)
	}
	// An administrator reads every refusal, with its cause.
	code, body, _ = do(DiagnosisPathPrefix+id, "admin-token")
	if code != 200 || !strings.Contains(body, "secret cause") {
		t.Fatalf("administrator: %d %s", code, body)
	}
	if code, _, _ := do(DiagnosisPathPrefix+"no-such-id", "admin-token"); code != 404 {
		t.Errorf("administrator, unknown id: %d", code)
	}
	// Everyone else gets the 401 of a failed authentication, whether the
	// id exists or not.
	for _, c := range []struct{ who, path, token string }{
		{"another bad token", DiagnosisPathPrefix + id, "garbage-token"},
		{"no credential", DiagnosisPathPrefix + id, ""},
		{"an authenticated non-administrator", DiagnosisPathPrefix + id, "alice-token"},
		{"the holder, an unknown id", DiagnosisPathPrefix + "no-such-id", "revoked-token"},
		{"the holder, another's id", DiagnosisPathPrefix + plainID, "revoked-token"},
	} {
		code, body, _ := do(c.path, c.token)
		if code != 401 || body != unauthorizedBody {
			t.Errorf("%s: %d %s, want exactly the 401 of authentication", c.who, code, body)
		}
	}
	// Records expire.
	now = now.Add(failureTTL + time.Second)
	if code, _, _ := do(DiagnosisPathPrefix+id, "revoked-token"); code != 401 {
		t.Errorf("an expired record: %d", code)
	}
}

// TestFailureLogRing: the log keeps the newest failureLogSize records.
func TestFailureLogRing(t *testing.T) {
	l := newFailureLog()
	now := time.Now()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer t")
	fp, _ := credentialFingerprint(r)
	for i := range failureLogSize + 10 {
		l.record(string(rune('a'+i%26))+strings.Repeat("x", i), r, errors.New("x"), now)
	}
	if len(l.byKey) != failureLogSize {
		t.Errorf("%d records kept, want %d", len(l.byKey), failureLogSize)
	}
	if l.lookup("a", fp, false, now) != nil {
		t.Error("the oldest record was not evicted")
	}
	newest := string(rune('a'+(failureLogSize+9)%26)) + strings.Repeat("x", failureLogSize+9)
	if l.lookup(newest, fp, false, now) == nil {
		t.Error("the newest record is missing")
	}
	// A request without credentials is not recorded.
	l.record("none", httptest.NewRequest("GET", "/", nil), errors.New("x"), now)
	if l.lookup("none", [32]byte{}, true, now) != nil {
		t.Error("a request without credentials was recorded")
	}
}
