package controlplane

import "testing"

func TestControllerSelection(t *testing.T) {
	for _, c := range []struct {
		list []string
		want map[string]bool
	}{
		{[]string{"*"}, map[string]bool{namespaceController: true, csrSigningController: true, tokenCleanerController: true}},
		{[]string{"*", "-csrsigning", "-namespace-controller"}, map[string]bool{namespaceController: false, csrSigningController: false, csrApprovingController: true}},
		{[]string{"bootstrapsigner", "tokencleaner"}, map[string]bool{bootstrapSignerController: true, tokenCleanerController: true, namespaceController: false}},
		{[]string{""}, map[string]bool{namespaceController: false, serviceAccountController: false, csrSigningController: false}},
		{[]string{"-*"}, nil}, // not a controller
		{[]string{"garbage-collector-controller"}, nil},
	} {
		s, err := parseControllers(c.list)
		if c.want == nil {
			if err == nil {
				t.Errorf("%v: accepted", c.list)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.list, err)
			continue
		}
		for name, want := range c.want {
			if got := s.enabled(name); got != want {
				t.Errorf("%v: %s enabled %v, want %v", c.list, name, got, want)
			}
		}
	}
}
