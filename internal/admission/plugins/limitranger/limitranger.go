// Package limitranger is the LimitRanger admission plugin: the LimitRanges
// of a namespace give its pods' containers default requests and limits,
// and refuse pods and PersistentVolumeClaims outside their minimum,
// maximum and limit-to-request ratio, with kube-apiserver's messages.
package limitranger

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/quota"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "LimitRanger"

// Annotation records on a pod which defaults the plugin set.
const Annotation = "kubernetes.io/limit-ranger"

// Plugin reads the LimitRanges of a namespace with LimitRanges.
type Plugin struct {
	LimitRanges func(ctx context.Context, namespace string) ([]*corev1.LimitRange, error)
}

// applies reports whether the plugin looks at a write: creates of pods
// and claims, updates of claims, and pod resizes. A pod's containers and
// their resources cannot change in an ordinary update, so those are not
// looked at; nor is anything being deleted.
func applies(a *admission.Attributes) bool {
	pod := a.Kind.Group == "" && a.Kind.Kind == "Pod"
	claim := a.Kind.Group == "" && a.Kind.Kind == "PersistentVolumeClaim"
	switch {
	case a.Operation != admission.Create && a.Operation != admission.Update:
		return false
	case pod && a.Subresource == "resize" && a.Operation == admission.Update:
	case a.Subresource != "":
		return false
	case pod && a.Operation == admission.Update:
		return false
	case !pod && !claim:
		return false
	}
	if a.OldObject != nil {
		if m, err := meta.Accessor(a.OldObject); err == nil && m.GetDeletionTimestamp() != nil {
			return false
		}
	}
	return true
}

func (p *Plugin) ranges(ctx context.Context, a *admission.Attributes) ([]*corev1.LimitRange, error) {
	items, err := p.LimitRanges(ctx, a.Namespace)
	if err != nil {
		return nil, admission.NewForbidden(a, fmt.Errorf("unable to %s %v at this time because there was an error enforcing limit ranges", a.Operation, a.Resource))
	}
	return items, nil
}

// Admit gives a pod's containers and init containers the default
// requests and limits of every Container limit that names them, where
// they have none, and records what it set in the pod's annotation.
func (p *Plugin) Admit(ctx context.Context, a *admission.Attributes) error {
	if !applies(a) {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	items, err := p.ranges(ctx, a)
	if err != nil {
		return err
	}
	for _, lr := range items {
		setDefaults(pod, lr)
	}
	return nil
}

// Validate refuses a pod or claim outside a LimitRange of its namespace,
// naming every limit it breaks.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if !applies(a) {
		return nil
	}
	items, err := p.ranges(ctx, a)
	if err != nil {
		return err
	}
	for _, lr := range items {
		var errs []error
		switch obj := a.Object.(type) {
		case *corev1.Pod:
			errs = checkPod(lr, obj)
		case *corev1.PersistentVolumeClaim:
			errs = checkClaim(lr, obj)
		}
		if err := utilerrors.NewAggregate(errs); err != nil {
			return admission.NewForbidden(a, err)
		}
	}
	return nil
}

// setDefaults applies one LimitRange's container defaults to pod.
func setDefaults(pod *corev1.Pod, lr *corev1.LimitRange) {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	for _, l := range lr.Spec.Limits {
		if l.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range l.DefaultRequest {
			requests[k] = v.DeepCopy()
		}
		for k, v := range l.Default {
			limits[k] = v.DeepCopy()
		}
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = append(notes, fill(&pod.Spec.Containers[i], requests, limits, "container")...)
	}
	for i := range pod.Spec.InitContainers {
		notes = append(notes, fill(&pod.Spec.InitContainers[i], requests, limits, "init container")...)
	}
	if len(notes) == 0 {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[Annotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
}

// fill sets the requests and limits a container lacks and describes what
// it set, as kube-apiserver words it ("cpu, memory request for container
// app").
func fill(c *corev1.Container, requests, limits corev1.ResourceList, what string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	var setRequests, setLimits []string
	for k, v := range limits {
		if _, ok := c.Resources.Limits[k]; !ok {
			c.Resources.Limits[k] = v.DeepCopy()
			setLimits = append(setLimits, string(k))
		}
	}
	for k, v := range requests {
		if _, ok := c.Resources.Requests[k]; !ok {
			c.Resources.Requests[k] = v.DeepCopy()
			setRequests = append(setRequests, string(k))
		}
	}
	var notes []string
	if len(setRequests) > 0 {
		slices.Sort(setRequests)
		notes = append(notes, strings.Join(setRequests, ", ")+" request for "+what+" "+c.Name)
	}
	if len(setLimits) > 0 {
		slices.Sort(setLimits)
		notes = append(notes, strings.Join(setLimits, ", ")+" limit for "+what+" "+c.Name)
	}
	return notes
}

// checkPod checks a pod's containers against the Container limits and the
// pod as a whole against the Pod limits.
func checkPod(lr *corev1.LimitRange, pod *corev1.Pod) []error {
	var errs []error
	for _, l := range lr.Spec.Limits {
		switch l.Type {
		case corev1.LimitTypeContainer:
			for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for i := range list {
					errs = append(errs, checkLimit(l, list[i].Resources.Requests, list[i].Resources.Limits)...)
				}
			}
		case corev1.LimitTypePod:
			errs = append(errs, checkLimit(l, podRequests(pod), podLimits(pod))...)
		}
	}
	return errs
}

// checkLimit checks requests and limits against one limit's min, max and
// limit-to-request ratio, resource by resource in name order.
func checkLimit(l corev1.LimitRangeItem, requests, limits corev1.ResourceList) []error {
	var errs []error
	kind := string(l.Type)
	for _, name := range quota.Names(l.Min) {
		errs = appendErr(errs, minConstraint(kind, name, l.Min[name], requests, limits))
	}
	for _, name := range quota.Names(l.Max) {
		errs = appendErr(errs, maxConstraint(kind, name, l.Max[name], requests, limits))
	}
	for _, name := range quota.Names(l.MaxLimitRequestRatio) {
		errs = appendErr(errs, ratioConstraint(kind, name, l.MaxLimitRequestRatio[name], requests, limits))
	}
	return errs
}

// checkClaim checks a claim's storage requests against the
// PersistentVolumeClaim limits; a claim's limits are not user input.
func checkClaim(lr *corev1.LimitRange, pvc *corev1.PersistentVolumeClaim) []error {
	var errs []error
	for _, l := range lr.Spec.Limits {
		if l.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		kind := string(l.Type)
		for _, name := range quota.Names(l.Min) {
			errs = appendErr(errs, minConstraint(kind, name, l.Min[name], pvc.Spec.Resources.Requests, corev1.ResourceList{}))
		}
		for _, name := range quota.Names(l.Max) {
			errs = appendErr(errs, maxRequestConstraint(kind, name, l.Max[name], pvc.Spec.Resources.Requests))
		}
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// comparable gives request, limit and enforced values at a common
// precision: milli-units unless one of them would overflow.
func comparable(request, limit, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := request.Value(), limit.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return request.MilliValue(), limit.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := comparable(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := comparable(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}

// maxRequestConstraint is the maximum of a claim, whose requests are all
// there is.
func maxRequestConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests corev1.ResourceList) error {
	req, hasReq := requests[name]
	r, _, e := comparable(req, resource.Quantity{}, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	case r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(kind string, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := comparable(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, enforced.String())
	}
	observed := float64(l) / float64(r)
	shown := observed
	most := float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed *= 1000
		most = float64(enforced.MilliValue())
	}
	if observed > most {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, enforced.String(), shown)
	}
	return nil
}

// podLevel are the resources a pod may set for itself as a whole.
var podLevel = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

func requestsOf(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }
func limitsOf(r corev1.ResourceRequirements) corev1.ResourceList   { return r.Limits }

// podRequests is what a pod asks for as a whole, from its spec: its
// containers' requests added up, or its init containers' largest
// (sidecars, which keep running, added to all that follow them), and the
// pod-level requests in place of the sum where it sets them.
func podRequests(pod *corev1.Pod) corev1.ResourceList { return podTotal(pod, requestsOf) }

// podLimits is podRequests for limits.
func podLimits(pod *corev1.Pod) corev1.ResourceList { return podTotal(pod, limitsOf) }

func podTotal(pod *corev1.Pod, of func(corev1.ResourceRequirements) corev1.ResourceList) corev1.ResourceList {
	out := total(pod, of)
	if pod.Spec.Resources != nil {
		own := of(*pod.Spec.Resources)
		for _, name := range podLevel {
			if q, ok := own[name]; ok {
				out[name] = q.DeepCopy()
			}
		}
	}
	return out
}

func total(pod *corev1.Pod, of func(corev1.ResourceRequirements) corev1.ResourceList) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		add(sum, of(c.Resources))
	}
	sidecars, inits := corev1.ResourceList{}, corev1.ResourceList{}
	for _, c := range pod.Spec.InitContainers {
		this := of(c.Resources)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(sum, this)
			add(sidecars, this)
			this = sidecars
		} else {
			withSidecars := corev1.ResourceList{}
			add(withSidecars, this)
			add(withSidecars, sidecars)
			this = withSidecars
		}
		atLeast(inits, this)
	}
	atLeast(sum, inits)
	return sum
}

func add(list, more corev1.ResourceList) {
	for name, q := range more {
		if have, ok := list[name]; ok {
			have.Add(q)
			list[name] = have
		} else {
			list[name] = q.DeepCopy()
		}
	}
}

// atLeast raises each resource of list to its value in other.
func atLeast(list, other corev1.ResourceList) {
	for name, q := range other {
		if have, ok := list[name]; !ok || q.Cmp(have) > 0 {
			list[name] = q.DeepCopy()
		}
	}
}
