package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAuthenticateToken covers the checks of a known token id. The token
// cleaner deletes expired Secrets as soon as they expire, so a server
// rarely shows the authenticator's own expiry check; here the clock is
// fixed and the Secret stays.
func TestAuthenticateToken(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	const secret = "0123456789abcdef"
	secrets := map[string]*corev1.Secret{}
	add := func(id string, data map[string]string) string {
		d := map[string][]byte{"token-id": []byte(id), "token-secret": []byte(secret)}
		for k, v := range data {
			d[k] = []byte(v)
		}
		secrets["bootstrap-token-"+id] = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: metav1.NamespaceSystem},
			Type:       corev1.SecretTypeBootstrapToken, Data: d,
		}
		return id + "." + secret
	}
	a := &Authenticator{
		Secrets: func(ns, name string) (*corev1.Secret, bool) {
			s, ok := secrets[name]
			return s, ok && ns == metav1.NamespaceSystem
		},
		Now: func() time.Time { return now },
	}
	auth := "usage-bootstrap-authentication"
	cases := []struct {
		name  string
		token string
		ok    bool
		err   string // "" with !ok: not ours
	}{
		{"valid", add("valid1", map[string]string{auth: "true", "auth-extra-groups": "system:bootstrappers:workers"}), true, ""},
		{"expires in a second", add("later1", map[string]string{auth: "true", "expiration": now.Add(time.Second).Format(time.RFC3339)}), true, ""},
		{"expired a second ago", add("past01", map[string]string{auth: "true", "expiration": now.Add(-time.Second).Format(time.RFC3339)}), false,
			"bootstrap token past01: expired at 2030-01-02T03:04:04Z"},
		{"expiration not RFC 3339", add("badexp", map[string]string{auth: "true", "expiration": "tomorrow"}), false, "is not RFC 3339"},
		{"signing only", add("nouse1", map[string]string{"usage-bootstrap-signing": "true"}), false, "bootstrap token nouse1: not usable for authentication"},
		{"usage not exactly true", add("nouse2", map[string]string{auth: "True"}), false, "not usable for authentication"},
		{"extra group system:masters", add("grp001", map[string]string{auth: "true", "auth-extra-groups": "system:bootstrappers:a,system:masters"}), false,
			`bootstrap token grp001: group "system:masters": bootstrap token groups must match`},
		{"extra group ends with a colon", add("grp002", map[string]string{auth: "true", "auth-extra-groups": "system:bootstrappers:"}), false, "must match"},
		{"wrong secret", "valid1.ffffffffffffffff", false, "bootstrap token valid1: wrong secret"},
		{"unknown id", "nobody.0123456789abcdef", false, ""},
		{"not a bootstrap token", "valid1-0123456789abcdef", false, ""},
	}
	for _, c := range cases {
		u, ok, err := a.AuthenticateToken(context.Background(), c.token)
		switch {
		case ok != c.ok:
			t.Errorf("%s: ok=%v err=%v, want ok=%v", c.name, ok, err, c.ok)
		case c.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		case !ok && u != nil:
			t.Errorf("%s: refused, yet returned user %+v", c.name, u)
		}
	}
	u, _, _ := a.AuthenticateToken(context.Background(), "valid1."+secret)
	if u == nil || u.Name != "system:bootstrap:valid1" || strings.Join(u.Groups, ",") != "system:bootstrappers,system:bootstrappers:workers,system:authenticated" {
		t.Errorf("valid token: %+v", u)
	}
}
