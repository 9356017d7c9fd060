package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/apimachinery/pkg/util/validation/field"
	streamproxy "k8s.io/apiserver/pkg/util/proxy"

	"github.com/sekisho/sekisho/internal/catalog"
)

// WriteStatus answers with a failure Status.
func WriteStatus(w http.ResponseWriter, st metav1.Status) {
	st.Kind, st.APIVersion, st.Status = "Status", "v1", metav1.StatusFailure
	data, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	w.Write(data)
}

func (p *Proxy) pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	obj, err := p.cfg.Objects.GetObject(ctx, p.pods, namespace, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// containerOf is the container a request names, or the pod's only one.
func containerOf(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		names := make([]string, 0, len(pod.Spec.Containers))
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
		if len(pod.Spec.InitContainers) > 0 {
			var inits []string
			for _, c := range pod.Spec.InitContainers {
				inits = append(inits, c.Name)
			}
			msg += fmt.Sprintf(" or one of the init containers: %v", inits)
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// onNode is the kubelet location of a scheduled pod.
func (p *Proxy) onNode(ctx context.Context, pod *corev1.Pod) (*url.URL, error) {
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	return p.kubeletLocation(ctx, pod.Spec.NodeName)
}

// logParams are the PodLogOptions the kubelet reads, with their checks.
var logParams = []string{"follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes", "stream"}

func validateLogOptions(q url.Values) error {
	var errs field.ErrorList
	positive := func(name string, min int64) {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			switch {
			case err != nil:
				errs = append(errs, field.Invalid(field.NewPath(name), v, "must be an integer"))
			case n < min:
				errs = append(errs, field.Invalid(field.NewPath(name), n, fmt.Sprintf("must be greater than or equal to %d", min)))
			}
		}
	}
	positive("tailLines", 0)
	positive("limitBytes", 1)
	positive("sinceSeconds", 1)
	if q.Get("sinceSeconds") != "" && q.Get("sinceTime") != "" {
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, "", errs)
	}
	return nil
}

// podLog is pods/log: the kubelet's /containerLogs.
func (p *Proxy) podLog(w http.ResponseWriter, r *http.Request, t catalog.ConnectTarget) error {
	q := r.URL.Query()
	if err := validateLogOptions(q); err != nil {
		return err
	}
	pod, err := p.pod(r.Context(), t.Namespace, t.Name)
	if err != nil {
		return err
	}
	container, err := containerOf(pod, q.Get("container"))
	if err != nil {
		return err
	}
	loc, err := p.onNode(r.Context(), pod)
	if err != nil {
		return err
	}
	loc.Path = "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + container
	out := url.Values{}
	for _, k := range logParams {
		if v, ok := q[k]; ok {
			out[k] = v
		}
	}
	loc.RawQuery = out.Encode()
	p.forward(w, r, p.kubelet(), loc)
	return nil
}

// podStream is pods/exec, pods/attach and pods/portforward: the
// kubelet's /exec, /attach and /portForward, upgraded to a stream.
func (p *Proxy) podStream(kubeletPath string, withContainer bool) catalog.ConnectFunc {
	return func(w http.ResponseWriter, r *http.Request, t catalog.ConnectTarget) error {
		pod, err := p.pod(r.Context(), t.Namespace, t.Name)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		path := "/" + kubeletPath + "/" + pod.Namespace + "/" + pod.Name
		if withContainer {
			container, err := containerOf(pod, q.Get("container"))
			if err != nil {
				return err
			}
			if kubeletPath == "exec" && len(q["command"]) == 0 {
				return apierrors.NewBadRequest("you must specify at least 1 command")
			}
			path += "/" + container
		}
		loc, err := p.onNode(r.Context(), pod)
		if err != nil {
			return err
		}
		loc.Path, loc.RawQuery = path, streamParams(kubeletPath, q).Encode()
		p.streamHandler(kubeletPath, loc, q).ServeHTTP(w, r)
		return nil
	}
}

// streamHandler proxies a stream to the kubelet at loc. SPDY, and
// WebSocket protocols the kubelet speaks, pass through as they are. A
// kubelet speaks neither of the WebSocket protocols kubectl uses since
// 1.30, so, as kube-apiserver does, the server ends those itself and
// talks SPDY to the kubelet: v5.channel.k8s.io for exec and attach is
// translated stream by stream, and port-forward's SPDY-over-WebSocket
// tunnel is unwrapped.
func (p *Proxy) streamHandler(kubeletPath string, loc *url.URL, q url.Values) http.Handler {
	kubelet := p.kubelet()
	direct := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.forward(w, r, kubelet, loc) })
	if kubeletPath == "portForward" {
		return streamproxy.NewTranslatingHandler(direct, streamproxy.NewTunnelingHandler(direct), wsstream.IsWebSocketRequestWithTunnelingProtocol)
	}
	opts := streamproxy.Options{Stdin: isTrue(q.Get("stdin")), Stdout: isTrue(q.Get("stdout")), Stderr: isTrue(q.Get("stderr")), Tty: isTrue(q.Get("tty"))}
	translator := streamproxy.NewStreamTranslatorHandler(loc, kubelet.transport, 0, opts)
	return streamproxy.NewTranslatingHandler(direct, translator, wsstream.IsWebSocketRequestWithStreamCloseProtocol)
}

// streamParams are the kubelet's query parameters for a stream, as
// kube-apiserver writes them: the streams wanted, under the kubelet's
// names and as "1" (the kubelet reads nothing else as true), the command,
// and port-forward's ports.
func streamParams(kubeletPath string, q url.Values) url.Values {
	out := url.Values{}
	if kubeletPath == "portForward" {
		if ports := q["ports"]; len(ports) > 0 {
			out.Set("port", strings.Join(ports, ","))
		}
		return out
	}
	// The kubelet's names for the streams differ from the API's.
	for _, k := range [][2]string{{"stdin", "input"}, {"stdout", "output"}, {"stderr", "error"}, {"tty", "tty"}} {
		if isTrue(q.Get(k[0])) {
			out.Set(k[1], "1")
		}
	}
	if kubeletPath == "exec" {
		out["command"] = q["command"]
	}
	return out
}

func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// hostPort splits a proxy target name, "name", "name:port" or
// "scheme:name:port".
func hostPort(id string) (scheme, name, port string, err error) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		return "", parts[0], "", nil
	case 2:
		return "", parts[0], parts[1], nil
	case 3:
		if parts[0] != "http" && parts[0] != "https" && parts[0] != "" {
			return "", "", "", apierrors.NewBadRequest(fmt.Sprintf("invalid scheme %q in %q", parts[0], id))
		}
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", apierrors.NewBadRequest(fmt.Sprintf("invalid proxy target %q", id))
}

// podProxy is pods/proxy: HTTP to the pod's IP.
func (p *Proxy) podProxy(w http.ResponseWriter, r *http.Request, t catalog.ConnectTarget) error {
	scheme, name, port, err := hostPort(t.Name)
	if err != nil {
		return err
	}
	pod, err := p.pod(r.Context(), t.Namespace, name)
	if err != nil {
		return err
	}
	if pod.Status.PodIP == "" {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("address not allocated yet for pod %s", pod.Name))
	}
	if scheme == "" {
		scheme = "http"
	}
	host := pod.Status.PodIP
	if port != "" {
		host = net.JoinHostPort(host, port)
	}
	p.forward(w, r, p.direct, &url.URL{Scheme: scheme, Host: host, Path: withSlash(t.Path), RawQuery: r.URL.RawQuery})
	return nil
}

// nodeProxy is nodes/proxy: HTTPS to the kubelet, as the API server.
func (p *Proxy) nodeProxy(w http.ResponseWriter, r *http.Request, t catalog.ConnectTarget) error {
	_, name, port, err := hostPort(t.Name)
	if err != nil {
		return err
	}
	loc, err := p.kubeletLocation(r.Context(), name)
	if err != nil {
		return err
	}
	if port != "" {
		host, _, _ := net.SplitHostPort(loc.Host)
		loc.Host = net.JoinHostPort(host, port)
	}
	loc.Path, loc.RawQuery = withSlash(t.Path), r.URL.RawQuery
	p.forward(w, r, p.kubelet(), loc)
	return nil
}

// serviceProxy is services/proxy: HTTP to one ready endpoint of the
// service's port, chosen at random.
func (p *Proxy) serviceProxy(w http.ResponseWriter, r *http.Request, t catalog.ConnectTarget) error {
	scheme, name, port, err := hostPort(t.Name)
	if err != nil {
		return err
	}
	obj, err := p.cfg.Objects.GetObject(r.Context(), p.services, t.Namespace, name)
	if err != nil {
		return err
	}
	svc := obj.(*corev1.Service)
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		s := &svc.Spec.Ports[i]
		if port == "" && len(svc.Spec.Ports) == 1 || s.Name == port || strconv.Itoa(int(s.Port)) == port {
			sp = s
			break
		}
	}
	if sp == nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", t.Name))
	}
	slices, err := p.cfg.Objects.ListObjects(r.Context(), p.slice, t.Namespace, discoveryv1.LabelServiceName+"="+name)
	if err != nil {
		return err
	}
	var hosts []string
	for _, o := range slices {
		s := o.(*discoveryv1.EndpointSlice)
		var target int32
		for _, ep := range s.Ports {
			if ep.Port != nil && (ep.Name == nil && sp.Name == "" || ep.Name != nil && *ep.Name == sp.Name) {
				target = *ep.Port
			}
		}
		if target == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				hosts = append(hosts, net.JoinHostPort(a, strconv.Itoa(int(target))))
			}
		}
	}
	if len(hosts) == 0 {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", t.Name))
	}
	if scheme == "" {
		scheme = "http"
	}
	p.forward(w, r, p.direct, &url.URL{Scheme: scheme, Host: hosts[rand.IntN(len(hosts))], Path: withSlash(t.Path), RawQuery: r.URL.RawQuery})
	return nil
}

func withSlash(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}
