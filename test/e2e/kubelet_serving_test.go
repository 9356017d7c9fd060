package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net"
	"strings"
	"testing"
)

// nodeRequest is a PEM CSR for node's identity (O=system:nodes,
// CN=system:node:<node>) with the given SANs: none for a client
// certificate, the node's addresses for a serving one.
func nodeRequest(t *testing.T, node string, dnsNames []string, ips ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
		DNSNames: dnsNames,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// csrState reads a request's conditions ("Approved", "Denied") with their
// messages, and whether a certificate was issued.
func (s *server) csrState(t *testing.T, name string) (conditions map[string]string, issued bool) {
	t.Helper()
	var csr struct {
		Status struct {
			Conditions  []struct{ Type, Reason, Message string }
			Certificate string
		}
	}
	if err := json.Unmarshal([]byte(s.mustKubectl("get", "csr", name, "-o", "json")), &csr); err != nil {
		t.Fatal(err)
	}
	conditions = map[string]string{}
	for _, c := range csr.Status.Conditions {
		conditions[c.Type] = c.Reason + ": " + c.Message
	}
	return conditions, csr.Status.Certificate != ""
}

// Kubelet serving requests are decided by sekisho's approver, when named
// in --controllers: the node's own request for its recorded addresses is
// approved and signed; one made by another node, one with a foreign SAN,
// one with client usages, one for a name of the API server and one for
// another node's address (each claimed in the node's own status) are
// denied with the reason; one for a node not registered, and one an
// administrator made by hand, wait.
func TestKubeletServingCSRApprover(t *testing.T) {
	requireTools(t, "kubectl")
	// Off under '*': a node writes the addresses it is judged by.
	s := startServer(t, "--controllers=*,kubelet-serving-approving-controller")
	n1 := s.userKubeconfig(t, "system:node:n1", "system:nodes")
	n4 := s.userKubeconfig(t, "system:node:n4", "system:nodes")
	n2 := s.userKubeconfig(t, "system:node:n2", "system:nodes")
	n3 := s.userKubeconfig(t, "system:node:n3", "system:nodes")
	// The node registers itself with its addresses, as a kubelet does.
	s.mustKubectlAs(n1, "create", "-f", writeFile(t, "node.yaml", `apiVersion: v1
kind: Node
metadata:
  name: n1
status:
  addresses:
  - type: Hostname
    address: n1
  - type: InternalIP
    address: 10.0.0.5
  - type: InternalDNS
    address: kubernetes.default.svc
  - type: ExternalIP
    address: 10.0.0.9
`))
	// Another node claims one of n1's addresses in its own status.
	s.mustKubectlAs(n4, "create", "-f", writeFile(t, "node4.yaml", `apiVersion: v1
kind: Node
metadata:
  name: n4
status:
  addresses:
  - type: InternalIP
    address: 10.0.0.9
`))
	serving := "kubernetes.io/kubelet-serving"
	create := func(kubeconfig, name string, request []byte, usages ...string) {
		t.Helper()
		s.mustKubectlAs(kubeconfig, "create", "-f", writeFile(t, name+".yaml", csrManifest(name, serving, request, 0, usages...)))
	}
	create(n1, "good", nodeRequest(t, "n1", []string{"n1"}, "10.0.0.5"), "digital signature", "server auth")
	create(n2, "other-node", nodeRequest(t, "n1", []string{"n1"}, "10.0.0.5"), "digital signature", "server auth")
	create(n1, "foreign-san", nodeRequest(t, "n1", []string{"n1", "evil.example.com"}, "10.0.0.5"), "digital signature", "server auth")
	create(n1, "server-name", nodeRequest(t, "n1", []string{"n1", "kubernetes.default.svc"}), "digital signature", "server auth")
	create(n4, "other-address", nodeRequest(t, "n4", nil, "10.0.0.9"), "digital signature", "server auth")
	create(n1, "client-usages", nodeRequest(t, "n1", []string{"n1"}), "digital signature", "server auth", "client auth")
	create(n3, "unregistered", nodeRequest(t, "n3", []string{"n3"}), "digital signature", "server auth")
	admin := s.dir + "/admin.conf"
	create(admin, "by-hand", nodeRequest(t, "n1", []string{"n1", "lb.example.com"}), "digital signature", "server auth")

	if !waitFor(func() bool { _, issued := s.csrState(t, "good"); return issued }) {
		c, _ := s.csrState(t, "good")
		t.Fatalf("the node's own request was not approved and signed: %v", c)
	}
	if c, _ := s.csrState(t, "good"); !strings.HasPrefix(c["Approved"], "AutoApproved") {
		t.Errorf("good: %v", c)
	}
	for name, want := range map[string]string{
		"other-node":    `requested by "system:node:n2", not by the node n1 itself`,
		"foreign-san":   "evil.example.com not among node n1's addresses in its status (n1, kubernetes.default.svc, 10.0.0.5, 10.0.0.9)",
		"client-usages": "client auth",
		"server-name":   "kubernetes.default.svc is a name of the API server",
		"other-address": "10.0.0.9 is an address of node n1",
	} {
		var c map[string]string
		if !waitFor(func() bool { c, _ = s.csrState(t, name); return c["Denied"] != "" }) {
			t.Errorf("%s was not denied: %v", name, c)
			continue
		}
		if !strings.HasPrefix(c["Denied"], "KubeletServingPolicy: ") || !strings.Contains(c["Denied"], want) {
			t.Errorf("%s denied with %q, want the reason %q", name, c["Denied"], want)
		}
		if _, issued := s.csrState(t, name); issued {
			t.Errorf("%s was signed", name)
		}
	}
	for _, name := range []string{"unregistered", "by-hand"} {
		if c, issued := s.csrState(t, name); len(c) != 0 || issued {
			t.Errorf("%s was decided: %v", name, c)
		}
	}
	// kubectl shows the decisions.
	if out := s.mustKubectl("get", "csr"); !strings.Contains(out, "Approved,Issued") || strings.Count(out, "Denied") != 5 {
		t.Errorf("kubectl get csr:\n%s", out)
	}
}
