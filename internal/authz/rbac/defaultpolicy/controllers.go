package defaultpolicy

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// controllerPrefix starts the name of every controller role; the rest of
// the name is the controller's service account in kube-system.
const controllerPrefix = "system:controller:"

// controllerTable lists each kube-controller-manager controller and its
// rules, in name order (the order of controller-roles.yaml).
var controllerTable = []struct {
	name  string
	rules func() []ruleBuilder
}{
	{"attachdetach-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("list", "watch").groups(core).resources("persistentvolumes", "persistentvolumeclaims"),
			rule(read...).groups(core).resources("nodes"),
			rule("patch", "update").groups(core).resources("nodes/status"),
			rule("list", "watch").groups(core).resources("pods"),
			eventsRule(),
			rule("get", "create", "delete", "list", "watch").groups(storage).resources("volumeattachments"),
			rule(read...).groups(storage).resources("csidrivers"),
			rule(read...).groups(storage).resources("csinodes"),
		}
	}},
	{"certificate-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "delete").groups(certificates).resources("certificatesigningrequests"),
			rule("update").groups(certificates).resources("certificatesigningrequests/status", "certificatesigningrequests/approval"),
			rule("approve").groups(certificates).resources("signers").names("kubernetes.io/kube-apiserver-client-kubelet"),
			rule("sign").groups(certificates).resources("signers").names(
				"kubernetes.io/legacy-unknown",
				"kubernetes.io/kube-apiserver-client",
				"kubernetes.io/kube-apiserver-client-kubelet",
				"kubernetes.io/kubelet-serving",
			),
			rule("create").groups(authz).resources("subjectaccessreviews"),
			eventsRule(),
		}
	}},
	{"clusterrole-aggregation-controller", func() []ruleBuilder {
		return []ruleBuilder{
			// It rewrites any cluster role's rules, so it may escalate.
			rule("escalate", "get", "list", "watch", "update", "patch").groups(rbacGroup).resources("clusterroles"),
		}
	}},
	{"cronjob-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update").groups(batch).resources("cronjobs"),
			rule("get", "list", "watch", "create", "update", "delete", "patch").groups(batch).resources("jobs"),
			rule("update").groups(batch).resources("cronjobs/status"),
			rule("update").groups(batch).resources("cronjobs/finalizers"),
			rule("list", "watch", "delete").groups(core).resources("pods"),
			eventsRule(),
		}
	}},
	{"daemon-set-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(extensions, apps).resources("daemonsets"),
			rule("update").groups(extensions, apps).resources("daemonsets/status"),
			rule("update").groups(extensions, apps).resources("daemonsets/finalizers"),
			rule("list", "watch").groups(core).resources("nodes"),
			rule("list", "watch", "create", "delete", "patch").groups(core).resources("pods"),
			rule("create").groups(core).resources("pods/binding"),
			rule("get", "list", "watch", "create", "delete", "update", "patch").groups(apps).resources("controllerrevisions"),
			eventsRule(),
		}
	}},
	{"deployment-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update").groups(extensions, apps).resources("deployments"),
			rule("update").groups(extensions, apps).resources("deployments/status"),
			rule("update").groups(extensions, apps).resources("deployments/finalizers"),
			rule("get", "list", "watch", "create", "update", "patch", "delete").groups(apps, extensions).resources("replicasets"),
			rule("get", "list", "watch", "update").groups(core).resources("pods"),
			eventsRule(),
		}
	}},
	{"device-taint-eviction-controller", func() []ruleBuilder {
		return []ruleBuilder{
			// It evicts pods by deleting them and records why on them.
			rule("get", "list", "watch", "delete").groups(core).resources("pods"),
			rule("update", "patch").groups(core).resources("pods/status"),
			rule(read...).groups(resourceGroup).resources("resourceclaims"),
			rule(read...).groups(resourceGroup).resources("resourceslices"),
			rule(read...).groups(resourceGroup).resources("deviceclasses"),
			eventsRule(),
			// The taint rules it applies, and their status.
			rule("update", "patch").groups(resourceGroup).resources("devicetaintrules/status"),
			rule(read...).groups(resourceGroup).resources("devicetaintrules"),
		}
	}},
	{"disruption-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(extensions, apps).resources("deployments"),
			rule(read...).groups(apps, extensions).resources("replicasets"),
			rule(read...).groups(core).resources("replicationcontrollers"),
			rule(read...).groups(policyGroup).resources("poddisruptionbudgets"),
			rule(read...).groups(apps).resources("statefulsets"),
			rule("update").groups(policyGroup).resources("poddisruptionbudgets/status"),
			rule("patch", "update").groups(core).resources("pods/status"),
			rule("get").groups(anyGroup).resources("*/scale"),
			eventsRule(),
		}
	}},
	{"endpoint-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("services", "pods"),
			rule("get", "list", "watch", "create", "update", "delete").groups(core).resources("endpoints"),
			rule("create").groups(core).resources("endpoints/restricted"),
			eventsRule(),
		}
	}},
	{"endpointslice-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("services", "pods", "nodes"),
			// Owner references with blockOwnerDeletion need the owner's finalizers.
			rule("update").groups(core).resources("services/finalizers"),
			rule("get", "list", "watch", "create", "update", "delete").groups(discovery).resources("endpointslices"),
			eventsRule(),
		}
	}},
	{"endpointslicemirroring-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("services", "endpoints"),
			rule("update").groups(core).resources("services/finalizers"),
			rule("update").groups(core).resources("endpoints/finalizers"),
			rule("get", "list", "watch", "create", "update", "delete").groups(discovery).resources("endpointslices"),
			eventsRule(),
		}
	}},
	{"ephemeral-volume-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("pods"),
			rule("update").groups(core).resources("pods/finalizers"),
			rule("get", "list", "watch", "create").groups(core).resources("persistentvolumeclaims"),
			eventsRule(),
		}
	}},
	{"expand-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update", "patch").groups(core).resources("persistentvolumes"),
			rule("update", "patch").groups(core).resources("persistentvolumeclaims/status"),
			rule(read...).groups(core).resources("persistentvolumeclaims"),
			eventsRule(),
		}
	}},
	{"generic-garbage-collector", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "patch", "update", "delete").groups(anyGroup).resources("*"),
			eventsRule(),
		}
	}},
	{"horizontal-pod-autoscaler", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(autoscaling).resources("horizontalpodautoscalers"),
			rule("update").groups(autoscaling).resources("horizontalpodautoscalers/status"),
			rule("get", "update").groups(anyGroup).resources("*/scale"),
			rule("list", "watch").groups(core).resources("pods"),
			// Resource, custom and external metrics.
			rule("list", "watch").groups(metricsGroup).resources("pods"),
			rule(read...).groups(customMetrics).resources("*"),
			rule(read...).groups(extMetrics).resources("*"),
			eventsRule(),
		}
	}},
	{"job-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update", "patch").groups(batch).resources("jobs"),
			rule("update").groups(batch).resources("jobs/status"),
			rule("update").groups(batch).resources("jobs/finalizers"),
			rule("list", "watch", "create", "delete", "patch").groups(core).resources("pods"),
			eventsRule(),
		}
	}},
	{"kube-apiserver-serving-clustertrustbundle-publisher", func() []ruleBuilder {
		return []ruleBuilder{
			// It publishes the serving CA as the signer's trust bundle.
			rule("attest").groups(certificates).resources("signers").names("kubernetes.io/kube-apiserver-serving"),
			rule("create", "update", "delete", "list", "watch").groups(certificates).resources("clustertrustbundles"),
			eventsRule(),
		}
	}},
	{"legacy-service-account-token-cleaner", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get").groups(core).resources("configmaps").names("kube-apiserver-legacy-service-account-token-tracking"),
			rule("delete", "patch").groups(core).resources("secrets"),
		}
	}},
	{"namespace-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "delete").groups(core).resources("namespaces"),
			rule("update").groups(core).resources("namespaces/finalize", "namespaces/status"),
			rule("get", "list", "delete", "deletecollection", "watch").groups(anyGroup).resources("*"),
		}
	}},
	{"node-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "update", "delete", "patch", "watch").groups(core).resources("nodes"),
			rule("patch", "update").groups(core).resources("nodes/status"),
			rule("patch", "update").groups(core).resources("pods/status"),
			rule("list", "get", "delete", "watch").groups(core).resources("pods"),
			// Node leases tell it whether a node's kubelet is alive.
			rule(read...).groups(coordination).resources("leases"),
			eventsRule(),
		}
	}},
	{"persistent-volume-binder", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update", "create", "delete").groups(core).resources("persistentvolumes"),
			rule("update").groups(core).resources("persistentvolumes/status"),
			rule("get", "list", "watch", "update").groups(core).resources("persistentvolumeclaims"),
			rule("update").groups(core).resources("persistentvolumeclaims/status"),
			rule("list", "watch", "get", "create", "delete").groups(core).resources("pods"),
			rule(read...).groups(storage).resources("storageclasses"),
			rule("list", "watch").groups(core).resources("nodes"),
			eventsRule(),
			rule("watch").groups(core).resources("events"),
		}
	}},
	{"pod-garbage-collector", func() []ruleBuilder {
		return []ruleBuilder{
			rule("list", "watch", "delete").groups(core).resources("pods"),
			rule(read...).groups(core).resources("nodes"),
			rule("patch").groups(core).resources("pods/status"),
		}
	}},
	{"podcertificaterequestcleaner", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "delete").groups(certificates).resources("podcertificaterequests"),
		}
	}},
	{"pv-protection-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update").groups(core).resources("persistentvolumes"),
			eventsRule(),
		}
	}},
	{"pvc-protection-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update").groups(core).resources("persistentvolumeclaims"),
			rule("update").groups(core).resources("persistentvolumeclaims/status"),
			rule(read...).groups(core).resources("pods"),
			eventsRule(),
		}
	}},
	{"replicaset-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update").groups(apps, extensions).resources("replicasets"),
			rule("update").groups(apps, extensions).resources("replicasets/status"),
			rule("update").groups(apps, extensions).resources("replicasets/finalizers"),
			rule("list", "watch", "patch", "create", "delete").groups(core).resources("pods"),
			eventsRule(),
		}
	}},
	{"replication-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "update").groups(core).resources("replicationcontrollers"),
			rule("update").groups(core).resources("replicationcontrollers/status"),
			rule("update").groups(core).resources("replicationcontrollers/finalizers"),
			rule("list", "watch", "patch", "create", "delete").groups(core).resources("pods"),
			eventsRule(),
		}
	}},
	{"resource-claim-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("pods"),
			rule("update").groups(core).resources("pods/finalizers"),
			rule("get", "list", "watch", "create", "delete").groups(resourceGroup).resources("resourceclaims"),
			rule("update", "patch").groups(resourceGroup).resources("resourceclaims", "resourceclaims/status"),
			rule("update", "patch").groups(core).resources("pods/status"),
			eventsRule(),
			// Granular status authorization of claim allocation.
			rule("update", "patch").groups(resourceGroup).resources("resourceclaims/binding"),
		}
	}},
	{"resourcequota-controller", func() []ruleBuilder {
		return []ruleBuilder{
			// Quota counts objects of every kind.
			rule("list", "watch").groups(anyGroup).resources("*"),
			rule("update").groups(core).resources("resourcequotas/status"),
			eventsRule(),
		}
	}},
	{"root-ca-cert-publisher", func() []ruleBuilder {
		return []ruleBuilder{
			rule("create", "update").groups(core).resources("configmaps"),
			eventsRule(),
		}
	}},
	{"route-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("list", "watch").groups(core).resources("nodes"),
			rule("patch").groups(core).resources("nodes/status"),
			eventsRule(),
		}
	}},
	{"selinux-warning-controller", func() []ruleBuilder {
		return []ruleBuilder{
			eventsRule(),
			rule(read...).groups(core).resources("persistentvolumes"),
			rule(read...).groups(core).resources("persistentvolumeclaims"),
			rule(read...).groups(core).resources("pods"),
			rule(read...).groups(storage).resources("csidrivers"),
		}
	}},
	{"service-account-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("create").groups(core).resources("serviceaccounts"),
			eventsRule(),
		}
	}},
	{"service-cidrs-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "patch", "update").groups(networking).resources("servicecidrs"),
			rule("patch", "update").groups(networking).resources("servicecidrs/finalizers"),
			rule("patch", "update").groups(networking).resources("servicecidrs/status"),
			rule(read...).groups(networking).resources("ipaddresses"),
			eventsRule(),
		}
	}},
	{"service-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("services"),
			rule("patch", "update").groups(core).resources("services/status"),
			rule("list", "watch").groups(core).resources("nodes"),
			eventsRule(),
		}
	}},
	{"statefulset-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("list", "watch").groups(core).resources("pods"),
			rule(read...).groups(apps).resources("statefulsets"),
			rule("update").groups(apps).resources("statefulsets/status"),
			rule("update").groups(apps).resources("statefulsets/finalizers"),
			rule("get", "create", "delete", "update", "patch").groups(core).resources("pods"),
			rule("get", "create", "delete", "update", "patch", "list", "watch").groups(apps).resources("controllerrevisions"),
			rule("get", "create", "list", "watch").groups(core).resources("persistentvolumeclaims"),
			// Claim retention policy.
			rule("update", "delete").groups(core).resources("persistentvolumeclaims"),
			rule("update").groups(core).resources("pods/finalizers"),
			eventsRule(),
		}
	}},
	{"storage-version-migrator-controller", func() []ruleBuilder {
		return []ruleBuilder{
			// It rewrites every object of a resource in place.
			rule("list", "patch").groups(anyGroup).resources("*"),
			rule("get").groups("apiextensions.k8s.io").resources("customresourcedefinitions"),
			rule("patch").groups("apiextensions.k8s.io").resources("customresourcedefinitions/status"),
			rule("update").groups("storagemigration.k8s.io").resources("storageversionmigrations/status"),
		}
	}},
	{"ttl-after-finished-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("get", "list", "watch", "delete").groups(batch).resources("jobs"),
			eventsRule(),
		}
	}},
	{"ttl-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule("update", "patch", "list", "watch").groups(core).resources("nodes"),
			eventsRule(),
		}
	}},
	{"validatingadmissionpolicy-status-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(admissionreg).resources("validatingadmissionpolicies"),
			rule("get", "patch", "update").groups(admissionreg).resources("validatingadmissionpolicies/status"),
			eventsRule(),
		}
	}},
	{"volumeattributesclass-protection-controller", func() []ruleBuilder {
		return []ruleBuilder{
			rule(read...).groups(core).resources("persistentvolumeclaims"),
			rule(read...).groups(core).resources("persistentvolumes"),
			rule("get", "list", "watch", "update").groups(storage).resources("volumeattributesclasses"),
			eventsRule(),
		}
	}},
}

// controllerRoles returns the roles of controller-roles.yaml and, for each,
// the binding of controller-role-bindings.yaml to the controller's service
// account.
func controllerRoles() ([]rbacv1.ClusterRole, []rbacv1.ClusterRoleBinding) {
	roles := make([]rbacv1.ClusterRole, 0, len(controllerTable))
	bindings := make([]rbacv1.ClusterRoleBinding, 0, len(controllerTable))
	for _, c := range controllerTable {
		name := controllerPrefix + c.name
		roles = append(roles, clusterRole(name, c.rules()...))
		bindings = append(bindings, clusterBinding(name, serviceAccount(kubeSystem, strings.TrimPrefix(name, controllerPrefix))))
	}
	return roles, bindings
}
