package pki

import (
	"net"
	"slices"
	"strings"
	"testing"
)

func testCluster() ClusterConfig {
	return ClusterConfig{
		NodeName:         "cp-1",
		AdvertiseAddress: net.ParseIP("192.0.2.10"),
		BindPort:         6443,
		ServiceCIDR:      "10.96.0.0/12",
		DNSDomain:        "example.internal",
		ExtraSANs:        []string{"api.example.com", "203.0.113.7"},
	}
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// TestLeafSpecsMatchTheRequirements checks the leaf table against the
// Kubernetes PKI requirements, row by row.
func TestLeafSpecsMatchTheRequirements(t *testing.T) {
	type row struct {
		base, cn, ca string
		orgs         []string
		kind         Kind
		dns, ips     []string
	}
	etcdDNS := []string{"cp-1", "localhost"}
	etcdIPs := []string{"192.0.2.10", "127.0.0.1", "::1"}
	want := map[string]row{
		"etcd-server":             {"etcd/server", "kube-etcd", CAEtcd, nil, KindServerClient, etcdDNS, etcdIPs},
		"etcd-peer":               {"etcd/peer", "kube-etcd-peer", CAEtcd, nil, KindServerClient, etcdDNS, etcdIPs},
		"etcd-healthcheck-client": {"etcd/healthcheck-client", "kube-etcd-healthcheck-client", CAEtcd, nil, KindClient, nil, nil},
		"apiserver-etcd-client":   {"apiserver-etcd-client", "kube-apiserver-etcd-client", CAEtcd, []string{"system:masters"}, KindClient, nil, nil},
		"apiserver": {"apiserver", "kube-apiserver", CAKubernetes, nil, KindServer,
			[]string{"cp-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster",
				"kubernetes.default.svc.example.internal", "api.example.com"},
			[]string{"192.0.2.10", "10.96.0.1", "203.0.113.7"}},
		"apiserver-kubelet-client": {"apiserver-kubelet-client", "kube-apiserver-kubelet-client", CAKubernetes, []string{"system:masters"}, KindClient, nil, nil},
		"front-proxy-client":       {"front-proxy-client", "front-proxy-client", CAFrontProxy, nil, KindClient, nil, nil},
	}
	specs := testCluster().LeafSpecs()
	if len(specs) != len(want) {
		t.Fatalf("got %d leaves, want %d", len(specs), len(want))
	}
	for _, s := range specs {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected leaf %q", s.Name)
			continue
		}
		got := row{s.BaseName, s.CommonName, s.CA, s.Organizations, s.Kind, s.DNSNames, ipStrings(s.IPs)}
		if got.base != w.base || got.cn != w.cn || got.ca != w.ca || got.kind != w.kind ||
			!slices.Equal(got.orgs, w.orgs) || !slices.Equal(got.dns, w.dns) || !slices.Equal(got.ips, w.ips) {
			t.Errorf("%s:\n got %+v\nwant %+v", s.Name, got, w)
		}
	}
}

func TestKubeconfigSpecs(t *testing.T) {
	want := map[string][2]string{
		"admin.conf":              {"kubernetes-admin", "kubeadm:cluster-admins"},
		"super-admin.conf":        {"kubernetes-super-admin", "system:masters"},
		"kubelet.conf":            {"system:node:cp-1", "system:nodes"},
		"controller-manager.conf": {"system:kube-controller-manager", ""},
		"scheduler.conf":          {"system:kube-scheduler", ""},
	}
	specs := testCluster().KubeconfigSpecs()
	if len(specs) != len(want) {
		t.Fatalf("got %d kubeconfigs, want %d", len(specs), len(want))
	}
	for _, s := range specs {
		w := want[s.Name]
		if s.CommonName != w[0] || strings.Join(s.Organizations, ",") != w[1] {
			t.Errorf("%s: CN=%q O=%v, want CN=%q O=%q", s.Name, s.CommonName, s.Organizations, w[0], w[1])
		}
	}
}

func TestServerURLs(t *testing.T) {
	c := testCluster()
	if got := c.ServerURL(); got != "https://192.0.2.10:6443" {
		t.Errorf("ServerURL = %q", got)
	}
	c.ControlPlaneEndpoint = "lb.example.com"
	if got := c.ServerURL(); got != "https://lb.example.com:6443" {
		t.Errorf("ServerURL with endpoint = %q", got)
	}
	c.ControlPlaneEndpoint = "lb.example.com:8443"
	if got := c.ServerURL(); got != "https://lb.example.com:8443" {
		t.Errorf("ServerURL with endpoint port = %q", got)
	}
	if got := c.LocalServerURL(); got != "https://192.0.2.10:6443" {
		t.Errorf("LocalServerURL = %q", got)
	}
	c.AdvertiseAddress = net.ParseIP("2001:db8::1")
	if got := c.LocalServerURL(); got != "https://[2001:db8::1]:6443" {
		t.Errorf("IPv6 LocalServerURL = %q", got)
	}
	// The endpoint host becomes an apiserver SAN.
	if !slices.Contains(c.LeafSpecs()[0].DNSNames, "lb.example.com") {
		t.Errorf("control-plane endpoint missing from apiserver SANs")
	}
}

func TestServiceIP(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.96.0.0/12":             "10.96.0.1",
		"10.0.0.255/24":            "10.0.0.1",
		"fd00::/108":               "fd00::1",
		"10.96.0.0/12,fd00::/108":  "10.96.0.1",
		"192.168.255.255/32":       "",
		"not-a-cidr":               "",
		"10.96.0.0/12, fd00::/108": "10.96.0.1",
	} {
		c := testCluster()
		c.ServiceCIDR = cidr
		ip, err := c.serviceIP()
		if want == "" {
			if err == nil {
				t.Errorf("%s: want an error, got %s", cidr, ip)
			}
			continue
		}
		if err != nil || ip.String() != want {
			t.Errorf("%s: got %v, %v; want %s", cidr, ip, err, want)
		}
	}
}

func TestValidateNamesEveryBadFlag(t *testing.T) {
	c := ClusterConfig{
		NodeName:             "Bad_Node",
		AdvertiseAddress:     net.IPv4zero,
		BindPort:             70000,
		ServiceCIDR:          "10.96.0.0",
		DNSDomain:            "-bad-",
		ControlPlaneEndpoint: "lb.example.com:notaport",
		ExtraSANs:            []string{"good.example.com", "bad_name!", "1.2.3.4", "300.1.2.3", "fe80::zz"},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, flag := range []string{"--node-name", "--apiserver-advertise-address", "--apiserver-bind-port", "--service-cidr",
		"--dns-domain", "--control-plane-endpoint", `--apiserver-cert-extra-sans: "bad_name!"`,
		`"300.1.2.3" is not a valid IP address`, `"fe80::zz" is not a valid IP address`} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error does not name %s: %v", flag, err)
		}
	}
	if strings.Contains(err.Error(), "good.example.com") || strings.Contains(err.Error(), "1.2.3.4") {
		t.Errorf("valid SANs reported as invalid: %v", err)
	}
	if err := testCluster().Validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}
