package csrapproving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/certificates"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
)

// ServingController decides kubelet serving certificate requests (signer
// kubernetes.io/kubelet-serving), which Kubernetes ships no approver for.
// A request a node makes (its requester is in system:nodes) is approved
// only when the node asks for its own name, with exactly the serving
// usages, and every subject alternative name is one of the addresses its
// Node's status records and none is the API server's or another node's
// (a node writes its own status); one that breaks a rule is denied with
// the rule in the condition's message. One for a node not registered yet
// waits, and so does one made by anyone else (an administrator's own, by
// hand). It runs only when named in --controllers.
type ServingController struct {
	Store    *store.Writer
	Resource *catalog.Resource // certificatesigningrequests
	CSRs     *informer.Informer
	// Node reads a registered Node; a NotFound error means none.
	Node func(ctx context.Context, name string) (*corev1.Node, error)
	// Nodes lists every Node, whose addresses no other node may claim.
	Nodes func() []*corev1.Node
	// ServerNames are the API server's own names and addresses (its serving
	// certificate's SANs), which no node may claim.
	ServerNames func() ([]string, []net.IP)
	Log         *slog.Logger

	changes <-chan struct{}
}

// DenyReason is the reason of the Denied condition ServingController writes.
const DenyReason = "KubeletServingPolicy"

// Register subscribes to changes; call before the informer runs.
func (c *ServingController) Register() { c.changes = c.CSRs.Changes() }

// Run works until ctx ends; a pass every minute besides decides requests
// that waited for their Node.
func (c *ServingController) Run(ctx context.Context) {
	informer.RunOnChange(ctx, c.CSRs, c.changes, time.Minute, func(ctx context.Context) error {
		c.SyncAll(ctx)
		return nil
	})
}

// SyncAll decides every pending kubelet serving request.
func (c *ServingController) SyncAll(ctx context.Context) {
	for _, csr := range undecided(c.CSRs, certificates.KubeletServing) {
		v := c.Decide(ctx, csr)
		var err error
		switch v.Verdict {
		case Approve:
			err = decide(ctx, c.Store, c.Resource, csr, certificatesv1.CertificateApproved, "AutoApproved",
				"Auto approving kubelet serving certificate: requested by the node, for its own addresses.")
			if err == nil {
				c.Log.Info("auto-approved kubelet serving csr", "csr", csr.Name, "requester", csr.Spec.Username)
			}
		case Deny:
			err = decide(ctx, c.Store, c.Resource, csr, certificatesv1.CertificateDenied, DenyReason, v.Reason)
			if err == nil {
				c.Log.Info("denied kubelet serving csr", "csr", csr.Name, "requester", csr.Spec.Username, "why", v.Reason)
			}
		default:
			c.Log.Debug("kubelet serving csr left pending", "csr", csr.Name, "why", v.Reason)
		}
		if err != nil && !errors.Is(err, errSkip) && ctx.Err() == nil {
			c.Log.Warn("kubelet serving csr decision failed", "csr", csr.Name, "err", err)
		}
	}
}

// Verdict is what ServingController does with a request.
type Verdict int

// The verdicts.
const (
	Wait Verdict = iota
	Approve
	Deny
)

// Decision is a verdict and why.
type Decision struct {
	Verdict Verdict
	Reason  string
}

// Decide applies the serving rules to a request.
func (c *ServingController) Decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) Decision {
	deny := func(format string, args ...any) Decision { return Decision{Deny, fmt.Sprintf(format, args...)} }
	if !slices.Contains(csr.Spec.Groups, certificates.NodesGroup) {
		// Someone made it by hand for a node: an administrator decides.
		return Decision{Wait, fmt.Sprintf("requested by %q, not by a node: left for an administrator", csr.Spec.Username)}
	}
	cr, err := pki.ParseCSR(csr.Spec.Request)
	if err != nil {
		return deny("the request does not parse: %v", err)
	}
	if err := certificates.CheckSigner(csr.Spec.SignerName, csr.Spec.Usages, cr); err != nil {
		return deny("%v", err)
	}
	node := strings.TrimPrefix(cr.Subject.CommonName, authn.NodeUserPrefix)
	if csr.Spec.Username != cr.Subject.CommonName {
		return deny("requested by %q, not by the node %s itself (user %s in group %s)", csr.Spec.Username, node, cr.Subject.CommonName, certificates.NodesGroup)
	}
	n, err := c.Node(ctx, node)
	if apierrors.IsNotFound(err) {
		return Decision{Wait, fmt.Sprintf("node %s is not registered yet", node)}
	}
	if err != nil {
		return Decision{Wait, fmt.Sprintf("node %s could not be read: %v", node, err)}
	}
	var names, ips []string
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			names = append(names, strings.ToLower(a.Address))
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				ips = append(ips, ip.String())
			}
		}
	}
	var foreign []string
	for _, d := range cr.DNSNames {
		if !slices.Contains(names, strings.ToLower(d)) {
			foreign = append(foreign, d)
		}
	}
	for _, ip := range cr.IPAddresses {
		if !slices.Contains(ips, ip.String()) {
			foreign = append(foreign, ip.String())
		}
	}
	if len(foreign) > 0 {
		recorded := append(slices.Clone(names), ips...)
		return deny("%s not among node %s's addresses in its status (%s)", strings.Join(foreign, ", "), node, strings.Join(recorded, ", "))
	}
	// A node writes its own status: addresses it claims that are the API
	// server's, or another node's, are refused, or it could serve as them
	// with a certificate every pod trusts.
	if c.ServerNames != nil {
		serverDNS, serverIPs := c.ServerNames()
		for _, d := range cr.DNSNames {
			if slices.ContainsFunc(serverDNS, func(s string) bool { return strings.EqualFold(s, d) }) {
				return deny("%s is a name of the API server", d)
			}
		}
		for _, ip := range cr.IPAddresses {
			if slices.ContainsFunc(serverIPs, ip.Equal) {
				return deny("%s is an address of the API server", ip)
			}
		}
	}
	if c.Nodes != nil {
		for _, other := range c.Nodes() {
			if other.Name == node {
				continue
			}
			for _, a := range other.Status.Addresses {
				if slices.ContainsFunc(cr.DNSNames, func(d string) bool { return strings.EqualFold(d, a.Address) }) ||
					slices.ContainsFunc(cr.IPAddresses, func(ip net.IP) bool { return ip.String() == a.Address }) {
					return deny("%s is an address of node %s", a.Address, other.Name)
				}
			}
		}
	}
	return Decision{Verdict: Approve}
}

// decide writes an Approved or Denied condition through the approval
// subresource, unless the request changed or was decided meanwhile.
func decide(ctx context.Context, st *store.Writer, res *catalog.Resource, csr *certificatesv1.CertificateSigningRequest,
	condition certificatesv1.RequestConditionType, reason, message string) error {
	now := metav1.Now()
	_, err := st.Update(ctx, store.Target{Resource: res, Subresource: res.Subresource("approval"), Name: csr.Name}, store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		latest := cur.(*certificatesv1.CertificateSigningRequest)
		if latest.UID != csr.UID || certificates.Approved(latest) || certificates.Denied(latest) {
			return nil, errSkip
		}
		latest.Status.Conditions = append(latest.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: condition, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now,
		})
		return latest, nil
	})
	if errors.Is(err, errSkip) || apierrors.IsNotFound(err) {
		return errSkip
	}
	return err
}
