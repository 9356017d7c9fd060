package clusterpki

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sekisho/sekisho/internal/atomicfile"
	"github.com/sekisho/sekisho/internal/pki"
)

// EtcdMemberOptions name one member of an etcd cluster whose certificates
// the cluster's etcd CA (in Dir) issues.
type EtcdMemberOptions struct {
	Dir     string
	Name    string
	Address net.IP
	// Out receives pki/etcd/{ca.crt,server.*,peer.*} for the member:
	// copy it to the member's machine and run `sekisho etcd --pki-dir
	// OUT/pki` there.
	Out      string
	KeyType  pki.KeyType
	Validity time.Duration
	Now      time.Time
}

// IssueEtcdMember issues a member's etcd/server and etcd/peer
// certificates, as kubeadm issues them for the node it runs on: the
// member's name, localhost, its address and the loopback addresses.
func IssueEtcdMember(o EtcdMemberOptions) error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(strings.ToLower(o.Name)); o.Name == "" || len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--etcd-member %q: not a host name", o.Name))
	}
	if o.Address == nil {
		errs = append(errs, errors.New("--etcd-address: an IP address is required"))
	}
	if o.Out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	l := Layout{Dir: o.Dir}
	cas, err := l.loadCAs()
	if err != nil {
		return err
	}
	ca, err := signerFor(l, cas, pki.CAEtcd, "etcd member certificates")
	if err != nil {
		return err
	}
	dns := []string{strings.ToLower(o.Name), "localhost"}
	ips := []net.IP{o.Address, net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	var files []atomicfile.File
	for _, leaf := range []struct{ base, cn string }{{"server", "kube-etcd"}, {"peer", "kube-etcd-peer"}} {
		keys, err := pki.GenerateKeysOf([]pki.KeyType{o.KeyType})
		if err != nil {
			return err
		}
		key := keys[0]
		t := pki.Template{CommonName: leaf.cn, Kind: pki.KindServerClient, DNSNames: dns, IPs: ips}
		cert, err := ca.Issue(t.ValidFor(o.Now, o.Validity), key.Public())
		if err != nil {
			return validityError(err, "--cert-validity", o.Validity)
		}
		keyPEM, err := pki.EncodePrivateKey(key)
		if err != nil {
			return err
		}
		dir := filepath.Join(o.Out, PKIDir, "etcd")
		files = append(files,
			atomicfile.File{Path: filepath.Join(dir, leaf.base+".crt"), Data: pki.EncodeCertificates(issuedChain(cert, ca)...), Mode: ModeCert},
			atomicfile.File{Path: filepath.Join(dir, leaf.base+".key"), Data: keyPEM, Mode: ModeKey})
	}
	files = append(files, atomicfile.File{Path: filepath.Join(o.Out, PKIDir, "etcd", "ca.crt"), Data: pki.EncodeCertificates(ca.Cert), Mode: ModeCert})
	if err := os.MkdirAll(filepath.Join(o.Out, PKIDir, "etcd"), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteAll(files)
}
