// Package priority is kube-apiserver's Priority admission plugin. A new
// pod's priority and preemption policy come from its PriorityClass, or
// from the cluster's global default class, or are 0 and
// PreemptLowerPriority; a pod may not state a different priority itself,
// nor name a class that does not exist. Only one class may be the global
// default.
package priority

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "Priority"

// Plugin is the Priority admission plugin.
type Plugin struct {
	// Classes lists the stored priority classes.
	Classes func(ctx context.Context) ([]*schedulingv1.PriorityClass, error)
}

var (
	_ admission.Mutator   = (*Plugin)(nil)
	_ admission.Validator = (*Plugin)(nil)

	pods    = corev1.SchemeGroupVersion.WithResource("pods")
	classes = schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")
)

// Admit implements admission.Mutator for pods.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || a.Resource != pods || a.Subresource != "" {
		return nil
	}
	if a.Operation == admission.Update {
		// Set on create; an update that leaves them out keeps them
		// (validation refuses any other change).
		if old, ok := a.OldObject.(*corev1.Pod); ok {
			if pod.Spec.Priority == nil {
				pod.Spec.Priority = old.Spec.Priority
			}
			if pod.Spec.PreemptionPolicy == nil {
				pod.Spec.PreemptionPolicy = old.Spec.PreemptionPolicy
			}
		}
		return nil
	}
	if a.Operation != admission.Create {
		return nil
	}
	list, err := p.Classes(ctx)
	if err != nil {
		return fmt.Errorf("error occurred while retrieving default priority class: %w", err)
	}
	var class *schedulingv1.PriorityClass
	if name := pod.Spec.PriorityClassName; name != "" {
		for _, c := range list {
			if c.Name == name {
				class = c
			}
		}
		if class == nil {
			return admission.NewForbidden(a, fmt.Errorf("no PriorityClass with name %v was found", name))
		}
	} else {
		class = globalDefault(list)
	}
	value, policy := int32(0), corev1.PreemptLowerPriority
	if class != nil {
		pod.Spec.PriorityClassName, value = class.Name, class.Value
		if class.PreemptionPolicy != nil {
			policy = *class.PreemptionPolicy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return admission.NewForbidden(a, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
		return admission.NewForbidden(a, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, policy))
	}
	pod.Spec.PreemptionPolicy = &policy
	return nil
}

// Validate implements admission.Validator: a second global default class
// is refused.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	pc, ok := a.Object.(*schedulingv1.PriorityClass)
	if !ok || a.Resource != classes || a.Subresource != "" || !pc.GlobalDefault ||
		a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	list, err := p.Classes(ctx)
	if err != nil {
		return fmt.Errorf("failed to get default priority class: %v", err)
	}
	if d := globalDefault(list); d != nil && (a.Operation == admission.Create || d.Name != pc.Name) {
		return admission.NewForbidden(a, fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", d.Name))
	}
	return nil
}

// globalDefault is the global default class; should a race have made two,
// the one of lowest value.
func globalDefault(list []*schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
	var d *schedulingv1.PriorityClass
	for _, c := range list {
		if c.GlobalDefault && (d == nil || c.Value < d.Value) {
			d = c
		}
	}
	return d
}
