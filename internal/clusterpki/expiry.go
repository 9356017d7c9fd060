package clusterpki

import (
	"crypto/x509"
	"fmt"
	"sort"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// Expiration is one row of `certs check-expiration`. The JSON field names
// follow kubeadm's CertificateExpirationInfo so scripts carry over.
type Expiration struct {
	Name              string        `json:"name"`
	ExpirationDate    time.Time     `json:"expirationDate"`
	ResidualTime      time.Duration `json:"residualTime"`
	CAName            string        `json:"caName,omitempty"`
	ExternallyManaged bool          `json:"externallyManaged"`
	Missing           bool          `json:"missing"`
}

// ExpirationReport lists leaves (certificates and kubeconfigs) and CAs.
type ExpirationReport struct {
	Certificates           []Expiration `json:"certificates"`
	CertificateAuthorities []Expiration `json:"certificateAuthorities"`
}

// ExpiringWithin returns the rows that are missing or expire before now+window.
func (r *ExpirationReport) ExpiringWithin(window time.Duration) []Expiration {
	var out []Expiration
	for _, e := range append(append([]Expiration{}, r.Certificates...), r.CertificateAuthorities...) {
		if e.Missing || e.ResidualTime < window {
			out = append(out, e)
		}
	}
	return out
}

// CheckExpiration reads every certificate of the cluster PKI under dir and
// reports when each expires. A file that is absent is reported as missing;
// a file that cannot be parsed is an error naming it.
func CheckExpiration(dir string, now time.Time) (*ExpirationReport, error) {
	l := Layout{Dir: dir}
	cas, err := l.loadCAs()
	if err != nil {
		return nil, err
	}
	rep := &ExpirationReport{}
	row := func(name string, cert *x509.Certificate, caName string) Expiration {
		e := Expiration{Name: name, CAName: caName}
		if ca := cas[caName]; ca != nil {
			e.ExternallyManaged = ca.Key == nil
		}
		if cert == nil {
			e.Missing = true
			return e
		}
		e.ExpirationDate = cert.NotAfter.UTC()
		e.ResidualTime = cert.NotAfter.Sub(now)
		return e
	}

	for _, spec := range pki.CASpecs() {
		var cert *x509.Certificate
		if ca := cas[spec.Name]; ca != nil {
			cert = ca.Cert
		}
		e := row(spec.Name, cert, spec.Name)
		e.CAName = ""
		rep.CertificateAuthorities = append(rep.CertificateAuthorities, e)
	}
	for _, name := range pki.LeafNames() {
		certs, _, err := l.loadCertChain(CertFile(pki.LeafBaseName(name)))
		if err != nil {
			return nil, err
		}
		var cert *x509.Certificate
		if len(certs) > 0 {
			cert = certs[0]
		}
		rep.Certificates = append(rep.Certificates, row(name, cert, leafCAName(name)))
	}
	for _, name := range pki.KubeconfigNames() {
		data, ok, err := l.readOptional(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			rep.Certificates = append(rep.Certificates, row(name, nil, pki.CAKubernetes))
			continue
		}
		kc, err := kubeconfig.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", l.Path(name), err)
		}
		certs, err := pki.ParseCertificates(kc.CertPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: client-certificate-data: %v", l.Path(name), err)
		}
		caName := pki.CAKubernetes
		if _, n := caOf(cas, certs[0]); n != "" {
			caName = n
		}
		rep.Certificates = append(rep.Certificates, row(name, certs[0], caName))
	}
	sort.Slice(rep.Certificates, func(i, j int) bool { return rep.Certificates[i].Name < rep.Certificates[j].Name })
	return rep, nil
}

// HumanDuration renders d the way kubectl and kubeadm print ages: the two
// most significant units for short spans ("3h15m"), one unit for long ones
// ("364d", "9y"), and "<invalid>" for a negative span.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		return "<invalid>"
	}
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 2*day:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	case d < 2*365*day:
		return fmt.Sprintf("%dd", int(d/day))
	}
	return fmt.Sprintf("%dy", int(d/(365*day)))
}
