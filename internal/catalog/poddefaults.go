package catalog

import corev1 "k8s.io/api/core/v1"

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
