package quota

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/sekisho/sekisho/internal/catalog"
)

// Operation is the kind of write an evaluator is asked about.
type Operation string

// The writes that can change usage.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
)

// Evaluator measures one resource's objects.
type Evaluator interface {
	// GroupResource is the resource measured.
	GroupResource() schema.GroupResource
	// Handles reports whether a write (op, on subresource sub; old is
	// nil on create) can change usage.
	Handles(op Operation, sub string, obj, old runtime.Object) bool
	// MatchingResources returns the names among names it measures.
	MatchingResources(names []corev1.ResourceName) []corev1.ResourceName
	// MatchesScope reports whether obj falls under a quota scope.
	MatchesScope(s corev1.ScopedResourceSelectorRequirement, obj runtime.Object) (bool, error)
	// Constraints refuses an object that a quota limiting required
	// cannot measure (a pod container without a cpu request under a cpu
	// quota).
	Constraints(required []corev1.ResourceName, obj runtime.Object) error
	// Usage is what obj consumes.
	Usage(obj runtime.Object) (corev1.ResourceList, error)
}

// CountName is the object-count resource name of a resource:
// count/<resource>.<group>, or count/<resource> in the core group.
func CountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// ParseCountName is the resource an object-count name counts.
func ParseCountName(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	res, group, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: group, Resource: res}, true
}

// Scopes are a quota's scopes and scope selector as selector requirements.
func Scopes(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var out []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		out = append(out, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		out = append(out, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}

// Matches reports whether a quota covers obj: it limits something e
// measures, and obj falls under every one of its scopes.
func Matches(e Evaluator, q *corev1.ResourceQuota, obj runtime.Object) (bool, error) {
	return matches(e, q, e.MatchingResources(Names(q.Status.Hard)), obj)
}

// matches is Matches given what e measures of the quota's limits.
func matches(e Evaluator, q *corev1.ResourceQuota, limited []corev1.ResourceName, obj runtime.Object) (bool, error) {
	if len(limited) == 0 {
		return false, nil
	}
	for _, s := range Scopes(q) {
		ok, err := e.MatchesScope(s, obj)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// Registry finds the evaluator of a resource.
type Registry struct {
	// Now is the clock of a pod's grace period; nil is time.Now.
	Now func() time.Time
	// Limited are the resources and scopes that may be consumed only
	// under a quota that covers them (ResourceQuota's configuration).
	Limited []LimitedResource
}

// LimitedResource is one entry of ResourceQuota's limitedResources: a
// usage of the resource whose name contains one of MatchContains, or an
// object in one of MatchScopes, needs a quota that covers it.
type LimitedResource struct {
	APIGroup      string                                     `json:"apiGroup,omitempty"`
	Resource      string                                     `json:"resource"`
	MatchContains []string                                   `json:"matchContains,omitempty"`
	MatchScopes   []corev1.ScopedResourceSelectorRequirement `json:"matchScopes,omitempty"`
}

// legacyCounts are the object counts that also have a name of their own.
var legacyCounts = map[schema.GroupResource]corev1.ResourceName{
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
}

// For returns the evaluator of gr: pods, services and claims have their
// own; every other resource is counted.
func (r Registry) For(gr schema.GroupResource) Evaluator {
	if gr.Group == "" {
		switch gr.Resource {
		case "pods":
			now := r.Now
			if now == nil {
				now = time.Now
			}
			return pods{now: now}
		case "services":
			return services{}
		case "persistentvolumeclaims":
			return claims{}
		}
	}
	c := counter{gr: gr, names: []corev1.ResourceName{CountName(gr)}}
	if alias, ok := legacyCounts[gr]; ok {
		c.names = append(c.names, alias)
	}
	return c
}

// Measured returns the resources whose objects a quota limiting names
// must count, each with the names its evaluator measures.
func (r Registry) Measured(names []corev1.ResourceName) map[schema.GroupResource][]corev1.ResourceName {
	out := map[schema.GroupResource][]corev1.ResourceName{}
	candidates := []schema.GroupResource{{Resource: "pods"}, {Resource: "services"}, {Resource: "persistentvolumeclaims"}}
	for gr := range legacyCounts {
		candidates = append(candidates, gr)
	}
	for _, n := range names {
		if gr, ok := ParseCountName(n); ok && !slices.Contains(candidates, gr) {
			candidates = append(candidates, gr)
		}
	}
	for _, gr := range candidates {
		if m := r.For(gr).MatchingResources(names); len(m) > 0 {
			out[gr] = m
		}
	}
	return out
}

func one() resource.Quantity { return *resource.NewQuantity(1, resource.DecimalSI) }

// counter counts the objects of one resource. Only creates change a
// count.
type counter struct {
	gr    schema.GroupResource
	names []corev1.ResourceName
}

func (c counter) GroupResource() schema.GroupResource { return c.gr }
func (c counter) Handles(op Operation, sub string, _, _ runtime.Object) bool {
	return op == Create && sub == ""
}
func (c counter) MatchingResources(names []corev1.ResourceName) []corev1.ResourceName {
	return Intersect(names, c.names)
}
func (c counter) MatchesScope(corev1.ScopedResourceSelectorRequirement, runtime.Object) (bool, error) {
	return false, nil
}
func (c counter) Constraints([]corev1.ResourceName, runtime.Object) error { return nil }
func (c counter) Usage(runtime.Object) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, n := range c.names {
		out[n] = one()
	}
	return out, nil
}

// services counts services, their node ports and load balancers.
type services struct{}

var serviceNames = []corev1.ResourceName{CountName(schema.GroupResource{Resource: "services"}),
	corev1.ResourceServices, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers}

func (services) GroupResource() schema.GroupResource {
	return schema.GroupResource{Resource: "services"}
}
func (services) Handles(op Operation, sub string, _, _ runtime.Object) bool {
	return sub == "" && (op == Create || op == Update)
}
func (services) MatchingResources(names []corev1.ResourceName) []corev1.ResourceName {
	return Intersect(names, serviceNames)
}
func (services) MatchesScope(corev1.ScopedResourceSelectorRequirement, runtime.Object) (bool, error) {
	return false, nil
}
func (services) Constraints([]corev1.ResourceName, runtime.Object) error { return nil }
func (services) Usage(obj runtime.Object) (corev1.ResourceList, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, fmt.Errorf("quota: want a Service, got %T", obj)
	}
	out := corev1.ResourceList{
		serviceNames[0]:                      one(),
		corev1.ResourceServices:              one(),
		corev1.ResourceServicesLoadBalancers: {Format: resource.DecimalSI},
		corev1.ResourceServicesNodePorts:     {Format: resource.DecimalSI},
	}
	ports := int64(len(svc.Spec.Ports))
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	case corev1.ServiceTypeLoadBalancer:
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a != nil && !*a {
			ports = 0
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					ports++
				}
			}
		}
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		out[corev1.ResourceServicesLoadBalancers] = one()
	}
	return out, nil
}

// claims measures PersistentVolumeClaims: their count and requested
// storage, in all and per storage class.
type claims struct{}

const storageClassSuffix = ".storageclass.storage.k8s.io/"

var claimNames = []corev1.ResourceName{corev1.ResourcePersistentVolumeClaims, corev1.ResourceRequestsStorage}

func (claims) GroupResource() schema.GroupResource {
	return schema.GroupResource{Resource: "persistentvolumeclaims"}
}
func (claims) Handles(op Operation, sub string, obj, old runtime.Object) bool {
	switch sub {
	case "":
		return op == Create || op == Update
	case "status":
		c, ok1 := obj.(*corev1.PersistentVolumeClaim)
		o, ok2 := old.(*corev1.PersistentVolumeClaim)
		if !ok1 || !ok2 {
			return false
		}
		a, b := c.Status.AllocatedResources.Storage(), o.Status.AllocatedResources.Storage()
		return a.Cmp(*b) != 0 || !slices.Equal(attributeClasses(c), attributeClasses(o))
	}
	return false
}
func (claims) MatchingResources(names []corev1.ResourceName) []corev1.ResourceName {
	var out []corev1.ResourceName
	count := CountName(schema.GroupResource{Resource: "persistentvolumeclaims"})
	for _, n := range names {
		switch {
		case n == count, slices.Contains(claimNames, n):
			out = append(out, n)
		case strings.HasSuffix(string(n), storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims)),
			strings.HasSuffix(string(n), storageClassSuffix+string(corev1.ResourceRequestsStorage)):
			out = append(out, n)
		}
	}
	return out
}

// MatchesScope: a claim falls under the VolumeAttributesClass scope by
// the classes it names or is moving to.
func (claims) MatchesScope(s corev1.ScopedResourceSelectorRequirement, obj runtime.Object) (bool, error) {
	c, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return false, fmt.Errorf("quota: want a PersistentVolumeClaim, got %T", obj)
	}
	if s.ScopeName != corev1.ResourceQuotaScopeVolumeAttributesClass {
		return false, nil
	}
	classes := attributeClasses(c)
	if s.Operator == corev1.ScopeSelectorOpExists {
		return len(classes) > 0, nil
	}
	sel, err := scopeSelector(s)
	if err != nil {
		return false, err
	}
	if len(classes) == 0 {
		return sel.Matches(labels.Set{}), nil
	}
	for _, name := range classes {
		if sel.Matches(labels.Set{string(s.ScopeName): name}) {
			return true, nil
		}
	}
	return false, nil
}

func attributeClasses(c *corev1.PersistentVolumeClaim) []string {
	var out []string
	add := func(name string) {
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if c.Spec.VolumeAttributesClassName != nil {
		add(*c.Spec.VolumeAttributesClassName)
	}
	if c.Status.CurrentVolumeAttributesClassName != nil {
		add(*c.Status.CurrentVolumeAttributesClassName)
	}
	if m := c.Status.ModifyVolumeStatus; m != nil {
		add(m.TargetVolumeAttributesClassName)
	}
	slices.Sort(out)
	return out
}

func (claims) Constraints([]corev1.ResourceName, runtime.Object) error { return nil }

func (claims) Usage(obj runtime.Object) (corev1.ResourceList, error) {
	c, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil, fmt.Errorf("quota: want a PersistentVolumeClaim, got %T", obj)
	}
	out := corev1.ResourceList{
		corev1.ResourcePersistentVolumeClaims:                               one(),
		CountName(schema.GroupResource{Resource: "persistentvolumeclaims"}): one(),
	}
	class := claimClass(c)
	if class != "" {
		out[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))] = one()
	}
	if q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		storage := roundUp(q)
		// A claim whose expansion is recovering is charged what was
		// allocated, when that is more.
		if allocated, ok := c.Status.AllocatedResources[corev1.ResourceStorage]; ok && allocated.Cmp(storage) > 0 {
			storage = roundUp(allocated)
		}
		out[corev1.ResourceRequestsStorage] = storage
		if class != "" {
			out[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourceRequestsStorage))] = storage
		}
	}
	return out, nil
}

// claimClass is the storage class a claim names, in its spec or in the
// beta annotation that came before it.
func claimClass(c *corev1.PersistentVolumeClaim) string {
	if name, ok := c.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return name
	}
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}

func roundUp(q resource.Quantity) resource.Quantity {
	out := q.DeepCopy()
	out.RoundUp(0)
	return out
}

func scopeSelector(s corev1.ScopedResourceSelectorRequirement) (labels.Selector, error) {
	var op selection.Operator
	switch s.Operator {
	case corev1.ScopeSelectorOpIn:
		op = selection.In
	case corev1.ScopeSelectorOpNotIn:
		op = selection.NotIn
	case corev1.ScopeSelectorOpExists:
		op = selection.Exists
	case corev1.ScopeSelectorOpDoesNotExist:
		op = selection.DoesNotExist
	default:
		return nil, fmt.Errorf("%q is not a valid scope selector operator", s.Operator)
	}
	req, err := labels.NewRequirement(string(s.ScopeName), op, s.Values)
	if err != nil {
		return nil, err
	}
	return labels.NewSelector().Add(*req), nil
}

// podNames are the quota names a pod's usage is measured in, besides
// hugepages and extended resources.
var podNames = []corev1.ResourceName{
	CountName(schema.GroupResource{Resource: "pods"}),
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
	corev1.ResourcePods,
}

// requiredPerContainer are the resources every container must set when
// a quota limits them.
var requiredPerContainer = []corev1.ResourceName{
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceRequestsCPU,
	corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
}

// pods measures pods: their count, and the requests and limits of those
// not finished.
type pods struct{ now func() time.Time }

func (pods) GroupResource() schema.GroupResource { return schema.GroupResource{Resource: "pods"} }

// Handles: creates, resizes, and updates that make a pod start or stop
// falling under the Terminating scopes.
func (pods) Handles(op Operation, sub string, obj, old runtime.Object) bool {
	switch sub {
	case "":
		if op == Update {
			p, ok1 := obj.(*corev1.Pod)
			o, ok2 := old.(*corev1.Pod)
			return ok1 && ok2 && terminating(p) != terminating(o)
		}
		return op == Create
	case "resize":
		return op == Update
	}
	return false
}

func (pods) MatchingResources(names []corev1.ResourceName) []corev1.ResourceName {
	out := Intersect(names, podNames)
	for _, n := range names {
		s := string(n)
		switch {
		case strings.HasPrefix(s, corev1.ResourceHugePagesPrefix), strings.HasPrefix(s, corev1.ResourceRequestsHugePagesPrefix):
			out = append(out, n)
		case strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) && extended(corev1.ResourceName(strings.TrimPrefix(s, corev1.DefaultResourceRequestsPrefix))):
			out = append(out, n)
		}
	}
	return out
}

// extended reports whether a name is an extended resource: not in the
// kubernetes.io namespace (example.com/gpu), or a device class's
// implicit one.
func extended(name corev1.ResourceName) bool {
	s := string(name)
	if strings.HasPrefix(s, "deviceclass.resource.kubernetes.io/") {
		return true
	}
	if !strings.Contains(s, "/") || strings.Contains(s, corev1.ResourceDefaultNamespacePrefix) || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
}

func (p pods) MatchesScope(s corev1.ScopedResourceSelectorRequirement, obj runtime.Object) (bool, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false, fmt.Errorf("quota: want a Pod, got %T", obj)
	}
	switch s.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating(pod), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating(pod), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return catalog.PodQOSClass(pod) == corev1.PodQOSBestEffort, nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return catalog.PodQOSClass(pod) != corev1.PodQOSBestEffort, nil
	case corev1.ResourceQuotaScopePriorityClass:
		if s.Operator == corev1.ScopeSelectorOpExists {
			return pod.Spec.PriorityClassName != "", nil
		}
		sel, err := scopeSelector(s)
		if err != nil {
			return false, err
		}
		set := labels.Set{}
		if pod.Spec.PriorityClassName != "" {
			set[string(s.ScopeName)] = pod.Spec.PriorityClassName
		}
		return sel.Matches(set), nil
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod), nil
	}
	return false, nil
}

// terminating: a pod with an active deadline falls under the Terminating
// scope.
func terminating(pod *corev1.Pod) bool {
	d := pod.Spec.ActiveDeadlineSeconds
	return d != nil && *d >= 0
}

func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	cross := func(t *corev1.PodAffinityTerm) bool { return len(t.Namespaces) > 0 || t.NamespaceSelector != nil }
	check := func(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) bool {
		for i := range required {
			if cross(&required[i]) {
				return true
			}
		}
		for i := range preferred {
			if cross(&preferred[i].PodAffinityTerm) {
				return true
			}
		}
		return false
	}
	if pa := a.PodAffinity; pa != nil && check(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	if pa := a.PodAntiAffinity; pa != nil && check(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	return false
}

// Constraints: under a quota on cpu or memory, every container and init
// container must set them (unless the pod sets its resources as a
// whole), with kube-apiserver's message.
func (pods) Constraints(required []corev1.ResourceName, obj runtime.Object) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return fmt.Errorf("quota: want a Pod, got %T", obj)
	}
	if resourcehelper.IsPodLevelResourcesSet(pod) {
		return nil
	}
	need := Intersect(required, requiredPerContainer)
	if len(need) == 0 {
		return nil
	}
	missing := map[corev1.ResourceName][]string{}
	check := func(c *corev1.Container) {
		for _, n := range need {
			if !sets(c.Resources, n) && !slices.Contains(missing[n], c.Name) {
				missing[n] = append(missing[n], c.Name)
			}
		}
	}
	for i := range pod.Spec.Containers {
		check(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		check(&pod.Spec.InitContainers[i])
	}
	if len(missing) == 0 {
		return nil
	}
	var msgs []string
	for _, n := range Names(namesOf(missing)) {
		names := missing[n]
		slices.Sort(names)
		msgs = append(msgs, fmt.Sprintf("%s for: %s", n, strings.Join(names, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}

// sets reports whether a container's resources give a value for one of
// requiredPerContainer: cpu and memory are requests, as are their
// requests. names; limits. names are limits.
func sets(r corev1.ResourceRequirements, name corev1.ResourceName) bool {
	if plain, ok := strings.CutPrefix(string(name), "limits."); ok {
		_, set := r.Limits[corev1.ResourceName(plain)]
		return set
	}
	plain := strings.TrimPrefix(string(name), corev1.DefaultResourceRequestsPrefix)
	_, set := r.Requests[corev1.ResourceName(plain)]
	return set
}

func namesOf(m map[corev1.ResourceName][]string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n := range m {
		out[n] = resource.Quantity{}
	}
	return out
}

var limitNames = []struct{ plain, limit corev1.ResourceName }{
	{corev1.ResourceCPU, corev1.ResourceLimitsCPU}, {corev1.ResourceMemory, corev1.ResourceLimitsMemory},
	{corev1.ResourceEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
}

// containerUsage adds to out what requests and limits come to under
// each of the quota's names.
func containerUsage(out, requests, limits corev1.ResourceList) {
	out[corev1.ResourcePods] = one()
	both := func(plain, req corev1.ResourceName) {
		if q, ok := requests[plain]; ok {
			out[plain] = q
			out[req] = q
		}
	}
	both(corev1.ResourceCPU, corev1.ResourceRequestsCPU)
	both(corev1.ResourceMemory, corev1.ResourceRequestsMemory)
	both(corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage)
	for _, l := range limitNames {
		if q, ok := limits[l.plain]; ok {
			out[l.limit] = q
		}
	}
	for name, q := range requests {
		s := string(name)
		if strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) {
			out[name] = q
			out[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+s)] = q
		} else if strings.HasPrefix(s, "deviceclass.resource.kubernetes.io/") {
			out[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+s)] = q
		} else if extended(name) {
			out[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+s)] = q
		}
	}
}

// Usage: every pod counts once; a pod not finished (and not past its
// grace period) also consumes its requests and limits, as the kubelet
// would reserve them (sidecars, pod-level resources, overhead and
// resizes in progress included).
func (p pods) Usage(obj runtime.Object) (corev1.ResourceList, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("quota: want a Pod, got %T", obj)
	}
	out := corev1.ResourceList{podNames[0]: one()}
	if !p.counts(pod) {
		return out, nil
	}
	opts := resourcehelper.PodResourcesOptions{UseStatusResources: true}
	containerUsage(out, resourcehelper.PodRequests(pod, opts), resourcehelper.PodLimits(pod, opts))
	return out, nil
}

// counts reports whether a pod still holds its resources: it has not
// finished, and its deletion's grace period has not run out.
func (p pods) counts(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if ts, grace := pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds; ts != nil && grace != nil {
		if p.now().After(ts.Add(time.Duration(*grace) * time.Second)) {
			return false
		}
	}
	return true
}
