// Package serviceallocation assigns Services their cluster IPs and node
// ports. Kubernetes does this in its service storage, which no flag turns
// off, so the plugin runs in every chain. It mutates, so it runs first:
// validation then sees the addresses a Service will have.
package serviceallocation

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/serviceip"
)

// PluginName is the plugin's name in the admission registry. It is not a
// kube-apiserver plugin name: Kubernetes has no flag for this step.
const PluginName = "ServiceAllocation"

var services = corev1.SchemeGroupVersion.WithResource("services")

// Plugin is the ServiceAllocation admission plugin.
type Plugin struct {
	Allocator *serviceip.Allocator
}

var _ admission.Mutator = (*Plugin)(nil)

// Admit implements admission.Mutator for creates and updates of the
// Service itself (not its status).
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	if a.Resource != services || a.Subresource != "" || (a.Operation != admission.Create && a.Operation != admission.Update) {
		return nil
	}
	svc, ok := a.Object.(*corev1.Service)
	if !ok {
		return nil
	}
	old, _ := a.OldObject.(*corev1.Service)
	return p.Allocator.Assign(ctx, svc, old, a.DryRun)
}
