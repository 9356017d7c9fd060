package admission

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadConfiguration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("rates.yaml", "kind: Configuration\nlimits: []\n")
	path := write("admission.yaml", `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: restricted}
- name: EventRateLimit
  path: rates.yaml
`)
	got, err := ReadConfiguration(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got["PodSecurity"]), `"enforce":"restricted"`) || string(got["EventRateLimit"]) != `{"kind":"Configuration","limits":[]}` {
		t.Errorf("configuration: %q", got)
	}
	for body, want := range map[string]string{
		"kind: Nope\napiVersion: apiserver.config.k8s.io/v1\n":                                                              `kind "Nope", want AdmissionConfiguration`,
		"kind: AdmissionConfiguration\napiVersion: v9\n":                                                                    `apiVersion "v9"`,
		"kind: AdmissionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nplugins:\n- {}\n":                            "plugins[0]: name is required",
		"kind: AdmissionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nplugins:\n- name: X\n":                       "plugins[0] (X): neither configuration nor path is set",
		"kind: AdmissionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nplugins:\n- {name: X, path: missing.yaml}\n": "missing.yaml",
		"kind: AdmissionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nplugin: []\n":                                `unknown field "plugin"`,
	} {
		if _, err := ReadConfiguration(write("bad.yaml", body)); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
