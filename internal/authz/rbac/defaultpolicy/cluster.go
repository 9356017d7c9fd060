package defaultpolicy

import rbacv1 "k8s.io/api/rbac/v1"

// nodeRules are the rules of system:node.
func nodeRules() []rbacv1.PolicyRule {
	return rules(
		// API access checks (these creates mutate nothing).
		rule("create").groups(authn).resources("tokenreviews"),
		rule("create").groups(authz).resources("subjectaccessreviews", "localsubjectaccessreviews"),
		// Service environment variables for pods.
		rule(read...).groups(core).resources("services"),
		// Self-registration and status.
		rule("create", "get", "list", "watch").groups(core).resources("nodes"),
		rule("update", "patch").groups(core).resources("nodes/status"),
		rule("update", "patch").groups(core).resources("nodes"),
		eventsRule(),
		// Pods bound to the node, and mirror pods.
		rule(read...).groups(core).resources("pods"),
		rule("create", "delete").groups(core).resources("pods"),
		rule("update", "patch").groups(core).resources("pods/status"),
		rule("create").groups(core).resources("pods/eviction"),
		// What pods reference.
		rule(read...).groups(core).resources("secrets", "configmaps"),
		rule("get").groups(core).resources("persistentvolumeclaims", "persistentvolumes"),
		rule("get").groups(core).resources("endpoints"),
		// Client and serving certificates.
		rule("create", "get", "list", "watch").groups(certificates).resources("certificatesigningrequests"),
		// Node heartbeat leases.
		rule("get", "create", "update", "patch", "delete").groups(coordination).resources("leases"),
		rule("get").groups(storage).resources("volumeattachments"),
		rule("create").groups(core).resources("serviceaccounts/token"),
		// Volume expansion on the node.
		rule("get", "update", "patch").groups(core).resources("persistentvolumeclaims/status"),
		rule(read...).groups(storage).resources("csidrivers"),
		rule("get", "create", "update", "patch", "delete").groups(storage).resources("csinodes"),
		rule(read...).groups(nodeGroup).resources("runtimeclasses"),
		// Dynamic resource allocation.
		rule("get").groups(resourceGroup).resources("resourceclaims"),
		rule("deletecollection").groups(resourceGroup).resources("resourceslices"),
		// Trust bundles projected into pods.
		rule(read...).groups(certificates).resources("clustertrustbundles"),
		// Service account tokens for image credential providers.
		rule("get").groups(core).resources("serviceaccounts"),
		// Pod certificates the kubelet requests for its pods.
		rule("create", "get", "list", "watch").groups(certificates).resources("podcertificaterequests"),
	)
}

// clusterRoles are the roles of cluster-roles.yaml, in its (name) order.
func clusterRoles() []rbacv1.ClusterRole {
	approver := func(signer string) ruleBuilder {
		return rule("approve").groups(certificates).resources("signers").names(signer)
	}
	return []rbacv1.ClusterRole{
		aggregatedRole("admin", aggregateToAdmin),
		// The root role: anything at all.
		clusterRole("cluster-admin",
			rule("*").groups("*").resources("*"),
			rule("*").urls("*"),
		),
		labelled(aggregatedRole("edit", aggregateToEdit), aggregateToAdmin),

		labelled(clusterRole("system:aggregate-to-admin",
			rule("create").groups(authz).resources("localsubjectaccessreviews"),
			rule(readWrite...).groups(rbacGroup).resources("roles", "rolebindings"),
		), aggregateToAdmin),

		labelled(clusterRole("system:aggregate-to-edit",
			// Reading secrets and the escalating pod/service subresources.
			rule(read...).groups(core).resources("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
			rule("impersonate").groups(core).resources("serviceaccounts"),
			rule(modify...).groups(core).resources("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
			rule("create").groups(core).resources("pods/eviction"),
			rule(modify...).groups(core).resources("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets"),
			rule("create").groups(core).resources("serviceaccounts/token"),
			rule(modify...).groups(core, eventsGroup).resources("events"),
			rule(modify...).groups(apps).resources("statefulsets", "statefulsets/scale", "daemonsets",
				"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"),
			rule(modify...).groups(autoscaling).resources("horizontalpodautoscalers"),
			rule(modify...).groups(batch).resources("jobs", "cronjobs"),
			rule(modify...).groups(extensions).resources("daemonsets", "deployments", "deployments/scale", "deployments/rollback",
				"ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"),
			rule(modify...).groups(policyGroup).resources("poddisruptionbudgets"),
			rule(modify...).groups(networking).resources("networkpolicies", "ingresses"),
			rule(readWrite...).groups(coordination).resources("leases"),
			rule(modify...).groups(resourceGroup).resources("resourceclaims", "resourceclaimtemplates"),
		), aggregateToEdit),

		labelled(clusterRole("system:aggregate-to-view",
			rule(read...).groups(core).resources("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
			rule(read...).groups(core).resources("limitranges", "resourcequotas", "bindings", "pods/status",
				"resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
			// Reading namespaces at namespace scope means reading that one.
			rule(read...).groups(core).resources("namespaces"),
			rule(read...).groups(core, eventsGroup).resources("events"),
			rule(read...).groups(discovery).resources("endpointslices"),
			rule(read...).groups(apps).resources("controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
				"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
				"replicasets", "replicasets/status", "replicasets/scale"),
			rule(read...).groups(autoscaling).resources("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			rule(read...).groups(batch).resources("jobs", "cronjobs", "cronjobs/status", "jobs/status"),
			rule(read...).groups(extensions).resources("daemonsets", "daemonsets/status", "deployments", "deployments/scale",
				"deployments/status", "ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status",
				"replicationcontrollers/scale", "networkpolicies"),
			rule(read...).groups(policyGroup).resources("poddisruptionbudgets", "poddisruptionbudgets/status"),
			rule(read...).groups(networking).resources("networkpolicies", "ingresses", "ingresses/status"),
			rule(read...).groups(resourceGroup).resources("resourceclaims", "resourceclaims/status", "resourceclaimtemplates"),
		), aggregateToView),

		// Delegated authentication and authorization for extension servers.
		clusterRole("system:auth-delegator",
			rule("create").groups(authn).resources("tokenreviews"),
			rule("create").groups(authz).resources("subjectaccessreviews"),
		),
		// What any user may ask about itself.
		clusterRole("system:basic-user",
			rule("create").groups(authz).resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule("create").groups(authn).resources("selfsubjectreviews"),
		),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
			rule("create").groups(certificates).resources("certificatesigningrequests/nodeclient"),
		),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
			rule("create").groups(certificates).resources("certificatesigningrequests/selfnodeclient"),
		),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-approver", approver("kubernetes.io/kube-apiserver-client")),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", approver("kubernetes.io/kube-apiserver-client-kubelet")),
		clusterRole("system:certificates.k8s.io:kubelet-serving-approver", approver("kubernetes.io/kubelet-serving")),
		clusterRole("system:certificates.k8s.io:legacy-unknown-approver", approver("kubernetes.io/legacy-unknown")),
		// Enough to negotiate API versions.
		// Every service account may read the trust bundles that pods
		// project (the kube-apiserver serving CA among them).
		clusterRole("system:cluster-trust-bundle-discovery",
			rule(read...).groups(certificates).resources("clustertrustbundles"),
		),
		clusterRole("system:discovery",
			rule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"),
		),
		clusterRole("system:heapster",
			rule(read...).groups(core).resources("events", "pods", "nodes", "namespaces"),
			rule(read...).groups(extensions).resources("deployments"),
		),
		clusterRole("system:kube-aggregator",
			rule(read...).groups(core).resources("services", "endpoints"),
		),
		clusterRole("system:kube-controller-manager",
			eventsRule(),
			// Leader election.
			rule("create").groups(coordination).resources("leases"),
			rule("get", "update").groups(coordination).resources("leases").names("kube-controller-manager"),
			// Per-controller credentials.
			rule("create").groups(core).resources("secrets", "serviceaccounts"),
			rule("delete").groups(core).resources("secrets"),
			rule("get").groups(core).resources("namespaces", "secrets", "serviceaccounts", "configmaps"),
			rule("update").groups(core).resources("secrets", "serviceaccounts"),
			// Delegated authentication and authorization.
			rule("create").groups(authn).resources("tokenreviews"),
			rule("create").groups(authz).resources("subjectaccessreviews"),
			// Shared informers.
			rule("list", "watch").groups("*").resources("*"),
			rule("create").groups(core).resources("serviceaccounts/token"),
		),
		clusterRole("system:kube-dns",
			rule("list", "watch").groups(core).resources("endpoints", "services"),
		),
		clusterRole("system:kube-scheduler",
			eventsRule(),
			// Leader election, including coordinated leader election.
			rule("create").groups(coordination).resources("leases"),
			rule("get", "update", "list", "watch").groups(coordination).resources("leases").names("kube-scheduler"),
			rule(readWrite...).groups(coordination).resources("leasecandidates"),
			// Scheduling itself.
			rule(read...).groups(core).resources("nodes"),
			rule("get", "list", "watch", "delete").groups(core).resources("pods"),
			rule("create").groups(core).resources("pods/binding", "bindings"),
			rule("patch", "update").groups(core).resources("pods/status"),
			// What the default plugins look at.
			rule(read...).groups(core).resources("replicationcontrollers", "services"),
			rule(read...).groups(apps, extensions).resources("replicasets"),
			rule(read...).groups(apps).resources("statefulsets"),
			rule(read...).groups(policyGroup).resources("poddisruptionbudgets"),
			rule(read...).groups(core).resources("persistentvolumeclaims", "persistentvolumes"),
			// Delegated authentication and authorization.
			rule("create").groups(authn).resources("tokenreviews"),
			rule("create").groups(authz).resources("subjectaccessreviews"),
			// Volume scheduling.
			rule(read...).groups(storage).resources("csinodes"),
			rule(read...).groups(storage).resources("volumeattachments"),
			rule(read...).groups(core).resources("namespaces"),
			rule(read...).groups(storage).resources("csidrivers"),
			rule(read...).groups(storage).resources("csistoragecapacities"),
			// Dynamic resource allocation.
			rule(read...).groups(resourceGroup).resources("deviceclasses"),
			rule("get", "list", "watch", "update", "patch").groups(resourceGroup).resources("resourceclaims"),
			rule("get", "list", "watch", "update", "patch").groups(resourceGroup).resources("resourceclaims/status"),
			rule("update").groups(core).resources("pods/finalizers"),
			rule(read...).groups(resourceGroup).resources("resourceslices"),
			// Claims the scheduler makes for extended resources backed by DRA.
			rule("create", "delete").groups(resourceGroup).resources("resourceclaims"),
			// Device taints the scheduler must respect.
			rule(read...).groups(resourceGroup).resources("devicetaintrules"),
			// Granular status authorization: writing a claim's allocation
			// and reservedFor takes this synthetic subresource too.
			rule("update", "patch").groups(resourceGroup).resources("resourceclaims/binding"),
		),
		clusterRole("system:kubelet-api-admin",
			rule(read...).groups(core).resources("nodes"),
			rule("proxy").groups(core).resources("nodes"),
			rule("*").groups(core).resources("nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"),
			rule("*").groups(core).resources("nodes/configz", "nodes/healthz", "nodes/pods"),
		),
		// Health, metrics and status endpoints.
		clusterRole("system:monitoring",
			rule("get").urls("/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz",
				"/livez/*", "/readyz/*", "/healthz/*", "/statusz", "/flagz"),
			rule("get").groups(core).resources("nodes/metrics"),
		),
		{ObjectMeta: defaultMeta("", "system:node"), Rules: nodeRules()},
		clusterRole("system:node-bootstrapper",
			rule("create", "get", "list", "watch").groups(certificates).resources("certificatesigningrequests"),
		),
		clusterRole("system:node-problem-detector",
			rule("get").groups(core).resources("nodes"),
			rule("patch").groups(core).resources("nodes/status"),
			eventsRule(),
		),
		clusterRole("system:node-proxier",
			rule("list", "watch").groups(core).resources("services", "endpoints"),
			rule(read...).groups(core).resources("nodes"),
			eventsRule(),
			rule("list", "watch").groups(networking).resources("servicecidrs"),
			rule("list", "watch").groups(discovery).resources("endpointslices"),
		),
		clusterRole("system:persistent-volume-provisioner",
			rule("get", "list", "watch", "create", "delete").groups(core).resources("persistentvolumes"),
			// update is for the annotation the provisioner sets on the claim.
			rule("get", "list", "watch", "update").groups(core).resources("persistentvolumeclaims"),
			rule(read...).groups(storage).resources("storageclasses"),
			rule("watch").groups(core).resources("events"),
			eventsRule(),
		),
		// Public facts about the cluster, open to everyone.
		clusterRole("system:public-info-viewer",
			rule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/"),
		),
		clusterRole("system:service-account-issuer-discovery",
			rule("get").urls("/.well-known/openid-configuration", "/.well-known/openid-configuration/",
				"/openid/v1/jwks", "/openid/v1/jwks/"),
		),
		clusterRole("system:volume-scheduler",
			rule("get", "list", "watch", "update", "patch").groups(core).resources("persistentvolumes"),
			rule(read...).groups(storage).resources("storageclasses"),
			rule("get", "list", "watch", "update", "patch").groups(core).resources("persistentvolumeclaims"),
		),
		labelled(aggregatedRole("view", aggregateToView), aggregateToEdit),
	}
}

// clusterRoleBindings are the bindings of cluster-role-bindings.yaml.
func clusterRoleBindings() []rbacv1.ClusterRoleBinding {
	everyone := groups("system:authenticated", "system:unauthenticated")
	scheduler := rbacv1.ClusterRoleBinding{
		ObjectMeta: defaultMeta("", "system:volume-scheduler"),
		RoleRef:    clusterRoleRef("system:volume-scheduler"),
		Subjects:   users("system:kube-scheduler"),
	}
	return []rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", groups("system:masters")),
		clusterBinding("system:basic-user", groups("system:authenticated")),
		clusterBinding("system:cluster-trust-bundle-discovery", groups("system:serviceaccounts")),
		clusterBinding("system:discovery", groups("system:authenticated")),
		clusterBinding("system:kube-controller-manager", users("system:kube-controller-manager")),
		clusterBinding("system:kube-dns", serviceAccount(kubeSystem, "kube-dns")),
		clusterBinding("system:kube-scheduler", users("system:kube-scheduler")),
		clusterBinding("system:monitoring", groups("system:monitoring")),
		// No subjects: nodes get their access from the Node authorizer.
		// An existing binding keeps whatever subjects it was given.
		clusterBinding("system:node"),
		clusterBinding("system:node-proxier", users("system:kube-proxy")),
		clusterBinding("system:public-info-viewer", everyone),
		clusterBinding("system:service-account-issuer-discovery", groups("system:serviceaccounts")),
		scheduler,
	}
}
