package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"

	apiversion "k8s.io/apimachinery/pkg/version"

	"github.com/sekisho/sekisho/internal/version"
)

// HealthCheck is one named check of /healthz, /livez or /readyz.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// ReadyOnly checks count for /readyz only, not for liveness.
	ReadyOnly bool
}

// KubernetesVersion is the Kubernetes release whose API sekisho serves, as
// reported by /version. kubectl and client-go compare it with their own.
var KubernetesVersion = struct{ Major, Minor, Patch string }{"1", "32", "0"}

// isHealthPath reports a path served without credentials.
func isHealthPath(p string) bool {
	for _, root := range []string{"/healthz", "/livez", "/readyz"} {
		if p == root || strings.HasPrefix(p, root+"/") {
			return true
		}
	}
	return false
}

// serveHealth answers /healthz, /livez and /readyz, with ?verbose,
// ?exclude=NAME and /readyz/NAME for a single check.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)
	endpoint := parts[0]
	checks := []HealthCheck{{Name: "ping", Check: func(context.Context) error { return nil }}}
	for _, c := range s.checks {
		if c.ReadyOnly && endpoint != "readyz" {
			continue
		}
		checks = append(checks, c)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if len(parts) > 1 {
		name := strings.Join(parts[1:], "/")
		for _, c := range checks {
			if c.Name == name {
				if err := c.Check(r.Context()); err != nil {
					s.log.Warn("health check failed", "check", name, "err", err)
					http.Error(w, fmt.Sprintf("internal server error: %s check failed", name), http.StatusInternalServerError)
					return
				}
				fmt.Fprint(w, "ok")
				return
			}
		}
		http.NotFound(w, r)
		return
	}
	excluded := r.URL.Query()["exclude"]
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if slices.Contains(excluded, c.Name) {
			fmt.Fprintf(&b, "[+]%s excluded: ok\n", c.Name)
			continue
		}
		if err := c.Check(r.Context()); err != nil {
			s.log.Warn("health check failed", "endpoint", endpoint, "check", c.Name, "err", err)
			fmt.Fprintf(&b, "[-]%s failed: reason withheld\n", c.Name)
			failed = true
			continue
		}
		fmt.Fprintf(&b, "[+]%s ok\n", c.Name)
	}
	if failed {
		fmt.Fprintf(&b, "%s check failed\n", endpoint)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, b.String())
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(&b, "%s check passed\n", endpoint)
		fmt.Fprint(w, b.String())
		return
	}
	fmt.Fprint(w, "ok")
}

// versionInfo is the body of /version.
func versionInfo() apiversion.Info {
	v := version.Get()
	return apiversion.Info{
		Major:        KubernetesVersion.Major,
		Minor:        KubernetesVersion.Minor,
		GitVersion:   fmt.Sprintf("v%s.%s.%s-sekisho.%s", KubernetesVersion.Major, KubernetesVersion.Minor, KubernetesVersion.Patch, strings.TrimPrefix(v.Version, "v")),
		GitCommit:    v.Commit,
		GitTreeState: "clean",
		GoVersion:    v.GoVersion,
		Compiler:     runtime.Compiler,
		Platform:     v.Platform,
	}
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	if err := writeJSON(w, http.StatusOK, "application/json", versionInfo()); err != nil {
		s.writeError(w, r, err)
	}
}
