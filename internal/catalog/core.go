package catalog

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

var coreV1 = corev1.SchemeGroupVersion

// Namespaces that exist from the start and may never be deleted.
var SystemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// FinalizerKubernetes holds a namespace until its contents are deleted.
const FinalizerKubernetes corev1.FinalizerName = "kubernetes"

// LabelNamespaceName is set on every namespace to its own name.
const LabelNamespaceName = "kubernetes.io/metadata.name"

// Namespaces is core/v1 namespaces.
func Namespaces() *Resource {
	finalize := &Subresource{
		Name: "finalize",
		Apply: func(obj, old Object) Object {
			out := old.DeepCopyObject().(*corev1.Namespace)
			out.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
			return out
		},
		Verbs: []string{"update"},
	}
	return &Resource{
		GroupVersion: coreV1, Name: "namespaces", SingularName: "namespace", Kind: "Namespace",
		ShortNames:   []string{"ns"},
		New:          func() Object { return &corev1.Namespace{} },
		ValidateName: nameDNSLabel,
		// kube-apiserver defaults the name label as it decodes a named
		// namespace, so its writer owns it; the strategy sets it again.
		Default: func(obj Object) {
			if ns := obj.(*corev1.Namespace); ns.Name != "" {
				setNamespaceNameLabel(ns)
			}
		},
		PrepareForCreate: func(_ context.Context, obj Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			if !slices.Contains(ns.Spec.Finalizers, FinalizerKubernetes) {
				ns.Spec.Finalizers = append(ns.Spec.Finalizers, FinalizerKubernetes)
			}
			setNamespaceNameLabel(ns)
		},
		PrepareForUpdate: func(obj, old Object) {
			ns, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			ns.Spec.Finalizers = o.Spec.Finalizers
			ns.Status = o.Status
			setNamespaceNameLabel(ns)
		},
		Validate: func(obj Object) field.ErrorList {
			return validateNamespaceFinalizers(obj.(*corev1.Namespace))
		},
		Subresources: []*Subresource{StatusSubresource(), finalize},
		SelectableFields: func(obj Object) map[string]string {
			return map[string]string{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		FieldLabels: []string{"status.phase"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{nameColumn(), col("Status", "The status of the namespace"), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				ns := obj.(*corev1.Namespace)
				return []any{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
			},
		},
		ReturnDeletedObject: true,
		NoDeleteCollection:  true,
		Undeletable: func(obj Object) string {
			if slices.Contains(SystemNamespaces, obj.GetName()) {
				return "this namespace may not be deleted"
			}
			return ""
		},
		OnDelete: func(obj Object) {
			obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating
		},
		DeletionHold: func(obj Object) bool {
			return len(obj.(*corev1.Namespace).Spec.Finalizers) > 0
		},
	}
}

func setNamespaceNameLabel(ns *corev1.Namespace) {
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[LabelNamespaceName] = ns.Name
}

func validateNamespaceFinalizers(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "finalizers")
	for i, f := range ns.Spec.Finalizers {
		if !strings.Contains(string(f), "/") && f != FinalizerKubernetes {
			errs = append(errs, field.Invalid(p.Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// Secrets is core/v1 secrets.
func Secrets() *Resource {
	secretDoc := corev1.Secret{}.SwaggerDoc()
	return &Resource{
		GroupVersion: coreV1, Name: "secrets", SingularName: "secret", Kind: "Secret", Namespaced: true,
		New: func() Object { return &corev1.Secret{} },
		// stringData is merged into data as kube-apiserver decodes a
		// Secret, so the writer owns the data keys it set that way.
		Default: func(obj Object) {
			s := obj.(*corev1.Secret)
			if s.Type == "" {
				s.Type = corev1.SecretTypeOpaque
			}
			mergeStringData(s)
		},
		Validate: func(obj Object) field.ErrorList { return validateSecret(obj.(*corev1.Secret)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			s, o := obj.(*corev1.Secret), old.(*corev1.Secret)
			errs := validateSecret(s)
			errs = append(errs, immutable(s.Type, o.Type, field.NewPath("type"))...)
			if o.Immutable != nil && *o.Immutable {
				if s.Immutable == nil || !*s.Immutable {
					errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
				}
				errs = append(errs, immutableData(s.Data, o.Data)...)
			}
			return errs
		},
		SelectableFields: func(obj Object) map[string]string {
			return map[string]string{"type": string(obj.(*corev1.Secret).Type)}
		},
		FieldLabels: []string{"type"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{nameColumn(), col("Type", secretDoc["type"]), col("Data", secretDoc["data"]), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				s := obj.(*corev1.Secret)
				return []any{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp, now)}
			},
		},
	}
}

// mergeStringData folds the write-only stringData into data, as the API does.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func immutableData[V string | []byte](n, o map[string]V) field.ErrorList {
	same := len(n) == len(o)
	for k, v := range o {
		nv, ok := n[k]
		if !ok || string(nv) != string(v) {
			same = false
		}
	}
	if !same {
		return field.ErrorList{field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set")}
	}
	return nil
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	dataPath := field.NewPath("data")
	errs := validateDataKeys(s.Data, dataPath)
	if n := dataSize(s.Data); n > maxDataSize {
		errs = append(errs, tooLong(dataPath, n, maxDataSize))
	}
	require := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		errs = append(errs, validateDockerConfigSecret(s)...)
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		require(corev1.SSHAuthPrivateKey)
	case corev1.SecretTypeTLS:
		require(corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	for _, msg := range validateSecretTypeName(string(s.Type)) {
		errs = append(errs, field.Invalid(field.NewPath("type"), s.Type, msg))
	}
	return errs
}

func validateSecretTypeName(t string) []string {
	if len(t) > 253 {
		return []string{"must be no more than 253 characters"}
	}
	return nil
}

// ConfigMaps is core/v1 configmaps.
func ConfigMaps() *Resource {
	doc := corev1.ConfigMap{}.SwaggerDoc()
	return &Resource{
		GroupVersion: coreV1, Name: "configmaps", SingularName: "configmap", Kind: "ConfigMap", Namespaced: true,
		ShortNames: []string{"cm"},
		New:        func() Object { return &corev1.ConfigMap{} },
		Validate:   func(obj Object) field.ErrorList { return validateConfigMap(obj.(*corev1.ConfigMap)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			c, o := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
			errs := validateConfigMap(c)
			if o.Immutable != nil && *o.Immutable {
				if c.Immutable == nil || !*c.Immutable {
					errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
				}
				errs = append(errs, immutableData(c.Data, o.Data)...)
				errs = append(errs, immutableData(c.BinaryData, o.BinaryData)...)
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{nameColumn(), col("Data", doc["data"]), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				c := obj.(*corev1.ConfigMap)
				return []any{c.Name, int64(len(c.Data) + len(c.BinaryData)), age(c.CreationTimestamp, now)}
			},
		},
	}
}

func validateConfigMap(c *corev1.ConfigMap) field.ErrorList {
	errs := validateDataKeys(c.Data, field.NewPath("data"))
	errs = append(errs, validateDataKeys(c.BinaryData, field.NewPath("binaryData"))...)
	for k := range c.BinaryData {
		if _, dup := c.Data[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, "duplicate of key present in data"))
		}
	}
	if n := dataSize(c.Data) + dataSize(c.BinaryData); n > maxDataSize {
		errs = append(errs, tooLong(field.NewPath(""), n, maxDataSize))
	}
	return errs
}

// ServiceAccounts is core/v1 serviceaccounts.
func ServiceAccounts() *Resource {
	return &Resource{
		GroupVersion: coreV1, Name: "serviceaccounts", SingularName: "serviceaccount", Kind: "ServiceAccount", Namespaced: true,
		ShortNames: []string{"sa"},
		New:        func() Object { return &corev1.ServiceAccount{} },
		Table: &Table{
			// kube-apiserver v1.37 prints only the name and age.
			Columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				sa := obj.(*corev1.ServiceAccount)
				return []any{sa.Name, age(sa.CreationTimestamp, now)}
			},
		},
	}
}

// Nodes is core/v1 nodes.
func Nodes() *Resource {
	statusDoc := corev1.NodeStatus{}.SwaggerDoc()
	infoDoc := corev1.NodeSystemInfo{}.SwaggerDoc()
	return &Resource{
		GroupVersion: coreV1, Name: "nodes", SingularName: "node", Kind: "Node",
		ShortNames:       []string{"no"},
		New:              func() Object { return &corev1.Node{} },
		PrepareForCreate: func(_ context.Context, obj Object) { prepareNode(obj.(*corev1.Node)) },
		PrepareForUpdate: keepStatus,
		Validate: func(obj Object) field.ErrorList {
			n := obj.(*corev1.Node)
			var errs field.ErrorList
			for i, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
					errs = append(errs, validateIP(a.Address, field.NewPath("status", "addresses").Index(i).Child("address"))...)
				}
			}
			return append(errs, validateNodeSpec(n)...)
		},
		Subresources: []*Subresource{StatusSubresource(), connect("proxy", "NodeProxyOptions", proxyVerbs...)},
		SelectableFields: func(obj Object) map[string]string {
			return map[string]string{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
		FieldLabels: []string{"spec.unschedulable"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				nameColumn(), col("Status", "The status of the node"), col("Roles", "The roles of the node"), ageColumn(),
				col("Version", infoDoc["kubeletVersion"]),
				wide(col("Internal-IP", statusDoc["addresses"])), wide(col("External-IP", statusDoc["addresses"])),
				wide(col("OS-Image", infoDoc["osImage"])), wide(col("Kernel-Version", infoDoc["kernelVersion"])),
				wide(col("Container-Runtime", infoDoc["containerRuntimeVersion"])),
			},
			Cells: nodeCells,
		},
	}
}

func nodeCells(obj Object, now time.Time) []any {
	n := obj.(*corev1.Node)
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	roles := map[string]bool{}
	for k, v := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles[r] = true
		}
		if k == "kubernetes.io/role" && v != "" {
			roles[v] = true
		}
	}
	roleList := "<none>"
	if len(roles) > 0 {
		keys := make([]string, 0, len(roles))
		for r := range roles {
			keys = append(keys, r)
		}
		sort.Strings(keys)
		roleList = strings.Join(keys, ",")
	}
	addr := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t {
				return a.Address
			}
		}
		return "<none>"
	}
	unknown := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	info := n.Status.NodeInfo
	return []any{n.Name, status, roleList, age(n.CreationTimestamp, now), info.KubeletVersion,
		addr(corev1.NodeInternalIP), addr(corev1.NodeExternalIP),
		unknown(info.OSImage), unknown(info.KernelVersion), unknown(info.ContainerRuntimeVersion)}
}

// prepareNode drops the retired dynamic kubelet configuration, as
// kube-apiserver's node strategy does.
func prepareNode(n *corev1.Node) {
	n.Spec.ConfigSource = nil
	n.Status.Config = nil
}

// Events is core/v1 events.
func Events() *Resource {
	doc := corev1.Event{}.SwaggerDoc()
	return &Resource{
		GroupVersion: coreV1, Name: "events", SingularName: "event", Kind: "Event", Namespaced: true,
		ShortNames: []string{"ev"},
		New:        func() Object { return &corev1.Event{} },
		Validate:   func(obj Object) field.ErrorList { return validateCoreEvent(obj.(*corev1.Event)) },
		SelectableFields: func(obj Object) map[string]string {
			e := obj.(*corev1.Event)
			source := e.Source.Component
			if source == "" {
				source = e.ReportingController
			}
			return map[string]string{
				"involvedObject.kind": e.InvolvedObject.Kind, "involvedObject.namespace": e.InvolvedObject.Namespace,
				"involvedObject.name": e.InvolvedObject.Name, "involvedObject.uid": string(e.InvolvedObject.UID),
				"involvedObject.apiVersion": e.InvolvedObject.APIVersion, "involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
				"involvedObject.fieldPath": e.InvolvedObject.FieldPath, "reason": e.Reason, "reportingComponent": e.ReportingController,
				"source": source, "type": e.Type,
			}
		},
		FieldLabels: []string{"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
			"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
			"reportingComponent", "source", "type"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				col("Last Seen", doc["lastTimestamp"]), col("Type", doc["type"]), col("Reason", doc["reason"]),
				col("Object", doc["involvedObject"]), wide(col("Subobject", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"])),
				wide(col("Source", doc["source"])), col("Message", doc["message"]), wide(col("First Seen", doc["firstTimestamp"])),
				wide(col("Count", doc["count"])), wide(nameColumn()),
			},
			Cells: eventCells,
		},
	}
}

func eventCells(obj Object, now time.Time) []any {
	e := obj.(*corev1.Event)
	first := age(e.FirstTimestamp, now)
	if e.FirstTimestamp.IsZero() {
		first = microAge(e.EventTime, now)
	}
	last := age(e.LastTimestamp, now)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := int64(e.Count)
	if e.Series != nil {
		last = microAge(e.Series.LastObservedTime, now)
		count = int64(e.Series.Count)
	} else if count == 0 {
		count = 1
	}
	object := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		object += "/" + e.InvolvedObject.Name
	}
	component, host := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if host == "" {
		host = e.ReportingInstance
	}
	source := component
	if host != "" {
		source += ", " + host
	}
	return []any{last, e.Type, e.Reason, object, e.InvolvedObject.FieldPath, source,
		strings.TrimSpace(e.Message), first, count, e.Name}
}

func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(t.Time))
}

// ResourceQuotas is core/v1 resourcequotas.
func ResourceQuotas() *Resource {
	return &Resource{
		GroupVersion: coreV1, Name: "resourcequotas", SingularName: "resourcequota", Kind: "ResourceQuota", Namespaced: true,
		ShortNames:       []string{"quota"},
		New:              func() Object { return &corev1.ResourceQuota{} },
		PrepareForCreate: func(_ context.Context, obj Object) { clearStatus(obj) },
		PrepareForUpdate: keepStatus,
		Validate: func(obj Object) field.ErrorList {
			q := obj.(*corev1.ResourceQuota)
			var errs field.ErrorList
			for name, v := range q.Spec.Hard {
				errs = append(errs, validateQualifiedName(string(name), field.NewPath("spec", "hard").Key(string(name)))...)
				errs = append(errs, validateNonNegativeQuantity(v, field.NewPath("spec", "hard").Key(string(name)))...)
			}
			for i, s := range q.Spec.Scopes {
				errs = append(errs, validateEnum(string(s), []string{"BestEffort", "CrossNamespacePodAffinity", "NotBestEffort",
					"NotTerminating", "PriorityClass", "Terminating", "VolumeAttributesClass"}, field.NewPath("spec", "scopes").Index(i))...)
			}
			return append(errs, validateQuotaScopes(q)...)
		},
		Subresources: []*Subresource{StatusSubresource()},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				nameColumn(),
				col("Request", "Requests counted against the quota: used/hard."),
				col("Limit", "Limits counted against the quota: used/hard."),
				ageColumn(),
			},
			Cells: quotaCells,
		},
	}
}

func quotaCells(obj Object, now time.Time) []any {
	q := obj.(*corev1.ResourceQuota)
	names := make([]string, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	var request, limit []string
	for _, n := range names {
		used := "0"
		if u, ok := q.Status.Used[corev1.ResourceName(n)]; ok {
			used = u.String()
		}
		hard := q.Status.Hard[corev1.ResourceName(n)]
		frag := fmt.Sprintf("%s: %s/%s", n, used, hard.String())
		if parts := strings.Split(n, "."); len(parts) > 1 && parts[0] == "limits" {
			limit = append(limit, frag)
		} else {
			request = append(request, frag)
		}
	}
	return []any{q.Name, strings.Join(request, ", "), strings.Join(limit, ", "), age(q.CreationTimestamp, now)}
}

// LimitRanges is core/v1 limitranges.
func LimitRanges() *Resource {
	return &Resource{
		GroupVersion: coreV1, Name: "limitranges", SingularName: "limitrange", Kind: "LimitRange", Namespaced: true,
		ShortNames: []string{"limits"},
		New:        func() Object { return &corev1.LimitRange{} },
		Validate: func(obj Object) field.ErrorList {
			lr := obj.(*corev1.LimitRange)
			var errs field.ErrorList
			for i, item := range lr.Spec.Limits {
				p := field.NewPath("spec", "limits").Index(i)
				errs = append(errs, validateEnum(string(item.Type), []string{"Container", "PersistentVolumeClaim", "Pod"}, p.Child("type"))...)
				for _, m := range []struct {
					name string
					list corev1.ResourceList
				}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}} {
					for n, q := range m.list {
						errs = append(errs, validateNonNegativeQuantity(q, p.Child(m.name).Key(string(n)))...)
					}
				}
				for n, min := range item.Min {
					if max, ok := item.Max[n]; ok && min.Cmp(max) > 0 {
						errs = append(errs, field.Invalid(p.Child("min").Key(string(n)), min.String(), fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
					}
				}
				errs = append(errs, validateLimitRangeItem(item, p)...)
			}
			return errs
		},
	}
}

// Endpoints is core/v1 endpoints.
func Endpoints() *Resource {
	return &Resource{
		GroupVersion: coreV1, Name: "endpoints", SingularName: "endpoints", Kind: "Endpoints", Namespaced: true,
		ShortNames:   []string{"ep"},
		New:          func() Object { return &corev1.Endpoints{} },
		ValidateName: nameDNSSubdomain,
		Default:      func(obj Object) { defaultEndpointPorts(obj.(*corev1.Endpoints)) },
		Validate: func(obj Object) field.ErrorList {
			ep := obj.(*corev1.Endpoints)
			var errs field.ErrorList
			for i, s := range ep.Subsets {
				p := field.NewPath("subsets").Index(i)
				for j, a := range s.Addresses {
					errs = append(errs, validateEndpointAddress(a.IP, p.Child("addresses").Index(j).Child("ip"))...)
				}
				for j, a := range s.NotReadyAddresses {
					errs = append(errs, validateEndpointAddress(a.IP, p.Child("notReadyAddresses").Index(j).Child("ip"))...)
				}
				for j, port := range s.Ports {
					if len(s.Ports) > 1 && port.Name == "" {
						errs = append(errs, field.Required(p.Child("ports").Index(j).Child("name"), ""))
					}
					errs = append(errs, validatePort(port.Port, p.Child("ports").Index(j).Child("port"))...)
					errs = append(errs, validateProtocol(string(port.Protocol), p.Child("ports").Index(j).Child("protocol"))...)
				}
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{nameColumn(), col("Endpoints", corev1.Endpoints{}.SwaggerDoc()["subsets"]), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				ep := obj.(*corev1.Endpoints)
				return []any{ep.Name, formatEndpoints(ep), age(ep.CreationTimestamp, now)}
			},
		},
	}
}

func defaultEndpointPorts(ep *corev1.Endpoints) {
	for i := range ep.Subsets {
		for j := range ep.Subsets[i].Ports {
			if ep.Subsets[i].Ports[j].Protocol == "" {
				ep.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	more, count := false, 0
	for _, s := range ep.Subsets {
		if len(s.Ports) == 0 {
			count += len(s.Addresses)
			for _, a := range s.Addresses {
				if len(list) < max {
					list = append(list, a.IP)
				} else {
					more = true
				}
			}
			continue
		}
		for _, port := range s.Ports {
			count += len(s.Addresses)
			for _, a := range s.Addresses {
				if len(list) < max {
					list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
				} else {
					more = true
				}
			}
		}
	}
	out := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", out, count-max)
	}
	return out
}

// Services is core/v1 services. Cluster IPs and node ports are assigned by
// the server's allocators, hooked in by the API server.
func Services() *Resource {
	doc := corev1.ServiceSpec{}.SwaggerDoc()
	return &Resource{
		GroupVersion: coreV1, Name: "services", SingularName: "service", Kind: "Service", Namespaced: true,
		ShortNames:   []string{"svc"},
		Categories:   []string{"all"},
		New:          func() Object { return &corev1.Service{} },
		ValidateName: nameDNSLabel, // RelaxedServiceNameValidation, GA in 1.37
		Default:      func(obj Object) { defaultService(obj.(*corev1.Service)) },
		PrepareForCreate: func(_ context.Context, obj Object) {
			s := obj.(*corev1.Service)
			s.Status = corev1.ServiceStatus{}
			normalizeClusterIPs(s)
		},
		PrepareForUpdate: func(obj, old Object) {
			s, o := obj.(*corev1.Service), old.(*corev1.Service)
			s.Status = o.Status
			if s.Spec.ClusterIP == "" && s.Spec.Type == o.Spec.Type {
				s.Spec.ClusterIP, s.Spec.ClusterIPs = o.Spec.ClusterIP, o.Spec.ClusterIPs
			}
			normalizeClusterIPs(s)
			for i := range s.Spec.Ports {
				if s.Spec.Ports[i].NodePort == 0 {
					for _, op := range o.Spec.Ports {
						if op.Port == s.Spec.Ports[i].Port && op.Protocol == s.Spec.Ports[i].Protocol {
							s.Spec.Ports[i].NodePort = op.NodePort
						}
					}
				}
			}
		},
		Validate: func(obj Object) field.ErrorList {
			s := obj.(*corev1.Service)
			return append(validateService(s), validateServiceDetails(s)...)
		},
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			s, o := obj.(*corev1.Service), old.(*corev1.Service)
			errs := validateService(s)
			if o.Spec.ClusterIP != "" && s.Spec.Type != corev1.ServiceTypeExternalName && o.Spec.Type != corev1.ServiceTypeExternalName {
				errs = append(errs, immutable(s.Spec.ClusterIP, o.Spec.ClusterIP, field.NewPath("spec", "clusterIP"))...)
			}
			return errs
		},
		Subresources: []*Subresource{StatusSubresource(), connect("proxy", "ServiceProxyOptions", proxyVerbs...)},
		SelectableFields: func(obj Object) map[string]string {
			s := obj.(*corev1.Service)
			return map[string]string{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
		},
		FieldLabels: []string{"spec.clusterIP", "spec.type"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				nameColumn(), col("Type", doc["type"]), col("Cluster-IP", doc["clusterIP"]), col("External-IP", doc["externalIPs"]),
				col("Port(s)", doc["ports"]), ageColumn(), wide(col("Selector", doc["selector"])),
			},
			Cells: serviceCells,
		},
		ReturnDeletedObject: true,
	}
}

func defaultService(s *corev1.Service) {
	if s.Spec.Type == "" {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	}
	switch s.Spec.SessionAffinity {
	case "":
		s.Spec.SessionAffinity = corev1.ServiceAffinityNone
		s.Spec.SessionAffinityConfig = nil
	case corev1.ServiceAffinityNone:
		s.Spec.SessionAffinityConfig = nil
	case corev1.ServiceAffinityClientIP:
		if c := s.Spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(corev1.DefaultClientIPServiceAffinitySeconds)}}
		}
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	externallyAccessible := s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort ||
		s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0
	if externallyAccessible && s.Spec.ExternalTrafficPolicy == "" {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.Spec.InternalTrafficPolicy == nil && s.Spec.Type != corev1.ServiceTypeExternalName {
		s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
		if s.Spec.AllocateLoadBalancerNodePorts == nil {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(true)
		}
		for i, ing := range s.Status.LoadBalancer.Ingress {
			if ing.IP != "" && ing.IPMode == nil {
				s.Status.LoadBalancer.Ingress[i].IPMode = ptr.To(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
}

// normalizeClusterIPs fills clusterIPs from clusterIP, as kube-apiserver's
// service strategy does (after field ownership is recorded: the client
// owns only what it sent).
func normalizeClusterIPs(s *corev1.Service) {
	if s.Spec.ClusterIP != "" && len(s.Spec.ClusterIPs) == 0 {
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
	}
}

func validateService(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	errs = append(errs, validateEnum(string(s.Spec.Type), []string{"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}, spec.Child("type"))...)
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		if s.Spec.ExternalName == "" {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		}
	} else if len(s.Spec.Ports) == 0 && s.Spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	if s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, validateIP(s.Spec.ClusterIP, spec.Child("clusterIP"))...)
	}
	names := map[string]bool{}
	for i, p := range s.Spec.Ports {
		pp := spec.Child("ports").Index(i)
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		}
		if p.Name != "" {
			errs = append(errs, validateDNSLabel(p.Name, pp.Child("name"))...)
			if names[p.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		errs = append(errs, validatePort(p.Port, pp.Child("port"))...)
		errs = append(errs, validateProtocol(string(p.Protocol), pp.Child("protocol"))...)
		if p.NodePort != 0 && s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		if p.TargetPort.Type == intstr.Int {
			errs = append(errs, validatePort(p.TargetPort.IntVal, pp.Child("targetPort"))...)
		}
	}
	for i, ip := range s.Spec.ExternalIPs {
		errs = append(errs, validateIP(ip, spec.Child("externalIPs").Index(i))...)
	}
	for k, v := range s.Spec.Selector {
		errs = append(errs, validateQualifiedName(k, spec.Child("selector").Key(k))...)
		if msgs := labelValueErrors(v); len(msgs) > 0 {
			errs = append(errs, field.Invalid(spec.Child("selector").Key(k), v, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

func labelValueErrors(v string) []string {
	if _, err := labels.Parse("k=" + v); err != nil && v != "" {
		return []string{err.Error()}
	}
	return nil
}

func serviceCells(obj Object, now time.Time) []any {
	s := obj.(*corev1.Service)
	clusterIP := "<none>"
	if len(s.Spec.ClusterIPs) > 0 {
		clusterIP = s.Spec.ClusterIPs[0]
	} else if s.Spec.ClusterIP != "" {
		clusterIP = s.Spec.ClusterIP
	}
	var external string
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		external = "<none>"
		if len(s.Spec.ExternalIPs) > 0 {
			external = strings.Join(s.Spec.ExternalIPs, ",")
		}
	case corev1.ServiceTypeLoadBalancer:
		seen := map[string]bool{}
		var lb []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			v := in.IP
			if v == "" {
				v = in.Hostname
			}
			if v != "" && !seen[v] {
				seen[v] = true
				lb = append(lb, v)
			}
		}
		sort.Strings(lb)
		switch {
		case len(s.Spec.ExternalIPs) > 0:
			external = strings.Join(append(lb, s.Spec.ExternalIPs...), ",")
		case len(lb) > 0:
			external = strings.Join(lb, ",")
		default:
			external = "<pending>"
		}
	case corev1.ServiceTypeExternalName:
		external = s.Spec.ExternalName
	default:
		external = "<unknown>"
	}
	var ports []string
	for _, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if p.NodePort > 0 {
			ports = append(ports, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, proto))
		} else {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, proto))
		}
	}
	portStr := "<none>"
	if len(ports) > 0 {
		portStr = strings.Join(ports, ",")
	}
	return []any{s.Name, string(s.Spec.Type), clusterIP, external, portStr, age(s.CreationTimestamp, now), labels.FormatLabels(s.Spec.Selector)}
}

// quantityOrZero avoids nil map lookups producing a zero Quantity with no format.
func quantityOrZero(l corev1.ResourceList, n corev1.ResourceName) resource.Quantity {
	if q, ok := l[n]; ok {
		return q
	}
	return resource.Quantity{}
}
