// Package bootstrap authenticates bootstrap tokens against their
// kube-system Secrets.
package bootstrap

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/bootstraptoken"
)

// SecretGetter reads a Secret from the cache.
type SecretGetter func(namespace, name string) (*corev1.Secret, bool)

// Authenticator authenticates bootstrap tokens.
type Authenticator struct {
	Secrets SecretGetter
	Now     func() time.Time
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil)

// AuthenticateToken implements authn.TokenAuthenticator. A token that is
// not in bootstrap format, or whose id has no Secret, is not ours; a known
// id with a wrong secret, an expired token, or one not meant for
// authentication is refused.
func (a *Authenticator) AuthenticateToken(_ context.Context, token string) (*authn.User, bool, error) {
	id, secret, ok := bootstraptoken.Parse(token)
	if !ok {
		return nil, false, nil
	}
	s, ok := a.Secrets(metav1.NamespaceSystem, bootstraptoken.SecretPrefix+id)
	if !ok || s.Type != corev1.SecretTypeBootstrapToken || s.DeletionTimestamp != nil {
		return nil, false, nil
	}
	t, err := bootstraptoken.FromSecret(s)
	if err != nil {
		return nil, false, authn.Fail(authn.ReasonTokenUnknown, authn.UnknownTokenMessage, fmt.Errorf("bootstrap token %s: %v", id, err))
	}
	if subtle.ConstantTimeCompare([]byte(t.Secret), []byte(secret)) != 1 {
		// The holder is told what an unknown id gets: nothing that says
		// this id exists.
		return nil, false, authn.Fail(authn.ReasonTokenUnknown, authn.UnknownTokenMessage, fmt.Errorf("bootstrap token %s: wrong secret", id))
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if t.Expired(now) {
		return nil, false, authn.Failf(authn.ReasonTokenExpired, "bootstrap token %s: expired at %s", id, t.Expiration.UTC().Format(time.RFC3339))
	}
	if !t.Has(bootstraptoken.UsageAuthentication) {
		return nil, false, authn.Failf(authn.ReasonTokenNotForAuthn, "bootstrap token %s: not usable for authentication", id)
	}
	if err := bootstraptoken.ValidateGroups(t.Groups); err != nil {
		return nil, false, authn.Failf(authn.ReasonTokenInvalid, "bootstrap token %s: %v", id, err)
	}
	groups := append([]string{bootstraptoken.GroupBootstrappers}, t.Groups...)
	return &authn.User{
		Name:          bootstraptoken.UserPrefix + id,
		Groups:        append(groups, authn.GroupAuthenticated),
		Authenticator: "bootstrap-token",
	}, true, nil
}
