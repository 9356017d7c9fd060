// Package csrsigning signs approved CertificateSigningRequests for
// Kubernetes' signers (kube-apiserver-client, kube-apiserver-client-kubelet
// and kubelet-serving) with the cluster CA, as kube-controller-manager's
// csrsigning controller does.
package csrsigning

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/certificates"
	"github.com/sekisho/sekisho/internal/events"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
)

// CAFiles is where the signing CA is read from. The files are read for
// each signature, so a renewed or rotated CA is used at once. A missing key
// file means the CA is managed outside sekisho: nothing is signed.
type CAFiles struct {
	CertFile, KeyFile string
	// CrossSignedFile, when it exists and holds the CA's certificate
	// signed by another CA (during a CA rotation), is appended to what is
	// signed, so that a peer still trusting only the old CA verifies it.
	CrossSignedFile string
}

// ErrNoKey says signing is off because the CA's key is not present.
var ErrNoKey = errors.New("the cluster CA's private key is not present")

// Load reads the CA.
func (f CAFiles) Load() (*pki.CA, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, fmt.Errorf("%w: no --cluster-signing-cert-file and --cluster-signing-key-file", ErrNoKey)
	}
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, fmt.Errorf("--cluster-signing-cert-file: %w", err)
	}
	keyPEM, err := os.ReadFile(f.KeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s does not exist; the CA is managed outside sekisho)", ErrNoKey, f.KeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("--cluster-signing-key-file: %w", err)
	}
	ca, err := pki.CAFromPEM("--cluster-signing-cert-file "+f.CertFile, certPEM, "--cluster-signing-key-file "+f.KeyFile, keyPEM)
	if err != nil || f.CrossSignedFile == "" {
		return ca, err
	}
	if data, err := os.ReadFile(f.CrossSignedFile); err == nil {
		if certs, err := pki.ParseCertificates(data); err == nil && len(certs) > 0 &&
			string(certs[0].RawSubject) == string(ca.Cert.RawSubject) && pki.KeyMatches(ca.Key, certs[0].PublicKey) {
			ca.CrossSigned = certs[0]
		}
	}
	return ca, nil
}

// Controller signs approved requests.
type Controller struct {
	Store    *store.Writer
	Resource *catalog.Resource // certificatesigningrequests
	CSRs     *informer.Informer
	CA       CAFiles
	// Duration is --cluster-signing-duration: the longest validity issued.
	Duration time.Duration
	Events   *events.Recorder
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	changes <-chan struct{}
	mu      sync.Mutex
	// unsigned remembers the requests already told that signing is off,
	// so the event is recorded once.
	unsigned map[string]bool
}

// Register subscribes to changes; call before the informer runs.
func (c *Controller) Register() {
	c.changes = c.CSRs.Changes()
	c.unsigned = map[string]bool{}
}

// Run works until ctx ends. A pass every minute retries what failed for a
// passing reason, and signs what waited for a CA key that has since
// appeared.
func (c *Controller) Run(ctx context.Context) {
	informer.RunOnChange(ctx, c.CSRs, c.changes, time.Minute, func(ctx context.Context) error {
		c.SyncAll(ctx)
		return nil
	})
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// SyncAll signs every approved, unsigned request for a signer sekisho
// handles.
func (c *Controller) SyncAll(ctx context.Context) {
	objs := c.CSRs.List()
	sort.Slice(objs, func(i, j int) bool { return objs[i].GetName() < objs[j].GetName() })
	for _, o := range objs {
		csr := o.(*certificatesv1.CertificateSigningRequest)
		if !certificates.Signs(csr.Spec.SignerName) || !certificates.Approved(csr) || certificates.Denied(csr) ||
			certificates.Failed(csr) || len(csr.Status.Certificate) > 0 {
			continue
		}
		if err := c.sign(ctx, csr); err != nil && ctx.Err() == nil {
			c.Log.Warn("csr signing failed", "csr", csr.Name, "err", err)
		}
	}
}

func (c *Controller) sign(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	cr, err := pki.ParseCSR(csr.Spec.Request)
	if err == nil {
		err = certificates.CheckSigner(csr.Spec.SignerName, csr.Spec.Usages, cr)
	}
	if err != nil {
		return c.fail(ctx, csr, err.Error())
	}
	ca, err := c.CA.Load()
	if errors.Is(err, ErrNoKey) {
		c.mu.Lock()
		told := c.unsigned[string(csr.UID)]
		c.unsigned[string(csr.UID)] = true
		c.mu.Unlock()
		if !told {
			c.Events.Event(ctx, csr, corev1.EventTypeWarning, "SigningDisabled",
				"approved but not signed: "+err.Error()+"; sign it with the external CA and write status.certificate")
			c.Log.Info("approved csr left unsigned", "csr", csr.Name, "reason", err.Error())
		}
		return nil
	}
	if err != nil {
		return err
	}
	now := c.now()
	// A CA past its validity is the signer's state, not the request's: the
	// request waits (retried each minute) for a renewed CA, as
	// kube-controller-manager's signer does, rather than failing for good.
	if now.After(ca.Cert.NotAfter) || now.Before(ca.Cert.NotBefore) {
		err := fmt.Errorf("the signing CA is valid from %s to %s, not now", ca.Cert.NotBefore.UTC().Format(time.RFC3339), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
		c.mu.Lock()
		told := c.unsigned["ca-validity/"+string(csr.UID)]
		c.unsigned["ca-validity/"+string(csr.UID)] = true
		c.mu.Unlock()
		if !told {
			c.Events.Event(ctx, csr, corev1.EventTypeWarning, "SignerNotValid", "approved but not signed: "+err.Error()+"; renew the cluster CA")
		}
		return err
	}
	validity := c.Duration
	if e := csr.Spec.ExpirationSeconds; e != nil && time.Duration(*e)*time.Second < validity {
		validity = time.Duration(*e) * time.Second
	}
	ku, eku := certificates.X509Usages(csr.Spec.Usages)
	chain, err := ca.SignRequest(cr, ku, eku, now.Add(-pki.ClockSkew), now.Add(validity))
	if err != nil {
		return c.fail(ctx, csr, err.Error())
	}
	pemChain := pki.EncodeCertificates(chain...)
	_, err = c.Store.Update(ctx, c.status(csr.Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		latest := cur.(*certificatesv1.CertificateSigningRequest)
		if latest.UID != csr.UID || len(latest.Status.Certificate) > 0 || !certificates.Approved(latest) || certificates.Denied(latest) {
			return nil, errSkip
		}
		latest.Status.Certificate = pemChain
		return latest, nil
	})
	if errors.Is(err, errSkip) || apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.Log.Info("signed csr", "csr", csr.Name, "signer", csr.Spec.SignerName, "subject", cr.Subject.String(),
			"serial", chain[0].SerialNumber.Text(16), "notAfter", chain[0].NotAfter.UTC().Format(time.RFC3339))
	}
	return err
}

var errSkip = errors.New("changed since it was read")

// status names the status subresource of a request, where the signer
// writes certificates and the Failed condition.
func (c *Controller) status(name string) store.Target {
	return store.Target{Resource: c.Resource, Subresource: c.Resource.Subresource("status"), Name: name}
}

// fail marks a request the signer cannot honour with the Failed condition.
func (c *Controller) fail(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, message string) error {
	now := metav1.NewTime(c.now())
	_, err := c.Store.Update(ctx, c.status(csr.Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		latest := cur.(*certificatesv1.CertificateSigningRequest)
		if latest.UID != csr.UID || certificates.Failed(latest) || len(latest.Status.Certificate) > 0 {
			return nil, errSkip
		}
		latest.Status.Conditions = append(latest.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
			Message: message, LastUpdateTime: now, LastTransitionTime: now,
		})
		return latest, nil
	})
	if errors.Is(err, errSkip) || apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.Log.Info("csr failed", "csr", csr.Name, "signer", csr.Spec.SignerName, "reason", message)
	}
	return err
}
