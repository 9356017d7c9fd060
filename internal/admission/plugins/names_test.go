package plugins

import (
	"slices"
	"strings"
	"testing"
)

// The registry runs plugins in kube-apiserver's order: its names appear in
// KubernetesOrder, in the same order.
func TestRegistryFollowsKubernetesOrder(t *testing.T) {
	last := -1
	for _, n := range Implemented() {
		i := slices.Index(KubernetesOrder, n)
		if i < 0 {
			t.Fatalf("%s is not a Kubernetes admission plugin", n)
		}
		if i < last {
			t.Fatalf("%s runs out of kube-apiserver's order", n)
		}
		last = i
	}
	for _, n := range KubernetesDefaults {
		if !slices.Contains(KubernetesOrder, n) {
			t.Errorf("default %s is not in the order", n)
		}
	}
}

func TestSelect(t *testing.T) {
	have := []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "AlwaysPullImages", "DenyServiceExternalIPs"}
	cases := []struct {
		name            string
		enable, disable []string
		want, missing   []string
		err             string
	}{
		{name: "defaults, with NodeRestriction", want: []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction"}},
		{name: "enabled in kube-apiserver's order, whatever the flag's", enable: []string{"DenyServiceExternalIPs", "AlwaysPullImages"},
			want: []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "AlwaysPullImages", "DenyServiceExternalIPs"}},
		{name: "disabled", disable: []string{"LimitRanger", "NodeRestriction"}, want: []string{"NamespaceLifecycle", "ServiceAccount"}},
		{name: "disabling one sekisho lacks is fine", disable: []string{"MutatingAdmissionWebhook"}, want: []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction"}},
		{name: "unknown", enable: []string{"Nope"}, err: `enable-admission-plugins plugin "Nope" is unknown`},
		{name: "unknown disabled", disable: []string{"Nope"}, err: `disable-admission-plugins plugin "Nope" is unknown`},
		{name: "not implemented", enable: []string{"ImagePolicyWebhook"}, err: `enable-admission-plugins plugin "ImagePolicyWebhook" is not implemented by sekisho`},
		{name: "both", enable: []string{"AlwaysPullImages"}, disable: []string{"AlwaysPullImages"}, err: `[AlwaysPullImages] in enable-admission-plugins and disable-admission-plugins overlapped`},
	}
	for _, c := range cases {
		s, err := Select(c.enable, c.disable, have)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(s.Enabled, c.want) {
			t.Errorf("%s: enabled %v, want %v", c.name, s.Enabled, c.want)
		}
		if slices.Contains(s.Missing, "LimitRanger") || (!slices.Contains(c.disable, "MutatingAdmissionWebhook") && !slices.Contains(s.Missing, "MutatingAdmissionWebhook")) {
			t.Errorf("%s: missing %v", c.name, s.Missing)
		}
	}
}
