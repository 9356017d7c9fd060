// Package requestheader authenticates requests relayed by an
// authenticating proxy: the proxy proves itself with a client certificate
// from the front-proxy CA, and names the user in request headers. Headers
// from anyone else are ignored.
package requestheader

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sekisho/sekisho/internal/authn"
	authnx509 "github.com/sekisho/sekisho/internal/authn/x509"
)

// Options name the headers and who may set them.
type Options struct {
	UsernameHeaders     []string
	UIDHeaders          []string
	GroupHeaders        []string
	ExtraHeaderPrefixes []string
	// AllowedNames are the proxy certificate CNs accepted; empty means any,
	// which must be asked for explicitly (AllowAnyName).
	AllowedNames []string
	AllowAnyName bool
	// Issuers, when set, records which CA issued each proxy certificate
	// accepted (for a rotation of the front-proxy CA).
	Issuers *authnx509.IssuerUsage
}

// Authenticator trusts headers only behind a verified proxy certificate.
type Authenticator struct {
	Options
	proxy *authnx509.Authenticator
}

// New returns an authenticator whose proxies chain to cas.
func New(cas authnx509.CAPool, o Options) *Authenticator {
	proxy := authnx509.New(cas)
	proxy.Usage = o.Issuers
	return &Authenticator{Options: o, proxy: proxy}
}

var _ authn.Authenticator = (*Authenticator)(nil)

// Authenticate implements authn.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*authn.User, bool, error) {
	name := firstValue(r.Header, a.UsernameHeaders)
	if name == "" {
		return nil, false, nil
	}
	// Only a certificate from the front-proxy CA makes the headers
	// trustworthy; a client certificate from elsewhere, or none, means the
	// headers are ignored and other authenticators decide.
	proxy, ok, err := a.proxy.Authenticate(r)
	if !ok || err != nil {
		return nil, false, nil
	}
	if !a.AllowAnyName && !slices.Contains(a.AllowedNames, proxy.Name) {
		return nil, false, authn.Failf(authn.ReasonProxyNotAllowed, "request header: proxy certificate CN %q is not in --requestheader-allowed-names", proxy.Name)
	}
	u := &authn.User{Name: name, UID: firstValue(r.Header, a.UIDHeaders), Authenticator: "request-header"}
	for _, h := range a.GroupHeaders {
		u.Groups = append(u.Groups, r.Header.Values(h)...)
	}
	for hname, values := range r.Header {
		for _, prefix := range a.ExtraHeaderPrefixes {
			if len(hname) <= len(prefix) || !strings.EqualFold(hname[:len(prefix)], prefix) {
				continue
			}
			key, err := url.PathUnescape(strings.ToLower(hname[len(prefix):]))
			if err != nil {
				return nil, false, authn.Failf(authn.ReasonIdentityHeadersMalformed, "request header: malformed extra key %q", hname)
			}
			if u.Extra == nil {
				u.Extra = map[string][]string{}
			}
			u.Extra[key] = append(u.Extra[key], values...)
		}
	}
	if err := u.CheckText(); err != nil {
		return nil, false, authn.Failf(authn.ReasonIdentityHeadersMalformed, "request header: %v", err)
	}
	a.strip(r)
	return u, true, nil
}

// strip removes the identity headers so they go no further.
func (a *Authenticator) strip(r *http.Request) {
	for _, h := range slices.Concat(a.UsernameHeaders, a.UIDHeaders, a.GroupHeaders) {
		r.Header.Del(h)
	}
	for hname := range r.Header {
		for _, prefix := range a.ExtraHeaderPrefixes {
			if len(hname) > len(prefix) && strings.EqualFold(hname[:len(prefix)], prefix) {
				r.Header.Del(hname)
			}
		}
	}
}

func firstValue(h http.Header, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return v
		}
	}
	return ""
}
