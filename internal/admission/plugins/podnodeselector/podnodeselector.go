// Package podnodeselector is the PodNodeSelector admission plugin: a
// namespace's scheduler.alpha.kubernetes.io/node-selector annotation (or
// the cluster default from the plugin's configuration) is merged into the
// node selector of every pod created in it, a pod whose own selector
// contradicts it is refused, and the configuration can hold each
// namespace to an allow-list of node labels. It pins a team's pods to
// its nodes.
package podnodeselector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "PodNodeSelector"

// Annotation is the namespace annotation holding its node selector.
const Annotation = "scheduler.alpha.kubernetes.io/node-selector"

// clusterDefault is the configuration key of the selector for namespaces
// without the annotation.
const clusterDefault = "clusterDefaultNodeSelector"

// Plugin merges and checks pods' node selectors.
type Plugin struct {
	Namespace func(ctx context.Context, name string) (*corev1.Namespace, error)
	// Selectors are the configuration's: clusterDefaultNodeSelector, and
	// per namespace the labels its pods' selectors may use.
	Selectors map[string]string
}

// ParseConfiguration reads the plugin's configuration, as kube-apiserver
// does: {"podNodeSelectorPluginConfig": {"clusterDefaultNodeSelector":
// "env=prod", "<namespace>": "<allowed labels>"}}. Every selector must
// parse; nothing (nil) is no configuration.
func ParseConfiguration(data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var cfg struct {
		PodNodeSelectorPluginConfig map[string]string `json:"podNodeSelectorPluginConfig"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("podNodeSelectorPluginConfig: %w", err)
	}
	for key, sel := range cfg.PodNodeSelectorPluginConfig {
		if _, err := labels.ConvertSelectorToLabelsMap(sel); err != nil {
			return nil, fmt.Errorf("podNodeSelectorPluginConfig.%s: %w", key, err)
		}
	}
	return cfg.PodNodeSelectorPluginConfig, nil
}

func pod(a *admission.Attributes) (*corev1.Pod, bool) {
	if a.Operation != admission.Create || a.Resource.Group != "" || a.Resource.Resource != "pods" || a.Subresource != "" {
		return nil, false
	}
	p, ok := a.Object.(*corev1.Pod)
	return p, ok
}

var errConflict = errors.New("pod node label selector conflicts with its namespace node label selector")

// Admit merges the namespace's node selector into a new pod's, then
// checks it as Validate does.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	pd, ok := pod(a)
	if !ok {
		return nil
	}
	nsSelector, err := p.namespaceSelector(ctx, a.Namespace)
	if err != nil {
		return err
	}
	if labels.Conflicts(nsSelector, labels.Set(pd.Spec.NodeSelector)) {
		return apierrors.NewForbidden(a.Resource.GroupResource(), pd.Name, errConflict)
	}
	if merged := labels.Merge(nsSelector, pd.Spec.NodeSelector); len(merged) > 0 {
		pd.Spec.NodeSelector = merged
	}
	return p.Validate(ctx, a)
}

// Validate refuses a new pod whose node selector contradicts its
// namespace's, or uses labels outside the namespace's allow-list.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	pd, ok := pod(a)
	if !ok {
		return nil
	}
	nsSelector, err := p.namespaceSelector(ctx, a.Namespace)
	if err != nil {
		return err
	}
	gr := a.Resource.GroupResource()
	if labels.Conflicts(nsSelector, labels.Set(pd.Spec.NodeSelector)) {
		return apierrors.NewForbidden(gr, pd.Name, errConflict)
	}
	allowed, err := labels.ConvertSelectorToLabelsMap(p.Selectors[a.Namespace])
	if err != nil {
		return internal(err)
	}
	if len(allowed) > 0 {
		for k, v := range pd.Spec.NodeSelector {
			if have, ok := allowed[k]; !ok || have != v {
				return apierrors.NewForbidden(gr, pd.Name, errors.New("pod node label selector labels conflict with its namespace whitelist"))
			}
		}
	}
	return nil
}

// namespaceSelector is the namespace's annotation, or the cluster
// default when it has none.
func (p *Plugin) namespaceSelector(ctx context.Context, name string) (labels.Set, error) {
	ns, err := p.Namespace(ctx, name)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("namespace %s does not exist", name))
	}
	sel, ok := ns.Annotations[Annotation]
	if !ok {
		sel = p.Selectors[clusterDefault]
	}
	set, err := labels.ConvertSelectorToLabelsMap(sel)
	if err != nil {
		return nil, internal(err)
	}
	return set, nil
}

// internal is kube-apiserver's answer to an error that is not a Status:
// a 500 carrying its message.
func internal(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
		Reason: metav1.StatusReasonUnknown, Message: err.Error()}}
}
