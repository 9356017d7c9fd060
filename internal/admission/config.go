package admission

import (
	"fmt"
	"os"
	"path/filepath"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// ReadConfiguration reads an AdmissionConfiguration file
// (apiserver.config.k8s.io/v1, kube-apiserver's
// --admission-control-config-file) and returns each plugin's
// configuration as JSON, by plugin name: inline, or read from its path,
// which is relative to the file's directory. Errors name the file and the
// entry.
func ReadConfiguration(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admission configuration: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("admission configuration %s: %w", path, err)
	}
	switch {
	case head.Kind != "AdmissionConfiguration":
		return nil, fmt.Errorf("admission configuration %s: kind %q, want AdmissionConfiguration", path, head.Kind)
	case head.APIVersion != "apiserver.config.k8s.io/v1" && head.APIVersion != "apiserver.k8s.io/v1alpha1":
		return nil, fmt.Errorf("admission configuration %s: apiVersion %q, want apiserver.config.k8s.io/v1", path, head.APIVersion)
	}
	var cfg apiserverv1.AdmissionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("admission configuration %s: %w", path, err)
	}
	out := map[string][]byte{}
	for i, p := range cfg.Plugins {
		where := fmt.Sprintf("admission configuration %s: plugins[%d]", path, i)
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("%s: name is required", where)
		case out[p.Name] != nil:
			return nil, fmt.Errorf("%s: plugin %s is configured twice", where, p.Name)
		case p.Configuration != nil && len(p.Configuration.Raw) > 0:
			out[p.Name] = p.Configuration.Raw
		case p.Path != "":
			file := p.Path
			if !filepath.IsAbs(file) {
				file = filepath.Join(filepath.Dir(path), file)
			}
			body, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): %w", where, p.Name, err)
			}
			if body, err = yaml.YAMLToJSON(body); err != nil {
				return nil, fmt.Errorf("%s (%s): %s: %w", where, p.Name, file, err)
			}
			out[p.Name] = body
		default:
			return nil, fmt.Errorf("%s (%s): neither configuration nor path is set", where, p.Name)
		}
	}
	return out, nil
}
