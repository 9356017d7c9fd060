package certificates

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/pki"
)

func request(t testing.TB, subject pkix.Name, dns []string, ips []net.IP) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: dns, IPAddresses: ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func csr(req []byte, signer string, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer, Usages: usages}}
}

func TestValidateCreate(t *testing.T) {
	good := request(t, pkix.Name{CommonName: "alice"}, nil, nil)
	short := int32(599)
	withShort := csr(good, KubeAPIServerClient, "client auth")
	withShort.Spec.ExpirationSeconds = &short
	for _, c := range []struct {
		name string
		in   *certificatesv1.CertificateSigningRequest
		want string // "" means valid
	}{
		{"client", csr(good, KubeAPIServerClient, "client auth"), ""},
		{"client with digital signature", csr(good, KubeAPIServerClient, "digital signature", "key encipherment", "client auth"), ""},
		{"custom signer, any usages", csr(good, "example.com/x", "server auth", "code signing"), ""},
		// As in Kubernetes, usages that do not fit the signer are
		// refused when the request is signed, not when it is created.
		{"server usage on a client signer", csr(good, KubeAPIServerClient, "client auth", "server auth"), ""},
		{"unknown usage", csr(good, "example.com/x", "flying"), `Unsupported value: "flying"`},
		{"duplicate usage", csr(good, "example.com/x", "client auth", "client auth"), "Duplicate value"},
		{"no usages", csr(good, KubeAPIServerClient), "usages must be provided"},
		{"no request", csr(nil, KubeAPIServerClient, "client auth"), "spec.request: Required"},
		{"garbage", csr([]byte("hello"), KubeAPIServerClient, "client auth"), "PEM block type must be CERTIFICATE REQUEST"},
		{"a certificate, not a request", csr(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), KubeAPIServerClient, "client auth"), `not "CERTIFICATE"`},
		{"two blocks", csr(append(good, good...), KubeAPIServerClient, "client auth"), "exactly one PEM block"},
		{"signer without a path", csr(good, "example.com", "client auth"), "must be a fully qualified domain and path"},
		{"signer with a bad domain", csr(good, "Not_A_Domain/x", "client auth"), "the domain part"},
		{"legacy signer", csr(good, LegacyUnknown, "client auth"), "the legacy signerName is not allowed"},
		{"short", withShort, "may not specify a duration less than 600 seconds"},
	} {
		errs := ValidateCreate(c.in)
		switch {
		case c.want == "" && len(errs) > 0:
			t.Errorf("%s: %v", c.name, errs)
		case c.want != "" && !strings.Contains(errs.ToAggregate().Error(), c.want):
			t.Errorf("%s: %v, want %q", c.name, errs, c.want)
		}
	}
}

func cond(t certificatesv1.RequestConditionType) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue}
}

func TestConditionsAndStatus(t *testing.T) {
	req := request(t, pkix.Name{CommonName: "alice"}, nil, nil)
	pending := csr(req, KubeAPIServerClient, "client auth")
	approved := pending.DeepCopy()
	approved.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved)}
	denied := pending.DeepCopy()
	denied.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied)}
	both := approved.DeepCopy()
	both.Status.Conditions = append(both.Status.Conditions, cond(certificatesv1.CertificateDenied))
	twice := approved.DeepCopy()
	twice.Status.Conditions = append(twice.Status.Conditions, cond(certificatesv1.CertificateApproved))
	falseApproval := pending.DeepCopy()
	falseApproval.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse}}

	check := func(name string, errs field.ErrorList, want string) {
		t.Helper()
		err := errs.ToAggregate()
		switch {
		case want == "" && len(errs) > 0:
			t.Errorf("%s: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	check("approve", ValidateApproval(approved, pending), "")
	check("deny", ValidateApproval(denied, pending), "")
	check("approve and deny", ValidateApproval(both, pending), "Approved and Denied conditions are mutually exclusive")
	check("approve a denied request", ValidateApproval(both, denied), "mutually exclusive")
	check("un-deny", ValidateApproval(pending, denied), `updates may not remove a condition of type "Denied"`)
	check("approved twice", ValidateApproval(twice, pending), "Duplicate value")
	check("approval not True", ValidateApproval(falseApproval, pending), `Unsupported value: "False"`)

	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t)})
	issued := approved.DeepCopy()
	issued.Status.Certificate = cert
	check("issue", ValidateStatus(issued, approved), "")
	unapproved := pending.DeepCopy()
	unapproved.Status.Certificate = cert
	check("issue unapproved", ValidateStatus(unapproved, pending), "may only be set on an approved request")
	garbage := approved.DeepCopy()
	garbage.Status.Certificate = []byte("junk")
	check("issue garbage", ValidateStatus(garbage, approved), "must hold only PEM CERTIFICATE blocks")
	changed := issued.DeepCopy()
	changed.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t)})
	check("change the certificate", ValidateStatus(changed, issued), "updates may not modify existing certificate content")

	other := pending.DeepCopy()
	other.Spec.SignerName = "example.com/x"
	check("spec change", ValidateUpdate(other, pending), "spec: Forbidden: field is immutable")
}

func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCheckSigner(t *testing.T) {
	parse := func(subject pkix.Name, dns []string, ips []net.IP) *x509.CertificateRequest {
		cr, err := pki.ParseCSR(request(t, subject, dns, ips))
		if err != nil {
			t.Fatal(err)
		}
		return cr
	}
	node := pkix.Name{CommonName: "system:node:n1", Organization: []string{NodesGroup}}
	for _, c := range []struct {
		name   string
		signer string
		cr     *x509.CertificateRequest
		want   string
		usages []certificatesv1.KeyUsage
	}{
		{"server usage on a client signer", KubeAPIServerClient, parse(pkix.Name{CommonName: "x"}, nil, nil), "signs only the usages",
			[]certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth}},
		{"kubelet client without digital signature", KubeAPIServerClientKubelet, nil, "signs only the usages", []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}},
		{"client", KubeAPIServerClient, parse(pkix.Name{CommonName: "x", Organization: []string{"dev"}}, nil, nil), "", nil},
		{"client as masters", KubeAPIServerClient, parse(pkix.Name{CommonName: "x", Organization: []string{MastersGroup}}, nil, nil), "does not sign for the group system:masters", nil},
		{"kubelet client", KubeAPIServerClientKubelet, nil, "", nil},
		{"kubelet client, two groups", KubeAPIServerClientKubelet, parse(pkix.Name{CommonName: "system:node:n1", Organization: []string{NodesGroup, "x"}}, nil, nil), "must be exactly [system:nodes]", nil},
		{"kubelet client, bare prefix", KubeAPIServerClientKubelet, parse(pkix.Name{CommonName: "system:node:", Organization: []string{NodesGroup}}, nil, nil), "common name", nil},
		{"kubelet client with a SAN", KubeAPIServerClientKubelet, parse(node, []string{"n1"}, nil), "no subject alternative names", nil},
		{"kubelet client, not a node name", KubeAPIServerClientKubelet, parse(pkix.Name{CommonName: "system:node:../Evil Node", Organization: []string{NodesGroup}}, nil, nil), `the node name "../Evil Node" in the common name is not a valid node name`, nil},
		{"kubelet serving", KubeletServing, parse(node, nil, []net.IP{net.ParseIP("10.0.0.1")}), "", nil},
		{"kubelet serving without SAN", KubeletServing, nil, "at least one DNS name or IP address", nil},
		{"legacy", LegacyUnknown, nil, "not one sekisho signs for", nil},
	} {
		if c.cr == nil {
			c.cr = parse(node, nil, nil)
		}
		if c.usages == nil && signerUsages[c.signer] != nil {
			c.usages = signerUsages[c.signer][0]
		}
		err := CheckSigner(c.signer, c.usages, c.cr)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
