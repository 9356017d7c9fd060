package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/sekisho/sekisho/internal/pki"
)

// handshakeResult is what the TLS handshake showed.
type handshakeResult struct {
	// acceptable are the CAs the server asks client certificates of.
	acceptable [][]byte
	version    uint16
}

// handshake checks TLS from the server's side: that the address speaks
// TLS, and that the server's certificate is valid, trusted by the
// kubeconfig's CA and names the address. The client certificate is
// presented as kubectl would present it, when the credentials are usable.
func handshake(ctx context.Context, r *Report, k *kubeconfig, host, port string, withClient bool, o Options) (*handshakeResult, bool) {
	base, err := rest.TLSConfigFor(k.cfg)
	if err != nil || base == nil {
		r.add(Fail, StepTLSClient, fmt.Sprintf("the kubeconfig's TLS settings cannot be used: %v", err),
			"check the cluster's certificate-authority and the user's client certificate and key: kubectl config view --raw")
		return nil, false
	}
	res := &handshakeResult{}
	cfg := base.Clone()
	// Verify by hand, after the handshake, to tell why a certificate is
	// not accepted.
	cfg.InsecureSkipVerify = true
	cfg.VerifyPeerCertificate, cfg.VerifyConnection = nil, nil
	cfg.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		res.acceptable = info.AcceptableCAs
		switch {
		case !withClient:
		case len(base.Certificates) > 0:
			return &base.Certificates[0], nil
		case base.GetClientCertificate != nil:
			return base.GetClientCertificate(info)
		}
		return &tls.Certificate{}, nil
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: o.Timeout}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		var rec tls.RecordHeaderError
		if errors.As(err, &rec) {
			r.add(Fail, StepTLSServer, fmt.Sprintf("%s:%s does not speak TLS: it is not the API server's secure port", host, port),
				"use the address and port sekisho up printed (6443 by default), with https://: kubectl config set-cluster "+shellQuote(k.cluster)+" --server https://"+host+":6443")
			return nil, false
		}
		r.add(Fail, StepTLSServer, fmt.Sprintf("the TLS handshake with %s:%s failed: %v", host, port, err),
			"check that this is the API server's secure port and that it accepts TLS 1.2 or newer")
		return nil, false
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	res.version = state.Version
	if !checkServerCertificate(r, k, state.PeerCertificates, cfg.ServerName, o.Now) {
		return nil, false
	}
	return res, true
}

// checkServerCertificate verifies the server's chain against the
// kubeconfig's CA (the system's roots when it names none), and names what
// is wrong in the user's terms.
func checkServerCertificate(r *Report, k *kubeconfig, chain []*x509.Certificate, serverName string, now time.Time) bool {
	if len(chain) == 0 {
		r.add(Fail, StepTLSServer, "the server presented no certificate", "check that the address is the API server's secure port")
		return false
	}
	leaf := chain[0]
	names := strings.Join(append(slices.Clone(leaf.DNSNames), ipStrings(leaf.IPAddresses)...), ", ")
	switch {
	case now.After(leaf.NotAfter):
		r.add(Fail, StepTLSServer, fmt.Sprintf("the API server's certificate (CN=%q, issued by %q) expired at %s: every client refuses to connect", leaf.Subject.CommonName, leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339)),
			"on the server, renew it, then restart sekisho: sekisho certs renew apiserver --dir DIR")
		return false
	case now.Before(leaf.NotBefore):
		r.add(Fail, StepTLSServer, fmt.Sprintf("the API server's certificate is not valid until %s: this machine's clock or the server's is wrong", leaf.NotBefore.UTC().Format(time.RFC3339)),
			"set the clocks right (timedatectl set-ntp true)")
		return false
	}
	if k.cfg.Insecure {
		r.add(Warn, StepTLSServer, "the kubeconfig skips verifying the server (insecure-skip-tls-verify): anyone between you and the server can pose as it",
			"put the cluster CA in the kubeconfig: kubectl config set-cluster "+shellQuote(k.cluster)+" --insecure-skip-tls-verify=false --certificate-authority DIR/pki/ca.crt --embed-certs")
		return true
	}
	var roots *x509.CertPool
	if len(k.cfg.CAData) > 0 {
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(k.cfg.CAData)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: serverName, CurrentTime: now})
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case err == nil:
	case errors.As(err, &unknown):
		r.add(Fail, StepTLSServer, fmt.Sprintf("the server's certificate (issued by %q) is not trusted by the kubeconfig's certificate-authority: the kubeconfig is for another cluster, or its CA is stale", leaf.Issuer.CommonName),
			"put this cluster's CA in the kubeconfig: kubectl config set-cluster "+shellQuote(k.cluster)+" --certificate-authority DIR/pki/ca.crt --embed-certs")
		return false
	case errors.As(err, &hostErr):
		r.add(Fail, StepTLSServer, fmt.Sprintf("the server's certificate does not name %q (it names %s): the server address is not one the certificate was made for", serverName, names),
			"use one of those names as the server address, or regenerate the API server certificate with the name: sekisho certs renew apiserver --dir DIR --apiserver-cert-extra-sans "+serverName)
		return false
	default:
		r.add(Fail, StepTLSServer, fmt.Sprintf("the server's certificate does not verify: %v", err), "check the kubeconfig's certificate-authority")
		return false
	}
	life, left := leaf.NotAfter.Sub(leaf.NotBefore), leaf.NotAfter.Sub(now)
	if left < expiryThreshold(life) {
		r.add(Warn, StepTLSServer, fmt.Sprintf("the API server's certificate expires in %s (%s)", humanDuration(left), leaf.NotAfter.UTC().Format(time.RFC3339)),
			"on the server: sekisho certs renew apiserver --dir DIR")
		return true
	}
	r.add(OK, StepTLSServer, fmt.Sprintf("the server's certificate %q verifies against the kubeconfig's CA, valid for %s more", leaf.Subject.CommonName, humanDuration(left)), "")
	return true
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// checkClientCertificate inspects the client certificate (when the user
// has one): that it and its key belong together, that it comes from a CA
// the server accepts, that it is valid now and for client auth, and that
// it carries a user name.
func checkClientCertificate(r *Report, k *kubeconfig, hs *handshakeResult, now time.Time) bool {
	if !k.usesCertificate() {
		return true
	}
	certs, err := pki.ParseCertificates(k.cfg.CertData)
	if err != nil {
		r.add(Fail, StepTLSClient, "the client certificate cannot be read: "+err.Error(), "re-issue the kubeconfig: sekisho kubeconfig user --dir DIR --client-name USER")
		return false
	}
	c := certs[0]
	subject := fmt.Sprintf("CN=%q O=%q", c.Subject.CommonName, c.Subject.Organization)
	if key, err := pki.ParsePrivateKey(k.cfg.KeyData); err != nil || !pki.KeyMatches(key, c.PublicKey) {
		r.add(Fail, StepTLSClient, "the client key does not belong to the client certificate", "use the key the certificate request was made with (client-key in the kubeconfig)")
		return false
	}
	if len(hs.acceptable) > 0 && !slices.ContainsFunc(hs.acceptable, func(dn []byte) bool { return string(dn) == string(c.RawIssuer) }) {
		r.add(Fail, StepTLSClient, fmt.Sprintf("the client certificate is issued by %q, which is not among the CAs the server accepts for client certificates", c.Issuer.CommonName),
			"get a certificate from this cluster's CA: sekisho kubeconfig user --dir DIR --client-name USER, or a CertificateSigningRequest as in seed 000")
		return false
	}
	if cas, _ := pki.ParseCertificates(k.cfg.CAData); len(cas) > 0 && !slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return c.CheckSignatureFrom(ca) == nil }) {
		// Every kubeadm-style cluster CA is named kubernetes-ca, so the
		// names the server lists cannot tell clusters apart; the
		// kubeconfig's CA, which in such clusters also signs client
		// certificates, can.
		r.add(Warn, StepTLSClient, fmt.Sprintf("the client certificate is issued by a CA named %q, but not by the CA in this kubeconfig: it may come from another cluster", c.Issuer.CommonName),
			"use a certificate from this cluster's CA: sekisho kubeconfig user --dir DIR --client-name USER")
	} else {
		r.add(OK, StepTLSClient, fmt.Sprintf("the client certificate is issued by %q, a CA the server accepts", c.Issuer.CommonName), "")
	}
	switch {
	case now.After(c.NotAfter):
		r.add(Fail, StepCredential, fmt.Sprintf("the client certificate %s expired at %s", subject, c.NotAfter.UTC().Format(time.RFC3339)),
			"renew it: sekisho certs renew NAME --dir DIR for the control plane's kubeconfigs, or a new one: sekisho kubeconfig user --dir DIR --client-name "+shellQuote(c.Subject.CommonName))
		return false
	case now.Before(c.NotBefore):
		r.add(Fail, StepCredential, fmt.Sprintf("the client certificate %s is not valid until %s: a clock is wrong", subject, c.NotBefore.UTC().Format(time.RFC3339)), "set the clocks right (timedatectl set-ntp true)")
		return false
	case !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth):
		r.add(Fail, StepCredential, fmt.Sprintf("the client certificate %s lacks the clientAuth extended key usage, so the server refuses it", subject),
			"issue a client certificate: the kube-apiserver-client signer adds the usage (seed 000), or openssl x509 ... -extfile with extendedKeyUsage=clientAuth")
		return false
	case c.Subject.CommonName == "":
		r.add(Fail, StepCredential, fmt.Sprintf("the certificate's CN (the user name) is empty: it was made without -subj (its subject is %q)", c.Subject.String()),
			emptyCNFix(k))
		return false
	}
	life, left := c.NotAfter.Sub(c.NotBefore), c.NotAfter.Sub(now)
	if left < expiryThreshold(life) {
		r.add(Warn, StepCredential, fmt.Sprintf("the client certificate %s expires in %s, at %s", subject, humanDuration(left), c.NotAfter.UTC().Format(time.RFC3339)),
			"renew it before then: sekisho kubeconfig user --dir DIR --client-name "+shellQuote(c.Subject.CommonName))
		return true
	}
	r.add(OK, StepCredential, fmt.Sprintf("the client certificate %s is valid for %s more", subject, humanDuration(left)), "")
	return true
}

// emptyCNFix is seed 000's request, made again with the user name.
func emptyCNFix(k *kubeconfig) string {
	key := k.user.ClientKey
	if key == "" {
		key = "USER.key"
	}
	user := k.userName
	return fmt.Sprintf("make the request again with the user name as CN, then have it signed as before (seed 000): openssl req -new -key %s -out %s.csr -subj %s",
		shellQuote(key), shellQuote(user), shellQuote("/CN="+user))
}
