package certificates

import (
	"crypto/x509/pkix"
	"slices"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/sekisho/sekisho/internal/pki"
)

// FuzzCheckSigner feeds certificate requests to the parser and the signer
// checks. Nothing panics; a kubelet client request passes only with
// exactly O=system:nodes, CN=system:node:<a valid node name> and no
// subject alternative name; a kube-apiserver-client request never passes
// for system:masters.
func FuzzCheckSigner(f *testing.F) {
	node := pkix.Name{CommonName: "system:node:n1", Organization: []string{NodesGroup}}
	f.Add(request(f, node, nil, nil))
	f.Add(request(f, pkix.Name{CommonName: "alice", Organization: []string{MastersGroup}}, nil, nil))
	f.Add(request(f, node, []string{"n1"}, nil))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cr, err := pki.ParseCSR(data)
		if err != nil {
			return
		}
		for _, signer := range []string{KubeAPIServerClient, KubeAPIServerClientKubelet, KubeletServing, LegacyUnknown, "example.com/x"} {
			var usages []certificatesv1.KeyUsage
			if sets := signerUsages[signer]; sets != nil {
				usages = sets[0]
			}
			if CheckSigner(signer, usages, cr) != nil {
				continue
			}
			switch signer {
			case KubeAPIServerClient:
				if slices.Contains(cr.Subject.Organization, MastersGroup) {
					t.Fatalf("client request for system:masters passed")
				}
			case KubeAPIServerClientKubelet, KubeletServing:
				if !slices.Equal(cr.Subject.Organization, []string{NodesGroup}) || !strings.HasPrefix(cr.Subject.CommonName, NodeUserPrefix) ||
					len(cr.Subject.CommonName) == len(NodeUserPrefix) {
					t.Fatalf("%s request for %v passed", signer, cr.Subject)
				}
				if signer == KubeAPIServerClientKubelet && len(cr.DNSNames)+len(cr.IPAddresses)+len(cr.EmailAddresses)+len(cr.URIs) > 0 {
					t.Fatalf("kubelet client request with SANs passed")
				}
			default:
				t.Fatalf("signer %s is not sekisho's, yet the request passed", signer)
			}
		}
	})
}
