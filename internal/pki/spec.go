package pki

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The names of the three cluster CAs, as kubeadm reports them.
const (
	CAKubernetes = "ca"
	CAEtcd       = "etcd-ca"
	CAFrontProxy = "front-proxy-ca"
)

// CASpec describes one of the cluster's certificate authorities.
type CASpec struct {
	Name       string // kubeadm's name: "ca", "etcd-ca", "front-proxy-ca"
	BaseName   string // path under pki/ without extension
	CommonName string
}

// CertSpec describes one leaf certificate of the cluster PKI.
type CertSpec struct {
	Name          string // kubeadm's name, as `certs renew` accepts it
	BaseName      string // path under pki/ without extension
	CA            string // Name of the issuing CASpec
	CommonName    string
	Organizations []string
	Kind          Kind
	DNSNames      []string
	IPs           []net.IP
}

// Template returns the certificate template of s, without validity.
func (s CertSpec) Template() Template {
	return Template{
		CommonName:    s.CommonName,
		Organizations: s.Organizations,
		Kind:          s.Kind,
		DNSNames:      s.DNSNames,
		IPs:           s.IPs,
	}
}

// KubeconfigSpec describes one of the control plane's kubeconfig files.
type KubeconfigSpec struct {
	Name          string // the file name under the data dir, e.g. "admin.conf"
	UserName      string // the kubeconfig user entry
	CommonName    string
	Organizations []string
	// Local is true for components that run beside the API server and so
	// reach it through the advertise address rather than the control-plane
	// endpoint, as kubeadm does for the controller manager and scheduler.
	Local bool
}

// Template returns the client certificate template of s, without validity.
func (s KubeconfigSpec) Template() Template {
	return Template{CommonName: s.CommonName, Organizations: s.Organizations, Kind: KindClient}
}

// Well-known names carried by the cluster's certificates.
const (
	// GroupSystemMasters bypasses authorization entirely.
	GroupSystemMasters = "system:masters"
	// GroupClusterAdmins is bound to cluster-admin by RBAC, so admin.conf
	// can be revoked by deleting that binding (kubeadm since v1.29).
	GroupClusterAdmins = "kubeadm:cluster-admins"
	// GroupNodes holds every kubelet.
	GroupNodes = "system:nodes"
	// NodeUserPrefix prefixes a kubelet's user name.
	NodeUserPrefix = "system:node:"
	// ClusterName is the cluster entry in every generated kubeconfig.
	ClusterName = "kubernetes"
)

// CASpecs returns the cluster's three CAs in a fixed order.
func CASpecs() []CASpec {
	return []CASpec{
		{Name: CAKubernetes, BaseName: "ca", CommonName: "kubernetes-ca"},
		{Name: CAEtcd, BaseName: "etcd/ca", CommonName: "etcd-ca"},
		{Name: CAFrontProxy, BaseName: "front-proxy-ca", CommonName: "kubernetes-front-proxy-ca"},
	}
}

// CASpecByName returns the CA called name.
func CASpecByName(name string) (CASpec, bool) {
	for _, s := range CASpecs() {
		if s.Name == name {
			return s, true
		}
	}
	return CASpec{}, false
}

// LeafNames lists the leaf certificates in the order they are built and reported.
func LeafNames() []string {
	return []string{
		"apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client",
		"etcd-server", "etcd-peer", "etcd-healthcheck-client",
	}
}

// LeafBaseName maps a leaf name to its path under pki/ without extension.
func LeafBaseName(name string) string {
	if after, ok := strings.CutPrefix(name, "etcd-"); ok {
		return "etcd/" + after
	}
	return name
}

// KubeconfigNames lists the kubeconfig files in the order they are built and reported.
func KubeconfigNames() []string {
	return []string{"admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"}
}

// ClusterConfig holds the facts about the cluster that shape its certificates.
type ClusterConfig struct {
	NodeName             string
	AdvertiseAddress     net.IP
	BindPort             int
	ControlPlaneEndpoint string // host or host:port; empty means the advertise address
	ServiceCIDR          string
	DNSDomain            string
	ExtraSANs            []string
}

// Validate reports every problem in c at once, each naming its flag.
func (c ClusterConfig) Validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(c.NodeName); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--node-name %q: %s", c.NodeName, strings.Join(msgs, "; ")))
	}
	if c.AdvertiseAddress == nil || c.AdvertiseAddress.IsUnspecified() {
		errs = append(errs, errors.New("--apiserver-advertise-address: must be a specific IP address"))
	}
	if c.BindPort < 1 || c.BindPort > 65535 {
		errs = append(errs, fmt.Errorf("--apiserver-bind-port %d: must be between 1 and 65535", c.BindPort))
	}
	if _, err := c.serviceIP(); err != nil {
		errs = append(errs, err)
	}
	if msgs := validation.IsDNS1123Subdomain(c.DNSDomain); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--dns-domain %q: %s", c.DNSDomain, strings.Join(msgs, "; ")))
	}
	if c.ControlPlaneEndpoint != "" {
		if _, _, err := c.endpoint(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, san := range c.ExtraSANs {
		if net.ParseIP(san) != nil {
			continue
		}
		if looksLikeIP(san) {
			errs = append(errs, fmt.Errorf("--apiserver-cert-extra-sans: %q is not a valid IP address", san))
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(strings.TrimPrefix(san, "*.")); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--apiserver-cert-extra-sans: %q is neither an IP address nor a DNS name: %s", san, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// serviceIP returns the first usable address of the service CIDR, which the
// in-cluster "kubernetes" Service is given.
func (c ClusterConfig) serviceIP() (net.IP, error) {
	// Dual-stack clusters list one CIDR per family; the first one is primary.
	first, _, _ := strings.Cut(c.ServiceCIDR, ",")
	_, ipnet, err := net.ParseCIDR(strings.TrimSpace(first))
	if err != nil {
		return nil, fmt.Errorf("--service-cidr %q: not a CIDR", c.ServiceCIDR)
	}
	ip := slices.Clone(ipnet.IP)
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
	}
	if !ipnet.Contains(ip) {
		return nil, fmt.Errorf("--service-cidr %q: too small to hold a service IP", c.ServiceCIDR)
	}
	return ip, nil
}

// endpoint splits ControlPlaneEndpoint into host and port, the port
// defaulting to BindPort.
func (c ClusterConfig) endpoint() (string, int, error) {
	ep := c.ControlPlaneEndpoint
	host, portStr, err := net.SplitHostPort(ep)
	if err != nil {
		// No port: the whole value is the host (an IPv6 address may be bracketed).
		host, portStr = strings.TrimSuffix(strings.TrimPrefix(ep, "["), "]"), ""
	}
	port := c.BindPort
	if portStr != "" {
		port, err = strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("--control-plane-endpoint %q: invalid port", ep)
		}
	}
	if net.ParseIP(host) == nil {
		if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
			return "", 0, fmt.Errorf("--control-plane-endpoint %q: %s", ep, strings.Join(msgs, "; "))
		}
	}
	return host, port, nil
}

// ServerURL is the API server address written into kubeconfig files for
// clients outside the control plane: the control-plane endpoint when set,
// otherwise the advertise address.
func (c ClusterConfig) ServerURL() string {
	if c.ControlPlaneEndpoint != "" {
		if host, port, err := c.endpoint(); err == nil {
			return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
	return c.LocalServerURL()
}

// LocalServerURL is the API server address for components on the control
// plane node itself.
func (c ClusterConfig) LocalServerURL() string {
	return "https://" + net.JoinHostPort(c.AdvertiseAddress.String(), strconv.Itoa(c.BindPort))
}

// LeafSpecs returns the seven leaf certificates of the cluster PKI. c must
// be valid.
func (c ClusterConfig) LeafSpecs() []CertSpec {
	serviceIP, _ := c.serviceIP()
	node := strings.ToLower(c.NodeName)

	apiDNS := []string{
		node, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster", "kubernetes.default.svc." + c.DNSDomain,
	}
	apiIPs := []net.IP{c.AdvertiseAddress, serviceIP}
	if c.ControlPlaneEndpoint != "" {
		host, _, _ := c.endpoint()
		apiDNS, apiIPs = addSAN(apiDNS, apiIPs, host)
	}
	for _, san := range c.ExtraSANs {
		apiDNS, apiIPs = addSAN(apiDNS, apiIPs, san)
	}

	etcdDNS := []string{node, "localhost"}
	etcdIPs := dedupIPs([]net.IP{c.AdvertiseAddress, net.IPv4(127, 0, 0, 1), net.IPv6loopback})

	specs := []CertSpec{
		{Name: "apiserver", CA: CAKubernetes, CommonName: "kube-apiserver", Kind: KindServer, DNSNames: dedup(apiDNS), IPs: dedupIPs(apiIPs)},
		{Name: "apiserver-kubelet-client", CA: CAKubernetes, CommonName: "kube-apiserver-kubelet-client", Organizations: []string{GroupSystemMasters}, Kind: KindClient},
		{Name: "apiserver-etcd-client", CA: CAEtcd, CommonName: "kube-apiserver-etcd-client", Organizations: []string{GroupSystemMasters}, Kind: KindClient},
		{Name: "front-proxy-client", CA: CAFrontProxy, CommonName: "front-proxy-client", Kind: KindClient},
		{Name: "etcd-server", CA: CAEtcd, CommonName: "kube-etcd", Kind: KindServerClient, DNSNames: etcdDNS, IPs: etcdIPs},
		{Name: "etcd-peer", CA: CAEtcd, CommonName: "kube-etcd-peer", Kind: KindServerClient, DNSNames: etcdDNS, IPs: etcdIPs},
		{Name: "etcd-healthcheck-client", CA: CAEtcd, CommonName: "kube-etcd-healthcheck-client", Kind: KindClient},
	}
	for i := range specs {
		specs[i].BaseName = LeafBaseName(specs[i].Name)
	}
	return specs
}

// KubeconfigSpecs returns the control plane's five kubeconfig files.
func (c ClusterConfig) KubeconfigSpecs() []KubeconfigSpec {
	node := NodeUserPrefix + strings.ToLower(c.NodeName)
	return []KubeconfigSpec{
		{Name: "admin.conf", UserName: "kubernetes-admin", CommonName: "kubernetes-admin", Organizations: []string{GroupClusterAdmins}},
		{Name: "super-admin.conf", UserName: "kubernetes-super-admin", CommonName: "kubernetes-super-admin", Organizations: []string{GroupSystemMasters}},
		{Name: "kubelet.conf", UserName: node, CommonName: node, Organizations: []string{GroupNodes}},
		{Name: "controller-manager.conf", UserName: "system:kube-controller-manager", CommonName: "system:kube-controller-manager", Local: true},
		{Name: "scheduler.conf", UserName: "system:kube-scheduler", CommonName: "system:kube-scheduler", Local: true},
	}
}

// looksLikeIP reports whether s was meant as an IP address: only digits and
// dots (IPv4) or containing a colon (IPv6). Such a value that does not parse
// is a typo, not a DNS name.
func looksLikeIP(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	return strings.Trim(s, "0123456789.") == "" && strings.Contains(s, ".")
}

func addSAN(dns []string, ips []net.IP, san string) ([]string, []net.IP) {
	if ip := net.ParseIP(san); ip != nil {
		return dns, append(ips, ip)
	}
	return append(dns, strings.ToLower(san)), ips
}

func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func dedupIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if !slices.ContainsFunc(out, ip.Equal) {
			out = append(out, ip)
		}
	}
	return out
}
