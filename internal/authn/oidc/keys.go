package oidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet holds an issuer's signing keys, fetched from the jwks_uri its
// discovery document names. An unknown key id triggers a refetch, at most
// once per minRefresh, so tokens with made-up key ids cannot make the
// server hammer the issuer.
type keySet struct {
	issuer       string
	discoveryURL string
	client       *http.Client
	minRefresh   time.Duration

	// fetching is held while the keys are fetched; mu guards the fields
	// below only for reads and the final swap, so a token whose key is known
	// never waits for the network.
	fetching  sync.Mutex
	mu        sync.RWMutex
	jwksURI   string
	keys      []jose.JSONWebKey
	lastFetch time.Time
}

func newKeySet(issuer, discoveryURL string, caPEM []byte) (*keySet, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the certificate authority holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if discoveryURL == "" {
		discoveryURL = strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	}
	return &keySet{
		issuer: issuer, discoveryURL: discoveryURL, minRefresh: 10 * time.Second,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}},
	}, nil
}

// lookup returns the keys that may have signed a token with this key id
// (every key when kid is empty). An unknown id fetches the keys again,
// unless they were fetched within minRefresh or a fetch is under way, in
// which case it fails at once.
func (k *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.RLock()
	found, last := k.match(kid), k.lastFetch
	k.mu.RUnlock()
	if len(found) > 0 {
		return found, nil
	}
	if !last.IsZero() && time.Since(last) < k.minRefresh {
		return nil, fmt.Errorf("unknown signing key id %q (the issuer's keys were fetched %s ago)", kid, time.Since(last).Round(time.Second))
	}
	if !k.fetching.TryLock() {
		return nil, fmt.Errorf("unknown signing key id %q (the issuer's keys are being fetched)", kid)
	}
	defer k.fetching.Unlock()
	k.mu.Lock()
	if !k.lastFetch.Equal(last) { // another fetch finished in between
		found, last = k.match(kid), k.lastFetch
		k.mu.Unlock()
		if len(found) > 0 {
			return found, nil
		}
		return nil, fmt.Errorf("unknown signing key id %q (the issuer's keys were fetched %s ago)", kid, time.Since(last).Round(time.Second))
	}
	k.lastFetch = time.Now()
	jwksURI := k.jwksURI
	k.mu.Unlock()
	jwksURI, keys, err := k.fetch(ctx, jwksURI)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.jwksURI, k.keys = jwksURI, keys
	found = k.match(kid)
	k.mu.Unlock()
	if len(found) > 0 {
		return found, nil
	}
	return nil, fmt.Errorf("unknown signing key id %q", kid)
}

func (k *keySet) match(kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}

// fetch reads the discovery document (unless the jwks_uri is known) and
// the key set, without holding any lock.
func (k *keySet) fetch(ctx context.Context, jwksURI string) (string, []jose.JSONWebKey, error) {
	if jwksURI == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := k.get(ctx, k.discoveryURL, &doc); err != nil {
			return "", nil, fmt.Errorf("OIDC discovery: %w", err)
		}
		if doc.Issuer != k.issuer {
			return "", nil, fmt.Errorf("OIDC discovery: the document names issuer %q, not %q", doc.Issuer, k.issuer)
		}
		if !strings.HasPrefix(doc.JWKSURI, "https://") {
			return "", nil, fmt.Errorf("OIDC discovery: jwks_uri %q is not an https URL", doc.JWKSURI)
		}
		jwksURI = doc.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := k.get(ctx, jwksURI, &set); err != nil {
		return "", nil, fmt.Errorf("OIDC keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && key.Valid() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	return jwksURI, keys, nil
}

func (k *keySet) get(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
