// Package doctor diagnoses why a kubeconfig cannot reach, authenticate to
// or be authorized by an API server. It walks the path a request takes,
// step by step (the kubeconfig, the server address, the connection, TLS
// from the server's side and the client's, the credential, the identity
// the server sees, and what it may do), and for each failure names the
// cause in the user's terms and the fix, as a command to copy where there
// is one. Where only the server knows why it refused a credential, doctor
// asks it, through the diagnosis endpoint that answers the credential's
// holder (docs/authentication.md).
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Status of one check.
type Status string

// Check outcomes.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Step is where on a request's path a check looks.
type Step string

// The steps, in the order a request meets them.
const (
	StepKubeconfig    Step = "kubeconfig"
	StepAddress       Step = "address"
	StepConnection    Step = "connection"
	StepTLSServer     Step = "TLS server"
	StepTLSClient     Step = "TLS client"
	StepCredential    Step = "credential"
	StepIdentity      Step = "identity"
	StepAuthorization Step = "authorization"
)

// Result is one check's finding.
type Result struct {
	Status Status `json:"status"`
	Step   Step   `json:"step"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is every check, in order.
type Report struct {
	Results []Result `json:"results"`
}

// Outcome is the report's worst status.
func (r *Report) Outcome() Status {
	out := OK
	for _, x := range r.Results {
		switch {
		case x.Status == Fail:
			return Fail
		case x.Status == Warn:
			out = Warn
		}
	}
	return out
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Outcome() == Fail }

// ExitCode is 0 when every check passed, 1 when one failed, 2 when some
// only warned.
func (r *Report) ExitCode() int {
	switch r.Outcome() {
	case Fail:
		return 1
	case Warn:
		return 2
	}
	return 0
}

func (r *Report) add(s Status, step Step, detail, fix string) {
	r.Results = append(r.Results, Result{Status: s, Step: step, Detail: detail, Fix: fix})
}

// Print writes the report, one check per line with its fix indented, and
// a last line with the outcome.
func (r *Report) Print(w io.Writer) {
	for _, x := range r.Results {
		fmt.Fprintf(w, "[%s] %s: %s\n", x.Status, x.Step, x.Detail)
		if x.Fix != "" && x.Status != OK {
			fmt.Fprintf(w, "       fix: %s\n", strings.ReplaceAll(x.Fix, "\n", "\n            "))
		}
	}
	switch r.Outcome() {
	case OK:
		fmt.Fprintln(w, "all checks passed")
	case Warn:
		fmt.Fprintln(w, "all checks passed, with warnings")
	}
}

// PrintJSON writes the report as JSON, for monitoring.
func (r *Report) PrintJSON(w io.Writer) error {
	out := struct {
		Outcome Status   `json:"outcome"`
		Results []Result `json:"results"`
	}{r.Outcome(), r.Results}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Options select the kubeconfig and what to check.
type Options struct {
	Kubeconfig string
	Context    string
	Now        time.Time
	Timeout    time.Duration
	// Command is a kubectl command line to check authorization for, such
	// as []string{"get", "pods", "-n", "dev"}.
	Command []string
	// DataDir is where `sekisho up` keeps its files, for the hint when no
	// kubeconfig is found; empty means the default.
	DataDir string
	// LookPath finds an exec plugin; nil means os/exec's.
	LookPath func(string) (string, error)
}

func (o *Options) defaults() {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
}

// Run performs every check it can; checks that depend on a failed one are
// skipped.
func Run(ctx context.Context, o Options) *Report {
	o.defaults()
	r := &Report{}
	kc, ok := loadKubeconfig(r, o)
	if !ok {
		return r
	}
	// The credential's sources are checked first (the server checks need
	// the user's TLS settings) but reported in their place on the path,
	// after the server's side; they stand on their own, so they are
	// reported even when the server cannot be reached.
	sources := &Report{}
	credOK := checkCredentialSources(sources, kc, o)
	serverOK := false
	var hs *handshakeResult
	if host, port, ok := checkAddress(ctx, r, kc.cfg.Host); ok && checkConnection(ctx, r, host, port, o.Timeout) {
		hs, serverOK = handshake(ctx, r, kc, host, port, credOK, o)
	}
	r.Results = append(r.Results, sources.Results...)
	if !serverOK || !credOK {
		return r
	}
	if !checkClientCertificate(r, kc, hs, o.Now) {
		return r
	}
	if !checkToken(r, kc, o.Now) {
		return r
	}
	user, ok := checkIdentity(ctx, r, kc, o)
	if !ok {
		return r
	}
	checkAuthorization(ctx, r, kc, user, o)
	return r
}

// checkAddress checks the server URL and that its host resolves.
func checkAddress(ctx context.Context, r *Report, server string) (host, port string, ok bool) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		r.add(Fail, StepAddress, fmt.Sprintf("the cluster's server %q is not a URL", server), "set it to https://HOST:PORT: kubectl config set-cluster NAME --server https://HOST:6443")
		return "", "", false
	}
	if u.Scheme != "https" {
		r.add(Fail, StepAddress, fmt.Sprintf("%s does not use https; the API server has no plain-HTTP port", server),
			"kubectl config set-cluster NAME --server "+strings.Replace(server, u.Scheme+"://", "https://", 1))
		return "", "", false
	}
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		r.add(Fail, StepAddress, fmt.Sprintf("the server address %s does not resolve: %v", host, err),
			"use an address that resolves from here, or an IP address: kubectl config set-cluster NAME --server https://IP:"+port)
		return "", "", false
	}
	r.add(OK, StepAddress, fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", ")), "")
	return host, port, true
}

// checkConnection checks that something accepts TCP connections there.
func checkConnection(ctx context.Context, r *Report, host, port string, timeout time.Duration) bool {
	d := &net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		r.add(Fail, StepConnection, fmt.Sprintf("nothing accepts connections at %s:%s: %v", host, port, err),
			"check that the API server runs and listens there (sekisho up prints its address), the port is right, and no firewall blocks it")
		return false
	}
	conn.Close()
	r.add(OK, StepConnection, fmt.Sprintf("%s:%s accepts connections", host, port), "")
	return true
}

// expiryThreshold is how close to its end a credential of this lifetime
// may come before doctor warns: a third of its lifetime, and never more
// than 7 days, so a fresh short-lived certificate never warns and a
// long-lived one warns a week ahead.
func expiryThreshold(lifetime time.Duration) time.Duration {
	return min(lifetime/3, 7*24*time.Hour)
}

// humanDuration prints a duration to a useful precision.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// shellQuote quotes s for a POSIX shell command line, when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hasAny reports whether any of the strings is non-empty.
func hasAny(xs ...string) bool {
	return slices.ContainsFunc(xs, func(x string) bool { return x != "" })
}
