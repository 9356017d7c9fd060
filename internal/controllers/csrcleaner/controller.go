// Package csrcleaner deletes CertificateSigningRequests that have served
// their purpose, as kube-controller-manager's csrcleaner does: approved,
// denied or failed ones an hour after that happened, pending ones after a
// day, and issued ones once their certificate has expired.
package csrcleaner

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// How long a request is kept in each state.
const (
	DecidedTTL = time.Hour
	PendingTTL = 24 * time.Hour
)

// Controller deletes expired requests every Interval.
type Controller struct {
	Store    *store.Writer
	Resource *catalog.Resource // certificatesigningrequests
	CSRs     *informer.Informer
	Log      *slog.Logger
	// Interval between passes; zero means five minutes.
	Interval time.Duration
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	if !c.CSRs.WaitForSync(ctx) {
		return
	}
	interval := c.Interval
	if interval == 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.Clean(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Clean deletes every request Expired says is done at now.
func (c *Controller) Clean(ctx context.Context, now time.Time) {
	for _, o := range c.CSRs.List() {
		csr := o.(*certificatesv1.CertificateSigningRequest)
		done, why := Expired(csr, now)
		if !done {
			continue
		}
		_, _, err := c.Store.Delete(ctx, store.ObjectTarget(c.Resource, "", csr.Name), store.DeleteOptions{Preconditions: store.Preconditions{UID: string(csr.UID)}})
		switch {
		case err == nil:
			c.Log.Info("deleted csr", "csr", csr.Name, "why", why)
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			c.Log.Warn("could not delete csr", "csr", csr.Name, "err", err)
		}
	}
}

// Expired reports whether a request should be deleted at now, and why.
func Expired(csr *certificatesv1.CertificateSigningRequest, now time.Time) (bool, string) {
	if cert := firstCertificate(csr.Status.Certificate); cert != nil && now.After(cert.NotAfter) {
		return true, "its certificate has expired"
	}
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			at := c.LastUpdateTime.Time
			if at.IsZero() {
				at = c.LastTransitionTime.Time
			}
			if at.IsZero() {
				at = csr.CreationTimestamp.Time
			}
			if now.Sub(at) > DecidedTTL {
				return true, "it was " + string(c.Type) + " more than an hour ago"
			}
			return false, ""
		}
	}
	if len(csr.Status.Certificate) == 0 && now.Sub(csr.CreationTimestamp.Time) > PendingTTL {
		return true, "it has been pending for more than a day"
	}
	return false, ""
}

func firstCertificate(data []byte) *x509.Certificate {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return cert
}
