package catalog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
)

func TestPodCertificateRequestValidation(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stub, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	seconds := func(v int32) *int32 { return &v }
	valid := func() *certificatesv1.PodCertificateRequestSpec {
		return &certificatesv1.PodCertificateRequestSpec{
			SignerName: "example.com/signer", PodName: "p", PodUID: "u1", ServiceAccountName: "default", ServiceAccountUID: "u2",
			NodeName: "n1", NodeUID: "u3", MaxExpirationSeconds: seconds(86400), StubPKCS10Request: stub,
		}
	}
	if errs := validatePodCertificateRequest(valid()); len(errs) != 0 {
		t.Fatalf("valid request: %v", errs)
	}
	for what, c := range map[string]struct {
		change func(*certificatesv1.PodCertificateRequestSpec)
		want   string
	}{
		"no key":                   {func(s *certificatesv1.PodCertificateRequestSpec) { s.StubPKCS10Request = nil }, "exactly one of (stubPKCS10Request)"},
		"a key that is no request": {func(s *certificatesv1.PodCertificateRequestSpec) { s.StubPKCS10Request = []byte{1, 2} }, "spec.stubPKCS10Request"},
		"signer without a path":    {func(s *certificatesv1.PodCertificateRequestSpec) { s.SignerName = "nope" }, "spec.signerName"},
		"no pod UID":               {func(s *certificatesv1.PodCertificateRequestSpec) { s.PodUID = "" }, "spec.podUID: Invalid value: \"\": must not be empty"},
		"a bad node name":          {func(s *certificatesv1.PodCertificateRequestSpec) { s.NodeName = "Node_1" }, "spec.nodeName"},
		"a Kubernetes signer's two days": {func(s *certificatesv1.PodCertificateRequestSpec) {
			s.SignerName, s.MaxExpirationSeconds = "kubernetes.io/kube-apiserver-client-pod", seconds(2*86400)
		}, "must be in the range [3600, 86400]"},
		"no expiration": {func(s *certificatesv1.PodCertificateRequestSpec) { s.MaxExpirationSeconds = nil }, "spec.maxExpirationSeconds: Required value"},
	} {
		s := valid()
		c.change(s)
		if errs := validatePodCertificateRequest(s); !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("%s: %v, want %q", what, errs, c.want)
		}
	}
}
