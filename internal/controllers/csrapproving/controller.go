// Package csrapproving approves kubelet client certificate requests on
// their own, as kube-controller-manager's csrapproving controller does: a
// request for signer kube-apiserver-client-kubelet that asks for a proper
// node identity is approved when a SubjectAccessReview says its requester
// may create certificatesigningrequests/nodeclient (a new node, with a
// bootstrap token) or, for a node renewing its own certificate,
// certificatesigningrequests/selfnodeclient. Nothing else is approved.
//
// Beyond kube-controller-manager: a bootstrap request for the identity of
// a node that is registered and Ready is left for an administrator, as
// kubeadm join refuses such a name. Otherwise any bootstrap token could
// take over a running node's identity, and with it what its pods use.
package csrapproving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/bootstraptoken"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/certificates"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
)

// Controller approves kubelet client requests its authorizer allows.
type Controller struct {
	Store      *store.Writer
	Resource   *catalog.Resource // certificatesigningrequests
	CSRs       *informer.Informer
	Authorizer authz.Authorizer
	// Node reads a registered Node; a NotFound error means none.
	Node func(ctx context.Context, name string) (*corev1.Node, error)
	// Secrets, when set, is where a bootstrap token's Secret is marked
	// with the nodes that joined with it (bootstraptoken.AnnotationJoinedNodes).
	Secrets *catalog.Resource
	Log     *slog.Logger

	warned map[types.UID]bool // requests already reported as takeovers

	changes <-chan struct{}
}

// Register subscribes to changes; call before the informer runs.
func (c *Controller) Register() { c.changes = c.CSRs.Changes() }

// Run works until ctx ends, with a pass every minute besides.
func (c *Controller) Run(ctx context.Context) {
	informer.RunOnChange(ctx, c.CSRs, c.changes, time.Minute, func(ctx context.Context) error {
		c.SyncAll(ctx)
		return nil
	})
}

// SyncAll looks at every pending request.
func (c *Controller) SyncAll(ctx context.Context) {
	warned := map[types.UID]bool{}
	defer func() { c.warned = warned }()
	for _, csr := range undecided(c.CSRs, certificates.KubeAPIServerClientKubelet) {
		ok, why := c.Decide(ctx, csr)
		switch {
		case ok:
			if err := c.approve(ctx, csr); err != nil && ctx.Err() == nil {
				c.Log.Warn("csr auto-approval failed", "csr", csr.Name, "err", err)
			}
		case errors.Is(why, errRunningNode):
			// Worth an administrator's attention, once per request.
			if !c.warned[csr.UID] {
				c.Log.Warn("csr not auto-approved", "csr", csr.Name, "requester", csr.Spec.Username, "why", why.Error())
			}
			warned[csr.UID] = true
		default:
			c.Log.Debug("csr not auto-approved", "csr", csr.Name, "why", why.Error())
		}
	}
}

// Decide reports whether a kubelet client request may be approved, and
// why not when it may not.
func (c *Controller) Decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (bool, error) {
	cr, err := pki.ParseCSR(csr.Spec.Request)
	if err != nil {
		return false, err
	}
	if err := certificates.CheckSigner(csr.Spec.SignerName, csr.Spec.Usages, cr); err != nil {
		return false, err
	}
	requester := &authn.User{Name: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups}
	if len(csr.Spec.Extra) > 0 {
		requester.Extra = map[string][]string{}
		for k, v := range csr.Spec.Extra {
			requester.Extra[k] = v
		}
	}
	// A node renewing its own certificate asks as the identity it renews.
	subresources := []string{"nodeclient"}
	if cr.Subject.CommonName == csr.Spec.Username {
		subresources = []string{"selfnodeclient", "nodeclient"}
	} else if err := c.nodeIsRunning(ctx, strings.TrimPrefix(cr.Subject.CommonName, authn.NodeUserPrefix)); err != nil {
		return false, err
	}
	for _, sub := range subresources {
		d, _, err := c.Authorizer.Authorize(ctx, authz.Attributes{
			User: requester, Verb: "create", Group: certificatesv1.GroupName, Version: "*",
			Resource: "certificatesigningrequests", Subresource: sub, ResourceRequest: true,
		})
		if err == nil && d == authz.Allow {
			return true, nil
		}
	}
	return false, errors.New("the requester may not create certificatesigningrequests/" + subresources[0])
}

// errRunningNode marks a refusal to hand a running node's identity to a
// bootstrap credential.
var errRunningNode = errors.New("a bootstrap credential may not take over a running node's identity; approve by hand if the node was reinstalled")

// nodeIsRunning explains why a new credential for node may not be issued
// without an administrator: the Node is registered and Ready. A Node that
// cannot be read counts as running, so that an error never approves.
func (c *Controller) nodeIsRunning(ctx context.Context, node string) error {
	if c.Node == nil {
		return nil
	}
	n, err := c.Node(ctx, node)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node %s could not be read (%v): %w", node, err, errRunningNode)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return fmt.Errorf("node %s is registered and Ready: %w", node, errRunningNode)
		}
	}
	return nil
}

var errSkip = errors.New("changed since it was read")

// undecided lists, by name, the requests for signer that are neither
// approved, denied, failed nor issued.
func undecided(csrs *informer.Informer, signer string) []*certificatesv1.CertificateSigningRequest {
	var out []*certificatesv1.CertificateSigningRequest
	for _, o := range csrs.List() {
		csr := o.(*certificatesv1.CertificateSigningRequest)
		if csr.Spec.SignerName == signer && !certificates.Approved(csr) && !certificates.Denied(csr) &&
			!certificates.Failed(csr) && len(csr.Status.Certificate) == 0 {
			out = append(out, csr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *Controller) approve(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	err := decide(ctx, c.Store, c.Resource, csr, certificatesv1.CertificateApproved, "AutoApproved",
		"Auto approving kubelet client certificate after SubjectAccessReview.")
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Log.Info("auto-approved csr", "csr", csr.Name, "requester", csr.Spec.Username)
	if id, ok := strings.CutPrefix(csr.Spec.Username, bootstraptoken.UserPrefix); ok && c.Secrets != nil {
		if cr, err := pki.ParseCSR(csr.Spec.Request); err == nil {
			c.recordJoin(ctx, id, strings.TrimPrefix(cr.Subject.CommonName, authn.NodeUserPrefix))
		}
	}
	return nil
}

// recordJoin marks the token's Secret with the node that joined with it.
// A failure loses only the trail revoke-joined follows, which keeps the
// token then; it is logged.
func (c *Controller) recordJoin(ctx context.Context, tokenID, node string) {
	_, err := c.Store.Update(ctx, store.Target{Resource: c.Secrets, Namespace: metav1.NamespaceSystem, Name: bootstraptoken.SecretPrefix + tokenID}, store.Options{},
		func(cur catalog.Object) (catalog.Object, error) {
			s := cur.(*corev1.Secret)
			if !bootstraptoken.RecordJoinedNode(s, node) {
				return nil, errSkip
			}
			return s, nil
		})
	if err != nil && !errors.Is(err, errSkip) && !apierrors.IsNotFound(err) {
		c.Log.Warn("cannot record the node on its bootstrap token", "token", tokenID, "node", node, "err", err)
	}
}
