// Package layers checks that sekisho's packages layer top to bottom: no
// package imports, even indirectly, a package above it. docs/architecture.md
// draws the same map.
package layers

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sekisho/sekisho/test/sources"
)

const module = "github.com/sekisho/sekisho/"

// rules say, for packages matching a pattern, which packages they must not
// depend on. A pattern ending in "/..." matches the package and every
// package below it.
var rules = []struct {
	packages []string
	why      string
	banned   []string
}{
	{
		packages: []string{"internal/catalog", "internal/store", "internal/storage/...", "internal/encryption", "internal/informer"},
		why:      "the catalogue and the store describe and keep objects; who may write them is decided above",
		banned: []string{"internal/authz/...", "internal/admission/plugins/...", "internal/authn/x509", "internal/authn/oidc",
			"internal/authn/serviceaccount", "internal/authn/webhook", "internal/authn/bootstrap", "internal/authn/tokenfile",
			"internal/authn/requestheader", "internal/apiserver", "internal/controlplane", "internal/controllers/...",
			"internal/accessreview", "internal/authnapi", "internal/serviceip"},
	},
	{
		packages: []string{"internal/catalog", "internal/storage/...", "internal/encryption", "internal/certificates"},
		why:      "describing a resource or storing bytes needs no admission",
		banned:   []string{"internal/admission/...", "internal/store"},
	},
	{
		packages: []string{"internal/authz/..."},
		why:      "authorizers decide from what they are given; the control plane feeds them",
		banned: []string{"internal/catalog", "internal/store", "internal/storage/...", "internal/informer",
			"internal/admission/...", "internal/apiserver", "internal/controlplane"},
	},
	{
		packages: []string{"internal/certificates"},
		why:      "the rules of the certificates API know nothing of the plugins that enforce them",
		banned:   []string{"internal/admission/...", "internal/authz/..."},
	},
	{
		packages: []string{"internal/serviceip"},
		why:      "the allocator knows nothing of the plugin that calls it",
		banned:   []string{"internal/admission/plugins/...", "internal/authz/..."},
	},
	{
		packages: []string{"internal/quota"},
		why:      "measuring usage is the same for the plugin that charges it and the controller that recounts it",
		banned:   []string{"internal/admission/...", "internal/store", "internal/controllers/..."},
	},
	{
		packages: []string{"internal/admission"},
		why:      "the admission framework knows no plugin",
		banned:   []string{"internal/admission/plugins/...", "internal/store", "internal/catalog"},
	},
	{
		packages: []string{"internal/admission/plugins/...", "internal/accessreview", "internal/authnapi", "internal/controllers/...", "internal/apiserver"},
		why:      "only the control plane assembles the server",
		banned:   []string{"internal/controlplane"},
	},
	{
		packages: []string{"internal/apiserver"},
		why:      "the HTTP layer decodes, calls the writer and encodes; which plugins and controllers run is the control plane's choice",
		banned:   []string{"internal/admission/plugins/...", "internal/controllers/...", "internal/accessreview", "internal/authnapi"},
	},
	{
		packages: []string{"internal/..."},
		why:      "commands use the packages, not the other way round",
		banned:   []string{"cmd/..."},
	},
}

func matches(pattern, pkg string) bool {
	pkg = strings.TrimPrefix(pkg, module)
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// TestNoUpwardImports lists every package's dependencies with go list and
// refuses any that a rule bans. It records the sources, so that an import
// added since reruns it rather than reporting a cached pass.
func TestNoUpwardImports(t *testing.T) {
	sources.Record(filepath.Join("..", ".."))
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	listed := 0
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		listed++
		for _, r := range rules {
			if !matchesAny(r.packages, p.ImportPath) {
				continue
			}
			for _, dep := range p.Deps {
				if strings.HasPrefix(dep, module) && matchesAny(r.banned, dep) {
					t.Errorf("%s depends on %s: %s", strings.TrimPrefix(p.ImportPath, module), strings.TrimPrefix(dep, module), r.why)
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if listed < 50 {
		t.Fatalf("go list listed %d packages; the check saw too little to mean anything", listed)
	}
}

func matchesAny(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if matches(p, pkg) {
			return true
		}
	}
	return false
}

// TestRulesBite checks the matcher on a known upward import, so that a
// rule that matches nothing cannot pass silently.
func TestRulesBite(t *testing.T) {
	if !matches("internal/authz/...", module+"internal/authz/rbac") || !matches("internal/authz/...", module+"internal/authz") {
		t.Error("a /... pattern misses the package or its children")
	}
	if matches("internal/authn", module+"internal/authn/x509") || matches("internal/store", module+"internal/storage") {
		t.Error("an exact pattern matches more than its package")
	}
}
