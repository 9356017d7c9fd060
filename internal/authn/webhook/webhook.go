// Package webhook authenticates bearer tokens by asking a remote service:
// it POSTs a TokenReview and trusts the user the service returns. An error
// or timeout from the service never lets a token through.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/kubeconfig"
)

// Client posts review objects to a webhook described by a kubeconfig.
type Client struct {
	URL  string
	HTTP *http.Client
	// Retries after a transport error, a 429 or a 5xx, with backoff.
	Retries int
	Backoff time.Duration
}

// safeURL is the webhook URL for logs: without a password or a query,
// either of which may carry a credential.
func (c *Client) safeURL() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// NewClient reads a webhook kubeconfig: the cluster's server is the
// webhook URL and its CA verifies it; the user's certificate or token, if
// any, is how the API server authenticates to it.
func NewClient(path string, timeout time.Duration) (*Client, error) {
	kc, err := kubeconfig.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(kc.Server, "https://") {
		return nil, fmt.Errorf("%s: the webhook server %q must be an https:// URL", path, kc.Server)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(kc.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(kc.CAPEM) {
			return nil, fmt.Errorf("%s: certificate-authority-data holds no certificate", path)
		}
		cfg.RootCAs = pool
	}
	if len(kc.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(kc.CertPEM, kc.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: client certificate: %w", path, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16}
	var rt http.RoundTripper = tr
	if kc.Token != "" {
		rt = bearer{token: kc.Token, next: tr}
	}
	return &Client{URL: kc.Server, HTTP: &http.Client{Transport: rt, Timeout: timeout}, Retries: 2, Backoff: 200 * time.Millisecond}, nil
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// Post sends in and decodes the answer into out, retrying transient failures.
func (c *Client) Post(ctx context.Context, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	wait := c.Backoff
	var last error
	for attempt := 0; attempt <= c.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(last, ctx.Err())
			case <-time.After(wait):
			}
			wait *= 2
		}
		retry, err := c.post(ctx, body, out)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

func (c *Client) post(ctx context.Context, body []byte, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		// A webhook that timed out is not asked again: the client would
		// wait several timeouts for its answer.
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		return !timedOut && ctx.Err() == nil, fmt.Errorf("webhook %s: %w", c.safeURL(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return true, fmt.Errorf("webhook %s: reading the answer: %w", c.safeURL(), err)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return true, fmt.Errorf("webhook %s answered %d", c.safeURL(), resp.StatusCode)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("webhook %s answered %d", c.safeURL(), resp.StatusCode)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("webhook %s: malformed answer: %v", c.safeURL(), err)
	}
	return false, nil
}

// CheckAnswerType refuses an answer that is not the review that was asked
// for: a webhook answering another kind (a ConfigMap with the same status
// fields, say) or another version is broken or not the webhook meant, and
// its answer must not grant anything.
func CheckAnswerType(apiVersion, kind, wantAPIVersion, wantKind string) error {
	if apiVersion != wantAPIVersion || kind != wantKind {
		return fmt.Errorf("the answer is apiVersion %q kind %q, not %s %s", apiVersion, kind, wantAPIVersion, wantKind)
	}
	return nil
}

// tokenReview is the TokenReview wire format of authentication.k8s.io
// v1 and v1beta1, which are identical on the wire.
type tokenReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Token     string   `json:"token"`
		Audiences []string `json:"audiences,omitempty"`
	} `json:"spec"`
	Status struct {
		Authenticated bool `json:"authenticated"`
		User          struct {
			Username string              `json:"username"`
			UID      string              `json:"uid"`
			Groups   []string            `json:"groups"`
			Extra    map[string][]string `json:"extra"`
		} `json:"user"`
		Audiences []string `json:"audiences"`
		Error     string   `json:"error"`
	} `json:"status"`
}

// Authenticator asks the webhook about tokens, and caches its answers
// (authenticated or not) for TTL. Failures are not cached.
type Authenticator struct {
	Client *Client
	// Version is "v1" or "v1beta1".
	Version   string
	TTL       time.Duration
	Audiences []string
	Now       func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
}

type cached struct {
	user    *authn.User
	expires time.Time
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil)

const maxCache = 4096

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// AuthenticateToken implements authn.TokenAuthenticator.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authn.User, bool, error) {
	auds := authn.AudiencesFrom(ctx)
	if auds == nil {
		auds = a.Audiences
	}
	key := sha256.Sum256([]byte(token + "\x00" + strings.Join(auds, "\x00")))
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[key]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.user, c.user != nil, nil
	}
	review := tokenReview{APIVersion: "authentication.k8s.io/" + a.Version, Kind: "TokenReview"}
	review.Spec.Token, review.Spec.Audiences = token, auds
	var answer tokenReview
	if err := a.Client.Post(ctx, review, &answer); err != nil {
		return nil, false, authn.Fail(authn.ReasonWebhookError, "the token webhook could not be asked about this token", fmt.Errorf("token webhook: %w", err))
	}
	if err := CheckAnswerType(answer.APIVersion, answer.Kind, review.APIVersion, review.Kind); err != nil {
		return nil, false, authn.Fail(authn.ReasonWebhookError, "the token webhook gave an answer that cannot be used", fmt.Errorf("token webhook %s: %w", a.Client.safeURL(), err))
	}
	var u *authn.User
	if answer.Status.Authenticated {
		if len(auds) > 0 && len(answer.Status.Audiences) > 0 &&
			!slices.ContainsFunc(auds, func(x string) bool { return slices.Contains(answer.Status.Audiences, x) }) {
			return nil, false, authn.Failf(authn.ReasonTokenAudience, "token webhook: token is for audiences %v, not %v", answer.Status.Audiences, auds)
		}
		if answer.Status.User.Username == "" {
			return nil, false, authn.Fail(authn.ReasonWebhookError, "the token webhook gave an answer that cannot be used", errors.New("token webhook: authenticated without a user name"))
		}
		s := answer.Status.User
		u = &authn.User{Name: s.Username, UID: s.UID, Groups: s.Groups, Extra: s.Extra, Authenticator: "webhook"}
	}
	a.mu.Lock()
	if a.cache == nil || len(a.cache) >= maxCache {
		a.cache = map[[sha256.Size]byte]cached{}
	}
	a.cache[key] = cached{user: u, expires: now.Add(a.TTL)}
	a.mu.Unlock()
	if u == nil {
		if answer.Status.Error != "" {
			// The webhook's own words are its business, not the holder's.
			return nil, false, authn.Fail(authn.ReasonTokenUnknown, authn.UnknownTokenMessage, fmt.Errorf("token webhook: %s", answer.Status.Error))
		}
		return nil, false, nil
	}
	return u, true, nil
}
