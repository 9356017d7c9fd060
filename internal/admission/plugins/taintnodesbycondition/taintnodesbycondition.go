// Package taintnodesbycondition is kube-apiserver's TaintNodesByCondition
// plugin: a new Node is tainted not-ready, so that nothing is scheduled
// there before its kubelet reports Ready; kube-controller-manager's node
// lifecycle controller lifts the taint then.
package taintnodesbycondition

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "TaintNodesByCondition"

// Plugin is the TaintNodesByCondition admission plugin.
type Plugin struct{}

var _ admission.Mutator = Plugin{}

// NotReady is the taint a new node gets.
var NotReady = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}

// Admit implements admission.Mutator: it taints nodes as they are created.
func (Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	node, ok := a.Object.(*corev1.Node)
	if a.Operation != admission.Create || a.Subresource != "" || !ok || a.Resource != corev1.SchemeGroupVersion.WithResource("nodes") {
		return nil
	}
	for _, t := range node.Spec.Taints {
		if t.MatchTaint(&NotReady) {
			return nil
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, NotReady)
	return nil
}
