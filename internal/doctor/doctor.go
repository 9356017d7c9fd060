// Package doctor diagnoses why a kubeconfig cannot reach or authenticate
// to an API server, walking the client's side step by step (the
// troubleshooting of "Unable to connect to the server" and "401
// Unauthorized"), and says how to fix each failure.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sekisho/sekisho/internal/apiclient"
	"github.com/sekisho/sekisho/internal/pki"
)

// Status of one check.
type Status string

// Check outcomes.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Result is one check's finding.
type Result struct {
	Status Status
	Check  string
	Detail string
	Fix    string
}

// Report is every check, in order.
type Report struct{ Results []Result }

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Results, func(x Result) bool { return x.Status == Fail })
}

func (r *Report) add(s Status, check, detail, fix string) {
	r.Results = append(r.Results, Result{Status: s, Check: check, Detail: detail, Fix: fix})
}

// Print writes the report, one check per line with its fix indented.
func (r *Report) Print(w io.Writer) {
	for _, x := range r.Results {
		fmt.Fprintf(w, "[%s] %s: %s\n", x.Status, x.Check, x.Detail)
		if x.Fix != "" && x.Status != OK {
			fmt.Fprintf(w, "       fix: %s\n", x.Fix)
		}
	}
}

// Options select the kubeconfig.
type Options struct {
	Kubeconfig string
	Context    string
	Now        time.Time
	Timeout    time.Duration
}

// Run performs every check it can; later checks that depend on a failed
// one are skipped.
func Run(ctx context.Context, o Options) *Report {
	r := &Report{}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	raw, err := loader.RawConfig()
	if err != nil {
		r.add(Fail, "kubeconfig", err.Error(), "point --kubeconfig (or $KUBECONFIG) at a valid kubeconfig file")
		return r
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		r.add(Fail, "kubeconfig", err.Error(), "check that the context names an existing cluster and user")
		return r
	}
	ctxName := o.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	kctx := raw.Contexts[ctxName]
	r.add(OK, "kubeconfig", fmt.Sprintf("context %q: cluster %q, user %q, server %s", ctxName, kctx.Cluster, kctx.AuthInfo, cfg.Host), "")

	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		r.add(Fail, "server address", fmt.Sprintf("%q is not a URL", cfg.Host), "set the cluster's server to https://HOST:PORT")
		return r
	}
	if u.Scheme != "https" {
		r.add(Fail, "server address", fmt.Sprintf("%s does not use https", cfg.Host), "the API server only serves HTTPS; use https://")
		return r
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		r.add(Fail, "DNS", fmt.Sprintf("%s does not resolve: %v", host, err), "use an address that resolves from here, or an IP address")
		return r
	}
	dialer := &net.Dialer{Timeout: o.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		r.add(Fail, "connect", fmt.Sprintf("%s resolves to %s, but %s:%s does not accept connections: %v", host, strings.Join(addrs, ", "), host, port, err),
			"check that the API server runs and listens there (sekisho up prints its address), and that no firewall blocks the port")
		return r
	}
	conn.Close()
	r.add(OK, "connect", fmt.Sprintf("%s resolves to %s and %s accepts connections", host, strings.Join(addrs, ", "), port), "")

	clientCert, clientKeyOK := checkClientCertificate(r, cfg, o.Now)
	acceptable := checkTLS(ctx, r, cfg, host, port, clientCert, clientKeyOK, o.Timeout)
	if acceptable == nil {
		return r
	}
	if clientCert != nil {
		if len(*acceptable) > 0 && !slices.ContainsFunc(*acceptable, func(dn []byte) bool { return string(dn) == string(clientCert.RawIssuer) }) {
			r.add(Fail, "client certificate issuer", fmt.Sprintf("issued by %q, which is not among the CAs the server accepts for client certificates", clientCert.Issuer.CommonName),
				"get a certificate from the cluster CA (sekisho kubeconfig user, or the CSR API), or add this CA to the server's --client-ca-file")
		} else if cas := kubeconfigCAs(cfg); len(cas) > 0 && !slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return clientCert.CheckSignatureFrom(ca) == nil }) {
			// Every kubeadm-style cluster CA is named kubernetes-ca, so the
			// names the server advertises cannot tell clusters apart; the
			// kubeconfig's CA, which in such clusters also signs client
			// certificates, can.
			r.add(Warn, "client certificate issuer", fmt.Sprintf("issued by a CA named %q, but not by the CA in this kubeconfig: it may come from another cluster", clientCert.Issuer.CommonName),
				"use a certificate from this cluster's CA (sekisho kubeconfig user --dir DIR)")
		} else {
			r.add(OK, "client certificate issuer", fmt.Sprintf("issued by %q, a CA the server accepts", clientCert.Issuer.CommonName), "")
		}
	}
	checkToken(r, cfg, o.Now)
	whoami(ctx, r, cfg)
	return r
}

func kubeconfigCAs(cfg *rest.Config) []*x509.Certificate {
	certs, _ := pki.ParseCertificates(cfg.CAData)
	return certs
}

// checkClientCertificate inspects the kubeconfig's client certificate.
func checkClientCertificate(r *Report, cfg *rest.Config, now time.Time) (*x509.Certificate, bool) {
	if len(cfg.CertData) == 0 {
		if cfg.BearerToken == "" && cfg.BearerTokenFile == "" && cfg.ExecProvider == nil && cfg.AuthProvider == nil {
			r.add(Fail, "credentials", "the user has neither a client certificate nor a token", "add credentials with kubectl config set-credentials")
		}
		return nil, false
	}
	certs, err := pki.ParseCertificates(cfg.CertData)
	if err != nil {
		r.add(Fail, "client certificate", err.Error(), "re-issue the kubeconfig")
		return nil, false
	}
	c := certs[0]
	subject := fmt.Sprintf("CN=%q O=%q", c.Subject.CommonName, c.Subject.Organization)
	keyOK := true
	if key, err := pki.ParsePrivateKey(cfg.KeyData); err != nil || !pki.KeyMatches(key, c.PublicKey) {
		r.add(Fail, "client key", "the client key does not match the client certificate", "use the key that was generated with this certificate")
		keyOK = false
	}
	switch {
	case now.After(c.NotAfter):
		r.add(Fail, "client certificate", fmt.Sprintf("%s expired at %s", subject, c.NotAfter.UTC().Format(time.RFC3339)),
			"renew it: sekisho certs renew NAME (control-plane kubeconfigs) or issue a new one (sekisho kubeconfig user)")
	case now.Before(c.NotBefore):
		r.add(Fail, "client certificate", fmt.Sprintf("%s is not valid until %s", subject, c.NotBefore.UTC().Format(time.RFC3339)), "check this machine's clock")
	case !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth):
		r.add(Fail, "client certificate", subject+" lacks the clientAuth extended key usage, so the server will refuse it", "issue a client certificate (extendedKeyUsage=clientAuth)")
	default:
		left := c.NotAfter.Sub(now).Round(time.Hour)
		status := OK
		fix := ""
		if left < 7*24*time.Hour {
			status, fix = Warn, "renew it soon"
		}
		r.add(status, "client certificate", fmt.Sprintf("presents %s, valid for another %s", subject, left), fix)
	}
	return c, keyOK
}

// checkTLS handshakes with the server as the client would, and returns the
// client CAs the server advertises (nil if the handshake failed).
func checkTLS(ctx context.Context, r *Report, cfg *rest.Config, host, port string, clientCert *x509.Certificate, keyOK bool, timeout time.Duration) *[][]byte {
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil || tlsCfg == nil {
		r.add(Fail, "TLS", fmt.Sprintf("cannot build the TLS configuration: %v", err), "check the kubeconfig's CA and client certificate")
		return nil
	}
	var acceptable [][]byte
	base := tlsCfg.Clone()
	base.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		acceptable = info.AcceptableCAs
		if clientCert != nil && keyOK && len(tlsCfg.Certificates) > 0 {
			return &tlsCfg.Certificates[0], nil
		}
		if tlsCfg.GetClientCertificate != nil {
			return tlsCfg.GetClientCertificate(info)
		}
		return &tls.Certificate{}, nil
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: base}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		var unknown x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		switch {
		case errors.As(err, &unknown):
			r.add(Fail, "TLS", fmt.Sprintf("the server's certificate (issued by %q) is not trusted by the kubeconfig's certificate-authority", issuerOf(unknown.Cert)),
				"put the cluster CA (DIR/pki/ca.crt) in the kubeconfig: kubectl config set-cluster NAME --certificate-authority ca.crt --embed-certs")
		case errors.As(err, &hostErr):
			r.add(Fail, "TLS", fmt.Sprintf("the server's certificate does not name %q (it names %s)", host, strings.Join(append(hostErr.Certificate.DNSNames, ipStrings(hostErr.Certificate.IPAddresses)...), ", ")),
				"use one of the names above as the server address, or regenerate the API server certificate with --apiserver-cert-extra-sans "+host)
		default:
			r.add(Fail, "TLS", err.Error(), "check that the address is the API server's secure port")
		}
		return nil
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	r.add(OK, "TLS", fmt.Sprintf("%s, server certificate %q verified against the kubeconfig CA", tls.VersionName(state.Version), state.PeerCertificates[0].Subject.CommonName), "")
	return &acceptable
}

func issuerOf(c *x509.Certificate) string {
	if c == nil {
		return "?"
	}
	return c.Issuer.CommonName
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// checkToken reports on a bearer token, decoding a JWT's claims (without
// verifying them) to spot an expired or misdirected token.
func checkToken(r *Report, cfg *rest.Config, now time.Time) {
	token := cfg.BearerToken
	if token == "" && cfg.BearerTokenFile != "" {
		data, err := os.ReadFile(cfg.BearerTokenFile)
		if err != nil {
			r.add(Fail, "token", fmt.Sprintf("the token file cannot be read: %v", err), "point tokenFile in the kubeconfig at a readable file")
			return
		}
		if token = strings.TrimSpace(string(data)); token == "" {
			r.add(Fail, "token", fmt.Sprintf("the token file %s is empty", cfg.BearerTokenFile), "write the token into it, or remove tokenFile from the kubeconfig")
			return
		}
	}
	if token == "" {
		return
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		r.add(OK, "token", fmt.Sprintf("an opaque token of %d characters is present", len(token)), "")
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err != nil || json.Unmarshal(payload, &c) != nil {
		r.add(Warn, "token", "looks like a JWT but its claims cannot be read", "")
		return
	}
	if c.Exp != 0 && now.After(time.Unix(c.Exp, 0)) {
		r.add(Fail, "token", fmt.Sprintf("JWT for %q from %q expired at %s", c.Sub, c.Iss, time.Unix(c.Exp, 0).UTC().Format(time.RFC3339)),
			"get a new token (kubectl create token SA, or log in to your identity provider again)")
		return
	}
	r.add(OK, "token", fmt.Sprintf("JWT for %q from issuer %q", c.Sub, c.Iss), "")
}

// whoami asks the server who it thinks the client is.
func whoami(ctx context.Context, r *Report, cfg *rest.Config) {
	c, err := apiclient.FromConfig(cfg)
	if err != nil {
		r.add(Fail, "identity", err.Error(), "")
		return
	}
	var out authenticationv1.SelfSubjectReview
	err = c.Do(ctx, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		&authenticationv1.SelfSubjectReview{}, &out)
	switch {
	case err == nil:
		u := out.Status.UserInfo
		r.add(OK, "identity", fmt.Sprintf("the server knows you as %q, groups %v", u.Username, u.Groups), "")
	case apierrors.IsUnauthorized(err):
		r.add(Fail, "identity", "the server refused the credentials (401 Unauthorized)",
			"the certificate may be revoked or from another cluster's CA, or the token unknown, expired or bound to a deleted object; the server log names the cause next to the request's Audit-Id")
	case apierrors.IsForbidden(err):
		r.add(Warn, "identity", "authenticated, but not allowed to ask who you are (403)", "bind a role granting create on selfsubjectreviews")
	default:
		r.add(Fail, "identity", err.Error(), "")
	}
}
