package catalog

import (
	"net/http"

	corev1 "k8s.io/api/core/v1"
)

// ConnectFunc serves a request to a connect subresource (Subresource.
// Connect): it finds where the request goes and proxies it there. An
// error returned before anything is written is answered as a Status.
type ConnectFunc func(w http.ResponseWriter, r *http.Request, t ConnectTarget) error

// ConnectTarget is what a connect request names: the object (whose name
// may carry a scheme and port, "https:web:8443"), and for proxy
// subresources the path after the subresource's name.
type ConnectTarget struct {
	Namespace, Name string
	// Path is what follows /proxy, with its leading slash; "" elsewhere.
	Path string
}

// connect is a subresource that connects through the API server to a
// kubelet, a pod or a service, as kube-apiserver's connecters do.
func connect(name string, kind string, verbs ...string) *Subresource {
	return &Subresource{
		Name: name, Connect: true, Verbs: verbs,
		GroupVersionKind: coreV1.WithKind(kind),
		New:              func() Object { return &corev1.Pod{} },
	}
}

// proxyVerbs are the verbs of a proxy subresource: every method passes.
var proxyVerbs = []string{"create", "delete", "get", "patch", "update"}

// podConnections are pods/log, exec, attach, portforward and proxy.
func podConnections() []*Subresource {
	return []*Subresource{
		connect("log", "Pod", "get"),
		connect("exec", "PodExecOptions", "create", "get"),
		connect("attach", "PodAttachOptions", "create", "get"),
		connect("portforward", "PodPortForwardOptions", "create", "get"),
		connect("proxy", "PodProxyOptions", proxyVerbs...),
	}
}
