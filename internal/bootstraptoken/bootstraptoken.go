// Package bootstraptoken defines bootstrap tokens, the short-lived shared
// secrets nodes use to join a cluster: their format, and how they are kept
// in kube-system Secrets of type bootstrap.kubernetes.io/token.
package bootstraptoken

import (
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Secret layout, as Kubernetes defines it.
const (
	SecretPrefix          = "bootstrap-token-"
	KeyID                 = "token-id"
	KeySecret             = "token-secret"
	KeyExpiration         = "expiration"
	KeyDescription        = "description"
	KeyExtraGroups        = "auth-extra-groups"
	UsagePrefix           = "usage-bootstrap-"
	UsageAuthentication   = "authentication"
	UsageSigning          = "signing"
	UserPrefix            = "system:bootstrap:"
	GroupBootstrappers    = "system:bootstrappers"
	DefaultExtraGroup     = "system:bootstrappers:kubeadm:default-node-token"
	ClusterInfoConfigMap  = "cluster-info"
	JWSKeyPrefix          = "jws-kubeconfig-"
	ClusterInfoKubeconfig = "kubeconfig"
	// AnnotationJoinedNodes, on a token's Secret, lists the nodes whose
	// kubelet client certificate request, made with the token, sekisho
	// approved: the trail `sekisho token revoke-joined` follows after the
	// requests themselves are cleaned up.
	AnnotationJoinedNodes = "sekisho.io/joined-nodes"
)

var (
	tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	groupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

// Parse splits a token into its id and secret; ok is false when it is
// not a bootstrap token at all.
func Parse(token string) (id, secret string, ok bool) {
	m := tokenRE.FindStringSubmatch(token)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		// 256 is not a multiple of 36; reject the top values to avoid bias.
		for b[i] >= 252 {
			if _, err := rand.Read(b[i : i+1]); err != nil {
				return "", err
			}
		}
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// Token is a bootstrap token and its settings.
type Token struct {
	ID, Secret  string
	Expiration  *time.Time
	Usages      []string
	Groups      []string
	Description string
}

// String is the token as a client presents it.
func (t Token) String() string { return t.ID + "." + t.Secret }

// Generate makes a new random token.
func Generate() (Token, error) {
	id, err := randomString(6)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(16)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: id, Secret: secret}, nil
}

// ValidateGroups checks extra groups, which must be system:bootstrappers:... .
func ValidateGroups(groups []string) error {
	for _, g := range groups {
		if !groupRE.MatchString(g) {
			return fmt.Errorf("group %q: bootstrap token groups must match %s", g, groupRE)
		}
	}
	return nil
}

// ValidateUsages checks usages: authentication and signing.
func ValidateUsages(usages []string) error {
	for _, u := range usages {
		if u != UsageAuthentication && u != UsageSigning {
			return fmt.Errorf("usage %q: want %s or %s", u, UsageAuthentication, UsageSigning)
		}
	}
	return nil
}

// ToSecret renders the token as its kube-system Secret.
func (t Token) ToSecret() *corev1.Secret {
	data := map[string][]byte{KeyID: []byte(t.ID), KeySecret: []byte(t.Secret)}
	if t.Expiration != nil {
		data[KeyExpiration] = []byte(t.Expiration.UTC().Format(time.RFC3339))
	}
	for _, u := range t.Usages {
		data[UsagePrefix+u] = []byte("true")
	}
	if len(t.Groups) > 0 {
		data[KeyExtraGroups] = []byte(strings.Join(t.Groups, ","))
	}
	if t.Description != "" {
		data[KeyDescription] = []byte(t.Description)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretPrefix + t.ID, Namespace: metav1.NamespaceSystem},
		Type:       corev1.SecretTypeBootstrapToken,
		Data:       data,
	}
}

// FromSecret reads a bootstrap token Secret.
func FromSecret(s *corev1.Secret) (Token, error) {
	if s.Type != corev1.SecretTypeBootstrapToken || s.Namespace != metav1.NamespaceSystem {
		return Token{}, errors.New("not a bootstrap token Secret")
	}
	t := Token{ID: string(s.Data[KeyID]), Secret: string(s.Data[KeySecret]), Description: string(s.Data[KeyDescription])}
	if s.Name != SecretPrefix+t.ID {
		return Token{}, fmt.Errorf("Secret %s holds token id %q, which does not match its name", s.Name, t.ID)
	}
	if _, _, ok := Parse(t.String()); !ok {
		return Token{}, fmt.Errorf("Secret %s holds a malformed token", s.Name)
	}
	if exp := s.Data[KeyExpiration]; len(exp) > 0 {
		e, err := time.Parse(time.RFC3339, string(exp))
		if err != nil {
			return Token{}, fmt.Errorf("Secret %s: expiration %q is not RFC 3339", s.Name, exp)
		}
		t.Expiration = &e
	}
	for _, u := range []string{UsageAuthentication, UsageSigning} {
		if string(s.Data[UsagePrefix+u]) == "true" {
			t.Usages = append(t.Usages, u)
		}
	}
	if g := string(s.Data[KeyExtraGroups]); g != "" {
		for _, group := range strings.Split(g, ",") {
			if group = strings.TrimSpace(group); group != "" {
				t.Groups = append(t.Groups, group)
			}
		}
	}
	return t, nil
}

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool {
	return t.Expiration != nil && now.After(*t.Expiration)
}

// Has reports whether the token may be used for usage.
func (t Token) Has(usage string) bool { return slices.Contains(t.Usages, usage) }

// JoinedNodes lists the nodes recorded as joined with the token of s.
func JoinedNodes(s *corev1.Secret) []string {
	var out []string
	for _, n := range strings.Split(s.Annotations[AnnotationJoinedNodes], ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// RecordJoinedNode adds node to the nodes recorded on s; false when it
// was there already.
func RecordJoinedNode(s *corev1.Secret, node string) bool {
	nodes := JoinedNodes(s)
	if slices.Contains(nodes, node) {
		return false
	}
	nodes = append(nodes, node)
	slices.Sort(nodes)
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnotationJoinedNodes] = strings.Join(nodes, ",")
	return true
}
