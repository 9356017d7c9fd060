package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sekisho/sekisho/internal/authn"
	bootstraptokenauth "github.com/sekisho/sekisho/internal/authn/bootstrap"
	"github.com/sekisho/sekisho/internal/authn/oidc"
	"github.com/sekisho/sekisho/internal/authn/requestheader"
	"github.com/sekisho/sekisho/internal/authn/tokenfile"
	"github.com/sekisho/sekisho/internal/authn/webhook"
	authnx509 "github.com/sekisho/sekisho/internal/authn/x509"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/reload"
)

// authentication is the assembled authenticator and what TLS needs of it.
type authentication struct {
	authn.Authenticator
	// clientCAs is the reloadable client CA pool, nil without --client-ca-file.
	clientCAs *authnx509.DynamicPool
	// proxyCAs is the front-proxy CA pool, nil without --requestheader-client-ca-file.
	proxyCAs *authnx509.DynamicPool
	// issuers records which CA issued the client and proxy certificates
	// accepted, for a CA rotation (ClientCertificateIssuersPath).
	issuers *authnx509.IssuerUsage
	// tokens are the bearer token authenticators, for TokenReview.
	tokens       authn.TokenChain
	apiAudiences []string
}

// buildAuthentication assembles the authenticators in Kubernetes' order:
// the authenticating proxy, client certificates, then bearer tokens (token file, service accounts,
// bootstrap tokens, OIDC, the token webhook). Files are
// watched and reloaded; a file that is bad at start stops the server.
func buildAuthentication(ctx context.Context, o Options, log *slog.Logger, accounts *serviceAccounts, inf *informers, revocations authnx509.RevocationStore) (*authentication, error) {
	a := &authentication{issuers: authnx509.NewIssuerUsage(time.Now())}
	var chain authn.Chain
	if o.RequestHeaderClientCAFile != "" {
		proxyCAs := &authnx509.DynamicPool{}
		a.proxyCAs = proxyCAs
		if err := watch(ctx, log, "--requestheader-client-ca-file", o.RequestHeaderClientCAFile, false, proxyCAs.Load); err != nil {
			return nil, err
		}
		chain = append(chain, requestheader.New(proxyCAs, requestheader.Options{
			UsernameHeaders: o.RequestHeaderUsernameHeaders, UIDHeaders: o.RequestHeaderUIDHeaders,
			GroupHeaders: o.RequestHeaderGroupHeaders, ExtraHeaderPrefixes: o.RequestHeaderExtraHeadersPrefix,
			AllowedNames: o.RequestHeaderAllowedNames, AllowAnyName: o.RequestHeaderAllowAnyName,
			Issuers: a.issuers,
		}))
	}
	if o.ClientCAFile != "" {
		a.clientCAs = &authnx509.DynamicPool{}
		if err := watch(ctx, log, "--client-ca-file", o.ClientCAFile, false, a.clientCAs.Load); err != nil {
			return nil, err
		}
		if err := separateProxyCA(a.proxyCAs, a.clientCAs); err != nil {
			return nil, err
		}
		x := authnx509.New(a.clientCAs)
		x.Usage = a.issuers
		if o.ClientCRLFile != "" {
			crl := &authnx509.CRL{CAs: a.clientCAs.Certificates, Store: revocations, Log: log}
			if err := crl.Restore(ctx); err != nil {
				return nil, fmt.Errorf("--client-crl-file: %w", err)
			}
			// A CRL older than one accepted before (put back from a copy)
			// is refused; at start the server still serves, with every
			// revocation it knows of in force.
			first := true
			load := func(data []byte, exists bool) error {
				err := crl.Load(data, exists)
				if first && errors.Is(err, authnx509.ErrStaleCRL) {
					log.Error("--client-crl-file is older than a CRL accepted before; serving with every revocation known so far", "file", o.ClientCRLFile, "err", err)
					err = nil
				}
				first = false
				return err
			}
			if err := watch(ctx, log, "--client-crl-file", o.ClientCRLFile, true, load); err != nil {
				return nil, err
			}
			x.Revocations = crl
		}
		chain = append(chain, x)
	}
	var tokens authn.TokenChain
	if o.TokenAuthFile != "" {
		tf := &tokenfile.Authenticator{}
		if err := watch(ctx, log, "--token-auth-file", o.TokenAuthFile, false, tf.Load); err != nil {
			return nil, err
		}
		tokens = append(tokens, tf)
	}
	if accounts != nil {
		tokens = append(tokens, accounts.authenticator)
		a.apiAudiences = accounts.audiences
	}
	if o.EnableBootstrapTokenAuth {
		tokens = append(tokens, &bootstraptokenauth.Authenticator{Secrets: inf.secret})
	}
	switch {
	case o.AuthenticationConfigFile != "":
		jwt := oidc.New(nil)
		if err := watch(ctx, log, "--authentication-config", o.AuthenticationConfigFile, false, jwt.Load); err != nil {
			return nil, err
		}
		tokens = append(tokens, jwt)
	case o.OIDCIssuerURL != "":
		issuers, err := oidc.FromFlags(oidc.Flags{
			IssuerURL: o.OIDCIssuerURL, ClientID: o.OIDCClientID, CAFile: o.OIDCCAFile,
			UsernameClaim: o.OIDCUsernameClaim, UsernamePrefix: o.OIDCUsernamePrefix,
			GroupsClaim: o.OIDCGroupsClaim, GroupsPrefix: o.OIDCGroupsPrefix,
			RequiredClaims: o.OIDCRequiredClaims, SigningAlgs: o.OIDCSigningAlgs,
		})
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, oidc.New(issuers))
	}
	if o.TokenWebhookConfigFile != "" {
		client, err := webhook.NewClient(o.TokenWebhookConfigFile, webhookTimeout)
		if err != nil {
			return nil, fmt.Errorf("--authentication-token-webhook-config-file: %w", err)
		}
		tokens = append(tokens, &webhook.Authenticator{Client: client, Version: o.TokenWebhookVersion, TTL: o.TokenWebhookCacheTTL, Audiences: a.apiAudiences})
	}
	if len(tokens) > 0 {
		chain = append(chain, &authn.BearerToken{Tokens: tokens})
	}
	a.tokens = tokens
	a.Authenticator = chain
	if o.AnonymousAuth {
		a.Authenticator = authn.WithAnonymous(chain)
	}
	return a, nil
}

// watch loads path now and whenever it changes. optional files may be
// missing. The flag names the file in errors.
func watch(ctx context.Context, log *slog.Logger, flag, path string, optional bool, load reload.Loader) error {
	f := &reload.File{Path: path, Load: load, Log: log, Optional: optional, Interval: reloadInterval}
	if err := f.Start(ctx); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return nil
}

// reloadInterval is how often watched files are checked. A revoked
// certificate or a removed token stops working within about this long.
var reloadInterval = 500 * time.Millisecond

// webhookTimeout bounds one call to an authentication or authorization webhook.
const webhookTimeout = 5 * time.Second

// rootCA is the CA bundle published to pods (kube-root-ca.crt), token
// Secrets and joining nodes: the client CAs in force, which in kubeadm's
// layout are the cluster CA that also signs the serving certificate, as
// kube-controller-manager's --root-ca-file is. It follows reloads.
func (a *authentication) rootCA() []byte {
	if a.clientCAs == nil {
		return nil
	}
	return pki.EncodeCertificates(a.clientCAs.Certificates()...)
}

// clientCATLS returns base with a handshake that advertises the current
// client CAs and front-proxy CAs, following reloads of --client-ca-file and
// --requestheader-client-ca-file, as kube-apiserver lists both: a client
// that picks its certificate by the acceptable CAs (Go's
// GetClientCertificate, a front proxy holding a front-proxy-ca
// certificate) then presents the right one. The list only guides clients;
// each authenticator verifies against its own bundle.
func (a *authentication) clientCATLS(base *tls.Config) *tls.Config {
	pools := []*authnx509.DynamicPool{a.clientCAs, a.proxyCAs}
	pools = slices.DeleteFunc(pools, func(p *authnx509.DynamicPool) bool { return p == nil })
	if len(pools) == 0 {
		return base
	}
	var mu sync.Mutex
	var cached *tls.Config
	gens := make([]uint64, len(pools))
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		stale := cached == nil
		for i, p := range pools {
			if _, g := p.Pool(); g != gens[i] {
				gens[i], stale = g, true
			}
		}
		if stale {
			advertised := x509.NewCertPool()
			for _, p := range pools {
				for _, c := range p.Certificates() {
					advertised.AddCert(c)
				}
			}
			c := base.Clone()
			c.GetConfigForClient = nil
			c.ClientCAs = advertised
			cached = c
		}
		return cached, nil
	}
	return base
}

// separateProxyCA refuses a front-proxy CA bundle that shares a CA with the
// client CA bundle: every client certificate could then assert any
// identity in headers, so identity headers would be honoured from users,
// not only from the proxy.
func separateProxyCA(proxy, client *authnx509.DynamicPool) error {
	if proxy == nil {
		return nil
	}
	for _, p := range proxy.Certificates() {
		for _, c := range client.Certificates() {
			if p.Equal(c) {
				return fmt.Errorf("--requestheader-client-ca-file: the CA %q is also in --client-ca-file; the authenticating proxy needs a CA of its own (kubeadm's front-proxy-ca), or any client certificate could assert identities", p.Subject.String())
			}
		}
	}
	return nil
}

// ClientCertificateIssuersPath serves, as JSON, which CA issued the client
// certificates this server accepted since it started, by user and when
// last (authorized like any non-resource path: cluster-admin may read it).
// sekisho certs rotate-ca reads it before it stops trusting the old CA.
const ClientCertificateIssuersPath = "/sekisho/client-certificate-issuers"

// IssuersReport is what ClientCertificateIssuersPath serves.
type IssuersReport struct {
	authnx509.UsageReport
	// ServerClientCertificates are the certificates in force that this
	// server presents as a client: rotate-ca waits until none is the old
	// CA's before it stops trusting it.
	ServerClientCertificates []ServerClientCertificate `json:"serverClientCertificates,omitempty"`
}

// ServerClientCertificate is one certificate the server presents as a
// client, to kubelets or to aggregated API servers.
type ServerClientCertificate struct {
	Name           string `json:"name"`
	Serial         string `json:"serial"`
	Issuer         string `json:"issuer"`
	AuthorityKeyID string `json:"authorityKeyId,omitempty"`
}

// issuersHandler serves the record of client certificates accepted, and
// the server's own client certificates in force (own, by name; a nil
// function or certificate is left out).
func (a *authentication) issuersHandler(own map[string]func() *tls.Certificate) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		rep := IssuersReport{UsageReport: a.issuers.Report()}
		for _, name := range slices.Sorted(maps.Keys(own)) {
			if own[name] == nil {
				continue
			}
			c := own[name]()
			if c == nil || c.Leaf == nil {
				continue
			}
			rep.ServerClientCertificates = append(rep.ServerClientCertificates, ServerClientCertificate{
				Name: name, Serial: c.Leaf.SerialNumber.Text(16), Issuer: c.Leaf.Issuer.String(),
				AuthorityKeyID: hex.EncodeToString(c.Leaf.AuthorityKeyId),
			})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
}
