package catalog

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Pods is core/v1 pods. The API stores pods; nothing here runs them.
func Pods() *Resource {
	specDoc := corev1.PodSpec{}.SwaggerDoc()
	statusDoc := corev1.PodStatus{}.SwaggerDoc()
	return &Resource{
		GroupVersion: coreV1, Name: "pods", SingularName: "pod", Kind: "Pod", Namespaced: true,
		ShortNames:       []string{"po"},
		Categories:       []string{"all"},
		TracksGeneration: true,
		New:              func() Object { return &corev1.Pod{} },
		Default:          func(obj Object) { defaultPod(obj.(*corev1.Pod)) },
		PrepareForCreate: func(_ context.Context, obj Object) {
			p := obj.(*corev1.Pod)
			defaultPodLevelRequests(&p.Spec)
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&p.Spec)}
		},
		PrepareForUpdate: keepStatus,
		Validate: func(obj Object) field.ErrorList {
			s := &obj.(*corev1.Pod).Spec
			errs := validatePodSpec(s, field.NewPath("spec"))
			errs = append(errs, validatePodTokenVolumes(s)...)
			if len(s.EphemeralContainers) > 0 {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create"))
			}
			return errs
		},
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
			errs := validateMirrorAnnotationUpdate(p.Annotations, o.Annotations)
			errs = append(errs, validatePodSpec(&p.Spec, field.NewPath("spec"))...)
			return append(errs, validatePodSpecUpdate(&p.Spec, &o.Spec)...)
		},
		Subresources: append([]*Subresource{StatusSubresource(), BindingSubresource(), EvictionSubresource(),
			EphemeralContainersSubresource(), ResizeSubresource()}, podConnections()...),
		SelectableFields: func(obj Object) map[string]string {
			p := obj.(*corev1.Pod)
			return map[string]string{
				"spec.nodeName": p.Spec.NodeName, "spec.restartPolicy": string(p.Spec.RestartPolicy),
				"spec.schedulerName": p.Spec.SchedulerName, "spec.serviceAccountName": p.Spec.ServiceAccountName,
				"spec.hostNetwork": strconv.FormatBool(p.Spec.HostNetwork), "status.phase": string(p.Status.Phase),
				"status.podIP": p.Status.PodIP, "status.nominatedNodeName": p.Status.NominatedNodeName,
				// kube-apiserver accepts this label but has no value for it.
				"status.podIPs": "",
			}
		},
		FieldLabelAliases: map[string]string{"spec.host": "spec.nodeName"},
		GracePeriod:       podGracePeriod,
		FieldLabels: []string{"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
			"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				nameColumn(),
				col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
				col("Status", "The aggregate status of the containers in this pod."),
				col("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
				ageColumn(),
				wide(col("IP", statusDoc["podIP"])),
				wide(col("Node", specDoc["nodeName"])),
				wide(col("Nominated Node", statusDoc["nominatedNodeName"])),
				wide(col("Readiness Gates", specDoc["readinessGates"])),
			},
			Cells:      podCells,
			Conditions: podConditions,
		},
		ReturnDeletedObject: true,
	}
}

// isMirrorPod reports a kubelet's mirror of one of its static pods.
func isMirrorPod(p *corev1.Pod) bool {
	_, ok := p.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// validateMirrorAnnotationUpdate keeps a pod a mirror pod, or not one, for
// life, as Kubernetes does: the Node authorizer and NodeRestriction treat
// mirror pods apart, so the annotation may be neither added nor removed.
func validateMirrorAnnotationUpdate(annotations, old map[string]string) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("metadata", "annotations")
	for k, v := range old {
		if nv, ok := annotations[k]; (!ok || nv != v) && strings.HasPrefix(k, corev1.MirrorPodAnnotationKey) {
			errs = append(errs, field.Forbidden(path.Key(k), "may not remove or update mirror pod annotation"))
		}
	}
	for k := range annotations {
		if _, ok := old[k]; !ok && strings.HasPrefix(k, corev1.MirrorPodAnnotationKey) {
			errs = append(errs, field.Forbidden(path.Key(k), "may not add mirror pod annotation"))
		}
	}
	return errs
}

// defaultPod fills what Kubernetes' scheme defaults in a pod and not in a
// template: service links, requests from limits, host ports on the host
// network, and a negative grace period taken as 1 (templates keep theirs,
// as in Kubernetes, for backward compatibility).
func defaultPod(p *corev1.Pod) {
	s := &p.Spec
	if s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds < 0 {
		s.TerminationGracePeriodSeconds = ptr.To[int64](1)
	}
	defaultPodSpec(s)
	if s.EnableServiceLinks == nil {
		yes := true
		s.EnableServiceLinks = &yes
	}
	defaultRequestsFromLimits(s)
	if s.HostNetwork {
		for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
			for i := range list {
				for j := range list[i].Ports {
					zeroTo(&list[i].Ports[j].HostPort, list[i].Ports[j].ContainerPort)
				}
			}
		}
	}
}

// defaultPodSpec fills what Kubernetes' scheme defaults in every pod spec,
// a pod's or a template's.
func defaultPodSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	if s.TerminationGracePeriodSeconds == nil {
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &grace
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	// serviceAccount is the deprecated alias of serviceAccountName: the
	// two are kept the same, serviceAccountName winning.
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = s.DeprecatedServiceAccount
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i])
	}
}

func defaultContainer(c *corev1.Container) {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
		if imageTag(c.Image) == "" || imageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		}
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	defaultContainerParts(c)
}

// imageTag returns the tag of an image reference, "" when it has none (or only a digest).
func imageTag(image string) string {
	if strings.Contains(image, "@") {
		return "digest"
	}
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		return image[colon+1:]
	}
	return ""
}

// PodQOSClass is a pod's quality of service class: the one its status
// records, or the one its spec gives.
func PodQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return qosClass(&pod.Spec)
}

func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	// Pod-level resources, when set, decide alone.
	if r := spec.Resources; r != nil && podLevelSet(r) {
		return podLevelQOS(r)
	}
	requests, limits, guaranteed := false, false, true
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			requests = requests || hasReq
			limits = limits || hasLim
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !requests && !limits:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func validatePodSpec(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	names := map[string]bool{}
	check := func(list []corev1.Container, lp *field.Path) {
		for i, c := range list {
			cp := lp.Index(i)
			if c.Name == "" {
				errs = append(errs, field.Required(cp.Child("name"), ""))
			} else {
				errs = append(errs, validateDNSLabel(c.Name, cp.Child("name"))...)
				if names[c.Name] {
					errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
				}
				names[c.Name] = true
			}
			if strings.TrimSpace(c.Image) == "" {
				errs = append(errs, field.Required(cp.Child("image"), ""))
			}
			errs = append(errs, validateEnum(string(c.ImagePullPolicy), []string{"Always", "IfNotPresent", "Never"}, cp.Child("imagePullPolicy"))...)
			for j, port := range c.Ports {
				pp := cp.Child("ports").Index(j)
				errs = append(errs, validatePort(port.ContainerPort, pp.Child("containerPort"))...)
				errs = append(errs, validateProtocol(string(port.Protocol), pp.Child("protocol"))...)
				if port.HostPort != 0 {
					errs = append(errs, validatePort(port.HostPort, pp.Child("hostPort"))...)
				}
			}
			for n, q := range c.Resources.Requests {
				errs = append(errs, validateNonNegativeQuantity(q, cp.Child("resources", "requests").Key(string(n)))...)
				if lim, ok := c.Resources.Limits[n]; ok && q.Cmp(lim) > 0 {
					errs = append(errs, field.Invalid(cp.Child("resources", "requests").Key(string(n)), q.String(),
						fmt.Sprintf("must be less than or equal to %s limit of %s", n, lim.String())))
				}
			}
			for n, q := range c.Resources.Limits {
				errs = append(errs, validateNonNegativeQuantity(q, cp.Child("resources", "limits").Key(string(n)))...)
			}
			for j, e := range c.Env {
				if e.Name == "" {
					errs = append(errs, field.Required(cp.Child("env").Index(j).Child("name"), ""))
				}
			}
		}
	}
	check(s.InitContainers, p.Child("initContainers"))
	check(s.Containers, p.Child("containers"))
	errs = append(errs, validateEnum(string(s.RestartPolicy), []string{"Always", "Never", "OnFailure"}, p.Child("restartPolicy"))...)
	errs = append(errs, validateEnum(string(s.DNSPolicy), []string{"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}, p.Child("dnsPolicy"))...)
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *s.ActiveDeadlineSeconds, "must be greater than 0"))
	}
	if s.NodeName != "" {
		for _, msg := range nameDNSSubdomain(s.NodeName, false) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), s.NodeName, msg))
		}
	}
	vols := map[string]bool{}
	for i, v := range s.Volumes {
		if v.Name == "" {
			errs = append(errs, field.Required(p.Child("volumes").Index(i).Child("name"), ""))
		} else if vols[v.Name] {
			errs = append(errs, field.Duplicate(p.Child("volumes").Index(i).Child("name"), v.Name))
		}
		vols[v.Name] = true
	}
	return append(errs, validatePodSpecDetails(s, p)...)
}

// validatePodSpecUpdate allows only the fields Kubernetes lets a running pod
// change: container images, activeDeadlineSeconds and added tolerations.
// A pod gets its node only through pods/binding.
func validatePodSpecUpdate(n, o *corev1.PodSpec) field.ErrorList {
	mutable := n.DeepCopy()
	for i := range mutable.Containers {
		if i < len(o.Containers) {
			mutable.Containers[i].Image = o.Containers[i].Image
		}
	}
	for i := range mutable.InitContainers {
		if i < len(o.InitContainers) {
			mutable.InitContainers[i].Image = o.InitContainers[i].Image
		}
	}
	mutable.ActiveDeadlineSeconds = o.ActiveDeadlineSeconds
	if len(mutable.Tolerations) >= len(o.Tolerations) {
		mutable.Tolerations = o.Tolerations
	}
	if apiequality.Semantic.DeepEqual(mutable, o) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"),
		"pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations)")}
}

func podConditions(obj Object) []metav1.TableRowCondition {
	switch obj.(*corev1.Pod).Status.Phase {
	case corev1.PodSucceeded:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed."}}
	}
	return nil
}

func hasPodCondition(p *corev1.Pod, t corev1.PodConditionType, status corev1.ConditionStatus) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == status {
			return true
		}
	}
	return false
}

// podCells computes READY, STATUS and RESTARTS the way kubectl shows them.
func podCells(obj Object, now time.Time) []any {
	pod := obj.(*corev1.Pod)
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	total := len(pod.Spec.Containers) + len(sidecars)
	var restarts, sidecarRestarts, ready int
	var lastRestart, lastSidecarRestart time.Time
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == "SchedulingGated" {
			reason = "SchedulingGated"
		}
	}
	later := func(t *time.Time, term *corev1.ContainerStateTerminated) {
		if term != nil && term.FinishedAt.After(*t) {
			*t = term.FinishedAt.Time
		}
	}
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		later(&lastRestart, cs.LastTerminationState.Terminated)
		if sidecars[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			later(&lastSidecarRestart, cs.LastTerminationState.Terminated)
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}
	if !initializing || hasPodCondition(pod, corev1.PodInitialized, corev1.ConditionTrue) {
		restarts, lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			later(&lastRestart, cs.LastTerminationState.Terminated)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "NotReady"
			if hasPodCondition(pod, corev1.PodReady, corev1.ConditionTrue) {
				reason = "Running"
			}
		}
	}
	if pod.DeletionTimestamp != nil {
		if pod.Status.Reason == "NodeLost" {
			reason = "Unknown"
		} else if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			reason = "Terminating"
		}
	}
	restartStr := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartStr = fmt.Sprintf("%d (%s ago)", restarts, HumanDuration(now.Sub(lastRestart)))
	}
	none := func(s string) string {
		if s == "" {
			return "<none>"
		}
		return s
	}
	ip := ""
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	gates := "<none>"
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		trueGates := 0
		for _, g := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					if c.Status == corev1.ConditionTrue {
						trueGates++
					}
					break
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", trueGates, n)
	}
	return []any{pod.Name, fmt.Sprintf("%d/%d", ready, total), reason, restartStr, age(pod.CreationTimestamp, now),
		none(ip), none(pod.Spec.NodeName), none(pod.Status.NominatedNodeName), gates}
}

// legacyInitContainerAnnotations are the alpha and beta annotations that
// once carried init containers; a binding drops them, as kube-apiserver does.
var legacyInitContainerAnnotations = []string{
	"pod.alpha.kubernetes.io/init-containers", "pod.beta.kubernetes.io/init-containers",
	"pod.alpha.kubernetes.io/init-container-statuses", "pod.beta.kubernetes.io/init-container-statuses",
}

// EvictionSubresource is pods/eviction: a create of a policy/v1 Eviction
// deletes the pod if its disruption budget allows (the server answers it).
func EvictionSubresource() *Subresource {
	return &Subresource{
		Name: "eviction", Action: true, Verbs: []string{"create"},
		New:              func() Object { return &policyv1.Eviction{} },
		GroupVersionKind: policyv1.SchemeGroupVersion.WithKind("Eviction"),
	}
}

// Bindings is core/v1 bindings, the older form of pods/binding: a create
// binds the pod the Binding names.
func Bindings() *Resource {
	r := virtual(coreV1, "bindings", "binding", "Binding", true, func() Object { return &corev1.Binding{} })
	r.ActionOf = &ActionRef{Resource: "pods", Subresource: "binding"}
	return r
}

// BindingSubresource is pods/binding: the scheduler's create of a Binding
// assigns a pending pod to a node. The pod must be unassigned, not being
// deleted and free of scheduling gates; the binding's annotations and
// labels are merged into the pod, the nominated node is cleared and the
// PodScheduled condition set.
func BindingSubresource() *Subresource {
	return &Subresource{
		Name: "binding", Action: true, Verbs: []string{"create"},
		New:              func() Object { return &corev1.Binding{} },
		GroupVersionKind: coreV1.WithKind("Binding"),
		Change: func(parent, in Object) (Object, error) {
			pod, b := parent.(*corev1.Pod), in.(*corev1.Binding)
			if errs := validateBinding(b); len(errs) > 0 {
				return nil, apierrors.NewInvalid(coreV1.WithKind("Binding").GroupKind(), b.Name, errs)
			}
			switch {
			case pod.DeletionTimestamp != nil:
				return nil, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name)
			case pod.Spec.NodeName != "":
				return nil, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName)
			case len(pod.Spec.SchedulingGates) > 0:
				return nil, fmt.Errorf("pod %s has non-empty .spec.schedulingGates", pod.Name)
			}
			pod.Spec.NodeName = b.Target.Name
			pod.Status.NominatedNodeName = ""
			if len(b.Annotations) > 0 && pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			maps.Copy(pod.Annotations, b.Annotations)
			for _, k := range legacyInitContainerAnnotations {
				delete(pod.Annotations, k)
			}
			if len(b.Labels) > 0 && pod.Labels == nil {
				pod.Labels = map[string]string{}
			}
			maps.Copy(pod.Labels, b.Labels)
			SetPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, time.Now())
			return pod, nil
		},
	}
}

// validateBinding checks a Binding's target: a node, named validly.
func validateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	target := field.NewPath("target")
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(target.Child("kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(target.Child("name"), ""))
	} else if b.Target.Kind == "" || b.Target.Kind == "Node" {
		for _, msg := range nameDNSSubdomain(b.Target.Name, false) {
			errs = append(errs, field.Invalid(target.Child("name"), b.Target.Name, msg))
		}
	}
	return errs
}

// SetPodCondition sets a pod condition's status, reason and message,
// moving its transition time to now only when the status changes, as
// Kubernetes' pod utilities do.
func SetPodCondition(status *corev1.PodStatus, c corev1.PodCondition, now time.Time) {
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status != c.Status {
			old.LastTransitionTime = metav1.NewTime(now)
		}
		old.Status, old.Reason, old.Message = c.Status, c.Reason, c.Message
		old.LastProbeTime = c.LastProbeTime
		return
	}
	c.LastTransitionTime = metav1.NewTime(now)
	status.Conditions = append(status.Conditions, c)
}

// podGracePeriod is how long a deleted pod stays, marked, for its kubelet
// to stop it and confirm: the requested period, else the pod's
// terminationGracePeriodSeconds; nothing for a pod that no node runs or
// that has finished. A negative period counts as one second.
func podGracePeriod(obj Object, requested *int64) int64 {
	p := obj.(*corev1.Pod)
	var period int64
	switch {
	case requested != nil:
		period = *requested
	case p.Spec.TerminationGracePeriodSeconds != nil:
		period = *p.Spec.TerminationGracePeriodSeconds
	}
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return 0
	}
	if period < 0 {
		return 1
	}
	return period
}
