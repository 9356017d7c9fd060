package csrcleaner

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpired(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-30 * time.Hour))
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	decided := func(typ certificatesv1.RequestConditionType, ago time.Duration) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{
				{Type: typ, Status: corev1.ConditionTrue, LastUpdateTime: at(ago)},
			}},
		}
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certExpiring := func(notAfter time.Time) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: now.Add(-time.Hour), NotAfter: notAfter}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	issuedRecently := decided(certificatesv1.CertificateApproved, 10*time.Minute)
	issuedRecently.Status.Certificate = certExpiring(now.Add(time.Hour))
	issuedExpired := decided(certificatesv1.CertificateApproved, 10*time.Minute)
	issuedExpired.Status.Certificate = certExpiring(now.Add(-time.Minute))
	for _, c := range []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want bool
	}{
		{"approved 59m ago", decided(certificatesv1.CertificateApproved, 59*time.Minute), false},
		{"approved 61m ago", decided(certificatesv1.CertificateApproved, 61*time.Minute), true},
		{"denied 61m ago", decided(certificatesv1.CertificateDenied, 61*time.Minute), true},
		{"failed 61m ago", decided(certificatesv1.CertificateFailed, 61*time.Minute), true},
		{"pending 23h", &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(23 * time.Hour)}}, false},
		{"pending 25h", &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(25 * time.Hour)}}, true},
		{"issued, valid", issuedRecently, false},
		{"issued, expired", issuedExpired, true},
	} {
		if got, why := Expired(c.csr, now); got != c.want {
			t.Errorf("%s: Expired = %v (%s), want %v", c.name, got, why, c.want)
		}
	}
}
