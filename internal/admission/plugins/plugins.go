// Package plugins registers every admission plugin sekisho has, in the
// order kube-apiserver runs them. The control plane builds its chain with
// New(deps).Build(names); a new plugin is a package under plugins/ and
// one line here.
package plugins

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/alwayspullimages"
	"github.com/sekisho/sekisho/internal/admission/plugins/certificateapproval"
	"github.com/sekisho/sekisho/internal/admission/plugins/certificatesigning"
	"github.com/sekisho/sekisho/internal/admission/plugins/certificatesubjectrestriction"
	"github.com/sekisho/sekisho/internal/admission/plugins/defaultingressclass"
	"github.com/sekisho/sekisho/internal/admission/plugins/defaultstorageclass"
	"github.com/sekisho/sekisho/internal/admission/plugins/defaulttolerationseconds"
	"github.com/sekisho/sekisho/internal/admission/plugins/denyserviceexternalips"
	"github.com/sekisho/sekisho/internal/admission/plugins/eventratelimit"
	"github.com/sekisho/sekisho/internal/admission/plugins/limitranger"
	"github.com/sekisho/sekisho/internal/admission/plugins/namespacelifecycle"
	"github.com/sekisho/sekisho/internal/admission/plugins/noderestriction"
	"github.com/sekisho/sekisho/internal/admission/plugins/ownerreferencespermissionenforcement"
	"github.com/sekisho/sekisho/internal/admission/plugins/persistentvolumeclaimresize"
	"github.com/sekisho/sekisho/internal/admission/plugins/podnodeselector"
	"github.com/sekisho/sekisho/internal/admission/plugins/podsecurity"
	"github.com/sekisho/sekisho/internal/admission/plugins/priority"
	"github.com/sekisho/sekisho/internal/admission/plugins/rbacescalation"
	"github.com/sekisho/sekisho/internal/admission/plugins/resourcequota"
	"github.com/sekisho/sekisho/internal/admission/plugins/runtimeclass"
	"github.com/sekisho/sekisho/internal/admission/plugins/serviceaccount"
	"github.com/sekisho/sekisho/internal/admission/plugins/serviceallocation"
	"github.com/sekisho/sekisho/internal/admission/plugins/storageobjectinuseprotection"
	"github.com/sekisho/sekisho/internal/admission/plugins/taintnodesbycondition"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
	"github.com/sekisho/sekisho/internal/quota"
	"github.com/sekisho/sekisho/internal/serviceip"
)

// Deps are what the plugins read. A plugin whose dependency is missing
// fails when a chain that includes it is built.
type Deps struct {
	// Authorizer is the server's whole authorizer chain.
	Authorizer authz.Authorizer
	// RBAC is the index of roles and bindings, for escalation checks.
	RBAC *rbac.Index
	// Services hands out cluster IPs and node ports.
	Services *serviceip.Allocator
	// Namespaced reports whether a resource lives in namespaces.
	Namespaced func(schema.GroupVersionResource) bool
	// Namespace, Pod and Node read stored objects.
	Namespace func(ctx context.Context, name string) (*corev1.Namespace, error)
	Pod       func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Node      func(ctx context.Context, name string) (*corev1.Node, error)
	// ServiceAccount reads a stored service account.
	ServiceAccount func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	// Config holds each plugin's configuration from the
	// AdmissionConfiguration file, by plugin name.
	Config map[string][]byte
	// Pods lists the pods of a namespace ("" for all).
	Pods func(ctx context.Context, namespace string) ([]*corev1.Pod, error)
	// LimitRanges lists the LimitRanges of a namespace.
	LimitRanges func(ctx context.Context, namespace string) ([]*corev1.LimitRange, error)
	// PriorityClasses lists the stored priority classes.
	PriorityClasses func(ctx context.Context) ([]*schedulingv1.PriorityClass, error)
	// StorageClasses lists the stored storage classes.
	StorageClasses func(ctx context.Context) ([]*storagev1.StorageClass, error)
	// Mappings are the resources a kind is served as, in a version.
	Mappings func(gk schema.GroupKind, version string) []ownerreferencespermissionenforcement.Mapping
	// RuntimeClass reads a stored RuntimeClass.
	RuntimeClass func(ctx context.Context, name string) (*nodev1.RuntimeClass, error)
	// IngressClasses lists the stored ingress classes.
	IngressClasses func(ctx context.Context) ([]*networkingv1.IngressClass, error)
	// ResourceQuotas lists the ResourceQuotas of a namespace
	// (resourcequota.Plugin.Quotas).
	ResourceQuotas resourcequota.Lister
}

// Implemented lists the plugins a flag can name, in the order they run.
func Implemented() []string { return New(Deps{}).Names() }

// DefaultNames are the plugins a server runs when no flag names any:
// kube-apiserver's defaults that sekisho has, and NodeRestriction, which
// kubeadm turns on and without which any bootstrap token leads to every
// Secret (docs/authorization.md).
func DefaultNames() []string {
	s, err := Select(nil, nil, Implemented())
	if err != nil {
		panic(err) // no names, no errors
	}
	return s.Enabled
}

// New returns the registry of every plugin, in kube-apiserver's order.
// ServiceAllocation and RBACEscalation are in every chain: Kubernetes
// makes them in storage, where no flag reaches.
func New(d Deps) *admission.Registry {
	r := &admission.Registry{}
	must := func(err error) {
		if err != nil {
			panic(err) // the table below is static
		}
	}
	must(r.RegisterAlways(serviceallocation.PluginName, func() (any, error) {
		if d.Services == nil {
			return nil, errMissing("a service IP allocator")
		}
		return &serviceallocation.Plugin{Allocator: d.Services}, nil
	}))
	must(r.Register(namespacelifecycle.PluginName, func() (any, error) {
		if d.Namespace == nil || d.Namespaced == nil {
			return nil, errMissing("a namespace reader")
		}
		return namespacelifecycle.New(d.Namespace, d.Namespaced), nil
	}))
	must(r.Register(limitranger.PluginName, func() (any, error) {
		if d.LimitRanges == nil {
			return nil, errMissing("a LimitRange reader")
		}
		return &limitranger.Plugin{LimitRanges: d.LimitRanges}, nil
	}))
	must(r.Register(serviceaccount.PluginName, func() (any, error) {
		if d.ServiceAccount == nil {
			return nil, errMissing("a service account reader")
		}
		return &serviceaccount.Plugin{Get: d.ServiceAccount}, nil
	}))
	must(r.Register(noderestriction.PluginName, func() (any, error) {
		return noderestriction.New(noderestriction.Getters{Pod: d.Pod, Node: d.Node})
	}))
	must(r.Register(taintnodesbycondition.PluginName, func() (any, error) { return taintnodesbycondition.Plugin{}, nil }))
	must(r.Register(alwayspullimages.PluginName, func() (any, error) { return alwayspullimages.Plugin{}, nil }))
	must(r.Register(podsecurity.PluginName, func() (any, error) {
		cfg, err := podsecurity.LoadConfiguration(d.Config[podsecurity.PluginName])
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		return podsecurity.New(cfg, podsecurity.Readers{Namespace: d.Namespace, Pods: d.Pods})
	}))
	must(r.Register(podnodeselector.PluginName, func() (any, error) {
		if d.Namespace == nil {
			return nil, errMissing("a namespace reader")
		}
		selectors, err := podnodeselector.ParseConfiguration(d.Config[podnodeselector.PluginName])
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		return &podnodeselector.Plugin{Namespace: d.Namespace, Selectors: selectors}, nil
	}))
	must(r.Register(priority.PluginName, func() (any, error) {
		if d.PriorityClasses == nil {
			return nil, errMissing("a priority class reader")
		}
		return &priority.Plugin{Classes: d.PriorityClasses}, nil
	}))
	must(r.Register(defaulttolerationseconds.PluginName, func() (any, error) { return defaulttolerationseconds.Plugin{}, nil }))
	must(r.Register(eventratelimit.PluginName, func() (any, error) {
		limits, err := eventratelimit.ParseConfiguration(d.Config[eventratelimit.PluginName])
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		return eventratelimit.New(limits), nil
	}))
	must(r.RegisterAlways(rbacescalation.PluginName, func() (any, error) {
		if d.RBAC == nil || d.Authorizer == nil {
			return nil, errMissing("the RBAC index and the authorizer")
		}
		return &rbacescalation.Escalation{Index: d.RBAC, Authorizer: d.Authorizer}, nil
	}))
	must(r.Register(defaultstorageclass.PluginName, func() (any, error) {
		if d.StorageClasses == nil {
			return nil, errMissing("a storage class reader")
		}
		return &defaultstorageclass.Plugin{Classes: d.StorageClasses}, nil
	}))
	must(r.Register(storageobjectinuseprotection.PluginName, func() (any, error) { return storageobjectinuseprotection.Plugin{}, nil }))
	must(r.Register(ownerreferencespermissionenforcement.PluginName, func() (any, error) {
		if d.Authorizer == nil || d.Mappings == nil {
			return nil, errMissing("the authorizer and the resource mappings")
		}
		return &ownerreferencespermissionenforcement.Plugin{Authorizer: d.Authorizer, Mappings: d.Mappings}, nil
	}))
	must(r.Register(persistentvolumeclaimresize.PluginName, func() (any, error) {
		if d.StorageClasses == nil {
			return nil, errMissing("a storage class reader")
		}
		return &persistentvolumeclaimresize.Plugin{Class: func(ctx context.Context, name string) (*storagev1.StorageClass, error) {
			list, err := d.StorageClasses(ctx)
			if err != nil {
				return nil, err
			}
			for _, c := range list {
				if c.Name == name {
					return c, nil
				}
			}
			return nil, apierrors.NewNotFound(storagev1.Resource("storageclasses"), name)
		}}, nil
	}))
	must(r.Register(runtimeclass.PluginName, func() (any, error) {
		if d.RuntimeClass == nil {
			return nil, errMissing("a RuntimeClass reader")
		}
		return &runtimeclass.Plugin{Class: d.RuntimeClass}, nil
	}))
	must(r.Register(certificateapproval.PluginName, func() (any, error) {
		if d.Authorizer == nil {
			return nil, errMissing("the authorizer")
		}
		return &certificateapproval.Plugin{Authorizer: d.Authorizer}, nil
	}))
	must(r.Register(certificatesigning.PluginName, func() (any, error) {
		if d.Authorizer == nil {
			return nil, errMissing("the authorizer")
		}
		return &certificatesigning.Plugin{Authorizer: d.Authorizer}, nil
	}))
	must(r.Register(certificatesubjectrestriction.PluginName, func() (any, error) {
		return certificatesubjectrestriction.Plugin{}, nil
	}))
	must(r.Register(defaultingressclass.PluginName, func() (any, error) {
		if d.IngressClasses == nil {
			return nil, errMissing("an IngressClass reader")
		}
		return &defaultingressclass.Plugin{Classes: d.IngressClasses}, nil
	}))
	must(r.Register(denyserviceexternalips.PluginName, func() (any, error) { return denyserviceexternalips.Plugin{}, nil }))
	must(r.Register(resourcequota.PluginName, func() (any, error) {
		if d.ResourceQuotas == nil {
			return nil, errMissing("a ResourceQuota reader")
		}
		limited, err := resourcequota.ParseConfiguration(d.Config[resourcequota.PluginName])
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		return &resourcequota.Plugin{Quotas: d.ResourceQuotas, Registry: quota.Registry{Limited: limited}}, nil
	}))

	return r
}

type errMissing string

func (e errMissing) Error() string { return "needs " + string(e) }
