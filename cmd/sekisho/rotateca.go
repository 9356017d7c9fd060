package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/apiclient"
	authnx509 "github.com/sekisho/sekisho/internal/authn/x509"
	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/controlplane"
	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// errOldCAInUse is exit status 3: run the command again later.
type errOldCAInUse struct{ msg string }

func (e *errOldCAInUse) Error() string { return e.msg }
func (e *errOldCAInUse) ExitCode() int { return 3 }

func newCertsRotateCACommand() *cobra.Command {
	var (
		dir, ca, kubeconfigPath string
		unusedFor, wait         time.Duration
		caValidity              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate-ca --dir DIR [--ca ca|front-proxy-ca]",
		Short: "Replace a cluster CA with a new one while the server keeps serving",
		Long: `Replace a CA in four steps, each printed as it is done and recorded in
DIR/pki/ca-rotation/<CA>/, so that running the command again after a crash at any point
resumes where it stopped:

  1. a new CA, and its certificate cross-signed by the old one;
  2. every trust bundle holds both CAs: the CA file, which the running server reloads and
     publishes (kube-root-ca.crt in every namespace, extension-apiserver-authentication,
     cluster-info), and the kubeconfigs' certificate-authority-data; the command waits
     until the server trusts the new CA;
  3. the new CA signs, and every certificate the old one signed here (the serving and
     kubelet client certificates, the kubeconfigs' client certificates) is issued again
     by it, carrying the cross-signed certificate so that a client still trusting only the
     old CA verifies it; the server reloads its own;
  4. once no client has presented a certificate of the old CA for --unused-for (the server
     records who presents which CA's certificates), the old CA leaves every bundle.

Until step 4 the command refuses to finish and names the identities still presenting
old-CA certificates (exit status 3); run it again, or give --wait. Kubelets with client
certificate rotation move by themselves when they renew through a CSR, which the new CA
signs. Components that read their kubeconfig only at start (kube-controller-manager,
kube-scheduler) move when restarted. Step 4 ends the cross-signed path: before it, give
the new ca.crt to every client that verifies the server and that this machine does not
hold (kubeconfigs and kubelet CA files on other machines); the command cannot see them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required")
			}
			if kubeconfigPath == "" {
				kubeconfigPath = filepath.Join(dir, "admin.conf")
			}
			out := cmd.OutOrStdout()
			r := &caRotation{dir: dir, ca: ca, kubeconfig: kubeconfigPath, out: out,
				opts: clusterpki.RotateCAOptions{Dir: dir, CA: ca, Validity: caValidity}}
			return r.run(cmd.Context(), unusedFor, wait)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "data directory holding pki/ and the kubeconfig files (required)")
	cmd.Flags().StringVar(&ca, "ca", pki.CAKubernetes, "the CA to rotate: "+pki.CAKubernetes+" or "+pki.CAFrontProxy)
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig to reach the running server with (default: DIR/admin.conf)")
	cmd.Flags().DurationVar(&unusedFor, "unused-for", 15*time.Minute, "finish only when no client has presented an old-CA certificate for this long")
	cmd.Flags().DurationVar(&wait, "wait", 0, "keep checking for this long for clients to move before giving up (0: check once)")
	cmd.Flags().DurationVar(&caValidity, "ca-validity", 0, "validity of the new CA (default: the old one's lifetime)")
	return cmd
}

type caRotation struct {
	dir, ca, kubeconfig string
	out                 io.Writer
	opts                clusterpki.RotateCAOptions
}

func (r *caRotation) step(n int, format string, args ...any) {
	fmt.Fprintf(r.out, "[%d/4] %s: %s\n", n, time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	// A crash right after a step, for the tests that check resuming.
	if os.Getenv("SEKISHO_ROTATE_CA_KILL_AFTER") == fmt.Sprint(n) {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

func (r *caRotation) run(ctx context.Context, unusedFor, wait time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := clusterpki.CARotationStatus(r.dir, r.ca)
	if err != nil {
		return err
	}
	if st.Phase != clusterpki.PhaseNone {
		fmt.Fprintf(r.out, "resuming the rotation of %s started %s, at: %s\n", r.ca, st.Started.Local().Format(time.RFC3339), st.Phase)
	}
	r.opts.Now = time.Now()
	if st.Phase == clusterpki.PhaseNone {
		if st, err = clusterpki.StartCARotation(r.opts); err != nil {
			return err
		}
		r.step(1, "new CA %q (valid until %s), cross-signed by %q", st.New.Subject.CommonName, st.New.NotAfter.Format(time.RFC3339), st.Old.Subject.CommonName)
	}
	if err := clusterpki.TrustBothCAs(r.opts); err != nil {
		return err
	}
	if err := r.waitTrusted(ctx, st.New); err != nil {
		return err
	}
	r.step(2, "every bundle trusts both CAs, and so does the server")

	r.opts.Now = time.Now()
	names, err := clusterpki.ReissueFromNewCA(r.opts)
	if err != nil {
		return err
	}
	if err := r.waitServing(ctx, st.New); err != nil {
		return err
	}
	if err := r.waitClientCertificates(ctx, st.Old); err != nil {
		return err
	}
	if len(names) > 0 {
		r.step(3, "issued again by the new CA: %s; the server serves and presents the new certificates", strings.Join(names, ", "))
	} else {
		r.step(3, "the new CA signs; the server serves its certificate")
	}

	if err := r.checkUnused(ctx, st.Old, unusedFor, wait); err != nil {
		return err
	}
	r.opts.Now = time.Now()
	if _, err := clusterpki.FinishCARotation(r.opts); err != nil {
		return err
	}
	r.step(4, "the old CA %q is trusted no more; the rotation is complete", st.Old.Subject.CommonName)
	return nil
}

func (r *caRotation) client() (*apiclient.Client, error) {
	c, err := apiclient.New(r.kubeconfig, "")
	if err != nil {
		return nil, fmt.Errorf("reaching the server to follow the rotation: %w", err)
	}
	return c, nil
}

// poll calls check every half second until it returns true or limit passes.
func poll(ctx context.Context, limit time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := check()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return last
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitTrusted waits until the server publishes, in
// extension-apiserver-authentication, a bundle with the new CA: it has
// reloaded the CA file.
func (r *caRotation) waitTrusted(ctx context.Context, next *x509.Certificate) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	key := "client-ca-file"
	if r.ca == pki.CAFrontProxy {
		key = "requestheader-client-ca-file"
	}
	want := pki.EncodeCertificates(next)
	err = poll(ctx, time.Minute, func() (bool, error) {
		var cm corev1.ConfigMap
		if err := c.Do(ctx, "GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication", nil, &cm); err != nil {
			return false, err
		}
		return bytes.Contains([]byte(cm.Data[key]), want), errors.New("the server does not publish the new CA yet")
	})
	if err != nil {
		return fmt.Errorf("the server did not take the bundle with the new CA within a minute (%v); is it running on %s? Run again to resume", err, r.dir)
	}
	return nil
}

// waitServing waits until a new connection to the server is served a
// certificate the new CA signed (the cluster CA), or the server trusts
// the new front-proxy CA (which signs no serving certificate).
func (r *caRotation) waitServing(ctx context.Context, next *x509.Certificate) error {
	if r.ca != pki.CAKubernetes {
		return nil
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	u, err := url.Parse(c.Server)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	err = poll(ctx, time.Minute, func() (bool, error) {
		conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) // only reads what is served
		if err != nil {
			return false, err
		}
		defer conn.Close()
		leaf := conn.ConnectionState().PeerCertificates[0]
		return pki.SignedBy(leaf, next) == nil, errors.New("the server still presents a certificate of the old CA")
	})
	if err != nil {
		return fmt.Errorf("waiting for the server's new certificate: %v. Run again to resume", err)
	}
	return nil
}

// waitClientCertificates waits until no certificate the server presents
// as a client (to kubelets, to aggregated API servers) is the old CA's:
// those who verify them stop trusting the old CA at the next step, so the
// server must have loaded the ones issued again first.
func (r *caRotation) waitClientCertificates(ctx context.Context, old *x509.Certificate) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	oldKeyID := hex.EncodeToString(old.SubjectKeyId)
	err = poll(ctx, time.Minute, func() (bool, error) {
		var rep controlplane.IssuersReport
		if err := c.Do(ctx, "GET", controlplane.ClientCertificateIssuersPath, nil, &rep); err != nil {
			return false, err
		}
		var still []string
		for _, sc := range rep.ServerClientCertificates {
			if (sc.AuthorityKeyID != "" && sc.AuthorityKeyID == oldKeyID) || (sc.AuthorityKeyID == "" && sc.Issuer == old.Subject.String()) {
				still = append(still, sc.Name)
			}
		}
		if len(still) > 0 {
			return false, fmt.Errorf("the server still presents the old CA's %s", strings.Join(still, ", "))
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the server's new client certificates: %v. Run again to resume", err)
	}
	return nil
}

// checkUnused refuses while clients presented old-CA certificates within
// unusedFor, naming them, for up to wait.
func (r *caRotation) checkUnused(ctx context.Context, old *x509.Certificate, unusedFor, wait time.Duration) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	// A leaf names its issuer by the CA's key identifier, or by name when
	// it carries none (authnx509.IssuerID): either is the old CA.
	oldIDs := []string{"name:" + old.Subject.String()}
	if len(old.SubjectKeyId) > 0 {
		oldIDs = append(oldIDs, hex.EncodeToString(old.SubjectKeyId))
	}
	// The command's own certificate must not be one of the old CA's, or
	// its checks would keep the old CA in use.
	if kc, err := kubeconfig.LoadFile(r.kubeconfig); err == nil && len(kc.CertPEM) > 0 {
		if certs, err := pki.ParseCertificates(kc.CertPEM); err == nil && len(certs) > 0 && pki.SignedBy(certs[0], old) == nil {
			return fmt.Errorf("%s presents a certificate of the old CA, which would keep it in use: use a kubeconfig the rotation issued again (DIR/admin.conf)", r.kubeconfig)
		}
	}
	var why string
	err = poll(ctx, wait, func() (bool, error) {
		var rep authnx509.UsageReport
		if err := c.Do(ctx, "GET", controlplane.ClientCertificateIssuersPath, nil, &rep); err != nil {
			why = fmt.Sprintf("cannot read which CAs clients use: %v", err)
			return false, errors.New(why)
		}
		now := time.Now()
		if watched := now.Sub(rep.Since); watched < unusedFor {
			why = fmt.Sprintf("the server has recorded client certificates for %s only; it must have for --unused-for %s", watched.Round(time.Second), unusedFor)
			return false, errors.New(why)
		}
		if rep.Truncated {
			why = "the server's record of client certificates is full, so it cannot tell who still presents old-CA certificates; restart it after clients have moved, and wait --unused-for"
			return false, errors.New(why)
		}
		var still []string
		for _, iu := range rep.Issuers {
			if !slices.Contains(oldIDs, iu.ID) {
				continue
			}
			for _, u := range iu.Users {
				if now.Sub(u.LastSeen) < unusedFor {
					still = append(still, fmt.Sprintf("%s (last %s ago)", u.User, now.Sub(u.LastSeen).Round(time.Second)))
				}
			}
		}
		if len(still) > 0 {
			why = fmt.Sprintf("clients presented certificates of the old CA within --unused-for %s: %s", unusedFor, strings.Join(still, ", "))
			return false, errors.New(why)
		}
		return true, nil
	})
	if err != nil {
		return &errOldCAInUse{msg: fmt.Sprintf("not finishing: %s. Move them to the new CA (a kubelet does by renewing; restart components that read their kubeconfig at start), then run `sekisho certs rotate-ca --dir %s` again", why, r.dir)}
	}
	return nil
}
