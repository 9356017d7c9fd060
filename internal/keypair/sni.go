package keypair

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Named is a pair served to clients asking, by SNI, for one of its names:
// Names when given (kube-apiserver's --tls-sni-cert-key
// "cert,key:name,..."), else the names its certificate carries.
type Named struct {
	Pair  *Pair
	Names []string
}

// ParseSNIFlag reads one --tls-sni-cert-key value: "CERT,KEY" or
// "CERT,KEY:NAME[,NAME...]", a name being a domain, a wildcard
// (*.example.com) or an IP address.
func ParseSNIFlag(value string) (certFile, keyFile string, names []string, err error) {
	files, patterns, named := strings.Cut(value, ":")
	certFile, keyFile, ok := strings.Cut(files, ",")
	if !ok || certFile == "" || keyFile == "" || strings.Contains(keyFile, ",") {
		return "", "", nil, fmt.Errorf("%q: want CERTFILE,KEYFILE or CERTFILE,KEYFILE:NAME[,NAME...]", value)
	}
	if named {
		for _, n := range strings.Split(patterns, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if net.ParseIP(n) == nil && len(validation.IsDNS1123Subdomain(strings.TrimPrefix(n, "*."))) > 0 {
				return "", "", nil, fmt.Errorf("%q: %q is neither a domain name, a wildcard nor an IP address", value, n)
			}
			names = append(names, n)
		}
	}
	return certFile, keyFile, names, nil
}

// SNI serves, for each handshake, the certificate for the name the client
// asked for, as kube-apiserver chooses among --tls-sni-cert-key pairs: an
// exact name before a wildcard one (*.example.com for a.example.com),
// names given on the flag before names read from a certificate, the
// earlier flag first; the default pair when nothing matches. A client
// that sends no name (it dialled an IP) is matched by the address it
// reached. Every pair reloads on its own; names read from a certificate
// follow it.
type SNI struct {
	Default *Pair
	Named   []Named
}

// Start loads and watches every pair; an error names the flag of the
// pair that did not load.
func (s *SNI) Start(ctx context.Context) error {
	if s.Default == nil {
		return errors.New("no default serving certificate")
	}
	if err := s.Default.Start(ctx); err != nil {
		return fmt.Errorf("--tls-cert-file/--tls-private-key-file: %w", err)
	}
	for _, n := range s.Named {
		if err := n.Pair.Start(ctx); err != nil {
			return fmt.Errorf("--tls-sni-cert-key: %w", err)
		}
	}
	return nil
}

// GetCertificate chooses the pair for a handshake, for tls.Config.
func (s *SNI) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" && hello.Conn != nil {
		if host, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String()); err == nil {
			name = host
		}
	}
	if name != "" {
		if c := s.lookup(name); c != nil {
			return c, nil
		}
		if i := strings.IndexByte(name, '.'); i > 0 && net.ParseIP(name) == nil {
			if c := s.lookup("*" + name[i:]); c != nil {
				return c, nil
			}
		}
	}
	return s.Default.Current(), nil
}

// lookup finds the pair named name: on a flag first, then in a certificate.
func (s *SNI) lookup(name string) *tls.Certificate {
	for _, n := range s.Named {
		for _, pattern := range n.Names {
			if pattern == name {
				return n.Pair.Current()
			}
		}
	}
	for _, n := range s.Named {
		if len(n.Names) > 0 {
			continue
		}
		c := n.Pair.Current()
		for _, certName := range certificateNames(c) {
			if certName == name {
				return c
			}
		}
	}
	return nil
}

// certificateNames are the names SNI can select a certificate by: its DNS
// names, and its common name when that is a domain name. IP addresses are
// left out, as kube-apiserver leaves them: SNI carries no IPs, and an IP
// is selected only when a flag names it.
func certificateNames(c *tls.Certificate) []string {
	if c == nil || c.Leaf == nil {
		return nil
	}
	var names []string
	cn := strings.ToLower(c.Leaf.Subject.CommonName)
	if cn != "" && net.ParseIP(cn) == nil && len(validation.IsDNS1123Subdomain(strings.TrimPrefix(cn, "*."))) == 0 {
		names = append(names, cn)
	}
	for _, d := range c.Leaf.DNSNames {
		names = append(names, strings.ToLower(d))
	}
	return names
}
