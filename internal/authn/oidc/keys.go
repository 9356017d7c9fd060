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

	mu        sync.Mutex
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
// (every key when kid is empty).
func (k *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if found := k.match(kid); len(found) > 0 {
		return found, nil
	}
	if !k.lastFetch.IsZero() && time.Since(k.lastFetch) < k.minRefresh {
		return nil, fmt.Errorf("unknown signing key id %q (the issuer's keys were fetched %s ago)", kid, time.Since(k.lastFetch).Round(time.Second))
	}
	k.lastFetch = time.Now()
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	if found := k.match(kid); len(found) > 0 {
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

func (k *keySet) refresh(ctx context.Context) error {
	if k.jwksURI == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := k.get(ctx, k.discoveryURL, &doc); err != nil {
			return fmt.Errorf("OIDC discovery: %w", err)
		}
		if doc.Issuer != k.issuer {
			return fmt.Errorf("OIDC discovery: the document names issuer %q, not %q", doc.Issuer, k.issuer)
		}
		if !strings.HasPrefix(doc.JWKSURI, "https://") {
			return fmt.Errorf("OIDC discovery: jwks_uri %q is not an https URL", doc.JWKSURI)
		}
		k.jwksURI = doc.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := k.get(ctx, k.jwksURI, &set); err != nil {
		return fmt.Errorf("OIDC keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && key.Valid() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	k.keys = keys
	return nil
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
