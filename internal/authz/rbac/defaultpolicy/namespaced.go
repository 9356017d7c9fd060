package defaultpolicy

import rbacv1 "k8s.io/api/rbac/v1"

// namespacedRoles are the roles of namespace-roles.yaml, ordered by
// namespace and then name.
func namespacedRoles() []rbacv1.Role {
	leaderLocking := func(component string) rbacv1.Role {
		return namespacedRole(kubeSystem, "system::leader-locking-"+component,
			rule("watch", "get", "list", "create", "update").groups(coordination).resources("leases"),
			rule("watch", "get", "list", "create", "update").groups(coordination).resources("leasecandidates"),
		)
	}
	return []rbacv1.Role{
		// Publishes the signed cluster-info ConfigMap.
		namespacedRole(kubePublic, "system:controller:bootstrap-signer",
			rule(read...).groups(core).resources("configmaps"),
			rule("update").groups(core).resources("configmaps").names("cluster-info"),
			eventsRule(),
		),
		// Extension API servers read the client CA from here.
		namespacedRole(kubeSystem, "extension-apiserver-authentication-reader",
			rule(read...).groups(core).resources("configmaps").names("extension-apiserver-authentication"),
		),
		leaderLocking("kube-controller-manager"),
		leaderLocking("kube-scheduler"),
		namespacedRole(kubeSystem, "system:controller:bootstrap-signer",
			rule(read...).groups(core).resources("secrets"),
		),
		namespacedRole(kubeSystem, "system:controller:cloud-provider",
			rule("create", "get", "list", "watch").groups(core).resources("configmaps"),
		),
		namespacedRole(kubeSystem, "system:controller:token-cleaner",
			rule("delete", "get", "list", "watch").groups(core).resources("secrets"),
			eventsRule(),
		),
	}
}

// namespacedRoleBindings are the bindings of namespace-role-bindings.yaml.
func namespacedRoleBindings() []rbacv1.RoleBinding {
	sa := func(name string) []rbacv1.Subject { return serviceAccount(kubeSystem, name) }
	same := func(namespace, name string, subs ...[]rbacv1.Subject) rbacv1.RoleBinding {
		return roleBinding(namespace, name, name, subs...)
	}
	return []rbacv1.RoleBinding{
		same(kubePublic, "system:controller:bootstrap-signer", sa("bootstrap-signer")),
		roleBinding(kubeSystem, "system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader",
			users("system:kube-controller-manager", "system:kube-scheduler")),
		same(kubeSystem, "system::leader-locking-kube-controller-manager",
			users("system:kube-controller-manager"), sa("kube-controller-manager"), sa("leader-election-controller")),
		same(kubeSystem, "system::leader-locking-kube-scheduler",
			users("system:kube-scheduler"), sa("kube-scheduler")),
		same(kubeSystem, "system:controller:bootstrap-signer", sa("bootstrap-signer")),
		same(kubeSystem, "system:controller:cloud-provider", sa("cloud-provider")),
		same(kubeSystem, "system:controller:token-cleaner", sa("token-cleaner")),
	}
}
