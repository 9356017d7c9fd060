package catalog

import (
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePodSpecDetails checks the parts of a pod spec beyond its
// containers' basics, as kube-apiserver's pod validation does: port names,
// volume mounts, environment names and field references, probes' gRPC
// ports, host ports on the host network, DNS, sysctls, tolerations,
// affinity, topology spread and host path types.
func validatePodSpecDetails(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := map[string]bool{}
	for i := range s.Volumes {
		volumes[s.Volumes[i].Name] = true
		if h := s.Volumes[i].HostPath; h != nil && h.Type != nil {
			errs = append(errs, validateEnum(string(*h.Type), []string{"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"},
				p.Child("volumes").Index(i).Child("hostPath", "type"))...)
		}
		if pr := s.Volumes[i].Projected; pr != nil {
			errs = append(errs, validateProjectedTokens(pr, p.Child("volumes").Index(i).Child("projected"))...)
		}
	}
	for _, group := range []struct {
		list []corev1.Container
		path *field.Path
	}{{s.InitContainers, p.Child("initContainers")}, {s.Containers, p.Child("containers")}} {
		for i := range group.list {
			errs = append(errs, validateContainerDetails(&group.list[i], group.path.Index(i), volumes, s.HostNetwork && group.path.String() == p.Child("containers").String())...)
		}
	}
	if s.DNSPolicy == corev1.DNSNone && s.DNSConfig == nil {
		errs = append(errs, field.Required(p.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	if sc := s.SecurityContext; sc != nil {
		for i, sysctl := range sc.Sysctls {
			if len(sysctl.Name) > 253 || !sysctlName.MatchString(sysctl.Name) {
				errs = append(errs, field.Invalid(p.Child("securityContext", "sysctls").Index(i).Child("name"), sysctl.Name,
					"must have at most 253 characters and match regex "+sysctlNameFmt))
			}
		}
	}
	for i, t := range s.Tolerations {
		errs = append(errs, validateToleration(t, p.Child("tolerations").Index(i))...)
	}
	if a := s.Affinity; a != nil {
		errs = append(errs, validateAffinityTerms(a.PodAffinity, p.Child("affinity", "podAffinity"))...)
		errs = append(errs, validateAffinityTerms((*corev1.PodAffinity)(a.PodAntiAffinity), p.Child("affinity", "podAntiAffinity"))...)
	}
	for i, c := range s.TopologySpreadConstraints {
		cp := p.Child("topologySpreadConstraints").Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(cp.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(cp.Child("topologyKey"), "can not be empty"))
		}
		errs = append(errs, validateEnum(string(c.WhenUnsatisfiable), []string{"DoNotSchedule", "ScheduleAnyway"}, cp.Child("whenUnsatisfiable"))...)
	}
	return errs
}

const sysctlSegment = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"

var (
	sysctlNameFmt = "(" + sysctlSegment + "[\\./])*" + sysctlSegment
	sysctlName    = regexp.MustCompile("^" + sysctlNameFmt + "$")
)

func validateContainerDetails(c *corev1.Container, p *field.Path, volumes map[string]bool, hostNetwork bool) field.ErrorList {
	var errs field.ErrorList
	portNames := map[string]bool{}
	for j, port := range c.Ports {
		pp := p.Child("ports").Index(j)
		if port.Name != "" {
			errs = append(errs, invalidBy(validation.IsValidPortName, port.Name, pp.Child("name"))...)
			if portNames[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			portNames[port.Name] = true
		}
		// Only regular containers; 0 is left to a pod's defaults (a
		// template's stays 0 until its pods are made).
		if hostNetwork && port.HostPort != 0 && port.HostPort != port.ContainerPort {
			errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
		}
	}
	for j, m := range c.VolumeMounts {
		mp := p.Child("volumeMounts").Index(j)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if !volumes[m.Name] {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		}
	}
	for j, e := range c.Env {
		ep := p.Child("env").Index(j)
		if e.Name != "" {
			errs = append(errs, invalidBy(validation.IsRelaxedEnvVarName, e.Name, ep.Child("name"))...)
		}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			errs = append(errs, validateEnvFieldPath(e.ValueFrom.FieldRef.FieldPath, ep.Child("valueFrom", "fieldRef", "fieldPath"))...)
		}
	}
	for name, probe := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
		if probe != nil && probe.GRPC != nil {
			errs = append(errs, validatePort(probe.GRPC.Port, p.Child(name, "grpc", "port"))...)
		}
	}
	return errs
}

// envFieldPaths are the pod fields an environment variable may refer to.
var envFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}

func validateEnvFieldPath(path string, p *field.Path) field.ErrorList {
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(path, prefix) && strings.HasSuffix(path, "']") {
			return nil
		}
	}
	if path == "metadata.annotations" || path == "metadata.labels" || !slices.Contains(envFieldPaths, path) {
		return field.ErrorList{field.NotSupported(p, path, envFieldPaths)}
	}
	return nil
}

func validateToleration(t corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, validateQualifiedName(t.Key, p.Child("key"))...)
	}
	if t.Key == "" && t.Operator != corev1.TolerationOpExists {
		errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
	}
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
	case corev1.TolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, []string{"Equal", "Exists"}))
	}
	if t.Effect != "" {
		errs = append(errs, validateEnum(string(t.Effect), []string{"NoExecute", "NoSchedule", "PreferNoSchedule"}, p.Child("effect"))...)
	}
	return errs
}

func validateAffinityTerms(a *corev1.PodAffinity, p *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	for i, t := range a.RequiredDuringSchedulingIgnoredDuringExecution {
		if t.TopologyKey == "" {
			errs = append(errs, field.Required(p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i).Child("topologyKey"), "can not be empty"))
		}
	}
	for i, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
		wp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		if w.PodAffinityTerm.TopologyKey == "" {
			errs = append(errs, field.Required(wp.Child("podAffinityTerm", "topologyKey"), "can not be empty"))
		}
		if w.Weight < 1 || w.Weight > 100 {
			errs = append(errs, field.Invalid(wp.Child("weight"), w.Weight, "must be in the range 1-100"))
		}
	}
	return errs
}

// noVolumeSource reports a volume that names no source; Kubernetes
// defaults it to an empty directory.
func noVolumeSource(v *corev1.Volume) bool {
	src := reflect.ValueOf(v.VolumeSource)
	for i := range src.NumField() {
		if !src.Field(i).IsNil() {
			return false
		}
	}
	return true
}

// validateProjectedTokens checks a projected volume's service account
// tokens as kube-apiserver does: a lifetime from ten minutes to 2^32
// seconds, and a relative path inside the volume. (Kubernetes reports a
// missing path on the volume, not on the source.)
func validateProjectedTokens(pr *corev1.ProjectedVolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, src := range pr.Sources {
		tok := src.ServiceAccountToken
		if tok == nil {
			continue
		}
		tp := p.Child("sources").Index(i).Child("serviceAccountToken")
		switch exp := tok.ExpirationSeconds; {
		case exp == nil:
			errs = append(errs, field.Required(tp.Child("expirationSeconds"), ""))
		case *exp < 10*60:
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *exp, "may not specify a duration less than 10 minutes"))
		case *exp > 1<<32:
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *exp, "may not specify a duration larger than 2^32 seconds"))
		}
		switch {
		case tok.Path == "":
			errs = append(errs, field.Required(p.Child("path"), ""))
		case path.IsAbs(tok.Path):
			errs = append(errs, field.Invalid(p.Child("path"), tok.Path, "must be a relative path"))
		default:
			errs = append(errs, validateNoBacksteps(tok.Path, p.Child("path"))...)
			if strings.HasPrefix(tok.Path, "..") {
				errs = append(errs, field.Invalid(p.Child("path"), tok.Path, "must not start with '..'"))
			}
		}
	}
	return errs
}

// validatePodTokenVolumes refuses a pod's projected service account token
// when the pod names no service account to issue it for.
func validatePodTokenVolumes(s *corev1.PodSpec) field.ErrorList {
	if s.ServiceAccountName != "" {
		return nil
	}
	var errs field.ErrorList
	for i, v := range s.Volumes {
		if v.Projected == nil {
			continue
		}
		for j, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "volumes").Index(i).Child("projected", "sources").Index(j).Child("serviceAccountToken"),
					"must not be specified when serviceAccountName is not set"))
			}
		}
	}
	return errs
}
