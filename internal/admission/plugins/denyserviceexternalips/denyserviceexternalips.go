// Package denyserviceexternalips is the DenyServiceExternalIPs admission
// plugin: no Service gains an external IP. Whoever may create a Service
// could otherwise claim any address for it and intercept its traffic
// (CVE-2020-8554; CIS Kubernetes Benchmark 1.2.3). External IPs a Service
// already has may stay or go.
package denyserviceexternalips

import (
	"context"
	"errors"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "DenyServiceExternalIPs"

// Plugin refuses new external IPs.
type Plugin struct{}

// Validate refuses a Service create or update that names an external IP
// the Service did not have.
func (Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	if a.Resource.Group != "" || a.Resource.Resource != "services" || a.Subresource != "" {
		return nil
	}
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	svc, ok := a.Object.(*corev1.Service)
	if !ok {
		return nil
	}
	var had []string
	if old, ok := a.OldObject.(*corev1.Service); ok {
		had = old.Spec.ExternalIPs
	}
	for _, ip := range svc.Spec.ExternalIPs {
		if !slices.Contains(had, ip) {
			return admission.NewForbidden(a, errors.New("Use of external IPs is denied by admission control"))
		}
	}
	return nil
}
