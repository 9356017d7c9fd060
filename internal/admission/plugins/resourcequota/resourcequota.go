// Package resourcequota is the ResourceQuota admission plugin: a write
// that would take a namespace past one of its ResourceQuotas is refused
// with kube-apiserver's message, and an admitted write is charged to the
// quotas that cover it. Unlike kube-apiserver, which updates a quota's
// status.used before it writes the object, the charge is written in the
// same storage transaction as the object (admission.Charge): a write that
// fails leaves no charge behind, and no two writes (nor two API servers
// on one etcd) can both take the last unit of a quota. Dry runs are
// checked and charge nothing.
package resourcequota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/quota"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "ResourceQuota"

// Plugin charges writes to the quotas of their namespace.
type Plugin struct {
	// Quotas lists the ResourceQuotas of a namespace, each with its
	// resourceVersion, and the revision the list is complete as of. A
	// cache may answer, unless fresh asks for them as stored now. The
	// plugin does not change them.
	Quotas   Lister
	Registry quota.Registry
}

// Lister lists the ResourceQuotas of a namespace; see Plugin.Quotas.
type Lister func(ctx context.Context, namespace string, fresh bool) (quotas []*corev1.ResourceQuota, rev int64, err error)

var quotasResource = corev1.SchemeGroupVersion.WithResource("resourcequotas")

// ParseConfiguration reads the plugin's configuration, as kube-apiserver
// does: a ResourceQuotaConfiguration (apiserver.config.k8s.io/v1, or
// resourcequota.admission.k8s.io/v1beta1 or v1alpha1) whose
// limitedResources may be consumed only under a quota that covers them.
// Nothing (nil) is no configuration.
func ParseConfiguration(data []byte) ([]quota.LimitedResource, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var cfg struct {
		APIVersion       string                  `json:"apiVersion"`
		Kind             string                  `json:"kind"`
		LimitedResources []quota.LimitedResource `json:"limitedResources"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	switch cfg.APIVersion {
	case "apiserver.config.k8s.io/v1", "resourcequota.admission.k8s.io/v1beta1", "resourcequota.admission.k8s.io/v1alpha1":
	default:
		return nil, fmt.Errorf("want a ResourceQuotaConfiguration of apiserver.config.k8s.io/v1, got %s %s", cfg.APIVersion, cfg.Kind)
	}
	if cfg.Kind != "ResourceQuotaConfiguration" {
		return nil, fmt.Errorf("want a ResourceQuotaConfiguration, got %s", cfg.Kind)
	}
	for i, l := range cfg.LimitedResources {
		if l.Resource == "" {
			return nil, fmt.Errorf("limitedResources[%d].resource: Required value", i)
		}
	}
	return cfg.LimitedResources, nil
}

// ignored are the resources no quota counts, as in kube-apiserver.
var ignored = map[schema.GroupResource]bool{{Resource: "events"}: true}

// Charges marks the plugin as an admission.Charger.
func (p *Plugin) Charges() {}

// Validate refuses a write the quotas of its namespace do not allow, and
// charges an admitted one (unless it is a dry run).
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if a.Namespace == "" || a.Object == nil || ignored[a.Resource.GroupResource()] {
		return nil
	}
	var op quota.Operation
	switch a.Operation {
	case admission.Create:
		op = quota.Create
	case admission.Update:
		op = quota.Update
	default:
		return nil
	}
	if a.Operation == admission.Create && a.Resource.GroupResource() == (schema.GroupResource{Resource: "namespaces"}) {
		return nil
	}
	w := quota.Write{Resource: a.Resource.GroupResource(), Op: op, Subresource: a.Subresource, Object: a.Object, Old: a.OldObject}
	if !p.Registry.For(w.Resource).Handles(w.Op, w.Subresource, w.Object, w.Old) {
		return nil
	}
	// The first charge may read a cache: the write is made only if no
	// quota of the namespace was created or changed after the list's
	// revision (a.ChargedFrom), and each quota charged is written
	// conditionally on its own resourceVersion. When it was, the write is
	// charged again, from storage.
	quotas, rev, err := p.Quotas(ctx, a.Namespace, a.Recharges > 0)
	if err == nil && rev <= 0 {
		err = errors.New("the list of quotas has no revision")
	}
	if err != nil {
		// Not an API status: the server answers as the cause calls for (503
		// when the store has no quorum, 504 past the deadline, else its
		// generic 500) and logs the cause.
		return fmt.Errorf("error looking up quota: %w", err)
	}
	charged, err := p.Registry.Charge(quotas, w)
	var refused *quota.Refusal
	var scopes *quota.UncoveredScopes
	switch {
	case errors.As(err, &refused):
		return admission.NewForbidden(a, refused)
	case errors.As(err, &scopes):
		return admission.NewForbidden(a, scopes)
	case err != nil:
		return apierrors.NewInternalError(err)
	}
	if a.DryRun {
		return nil
	}
	for _, q := range charged {
		a.Charges = append(a.Charges, admission.Charge{Resource: quotasResource, Object: q})
	}
	a.ChargedFrom = append(a.ChargedFrom, admission.ChargeBasis{Resource: quotasResource, Namespace: a.Namespace, Rev: rev})
	return nil
}
