package bootstrap

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/bootstraptoken"
)

// FuzzAuthenticateToken feeds bearer tokens to the bootstrap token
// authenticator, which knows one valid token. Nothing panics, the token
// format parses and prints back the same, and nothing but exactly that
// token authenticates.
func FuzzAuthenticateToken(f *testing.F) {
	const id, secret = "abcdef", "0123456789abcdef"
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: metav1.NamespaceSystem},
		Type:       corev1.SecretTypeBootstrapToken,
		Data: map[string][]byte{"token-id": []byte(id), "token-secret": []byte(secret),
			"usage-bootstrap-authentication": []byte("true"), "auth-extra-groups": []byte("system:bootstrappers:workers")},
	}
	a := &Authenticator{
		Secrets: func(ns, name string) (*corev1.Secret, bool) {
			return s, ns == metav1.NamespaceSystem && name == s.Name
		},
		Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for _, tok := range []string{id + "." + secret, id + "." + secret[:15] + "x", "ABCDEF." + secret, id + ".." + secret, id + "." + secret + " ", ""} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if pid, psecret, ok := bootstraptoken.Parse(token); ok {
			if (bootstraptoken.Token{ID: pid, Secret: psecret}).String() != token {
				t.Fatalf("%q parses to %q.%q, which prints differently", token, pid, psecret)
			}
		}
		u, ok, err := a.AuthenticateToken(context.Background(), token)
		if ok != (token == id+"."+secret) {
			t.Fatalf("token %q: authenticated=%v (%v, %v)", token, ok, u, err)
		}
		if ok && u.Name != "system:bootstrap:"+id {
			t.Fatalf("authenticated as %q", u.Name)
		}
	})
}
