// Package podsecurity is the PodSecurity admission plugin: the Pod
// Security Standards (privileged, baseline, restricted) enforced, audited
// and warned about per namespace, from its pod-security.kubernetes.io/*
// labels, or from the cluster-wide defaults of a PodSecurityConfiguration.
//
// The policy checks and the admission logic around them (labels and their
// versions, exemptions, pod templates of workloads, warnings about
// existing pods when a namespace's level changes) are those of
// k8s.io/pod-security-admission, the library kube-apiserver's own plugin
// wraps; this package connects it to sekisho's admission attributes,
// readers, warnings and refusals.
package podsecurity

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psadmission "k8s.io/pod-security-admission/admission"
	psconfig "k8s.io/pod-security-admission/admission/api"
	"k8s.io/pod-security-admission/admission/api/load"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/warning"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "PodSecurity"

// Readers are what the plugin reads: a namespace's labels, and its pods
// when its enforced level changes.
type Readers struct {
	Namespace func(ctx context.Context, name string) (*corev1.Namespace, error)
	Pods      func(ctx context.Context, namespace string) ([]*corev1.Pod, error)
}

// Plugin validates pods, workloads' pod templates and namespaces.
type Plugin struct {
	delegate *psadmission.Admission
}

// LoadConfiguration reads a PodSecurityConfiguration (any of its API
// versions); empty data gives Kubernetes' defaults: privileged, no
// exemptions.
func LoadConfiguration(data []byte) (*psconfig.PodSecurityConfiguration, error) {
	return load.LoadFromData(data)
}

// New builds the plugin with cfg (nil for Kubernetes' defaults).
func New(cfg *psconfig.PodSecurityConfiguration, r Readers) (*Plugin, error) {
	if r.Namespace == nil || r.Pods == nil {
		return nil, errors.New("needs a namespace reader and a pod lister")
	}
	if cfg == nil {
		var err error
		if cfg, err = LoadConfiguration(nil); err != nil {
			return nil, err
		}
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	d := &psadmission.Admission{
		Configuration:    cfg,
		Evaluator:        evaluator,
		Metrics:          noMetrics{},
		PodSpecExtractor: psadmission.DefaultPodSpecExtractor{},
		NamespaceGetter:  namespaceGetter(r.Namespace),
		PodLister:        podLister(r.Pods),
	}
	if err := d.CompleteConfiguration(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := d.ValidateConfiguration(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &Plugin{delegate: d}, nil
}

var namespaces = schema.GroupResource{Resource: "namespaces"}

// Validate evaluates a create or update of a pod, a pod template of a
// workload, or a namespace. Warnings reach the client as Warning headers,
// the policy and audit-level violations become audit annotations, and
// a violation of the enforced level is a 403 naming each broken rule.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	gr := a.Resource.GroupResource()
	if gr != namespaces && !p.delegate.PodSpecExtractor.HasPodSpec(gr) {
		return nil
	}
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	result := p.delegate.Validate(ctx, attributes{a})
	for _, w := range result.Warnings {
		warning.Warn(ctx, w)
	}
	// The policy evaluated, and violations of the audit level, are the
	// request's audit annotations, under kube-apiserver's names.
	if audit.AnnotationsFrom(ctx) != nil {
		for k, v := range result.AuditAnnotations {
			audit.Annotate(ctx, psapi.AuditAnnotationPrefix+k, v)
		}
	}
	if result.Allowed {
		return nil
	}
	refusal := admission.NewForbidden(a, errors.New("Not allowed by PodSecurity")).(*apierrors.StatusError)
	if s := result.Result; s != nil {
		if s.Message != "" {
			refusal.ErrStatus.Message = s.Message
		}
		if s.Reason != "" {
			refusal.ErrStatus.Reason = s.Reason
		}
		if s.Details != nil {
			refusal.ErrStatus.Details = s.Details
		}
		if s.Code != 0 {
			refusal.ErrStatus.Code = s.Code
		}
	}
	return refusal
}

// attributes presents a write to the library.
type attributes struct{ a *admission.Attributes }

func (x attributes) GetName() string                          { return x.a.Name }
func (x attributes) GetNamespace() string                     { return x.a.Namespace }
func (x attributes) GetResource() schema.GroupVersionResource { return x.a.Resource }
func (x attributes) GetKind() schema.GroupVersionKind         { return x.a.Kind }
func (x attributes) GetSubresource() string                   { return x.a.Subresource }
func (x attributes) GetOperation() admissionv1.Operation {
	return admissionv1.Operation(x.a.Operation)
}
func (x attributes) GetObject() (runtime.Object, error)    { return x.a.Object, nil }
func (x attributes) GetOldObject() (runtime.Object, error) { return x.a.OldObject, nil }
func (x attributes) GetUserName() string {
	if x.a.User == nil {
		return ""
	}
	return x.a.User.Name
}

type namespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

func (g namespaceGetter) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	return g(ctx, name)
}

type podLister func(ctx context.Context, namespace string) ([]*corev1.Pod, error)

func (l podLister) ListPods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	return l(ctx, namespace)
}

// noMetrics drops the library's evaluation metrics: sekisho does not
// export them yet.
type noMetrics struct{}

func (noMetrics) RecordEvaluation(metrics.Decision, psapi.LevelVersion, metrics.Mode, psapi.Attributes) {
}
func (noMetrics) RecordExemption(psapi.Attributes)   {}
func (noMetrics) RecordError(bool, psapi.Attributes) {}
