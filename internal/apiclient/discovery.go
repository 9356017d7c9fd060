package apiclient

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
)

// APIResource is a served resource with its group and version.
type APIResource struct {
	metav1.APIResource
	GroupVersion schema.GroupVersion
}

// Resources lists the resources of the core group and of each group's
// preferred version, subresources excluded.
func (c *Client) Resources(ctx context.Context) ([]APIResource, error) {
	var out []APIResource
	add := func(gv string) error {
		var list metav1.APIResourceList
		path := "/apis/" + gv
		if gv == "v1" {
			path = "/api/v1"
		}
		if err := c.Do(ctx, "GET", path, nil, &list); err != nil {
			return fmt.Errorf("discovery %s: %w", path, err)
		}
		parsed, _ := schema.ParseGroupVersion(gv)
		for _, r := range list.APIResources {
			if !strings.Contains(r.Name, "/") {
				out = append(out, APIResource{APIResource: r, GroupVersion: parsed})
			}
		}
		return nil
	}
	if err := add("v1"); err != nil {
		return nil, err
	}
	var groups metav1.APIGroupList
	if err := c.Do(ctx, "GET", "/apis", nil, &groups); err != nil {
		return nil, fmt.Errorf("discovery /apis: %w", err)
	}
	for _, g := range groups.Groups {
		if err := add(g.PreferredVersion.GroupVersion); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindResource resolves what a user types for a resource as kubectl does:
// a plural, singular or short name, or a kind, optionally qualified by
// group ("deployments.apps"). It returns false when no served resource
// matches.
func FindResource(resources []APIResource, arg string) (APIResource, bool) {
	name, group, qualified := strings.Cut(strings.ToLower(arg), ".")
	for _, r := range resources {
		if qualified && r.GroupVersion.Group != group {
			continue
		}
		if r.Name == name || r.SingularName == name || strings.ToLower(r.Kind) == name {
			return r, true
		}
		for _, s := range r.ShortNames {
			if s == name {
				return r, true
			}
		}
	}
	return APIResource{}, false
}

// Namespace is the namespace of the kubeconfig's context, or "default".
func Namespace(path, context string) string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).Namespace()
	if err != nil || ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}
