package ownerreferencespermissionenforcement

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// grants allows "verb resource/subresource name" for the listed triples.
func grants(allowed ...string) authz.Authorizer {
	return authz.AuthorizerFunc(func(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		if slices.Contains(allowed, a.Verb+" "+res+" "+a.Name) {
			return authz.Allow, "", nil
		}
		return authz.NoOpinion, "no rule", nil
	})
}

func TestOwnerReferences(t *testing.T) {
	yes := true
	owner := func(kind, name string, block bool) metav1.OwnerReference {
		r := metav1.OwnerReference{APIVersion: "v1", Kind: kind, Name: name, UID: types.UID("uid-" + name)}
		if block {
			r.BlockOwnerDeletion = &yes
		}
		return r
	}
	cm := func(refs ...metav1.OwnerReference) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", ResourceVersion: "1", OwnerReferences: refs}}
	}
	mappings := func(gk schema.GroupKind, version string) []Mapping {
		if gk == (schema.GroupKind{Kind: "ConfigMap"}) && version == "v1" {
			return []Mapping{{Resource: corev1.SchemeGroupVersion.WithResource("configmaps"), Namespaced: true}}
		}
		return nil
	}
	write := func(op admission.Operation, obj, old *corev1.ConfigMap) *admission.Attributes {
		a := &admission.Attributes{Operation: op, Resource: corev1.SchemeGroupVersion.WithResource("configmaps"), Namespace: "ns", Name: "c",
			Object: obj, User: &authn.User{Name: "dev"}}
		if old != nil {
			a.OldObject = old
		}
		return a
	}
	for _, c := range []struct {
		what    string
		allowed []string
		a       *admission.Attributes
		want    string
	}{
		{"a create with an owner", nil, write(admission.Create, cm(owner("ConfigMap", "o", false)), nil), ""},
		{"an update adding an owner, no delete", nil, write(admission.Update, cm(owner("ConfigMap", "o", false)), cm()),
			"cannot set an ownerRef on a resource you can't delete: no rule"},
		{"an update adding an owner", []string{"delete configmaps c"}, write(admission.Update, cm(owner("ConfigMap", "o", false)), cm()), ""},
		{"an update keeping the owners", nil, write(admission.Update, cm(owner("ConfigMap", "o", true)), cm(owner("ConfigMap", "o", true))), ""},
		{"a blocking owner, no finalizers", nil, write(admission.Create, cm(owner("ConfigMap", "o", true)), nil),
			"cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: no rule"},
		{"a blocking owner", []string{"update configmaps/finalizers o"}, write(admission.Create, cm(owner("ConfigMap", "o", true)), nil), ""},
		{"a blocking owner, finalizers of anything", []string{"update */finalizers *"}, write(admission.Create, cm(owner("ConfigMap", "o", true)), nil), ""},
		{"a blocking owner of an unknown kind", nil, write(admission.Create, cm(owner("Gadget", "g", true)), nil),
			"cannot set blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion v1 Kind Gadget"},
		{"turning an owner blocking", []string{"delete configmaps c"}, write(admission.Update, cm(owner("ConfigMap", "o", true)), cm(owner("ConfigMap", "o", false))),
			"can't set finalizers on"},
	} {
		p := &Plugin{Authorizer: grants(c.allowed...), Mappings: mappings}
		err := p.Validate(context.Background(), c.a)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.what, err)
		case c.want != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
		}
	}
}
