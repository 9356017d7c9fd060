// Package defaulttolerationseconds is kube-apiserver's
// DefaultTolerationSeconds plugin: a pod that does not say how long it
// stays on a node that turns not-ready or unreachable tolerates each for
// five minutes, after which kube-controller-manager evicts it.
package defaulttolerationseconds

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in kube-apiserver's admission flags.
const PluginName = "DefaultTolerationSeconds"

// Seconds is how long a pod tolerates each condition, kube-apiserver's
// default for --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds.
const Seconds int64 = 300

// Plugin is the DefaultTolerationSeconds admission plugin.
type Plugin struct{}

var _ admission.Mutator = Plugin{}

// Admit implements admission.Mutator on pod creates and updates.
func (Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || a.Subresource != "" || a.Resource != corev1.SchemeGroupVersion.WithResource("pods") ||
		a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if !tolerates(pod.Spec.Tolerations, key) {
			seconds := Seconds
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds,
			})
		}
	}
	return nil
}

// tolerates reports a toleration of key's NoExecute taint: for that key
// or any, and for that effect or any.
func tolerates(list []corev1.Toleration, key string) bool {
	for _, t := range list {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}
