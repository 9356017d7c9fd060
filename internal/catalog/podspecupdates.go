package catalog

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The two subresources through which a running pod's spec may change,
// as in Kubernetes 1.37: pods/ephemeralcontainers adds debugging
// containers (kubectl debug), pods/resize changes containers' CPU and
// memory in place. Each takes a whole Pod and keeps only its own part of
// it; metadata.generation counts the change.

// EphemeralContainersSubresource is pods/ephemeralcontainers.
func EphemeralContainersSubresource() *Subresource {
	return &Subresource{
		Name: "ephemeralcontainers", Verbs: []string{"get", "patch", "update"},
		Apply: func(obj, old Object) Object {
			out := old.DeepCopyObject().(*corev1.Pod)
			out.Spec.EphemeralContainers = obj.(*corev1.Pod).Spec.EphemeralContainers
			for i := range out.Spec.EphemeralContainers {
				ec := &out.Spec.EphemeralContainers[i]
				c := corev1.Container(ec.EphemeralContainerCommon)
				defaultContainer(&c)
				ec.EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
			}
			return out
		},
		Validate: func(obj, old Object) field.ErrorList {
			return validateEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
	}
}

// ephemeralForbidden are the container fields an ephemeral container may
// not set: it is not part of the workload, so it gets no ports, no
// resources, no probes and no lifecycle hooks.
var ephemeralForbidden = []string{"Ports", "Resources", "LivenessProbe", "ReadinessProbe", "StartupProbe", "Lifecycle", "ResizePolicy", "RestartPolicy", "RestartPolicyRules"}

func validateEphemeralContainersUpdate(n, o *corev1.Pod) field.ErrorList {
	if isMirrorPod(o) {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods do not support ephemeral containers")}
	}
	errs := validatePodSpec(&n.Spec, field.NewPath("spec"))
	path := field.NewPath("spec", "ephemeralContainers")
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range n.Spec.EphemeralContainers {
		byName[n.Spec.EphemeralContainers[i].Name] = &n.Spec.EphemeralContainers[i]
	}
	for _, was := range o.Spec.EphemeralContainers {
		now, ok := byName[was.Name]
		switch {
		case !ok:
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", was.Name)))
		case !apiequality.Semantic.DeepEqual(was, *now):
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("existing ephemeral containers %q may not be changed\n", was.Name)))
		}
	}
	names := map[string]bool{}
	for _, c := range n.Spec.InitContainers {
		names[c.Name] = true
	}
	for _, c := range n.Spec.Containers {
		names[c.Name] = true
	}
	for i, ec := range n.Spec.EphemeralContainers {
		p := path.Index(i)
		switch {
		case ec.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case names[ec.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), ec.Name))
		default:
			errs = append(errs, validateDNSLabel(ec.Name, p.Child("name"))...)
		}
		names[ec.Name] = true
		if strings.TrimSpace(ec.Image) == "" {
			errs = append(errs, field.Required(p.Child("image"), ""))
		}
		errs = append(errs, validateEnum(string(ec.ImagePullPolicy), []string{"Always", "IfNotPresent", "Never"}, p.Child("imagePullPolicy"))...)
		if t := ec.TargetContainerName; t != "" && !containerNamed(n.Spec.Containers, t) && !containerNamed(n.Spec.InitContainers, t) {
			errs = append(errs, field.NotFound(p.Child("targetContainerName"), t))
		}
		v := reflect.ValueOf(ec.EphemeralContainerCommon)
		for _, f := range ephemeralForbidden {
			if fv := v.FieldByName(f); fv.IsValid() && !fv.IsZero() {
				errs = append(errs, field.Forbidden(p.Child(strings.ToLower(f[:1])+f[1:]), "cannot be set for an Ephemeral Container"))
			}
		}
		for j, m := range ec.VolumeMounts {
			if m.SubPath != "" {
				errs = append(errs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

func containerNamed(list []corev1.Container, name string) bool {
	for _, c := range list {
		if c.Name == name {
			return true
		}
	}
	return false
}

// ResizeSubresource is pods/resize: a container's CPU and memory requests
// and limits change in place; nothing else does.
func ResizeSubresource() *Subresource {
	return &Subresource{
		Name: "resize", Verbs: []string{"get", "patch", "update"},
		Apply: func(obj, old Object) Object {
			n, o := obj.(*corev1.Pod), old.(*corev1.Pod)
			out := o.DeepCopyObject().(*corev1.Pod)
			// Added, removed, reordered or renamed containers are kept as
			// asked, for validation to refuse.
			if !resizeContainers(out.Spec.Containers, n.Spec.Containers) || !resizeContainers(out.Spec.InitContainers, n.Spec.InitContainers) {
				out.Spec.Containers, out.Spec.InitContainers = n.Spec.Containers, n.Spec.InitContainers
			}
			return out
		},
		Validate: func(obj, old Object) field.ErrorList {
			return validateResize(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
	}
}

// resizeContainers copies resources and resize policies from asked into
// into, container by container; false when the containers differ.
func resizeContainers(into, asked []corev1.Container) bool {
	if len(into) != len(asked) {
		return false
	}
	for i := range asked {
		if into[i].Name != asked[i].Name {
			return false
		}
	}
	for i := range asked {
		into[i].Resources, into[i].ResizePolicy = asked[i].Resources, asked[i].ResizePolicy
	}
	return true
}

func validateResize(n, o *corev1.Pod) field.ErrorList {
	if isMirrorPod(o) {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods cannot be resized")}
	}
	if o.Spec.OS != nil && o.Spec.OS.Name == corev1.Windows {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "windows pods cannot be resized")}
	}
	errs := validatePodSpec(&n.Spec, field.NewPath("spec"))
	spec := field.NewPath("spec")
	oldQOS := o.Status.QOSClass
	if oldQOS == "" {
		oldQOS = qosClass(&o.Spec)
	}
	if qosClass(&n.Spec) != oldQOS {
		errs = append(errs, field.Invalid(spec, n.Status.QOSClass, "Pod QOS Class may not change as a result of resizing"))
	}
	for _, c := range o.Status.ContainerStatuses {
		if c.State.Running != nil {
			if c.Resources == nil {
				errs = append(errs, field.Forbidden(spec, "Pod running on node without support for resize"))
			}
			break
		}
	}
	order := resizeOrder(n.Spec.Containers, o.Spec.Containers, spec.Child("containers"), "containers")
	order = append(order, resizeOrder(n.Spec.InitContainers, o.Spec.InitContainers, spec.Child("initContainers"), "initContainers")...)
	if len(order) > 0 {
		return append(errs, order...)
	}
	for i := range o.Spec.InitContainers {
		errs = append(errs, validateContainerResize(&n.Spec.InitContainers[i], &o.Spec.InitContainers[i], spec.Child("initContainers").Index(i).Child("resources"))...)
	}
	for i := range o.Spec.Containers {
		errs = append(errs, validateContainerResize(&n.Spec.Containers[i], &o.Spec.Containers[i], spec.Child("containers").Index(i).Child("resources"))...)
	}
	for i := range n.Spec.Containers {
		if !onlyCPUAndMemoryChanged(n.Spec.Containers[i], o.Spec.Containers[i]) {
			errs = append(errs, field.Forbidden(spec, "only cpu and memory resources are mutable"))
		}
	}
	for i := range n.Spec.InitContainers {
		c, was := n.Spec.InitContainers[i], o.Spec.InitContainers[i]
		if !onlyCPUAndMemoryChanged(c, was) {
			errs = append(errs, field.Forbidden(spec.Child("initContainers").Index(i), "only cpu and memory resources for init or sidecar containers are mutable"))
		}
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if !sidecar && !apiequality.Semantic.DeepEqual(c, was) {
			for _, rp := range c.ResizePolicy {
				if rp.RestartPolicy == corev1.RestartContainer {
					errs = append(errs, field.Forbidden(spec.Child("initContainers").Index(i), "non-sidecar init containers with a resize policy of RestartContainer cannot be resized"))
				}
			}
		}
	}
	return errs
}

func resizeOrder(n, o []corev1.Container, p *field.Path, what string) field.ErrorList {
	if len(n) != len(o) {
		return field.ErrorList{field.Forbidden(p, what+" may not be added or removed on resize")}
	}
	var errs field.ErrorList
	for i := range o {
		if n[i].Name != o[i].Name {
			errs = append(errs, field.Forbidden(p.Index(i).Child("name"), what+" may not be renamed or reordered on resize"))
		}
	}
	return errs
}

// validateContainerResize refuses removing requests or limits.
func validateContainerResize(n, o *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if removed(n.Resources.Requests, o.Resources.Requests) {
		errs = append(errs, field.Forbidden(p.Child("requests"), "resource requests cannot be removed"))
	}
	if removed(n.Resources.Limits, o.Resources.Limits) {
		errs = append(errs, field.Forbidden(p.Child("limits"), "resource limits cannot be removed"))
	}
	return errs
}

func removed(now, was corev1.ResourceList) bool {
	for name := range was {
		if _, ok := now[name]; !ok {
			return true
		}
	}
	return false
}

// onlyCPUAndMemoryChanged reports whether c differs from was in CPU and
// memory requests and limits alone.
func onlyCPUAndMemoryChanged(c, was corev1.Container) bool {
	c.Resources = corev1.ResourceRequirements{
		Requests: withOldCPUAndMemory(c.Resources.Requests, was.Resources.Requests),
		Limits:   withOldCPUAndMemory(c.Resources.Limits, was.Resources.Limits),
		Claims:   c.Resources.Claims,
	}
	return apiequality.Semantic.DeepEqual(c, was)
}

func withOldCPUAndMemory(list, old corev1.ResourceList) corev1.ResourceList {
	if list == nil && old == nil {
		return nil
	}
	out := corev1.ResourceList{}
	for k, v := range list {
		out[k] = v
	}
	delete(out, corev1.ResourceCPU)
	delete(out, corev1.ResourceMemory)
	for _, k := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if v, ok := old[k]; ok {
			out[k] = v
		}
	}
	return out
}
