package catalog

import "testing"

// TestFieldLabel pins the field selector rules test/compat found in
// kube-apiserver v1.37 (TestFieldSelectorsMatchKubeAPIServer).
func TestFieldLabel(t *testing.T) {
	r := Builtin()
	find := func(name string) *Resource {
		for _, res := range r.Resources() {
			if res.Name == name {
				return res
			}
		}
		t.Fatalf("%s not served", name)
		return nil
	}
	for _, c := range []struct {
		resource, label, want string
		ok                    bool
	}{
		{"pods", "spec.host", "spec.nodeName", true},
		{"pods", "status.podIPs", "status.podIPs", true},
		{"pods", "metadata.namespace", "metadata.namespace", true},
		{"pods", "spec.foo", "spec.foo", false},
		{"nodes", "metadata.namespace", "metadata.namespace", false},
		{"persistentvolumes", "metadata.namespace", "metadata.namespace", true},
		{"clusterroles", "metadata.namespace", "metadata.namespace", true},
		{"podcertificaterequests", "metadata.namespace", "metadata.namespace", false},
		{"podcertificaterequests", "spec.nodeName", "spec.nodeName", true},
	} {
		got, ok := find(c.resource).FieldLabel(c.label)
		if got != c.want || ok != c.ok {
			t.Errorf("%s %s: %q %v, want %q %v", c.resource, c.label, got, ok, c.want, c.ok)
		}
	}
}
