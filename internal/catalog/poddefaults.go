package catalog

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Defaults of the parts of a pod spec, as Kubernetes' scheme fills them in
// every pod spec (a pod's and every template's): probes, handlers, field
// references and volume modes. The test/compat corpus compares them with a
// real kube-apiserver.

// zeroTo sets a value field to v when it holds its zero value.
func zeroTo[T comparable](field *T, v T) {
	var zero T
	if *field == zero {
		*field = v
	}
}

// defaultProbe fills a probe's thresholds and its HTTP scheme and path.
func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	zeroTo(&p.TimeoutSeconds, 1)
	zeroTo(&p.PeriodSeconds, 10)
	zeroTo(&p.SuccessThreshold, 1)
	zeroTo(&p.FailureThreshold, 3)
	defaultHTTPGet(p.HTTPGet)
	defaultGRPC(p.GRPC)
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	zeroTo(&h.Path, "/")
	zeroTo(&h.Scheme, corev1.URISchemeHTTP)
}

func defaultGRPC(g *corev1.GRPCAction) {
	if g != nil && g.Service == nil {
		empty := ""
		g.Service = &empty
	}
}

func defaultLifecycle(l *corev1.Lifecycle) {
	if l == nil {
		return
	}
	for _, h := range []*corev1.LifecycleHandler{l.PostStart, l.PreStop} {
		if h != nil {
			defaultHTTPGet(h.HTTPGet)
		}
	}
}

// defaultFieldRef names the API version a field reference reads.
func defaultFieldRef(f *corev1.ObjectFieldSelector) {
	if f != nil {
		zeroTo(&f.APIVersion, "v1")
	}
}

// defaultContainerParts fills a container's probes, lifecycle handlers and
// the field references of its environment.
func defaultContainerParts(c *corev1.Container) {
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	defaultLifecycle(c.Lifecycle)
	for i := range c.Env {
		if c.Env[i].ValueFrom != nil {
			defaultFieldRef(c.Env[i].ValueFrom.FieldRef)
		}
	}
}

// volumeMode is the mode files of projected volumes get: 0644.
const volumeMode int32 = 0o644

// defaultVolume fills the file modes of the volumes that write files, the
// lifetime of projected tokens, and the field references of downward API
// items.
func defaultVolume(v *corev1.Volume) {
	if noVolumeSource(v) {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	switch {
	case v.ConfigMap != nil:
		defaultTo(&v.ConfigMap.DefaultMode, volumeMode)
	case v.Secret != nil:
		defaultTo(&v.Secret.DefaultMode, volumeMode)
	case v.DownwardAPI != nil:
		defaultTo(&v.DownwardAPI.DefaultMode, volumeMode)
		for i := range v.DownwardAPI.Items {
			defaultFieldRef(v.DownwardAPI.Items[i].FieldRef)
		}
	case v.Projected != nil:
		defaultTo(&v.Projected.DefaultMode, volumeMode)
		for i := range v.Projected.Sources {
			s := &v.Projected.Sources[i]
			if s.ServiceAccountToken != nil {
				defaultTo(&s.ServiceAccountToken.ExpirationSeconds, 3600)
			}
			if s.DownwardAPI != nil {
				for j := range s.DownwardAPI.Items {
					defaultFieldRef(s.DownwardAPI.Items[j].FieldRef)
				}
			}
		}
	case v.HostPath != nil:
		defaultTo(&v.HostPath.Type, corev1.HostPathUnset)
	case v.ISCSI != nil:
		zeroTo(&v.ISCSI.ISCSIInterface, "default")
	case v.AzureDisk != nil:
		// The Azure disk defaults are left out: the in-tree plugin is gone.
	}
}

// defaultRequestsFromLimits gives a pod's containers a request for every
// resource they limit and do not request, as Kubernetes does for pods (not
// for templates).
func defaultRequestsFromLimits(s *corev1.PodSpec) {
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			r := &list[i].Resources
			for name, limit := range r.Limits {
				if _, ok := r.Requests[name]; ok {
					continue
				}
				if r.Requests == nil {
					r.Requests = corev1.ResourceList{}
				}
				r.Requests[name] = limit.DeepCopy()
			}
		}
	}
}

// podLevelResource reports a resource that may be set at pod level: CPU,
// memory and huge pages.
func podLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func podLevelSet(r *corev1.ResourceRequirements) bool {
	for _, list := range []corev1.ResourceList{r.Requests, r.Limits} {
		for name := range list {
			if podLevelResource(name) {
				return true
			}
		}
	}
	return false
}

// defaultPodLevelRequests fills a pod's pod-level requests as
// kube-apiserver's pod strategy does when pod-level limits are set: for
// CPU and memory, what its containers request together (the larger of
// the regular containers' sum and any one init container's); for what no
// container requests, the pod-level limit.
func defaultPodLevelRequests(s *corev1.PodSpec) {
	r := s.Resources
	if r == nil || len(r.Limits) == 0 {
		return
	}
	requests := r.Requests
	if requests == nil {
		requests = corev1.ResourceList{}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := requests[name]; ok {
			continue
		}
		var sum resource.Quantity
		found := false
		for _, c := range s.Containers {
			if q, ok := c.Resources.Requests[name]; ok {
				sum.Add(q)
				found = true
			}
		}
		for _, c := range s.InitContainers {
			if q, ok := c.Resources.Requests[name]; ok {
				found = true
				if q.Cmp(sum) > 0 {
					sum = q.DeepCopy()
				}
			}
		}
		if found {
			requests[name] = sum
		}
	}
	for name, limit := range r.Limits {
		if _, ok := requests[name]; !ok && podLevelResource(name) {
			requests[name] = limit.DeepCopy()
		}
	}
	if len(requests) > 0 {
		r.Requests = requests
	}
}

// podLevelQOS is the QoS class of pod-level resources: Guaranteed when CPU
// and memory are requested and limited alike, BestEffort when neither is
// either, Burstable otherwise.
func podLevelQOS(r *corev1.ResourceRequirements) corev1.PodQOSClass {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	var qos corev1.PodQOSClass
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := r.Requests[name], r.Limits[name]
		var this corev1.PodQOSClass
		switch {
		case !req.Equal(lim):
			return corev1.PodQOSBurstable
		case req.IsZero():
			this = corev1.PodQOSBestEffort
		default:
			this = corev1.PodQOSGuaranteed
		}
		if qos != "" && qos != this {
			return corev1.PodQOSBurstable
		}
		qos = this
	}
	return qos
}
