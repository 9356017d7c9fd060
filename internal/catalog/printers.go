package catalog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// builtinTables holds the server-side table of each built-in resource whose
// columns kube-apiserver (or, for APIServices, kube-aggregator) computes,
// keyed by the resource they print. Builtin gives each resource its table.
var builtinTables = map[schema.GroupVersionResource]*Table{
	appsv1.SchemeGroupVersion.WithResource("controllerrevisions"): prControllerRevisionTable(),
	appsv1.SchemeGroupVersion.WithResource("daemonsets"):          prDaemonSetTable(),
	appsv1.SchemeGroupVersion.WithResource("deployments"):         prDeploymentTable(),
	appsv1.SchemeGroupVersion.WithResource("replicasets"):         prReplicaSetTable(),
	appsv1.SchemeGroupVersion.WithResource("statefulsets"):        prStatefulSetTable(),

	autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"): prHPATable(),
	{Group: "autoscaling", Version: "v1", Resource: "scale"}:                  prScaleTable(),

	batchv1.SchemeGroupVersion.WithResource("cronjobs"): prCronJobTable(),
	batchv1.SchemeGroupVersion.WithResource("jobs"):     prJobTable(),

	certificatesv1.SchemeGroupVersion.WithResource("clustertrustbundles"):    prClusterTrustBundleTable(),
	certificatesv1.SchemeGroupVersion.WithResource("podcertificaterequests"): prPodCertificateRequestTable(),

	networkingv1.SchemeGroupVersion.WithResource("ingressclasses"): prIngressClassTable(),
	networkingv1.SchemeGroupVersion.WithResource("ingresses"):      prIngressTable(),
	networkingv1.SchemeGroupVersion.WithResource("ipaddresses"):    prIPAddressTable(),
	networkingv1.SchemeGroupVersion.WithResource("servicecidrs"):   prServiceCIDRTable(),

	policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"): prPDBTable(),

	storagev1.SchemeGroupVersion.WithResource("csidrivers"):              prCSIDriverTable(),
	storagev1.SchemeGroupVersion.WithResource("csinodes"):                prCSINodeTable(),
	storagev1.SchemeGroupVersion.WithResource("storageclasses"):          prStorageClassTable(),
	storagev1.SchemeGroupVersion.WithResource("volumeattachments"):       prVolumeAttachmentTable(),
	storagev1.SchemeGroupVersion.WithResource("volumeattributesclasses"): prVolumeAttributesClassTable(),

	admissionregistrationv1.SchemeGroupVersion.WithResource("mutatingwebhookconfigurations"):     prWebhookConfigurationTable(),
	admissionregistrationv1.SchemeGroupVersion.WithResource("validatingwebhookconfigurations"):   prWebhookConfigurationTable(),
	admissionregistrationv1.SchemeGroupVersion.WithResource("validatingadmissionpolicies"):       prAdmissionPolicyTable(false),
	admissionregistrationv1.SchemeGroupVersion.WithResource("mutatingadmissionpolicies"):         prAdmissionPolicyTable(true),
	admissionregistrationv1.SchemeGroupVersion.WithResource("validatingadmissionpolicybindings"): prAdmissionPolicyBindingTable(),
	admissionregistrationv1.SchemeGroupVersion.WithResource("mutatingadmissionpolicybindings"):   prAdmissionPolicyBindingTable(),

	schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"): prPriorityClassTable(),
	nodev1.SchemeGroupVersion.WithResource("runtimeclasses"):        prRuntimeClassTable(),
	discoveryv1.SchemeGroupVersion.WithResource("endpointslices"):   prEndpointSliceTable(),

	resourcev1.SchemeGroupVersion.WithResource("resourceclaims"):         prResourceClaimTable(),
	resourcev1.SchemeGroupVersion.WithResource("resourceslices"):         prResourceSliceTable(),
	resourcev1.SchemeGroupVersion.WithResource("devicetaintrules"):       prDeviceTaintRuleTable(),
	resourcev1.SchemeGroupVersion.WithResource("deviceclasses"):          prNameAgeTable(),
	resourcev1.SchemeGroupVersion.WithResource("resourceclaimtemplates"): prNameAgeTable(),

	flowcontrolv1.SchemeGroupVersion.WithResource("flowschemas"):                 prFlowSchemaTable(),
	flowcontrolv1.SchemeGroupVersion.WithResource("prioritylevelconfigurations"): prPriorityLevelTable(),

	storagemigrationv1.SchemeGroupVersion.WithResource("storageversionmigrations"): prStorageVersionMigrationTable(),
	apiregistrationv1.SchemeGroupVersion.WithResource("apiservices"):               prAPIServiceTable(),

	corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"): prPVCTable(),
	corev1.SchemeGroupVersion.WithResource("persistentvolumes"):      prPVTable(),
	corev1.SchemeGroupVersion.WithResource("podtemplates"):           prPodTemplateTable(),
	corev1.SchemeGroupVersion.WithResource("replicationcontrollers"): prReplicationControllerTable(),
	corev1.SchemeGroupVersion.WithResource("componentstatuses"):      prComponentStatusTable(),
}

// Column and cell helpers.

func prIntColumn(name, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "integer", Description: description}
}

func prBoolColumn(name, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "boolean", Description: description}
}

// prTemplateColumns are the wide Containers and Images columns of workloads.
func prTemplateColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		wide(col("Containers", "Names of the containers in the pod template.")),
		wide(col("Images", "Images of the containers in the pod template.")),
	}
}

// prColumns joins column lists.
func prColumns(parts ...[]metav1.TableColumnDefinition) []metav1.TableColumnDefinition {
	var out []metav1.TableColumnDefinition
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// prContainers returns the comma-joined names and images of a pod spec's containers.
func prContainers(spec *corev1.PodSpec) (names, images string) {
	n := make([]string, 0, len(spec.Containers))
	im := make([]string, 0, len(spec.Containers))
	for _, c := range spec.Containers {
		n = append(n, c.Name)
		im = append(im, c.Image)
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

func prInt32(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

func prString[T ~string](p *T, unset string) string {
	if p == nil {
		return unset
	}
	return string(*p)
}

func prBool(p *bool, unset bool) bool {
	if p == nil {
		return unset
	}
	return *p
}

// prTimeSince renders the time since t, or unset when t is nil.
func prTimeSince(t *metav1.Time, now time.Time, unset string) string {
	if t == nil {
		return unset
	}
	return age(*t, now)
}

// prLimited joins at most max items with ",", then " + N more..." where
// N is count-max; an empty list is "<unset>".
func prLimited(list []string, more bool, count, max int) string {
	out := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", out, count-max)
	}
	if out == "" {
		return "<unset>"
	}
	return out
}

// prAccessModes abbreviates access modes in a fixed order, each once.
func prAccessModes(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

const prBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

func prNameAgeTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
		Cells: func(obj Object, now time.Time) []any {
			return []any{obj.GetName(), age(obj.GetCreationTimestamp(), now)}
		},
	}
}

// apps/v1

func prControllerRevisionTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("Controller", "The controller that owns this revision."),
			col("Revision", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			cr := obj.(*appsv1.ControllerRevision)
			controller := "<none>"
			if ref := metav1.GetControllerOf(cr); ref != nil {
				gv, _ := schema.ParseGroupVersion(ref.APIVersion)
				kind := ref.Kind
				if gv.Group != "" {
					kind += "." + gv.Group
				}
				controller = strings.ToLower(kind) + "/" + ref.Name
			}
			return []any{cr.Name, controller, cr.Revision, age(cr.CreationTimestamp, now)}
		},
	}
}

func prDaemonSetTable() *Table {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(),
			prIntColumn("Desired", status["desiredNumberScheduled"]),
			prIntColumn("Current", status["currentNumberScheduled"]),
			prIntColumn("Ready", status["numberReady"]),
			prIntColumn("Up-to-date", status["updatedNumberScheduled"]),
			prIntColumn("Available", status["numberAvailable"]),
			col("Node Selector", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			ageColumn(),
		}, prTemplateColumns(), []metav1.TableColumnDefinition{
			wide(col("Selector", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])),
		}),
		Cells: func(obj Object, now time.Time) []any {
			ds := obj.(*appsv1.DaemonSet)
			names, images := prContainers(&ds.Spec.Template.Spec)
			s := ds.Status
			return []any{ds.Name, int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
				int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				age(ds.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(ds.Spec.Selector)}
		},
	}
}

func prDeploymentTable() *Table {
	status := appsv1.DeploymentStatus{}.SwaggerDoc()
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(),
			col("Ready", "Number of ready pods out of the desired replicas."),
			col("Up-to-date", status["updatedReplicas"]),
			col("Available", status["availableReplicas"]),
			ageColumn(),
		}, prTemplateColumns(), []metav1.TableColumnDefinition{
			wide(col("Selector", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])),
		}),
		Cells: func(obj Object, now time.Time) []any {
			d := obj.(*appsv1.Deployment)
			names, images := prContainers(&d.Spec.Template.Spec)
			selector := "<invalid>"
			if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
				selector = sel.String()
			}
			return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, prInt32(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp, now),
				names, images, selector}
		},
	}
}

func prReplicaSetTable() *Table {
	spec, status := appsv1.ReplicaSetSpec{}.SwaggerDoc(), appsv1.ReplicaSetStatus{}.SwaggerDoc()
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(),
			prIntColumn("Desired", spec["replicas"]),
			prIntColumn("Current", status["replicas"]),
			prIntColumn("Ready", status["readyReplicas"]),
			ageColumn(),
		}, prTemplateColumns(), []metav1.TableColumnDefinition{wide(col("Selector", spec["selector"]))}),
		Cells: func(obj Object, now time.Time) []any {
			rs := obj.(*appsv1.ReplicaSet)
			names, images := prContainers(&rs.Spec.Template.Spec)
			return []any{rs.Name, prInt32(rs.Spec.Replicas), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				age(rs.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(rs.Spec.Selector)}
		},
	}
}

func prStatefulSetTable() *Table {
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(), col("Ready", "Number of ready pods out of the desired replicas."), ageColumn(),
		}, prTemplateColumns()),
		Cells: func(obj Object, now time.Time) []any {
			ss := obj.(*appsv1.StatefulSet)
			names, images := prContainers(&ss.Spec.Template.Spec)
			return []any{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, prInt32(ss.Spec.Replicas)),
				age(ss.CreationTimestamp, now), names, images}
		},
	}
}

// autoscaling

func prHPATable() *Table {
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Reference", spec["scaleTargetRef"]),
			col("Targets", "Current and target values of the metrics the autoscaler uses."),
			col("MinPods", spec["minReplicas"]),
			col("MaxPods", spec["maxReplicas"]),
			col("Replicas", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			var minPods any = "<unset>"
			if h.Spec.MinReplicas != nil {
				minPods = int64(*h.Spec.MinReplicas)
			}
			return []any{h.Name, h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name,
				prHPATargets(h.Spec.Metrics, h.Status.CurrentMetrics), minPods, int64(h.Spec.MaxReplicas),
				int64(h.Status.CurrentReplicas), age(h.CreationTimestamp, now)}
		},
	}
}

// prHPATargets renders each metric as current/target; the status metric of
// a spec metric is the one at the same index, if of the same type. At most
// two metrics are shown.
func prHPATargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	status := func(i int, t autoscalingv2.MetricSourceType) *autoscalingv2.MetricStatus {
		if i < len(statuses) && statuses[i].Type == t {
			return &statuses[i]
		}
		return nil
	}
	// resourceTarget renders a resource or container resource metric.
	resourceTarget := func(name corev1.ResourceName, target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
		cur := "<unknown>"
		if target.AverageValue != nil {
			if current != nil {
				cur = prQuantity(current.AverageValue)
			}
			return fmt.Sprintf("%s: %s/%s", name, cur, target.AverageValue.String())
		}
		if current != nil && current.AverageUtilization != nil {
			cur = fmt.Sprintf("%d%%", *current.AverageUtilization)
		}
		tgt := "<auto>"
		if target.AverageUtilization != nil {
			tgt = fmt.Sprintf("%d%%", *target.AverageUtilization)
		}
		return fmt.Sprintf("%s: %s/%s", name, cur, tgt)
	}
	// valueTarget renders an object or external metric.
	valueTarget := func(target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
		cur := "<unknown>"
		if target.AverageValue != nil {
			if current != nil {
				cur = prQuantity(current.AverageValue)
			}
			return fmt.Sprintf("%s/%s (avg)", cur, target.AverageValue.String())
		}
		if current != nil {
			cur = prQuantity(current.Value)
		}
		return fmt.Sprintf("%s/%s", cur, target.Value.String())
	}
	const max = 2
	var list []string
	for i, spec := range specs {
		st := status(i, spec.Type)
		var s string
		switch spec.Type {
		case autoscalingv2.ResourceMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.Resource != nil {
				cur = &st.Resource.Current
			}
			s = "<unknown type>"
			if spec.Resource != nil {
				s = resourceTarget(spec.Resource.Name, spec.Resource.Target, cur)
			}
		case autoscalingv2.ContainerResourceMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.ContainerResource != nil {
				cur = &st.ContainerResource.Current
			}
			s = "<unknown type>"
			if spec.ContainerResource != nil {
				s = resourceTarget(spec.ContainerResource.Name, spec.ContainerResource.Target, cur)
			}
		case autoscalingv2.PodsMetricSourceType:
			cur := "<unknown>"
			if st != nil && st.Pods != nil {
				cur = prQuantity(st.Pods.Current.AverageValue)
			}
			var target *resource.Quantity
			if spec.Pods != nil {
				target = spec.Pods.Target.AverageValue
			}
			s = fmt.Sprintf("%s/%s", cur, target.String())
		case autoscalingv2.ObjectMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.Object != nil {
				cur = &st.Object.Current
			}
			s = "<unknown type>"
			if spec.Object != nil {
				s = valueTarget(spec.Object.Target, cur)
			}
		case autoscalingv2.ExternalMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.External != nil {
				cur = &st.External.Current
			}
			s = "<unknown type>"
			if spec.External != nil {
				s = valueTarget(spec.External.Target, cur)
			}
		default:
			s = "<unknown type>"
		}
		list = append(list, s)
	}
	if len(list) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:max], ", "), len(list)-max)
	}
	return strings.Join(list, ", ")
}

// prQuantity renders a current metric value, "<unknown>" when missing.
func prQuantity(q *resource.Quantity) string {
	if q == nil {
		return "<unknown>"
	}
	return q.String()
}

func prScaleTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			prIntColumn("Desired", autoscalingv1.ScaleSpec{}.SwaggerDoc()["replicas"]),
			prIntColumn("Available", autoscalingv1.ScaleStatus{}.SwaggerDoc()["replicas"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			s := obj.(*autoscalingv1.Scale)
			return []any{s.Name, int64(s.Spec.Replicas), int64(s.Status.Replicas), age(s.CreationTimestamp, now)}
		},
	}
}

// batch/v1

func prCronJobTable() *Table {
	spec, status := batchv1.CronJobSpec{}.SwaggerDoc(), batchv1.CronJobStatus{}.SwaggerDoc()
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(),
			col("Schedule", spec["schedule"]),
			col("Timezone", spec["timeZone"]),
			prBoolColumn("Suspend", spec["suspend"]),
			prIntColumn("Active", status["active"]),
			col("Last Schedule", status["lastScheduleTime"]),
			ageColumn(),
		}, prTemplateColumns(), []metav1.TableColumnDefinition{
			wide(col("Selector", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
		}),
		Cells: func(obj Object, now time.Time) []any {
			cj := obj.(*batchv1.CronJob)
			names, images := prContainers(&cj.Spec.JobTemplate.Spec.Template.Spec)
			suspend := "<unset>"
			if cj.Spec.Suspend != nil {
				suspend = "False"
				if *cj.Spec.Suspend {
					suspend = "True"
				}
			}
			return []any{cj.Name, cj.Spec.Schedule, prString(cj.Spec.TimeZone, "<none>"), suspend,
				int64(len(cj.Status.Active)), prTimeSince(cj.Status.LastScheduleTime, now, "<none>"),
				age(cj.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(cj.Spec.JobTemplate.Spec.Selector)}
		},
	}
}

func prJobTable() *Table {
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", "Status of the job."),
			col("Completions", "Succeeded pods out of the desired completions."),
			col("Duration", "Time the job took to complete, or has been running."),
			ageColumn(),
		}, prTemplateColumns(), []metav1.TableColumnDefinition{
			wide(col("Selector", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
		}),
		Cells: prJobCells,
	}
}

func prJobCells(obj Object, now time.Time) []any {
	j := obj.(*batchv1.Job)
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range j.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	var status string
	switch {
	case has(batchv1.JobComplete):
		status = "Complete"
	case has(batchv1.JobFailed):
		status = "Failed"
	case j.DeletionTimestamp != nil:
		status = "Terminating"
	case has(batchv1.JobSuspended):
		status = "Suspended"
	case has(batchv1.JobFailureTarget):
		status = "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		status = "SuccessCriteriaMet"
	default:
		status = "Running"
	}
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case prInt32(j.Spec.Parallelism) > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var duration string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		duration = HumanDuration(now.Sub(j.Status.StartTime.Time))
	default:
		duration = HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	names, images := prContainers(&j.Spec.Template.Spec)
	return []any{j.Name, status, completions, duration, age(j.CreationTimestamp, now), names, images,
		metav1.FormatLabelSelector(j.Spec.Selector)}
}

// certificates.k8s.io/v1

func prClusterTrustBundleTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("SignerName", certificatesv1.ClusterTrustBundleSpec{}.SwaggerDoc()["signerName"]),
		},
		Cells: func(obj Object, _ time.Time) []any {
			b := obj.(*certificatesv1.ClusterTrustBundle)
			signer := b.Spec.SignerName
			if signer == "" {
				signer = "<none>"
			}
			return []any{b.Name, signer}
		},
	}
}

func prPodCertificateRequestTable() *Table {
	spec := certificatesv1.PodCertificateRequestSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("PodName", spec["podName"]),
			col("ServiceAccountName", spec["serviceAccountName"]),
			col("NodeName", spec["nodeName"]),
			col("SignerName", spec["signerName"]),
			col("State", "State of the request: Pending, Issued, Denied or Failed."),
			col("UnverifiedUserAnnotations", spec["unverifiedUserAnnotations"]),
		},
		Cells: func(obj Object, _ time.Time) []any {
			r := obj.(*certificatesv1.PodCertificateRequest)
			state := "Pending"
			for _, c := range r.Status.Conditions {
				switch c.Type {
				case certificatesv1.PodCertificateRequestConditionTypeIssued,
					certificatesv1.PodCertificateRequestConditionTypeDenied,
					certificatesv1.PodCertificateRequestConditionTypeFailed:
					state = c.Type
				}
			}
			return []any{r.Name, r.Spec.PodName, r.Spec.ServiceAccountName, string(r.Spec.NodeName), r.Spec.SignerName,
				state, labels.FormatLabels(r.Spec.UnverifiedUserAnnotations)}
		},
	}
}

// networking.k8s.io/v1

func prIngressClassTable() *Table {
	spec := networkingv1.IngressClassSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("Controller", spec["controller"]), col("Parameters", spec["parameters"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			ic := obj.(*networkingv1.IngressClass)
			name := ic.Name
			if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
				name += " (default)"
			}
			params := "<none>"
			if p := ic.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []any{name, ic.Spec.Controller, params, age(ic.CreationTimestamp, now)}
		},
	}
}

func prIngressTable() *Table {
	spec := networkingv1.IngressSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Class", spec["ingressClassName"]),
			col("Hosts", "Hosts that incoming requests are matched against."),
			col("Address", "Addresses of the load balancer serving the ingress."),
			col("Ports", "Ports the ingress is exposed on."),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			in := obj.(*networkingv1.Ingress)
			const max = 3
			var hosts []string
			more := false
			for _, r := range in.Spec.Rules {
				if len(hosts) == max {
					more = true
				}
				if !more && r.Host != "" {
					hosts = append(hosts, r.Host)
				}
			}
			hostStr := strings.Join(hosts, ",")
			switch {
			case len(hosts) == 0:
				hostStr = "*"
			case more:
				hostStr = fmt.Sprintf("%s + %d more...", hostStr, len(in.Spec.Rules)-max)
			}
			seen := map[string]bool{}
			var addrs []string
			for _, lb := range in.Status.LoadBalancer.Ingress {
				a := lb.IP
				if a == "" {
					a = lb.Hostname
				}
				if a != "" && !seen[a] {
					seen[a] = true
					addrs = append(addrs, a)
				}
			}
			sort.Strings(addrs)
			ports := "80"
			if len(in.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []any{in.Name, prString(in.Spec.IngressClassName, "<none>"), hostStr, strings.Join(addrs, ","), ports,
				age(in.CreationTimestamp, now)}
		},
	}
}

func prIPAddressTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("ParentRef", networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"]),
		},
		// kube-apiserver v1.37 appends the age as a third cell with no
		// column; kubectl drops it, so we send the two cells the columns name.
		Cells: func(obj Object, now time.Time) []any {
			ip := obj.(*networkingv1.IPAddress)
			parent := "<none>"
			if p := ip.Spec.ParentRef; p != nil {
				gr := p.Resource
				if p.Group != "" {
					gr += "." + p.Group
				}
				parent = strings.ToLower(gr)
				if p.Namespace != "" {
					parent += "/" + p.Namespace
				}
				parent += "/" + p.Name
			}
			return []any{ip.Name, parent}
		},
	}
}

func prServiceCIDRTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("CIDRs", networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			c := obj.(*networkingv1.ServiceCIDR)
			return []any{c.Name, strings.Join(c.Spec.CIDRs, ","), age(c.CreationTimestamp, now)}
		},
	}
}

// policy/v1

func prPDBTable() *Table {
	spec := policyv1.PodDisruptionBudgetSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Min Available", spec["minAvailable"]),
			col("Max Unavailable", spec["maxUnavailable"]),
			prIntColumn("Allowed Disruptions", policyv1.PodDisruptionBudgetStatus{}.SwaggerDoc()["disruptionsAllowed"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			pdb := obj.(*policyv1.PodDisruptionBudget)
			minAvailable, maxUnavailable := "N/A", "N/A"
			if pdb.Spec.MinAvailable != nil {
				minAvailable = pdb.Spec.MinAvailable.String()
			}
			if pdb.Spec.MaxUnavailable != nil {
				maxUnavailable = pdb.Spec.MaxUnavailable.String()
			}
			return []any{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp, now)}
		},
	}
}

// storage.k8s.io/v1

func prCSIDriverTable() *Table {
	spec := storagev1.CSIDriverSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			prBoolColumn("AttachRequired", spec["attachRequired"]),
			prBoolColumn("PodInfoOnMount", spec["podInfoOnMount"]),
			prBoolColumn("StorageCapacity", spec["storageCapacity"]),
			col("TokenRequests", spec["tokenRequests"]),
			prBoolColumn("RequiresRepublish", spec["requiresRepublish"]),
			col("Modes", spec["volumeLifecycleModes"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			d := obj.(*storagev1.CSIDriver)
			tokens := "<unset>"
			if d.Spec.TokenRequests != nil {
				audiences := make([]string, 0, len(d.Spec.TokenRequests))
				for _, t := range d.Spec.TokenRequests {
					audiences = append(audiences, t.Audience)
				}
				tokens = strings.Join(audiences, ",")
			}
			modes := make([]string, 0, len(d.Spec.VolumeLifecycleModes))
			for _, m := range d.Spec.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			modeStr := strings.Join(modes, ",")
			if modeStr == "" {
				modeStr = "<none>"
			}
			return []any{d.Name, prBool(d.Spec.AttachRequired, true), prBool(d.Spec.PodInfoOnMount, false),
				prBool(d.Spec.StorageCapacity, false), tokens, prBool(d.Spec.RequiresRepublish, false), modeStr,
				age(d.CreationTimestamp, now)}
		},
	}
}

func prCSINodeTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), prIntColumn("Drivers", storagev1.CSINodeSpec{}.SwaggerDoc()["drivers"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			n := obj.(*storagev1.CSINode)
			return []any{n.Name, int64(len(n.Spec.Drivers)), age(n.CreationTimestamp, now)}
		},
	}
}

func prStorageClassTable() *Table {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Provisioner", doc["provisioner"]),
			col("ReclaimPolicy", doc["reclaimPolicy"]),
			col("VolumeBindingMode", doc["volumeBindingMode"]),
			col("AllowVolumeExpansion", doc["allowVolumeExpansion"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			sc := obj.(*storagev1.StorageClass)
			return []any{sc.Name, sc.Provisioner, prString(sc.ReclaimPolicy, string(corev1.PersistentVolumeReclaimDelete)),
				prString(sc.VolumeBindingMode, string(storagev1.VolumeBindingImmediate)), prBool(sc.AllowVolumeExpansion, false),
				age(sc.CreationTimestamp, now)}
		},
	}
}

func prVolumeAttachmentTable() *Table {
	spec := storagev1.VolumeAttachmentSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Attacher", Type: "string", Format: "name", Description: spec["attacher"]},
			col("PV", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]),
			col("Node", spec["nodeName"]),
			prBoolColumn("Attached", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			va := obj.(*storagev1.VolumeAttachment)
			return []any{va.Name, va.Spec.Attacher, prString(va.Spec.Source.PersistentVolumeName, ""), va.Spec.NodeName,
				va.Status.Attached, age(va.CreationTimestamp, now)}
		},
	}
}

func prVolumeAttributesClassTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("DriverName", storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			c := obj.(*storagev1.VolumeAttributesClass)
			return []any{c.Name, c.DriverName, age(c.CreationTimestamp, now)}
		},
	}
}

// admissionregistration.k8s.io/v1

func prWebhookConfigurationTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			prIntColumn("Webhooks", admissionregistrationv1.ValidatingWebhookConfiguration{}.SwaggerDoc()["webhooks"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			var n int
			switch c := obj.(type) {
			case *admissionregistrationv1.MutatingWebhookConfiguration:
				n = len(c.Webhooks)
			case *admissionregistrationv1.ValidatingWebhookConfiguration:
				n = len(c.Webhooks)
			}
			return []any{obj.GetName(), int64(n), age(obj.GetCreationTimestamp(), now)}
		},
	}
}

func prAdmissionPolicyTable(mutating bool) *Table {
	count := prIntColumn("Validations", admissionregistrationv1.ValidatingAdmissionPolicySpec{}.SwaggerDoc()["validations"])
	if mutating {
		count = prIntColumn("Mutations", admissionregistrationv1.MutatingAdmissionPolicySpec{}.SwaggerDoc()["mutations"])
	}
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), count,
			col("ParamKind", admissionregistrationv1.ValidatingAdmissionPolicySpec{}.SwaggerDoc()["paramKind"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			var n int
			var kind *admissionregistrationv1.ParamKind
			switch p := obj.(type) {
			case *admissionregistrationv1.ValidatingAdmissionPolicy:
				n, kind = len(p.Spec.Validations), p.Spec.ParamKind
			case *admissionregistrationv1.MutatingAdmissionPolicy:
				n, kind = len(p.Spec.Mutations), p.Spec.ParamKind
			}
			paramKind := "<unset>"
			if kind != nil {
				paramKind = kind.APIVersion + "/" + kind.Kind
			}
			return []any{obj.GetName(), int64(n), paramKind, age(obj.GetCreationTimestamp(), now)}
		},
	}
}

func prAdmissionPolicyBindingTable() *Table {
	spec := admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("PolicyName", spec["policyName"]), col("ParamRef", spec["paramRef"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			var policy string
			var ref *admissionregistrationv1.ParamRef
			switch b := obj.(type) {
			case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
				policy, ref = b.Spec.PolicyName, b.Spec.ParamRef
			case *admissionregistrationv1.MutatingAdmissionPolicyBinding:
				policy, ref = b.Spec.PolicyName, b.Spec.ParamRef
			}
			param := "<unset>"
			switch {
			case ref == nil:
			case ref.Name != "" && ref.Namespace != "":
				param = ref.Namespace + "/" + ref.Name
			case ref.Name != "":
				param = "*/" + ref.Name
			case ref.Selector != nil:
				param = "<invalid>"
				if sel, err := metav1.LabelSelectorAsSelector(ref.Selector); err == nil {
					param = sel.String()
				}
			}
			return []any{obj.GetName(), policy, param, age(obj.GetCreationTimestamp(), now)}
		},
	}
}

// scheduling.k8s.io/v1, node.k8s.io/v1, discovery.k8s.io/v1

func prPriorityClassTable() *Table {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			prIntColumn("Value", doc["value"]),
			prBoolColumn("Global-Default", doc["globalDefault"]),
			ageColumn(),
			col("PreemptionPolicy", doc["preemptionPolicy"]),
		},
		Cells: func(obj Object, now time.Time) []any {
			pc := obj.(*schedulingv1.PriorityClass)
			return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc.CreationTimestamp, now), prString(pc.PreemptionPolicy, "")}
		},
	}
}

func prRuntimeClassTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("Handler", nodev1.RuntimeClass{}.SwaggerDoc()["handler"]), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			rc := obj.(*nodev1.RuntimeClass)
			return []any{rc.Name, rc.Handler, age(rc.CreationTimestamp, now)}
		},
	}
}

func prEndpointSliceTable() *Table {
	doc := discoveryv1.EndpointSlice{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("AddressType", doc["addressType"]),
			col("Ports", doc["ports"]),
			col("Endpoints", doc["endpoints"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			es := obj.(*discoveryv1.EndpointSlice)
			const max = 3
			var ports []string
			for _, p := range es.Ports {
				if len(ports) == max {
					break
				}
				v := "*"
				switch {
				case p.Port != nil:
					v = strconv.Itoa(int(*p.Port))
				case p.Name != nil:
					v = *p.Name
				}
				ports = append(ports, v)
			}
			var addrs []string
			count := 0
			for _, e := range es.Endpoints {
				for _, a := range e.Addresses {
					if len(addrs) < max {
						addrs = append(addrs, a)
					}
					count++
				}
			}
			return []any{es.Name, string(es.AddressType), prLimited(ports, len(es.Ports) > max, len(es.Ports), max),
				prLimited(addrs, count > max, count, max), age(es.CreationTimestamp, now)}
		},
	}
}

// resource.k8s.io/v1

func prResourceClaimTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("State", "Whether the claim is pending, allocated, reserved or deleted."), ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			c := obj.(*resourcev1.ResourceClaim)
			var states []string
			switch {
			case c.DeletionTimestamp != nil:
				states = append(states, "deleted")
			case c.Status.Allocation == nil:
				states = append(states, "pending")
			}
			if c.Status.Allocation != nil {
				states = append(states, "allocated")
				if len(c.Status.ReservedFor) > 0 {
					states = append(states, "reserved")
				}
			}
			return []any{c.Name, strings.Join(states, ","), age(c.CreationTimestamp, now)}
		},
	}
}

func prResourceSliceTable() *Table {
	spec := resourcev1.ResourceSliceSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Node", spec["nodeName"]),
			col("Driver", spec["driver"]),
			col("Pool", resourcev1.ResourcePool{}.SwaggerDoc()["name"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			s := obj.(*resourcev1.ResourceSlice)
			return []any{s.Name, prString(s.Spec.NodeName, ""), s.Spec.Driver, s.Spec.Pool.Name, age(s.CreationTimestamp, now)}
		},
	}
}

func prDeviceTaintRuleTable() *Table {
	doc := resourcev1.DeviceTaint{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Key", doc["key"]),
			col("Value", doc["value"]),
			col("Effect", doc["effect"]),
			col("TimeAdded", doc["timeAdded"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			r := obj.(*resourcev1.DeviceTaintRule)
			t := r.Spec.Taint
			return []any{r.Name, t.Key, t.Value, string(t.Effect), prTimeSince(t.TimeAdded, now, ""), age(r.CreationTimestamp, now)}
		},
	}
}

// flowcontrol.apiserver.k8s.io/v1

func prFlowSchemaTable() *Table {
	spec := flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("PriorityLevel", spec["priorityLevelConfiguration"]),
			col("MatchingPrecedence", spec["matchingPrecedence"]),
			col("DistinguisherMethod", spec["distinguisherMethod"]),
			ageColumn(),
			col("MissingPL", "Whether the referenced priority level is missing (the Dangling condition)."),
		},
		Cells: func(obj Object, now time.Time) []any {
			fs := obj.(*flowcontrolv1.FlowSchema)
			method := "<none>"
			if fs.Spec.DistinguisherMethod != nil {
				method = string(fs.Spec.DistinguisherMethod.Type)
			}
			missing := "?"
			for _, c := range fs.Status.Conditions {
				if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
					missing = string(c.Status)
					break
				}
			}
			return []any{fs.Name, fs.Spec.PriorityLevelConfiguration.Name, int64(fs.Spec.MatchingPrecedence), method,
				age(fs.CreationTimestamp, now), missing}
		},
	}
}

func prPriorityLevelTable() *Table {
	queuing := flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Type", flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"]),
			col("NominalConcurrencyShares", flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()["nominalConcurrencyShares"]),
			col("Queues", queuing["queues"]),
			col("HandSize", queuing["handSize"]),
			col("QueueLengthLimit", queuing["queueLengthLimit"]),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			pl := obj.(*flowcontrolv1.PriorityLevelConfiguration)
			var shares, queues, handSize, lengthLimit any = "<none>", "<none>", "<none>", "<none>"
			if l := pl.Spec.Limited; l != nil {
				if l.NominalConcurrencyShares != nil {
					shares = int64(*l.NominalConcurrencyShares)
				}
				if q := l.LimitResponse.Queuing; q != nil {
					queues, handSize, lengthLimit = int64(q.Queues), int64(q.HandSize), int64(q.QueueLengthLimit)
				}
			}
			return []any{pl.Name, string(pl.Spec.Type), shares, queues, handSize, lengthLimit, age(pl.CreationTimestamp, now)}
		},
	}
}

// storagemigration.k8s.io/v1

func prStorageVersionMigrationTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Description: nameDescription},
			col("Resource", storagemigrationv1.StorageVersionMigrationSpec{}.SwaggerDoc()["resource"]),
			col("Status", "The latest condition of the migration that holds: Running, Succeeded or Failed."),
		},
		Cells: func(obj Object, _ time.Time) []any {
			m := obj.(*storagemigrationv1.StorageVersionMigration)
			res := m.Spec.Resource.Resource
			if m.Spec.Resource.Group != "" {
				res += "." + m.Spec.Resource.Group
			}
			status := "Unknown"
			for _, c := range m.Status.Conditions {
				if c.Status != metav1.ConditionTrue {
					continue
				}
				switch storagemigrationv1.MigrationConditionType(c.Type) {
				case storagemigrationv1.MigrationRunning, storagemigrationv1.MigrationFailed, storagemigrationv1.MigrationSucceeded:
					status = c.Type
				}
			}
			return []any{m.Name, res, status}
		},
	}
}

// core/v1

func prPVCTable() *Table {
	spec := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	status := corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", status["phase"]),
			col("Volume", spec["volumeName"]),
			col("Capacity", status["capacity"]),
			col("Access Modes", status["accessModes"]),
			col("StorageClass", spec["storageClassName"]),
			col("VolumeAttributesClass", spec["volumeAttributesClassName"]),
			ageColumn(),
			wide(col("VolumeMode", spec["volumeMode"])),
		},
		Cells: func(obj Object, now time.Time) []any {
			c := obj.(*corev1.PersistentVolumeClaim)
			phase := string(c.Status.Phase)
			if c.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			var capacity, modes string
			if c.Spec.VolumeName != "" {
				q := c.Status.Capacity[corev1.ResourceStorage]
				capacity = q.String()
				modes = prAccessModes(c.Status.AccessModes)
			}
			class, ok := c.Annotations[prBetaStorageClassAnnotation]
			if !ok {
				class = prString(c.Spec.StorageClassName, "")
			}
			return []any{c.Name, phase, c.Spec.VolumeName, capacity, modes, class,
				prString(c.Spec.VolumeAttributesClassName, "<unset>"), age(c.CreationTimestamp, now),
				prString(c.Spec.VolumeMode, "<unset>")}
		},
	}
}

func prPVTable() *Table {
	spec := corev1.PersistentVolumeSpec{}.SwaggerDoc()
	status := corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Capacity", spec["capacity"]),
			col("Access Modes", spec["accessModes"]),
			col("Reclaim Policy", spec["persistentVolumeReclaimPolicy"]),
			col("Status", status["phase"]),
			col("Claim", spec["claimRef"]),
			col("StorageClass", spec["storageClassName"]),
			col("VolumeAttributesClass", spec["volumeAttributesClassName"]),
			col("Reason", status["reason"]),
			ageColumn(),
			wide(col("VolumeMode", spec["volumeMode"])),
		},
		Cells: func(obj Object, now time.Time) []any {
			pv := obj.(*corev1.PersistentVolume)
			q := pv.Spec.Capacity[corev1.ResourceStorage]
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			claim := ""
			if r := pv.Spec.ClaimRef; r != nil {
				claim = r.Namespace + "/" + r.Name
			}
			class, ok := pv.Annotations[prBetaStorageClassAnnotation]
			if !ok {
				class = pv.Spec.StorageClassName
			}
			return []any{pv.Name, q.String(), prAccessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
				phase, claim, class, prString(pv.Spec.VolumeAttributesClassName, "<unset>"), pv.Status.Reason,
				age(pv.CreationTimestamp, now), prString(pv.Spec.VolumeMode, "<unset>")}
		},
	}
}

func prPodTemplateTable() *Table {
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{nameColumn()},
			[]metav1.TableColumnDefinition{
				col("Containers", "Names of the containers in the pod template."),
				col("Images", "Images of the containers in the pod template."),
				col("Pod Labels", "Labels of the pods created from the template."),
			}),
		Cells: func(obj Object, _ time.Time) []any {
			pt := obj.(*corev1.PodTemplate)
			names, images := prContainers(&pt.Template.Spec)
			return []any{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
		},
	}
}

func prReplicationControllerTable() *Table {
	spec, status := corev1.ReplicationControllerSpec{}.SwaggerDoc(), corev1.ReplicationControllerStatus{}.SwaggerDoc()
	return &Table{
		Columns: prColumns([]metav1.TableColumnDefinition{
			nameColumn(),
			prIntColumn("Desired", spec["replicas"]),
			prIntColumn("Current", status["replicas"]),
			prIntColumn("Ready", status["readyReplicas"]),
			ageColumn(),
		}, prTemplateColumns(), []metav1.TableColumnDefinition{wide(col("Selector", spec["selector"]))}),
		Cells: func(obj Object, now time.Time) []any {
			rc := obj.(*corev1.ReplicationController)
			var names, images string
			if rc.Spec.Template != nil {
				names, images = prContainers(&rc.Spec.Template.Spec)
			}
			return []any{rc.Name, prInt32(rc.Spec.Replicas), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
				age(rc.CreationTimestamp, now), names, images, labels.FormatLabels(rc.Spec.Selector)}
		},
	}
}

func prComponentStatusTable() *Table {
	cond := corev1.ComponentCondition{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Status", cond["status"]),
			col("Message", cond["message"]),
			col("Error", cond["error"]),
		},
		Cells: func(obj Object, _ time.Time) []any {
			cs := obj.(*corev1.ComponentStatus)
			status, message, errText := "Unknown", "", ""
			for _, c := range cs.Conditions {
				if c.Type != corev1.ComponentHealthy {
					continue
				}
				status = "Unhealthy"
				if c.Status == corev1.ConditionTrue {
					status = "Healthy"
				}
				message, errText = c.Message, c.Error
				break
			}
			return []any{cs.Name, status, message, errText}
		},
	}
}

// prAPIServiceTable prints where an aggregated API is served and whether it
// is available, as kube-aggregator does.
func prAPIServiceTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			col("Service", "The reference to the service that hosts this API endpoint."),
			col("Available", "Whether this service is available."),
			ageColumn(),
		},
		Cells: func(obj Object, now time.Time) []any {
			svc := obj.(*apiregistrationv1.APIService)
			service := "Local"
			if ref := svc.Spec.Service; ref != nil {
				service = ref.Namespace + "/" + ref.Name
			}
			available := string(apiregistrationv1.ConditionUnknown)
			for _, c := range svc.Status.Conditions {
				if c.Type != apiregistrationv1.Available {
					continue
				}
				available = string(c.Status)
				if c.Status != apiregistrationv1.ConditionTrue && c.Reason != "" {
					available = fmt.Sprintf("%s (%s)", c.Status, c.Reason)
				}
				break
			}
			return []any{svc.Name, service, available, age(svc.CreationTimestamp, now)}
		},
	}
}
