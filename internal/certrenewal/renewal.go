// Package certrenewal renews the API server's own leaf certificates
// before they expire, when the server owns the CAs that sign them (the
// layout `sekisho up` writes): at two thirds of each certificate's
// lifetime it is issued again with the same subject, SANs and usages, a
// new key and the same validity, and the server, which reloads its
// certificate files, takes it at the next connection.
package certrenewal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/pki"
)

// ServerLeaves are the certificates the API server presents: serving,
// to kubelets, as the front proxy, and to etcd.
var ServerLeaves = []string{"apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client"}

// Due is when a certificate valid from notBefore to notAfter is renewed:
// two thirds of the way from its issue, which is pki.ClockSkew after
// notBefore for the certificates sekisho issues (backdated for clocks a
// little behind).
func Due(notBefore, notAfter time.Time) time.Time {
	issued := notBefore.Add(pki.ClockSkew)
	if !issued.Before(notAfter) {
		issued = notBefore
	}
	return issued.Add(notAfter.Sub(issued) * 2 / 3)
}

// Renewer renews Names in the data directory Dir.
type Renewer struct {
	Dir   string
	Names []string
	// ServiceAccountKeys: also remove from sa.pub the service-account keys
	// whose overlap after a rotation (sekisho certs rotate-sa-key) has
	// ended.
	ServiceAccountKeys bool
	Log                *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (r *Renewer) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Renewer) read(name string) (*x509.Certificate, error) {
	data, err := os.ReadFile(clusterpki.Layout{Dir: r.Dir}.Path(clusterpki.CertFile(name)))
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs[0], nil
}

// Check renews what is due and returns when the next renewal falls.
func (r *Renewer) Check() time.Time {
	now := r.now()
	next := now.Add(time.Hour)
	for _, name := range r.Names {
		cert, err := r.read(name)
		if errors.Is(err, os.ErrNotExist) {
			continue // not part of this server's setup
		}
		if err != nil {
			r.Log.Warn("certificate renewal: cannot read the certificate; retrying in a minute", "certificate", name, "err", err)
			next = minTime(next, now.Add(time.Minute))
			continue
		}
		due := Due(cert.NotBefore, cert.NotAfter)
		if now.Before(due) {
			next = minTime(next, due)
			continue
		}
		// The validity asked for, which issuing backdates by pki.ClockSkew.
		lifetime := max(cert.NotAfter.Sub(cert.NotBefore)-pki.ClockSkew, time.Second)
		if _, err := clusterpki.Renew(clusterpki.RenewOptions{Dir: r.Dir, Names: []string{name}, Validity: lifetime, Now: now}); err != nil {
			r.Log.Error("certificate renewal failed; retrying in a minute", "certificate", name, "err", err)
			next = minTime(next, now.Add(time.Minute))
			continue
		}
		renewed, err := r.read(name)
		if err != nil {
			r.Log.Error("certificate renewal: cannot read the renewed certificate", "certificate", name, "err", err)
			continue
		}
		nextDue := Due(renewed.NotBefore, renewed.NotAfter)
		r.Log.Info("certificate renewed", "certificate", name, "serial", renewed.SerialNumber.Text(16),
			"notAfter", renewed.NotAfter.UTC().Format(time.RFC3339), "nextRenewal", nextDue.UTC().Format(time.RFC3339))
		next = minTime(next, nextDue)
	}
	if r.ServiceAccountKeys {
		next = minTime(next, r.pruneServiceAccountKeys(now))
	}
	return next
}

// pruneServiceAccountKeys removes retired service-account keys that are
// due, once a rotation has recorded any.
func (r *Renewer) pruneServiceAccountKeys(now time.Time) (next time.Time) {
	next = now.Add(time.Hour)
	if _, err := os.Stat(clusterpki.Layout{Dir: r.Dir}.Path(clusterpki.SARotationFile)); err != nil {
		return next
	}
	removed, due, err := clusterpki.PruneServiceAccountKeys(r.Dir, now)
	if err != nil {
		r.Log.Error("service-account key retirement failed; retrying in a minute", "err", err)
		return now.Add(time.Minute)
	}
	for _, k := range removed {
		r.Log.Info("service-account key retired: tokens it signed no longer verify", "keyID", k.ID, "retireAfter", k.RetireAfter.Format(time.RFC3339))
	}
	if !due.IsZero() {
		next = due
	}
	return next
}

// CheckEvery bounds the time between checks: a certificate replaced
// meanwhile (by hand, with a shorter lifetime) is seen within it.
const CheckEvery = 5 * time.Second

// Run checks at once, then whenever the next renewal falls, and at least
// every CheckEvery, until ctx ends.
func (r *Renewer) Run(ctx context.Context) {
	for {
		wait := min(max(r.Check().Sub(r.now()), time.Second), CheckEvery)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// NextRenewal is when the server renews name, from its certificate in
// the data directory dir.
func NextRenewal(dir, name string) (time.Time, error) {
	cert, err := (&Renewer{Dir: dir}).read(name)
	if err != nil {
		return time.Time{}, err
	}
	return Due(cert.NotBefore, cert.NotAfter), nil
}

// signedBy is the CA (its file base name) each server leaf comes from.
var signedBy = map[string]string{
	"apiserver": "ca", "apiserver-kubelet-client": "ca",
	"front-proxy-client": "front-proxy-ca", "apiserver-etcd-client": "etcd/ca",
}

// Renewable splits ServerLeaves into those the data directory's CAs can
// sign, and those whose CA key is not there (an external CA), with why.
func Renewable(dir string) (names []string, skipped map[string]string) {
	skipped = map[string]string{}
	for _, name := range ServerLeaves {
		key := clusterpki.KeyFile(signedBy[name])
		if _, err := os.Stat(clusterpki.Layout{Dir: dir}.Path(key)); err != nil {
			skipped[name] = fmt.Sprintf("the CA key %s is not there (an external CA)", key)
			continue
		}
		names = append(names, name)
	}
	return names, skipped
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
