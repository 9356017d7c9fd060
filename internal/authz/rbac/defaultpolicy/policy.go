package defaultpolicy

import rbacv1 "k8s.io/api/rbac/v1"

// Policy is a set of RBAC objects.
type Policy struct {
	ClusterRoles        []rbacv1.ClusterRole
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	Roles               []rbacv1.Role // namespaced: kube-system, kube-public
	RoleBindings        []rbacv1.RoleBinding
}

// Kubernetes returns kube-apiserver's bootstrap policy: every cluster role
// and binding of cluster-roles.yaml and cluster-role-bindings.yaml, the
// controller roles and bindings (system:controller:*), and the namespaced
// roles/bindings in kube-system and kube-public. Each call builds new
// objects, so callers may change what they get.
func Kubernetes() Policy {
	controllers, controllerBindings := controllerRoles()
	return Policy{
		ClusterRoles:        append(clusterRoles(), controllers...),
		ClusterRoleBindings: append(clusterRoleBindings(), controllerBindings...),
		Roles:               namespacedRoles(),
		RoleBindings:        namespacedRoleBindings(),
	}
}

// SelfReviewRole lets every authenticated user explain their own access
// (sekisho.io SelfAccessReview), as system:basic-user lets them ask
// whether they have it.
const SelfReviewRole = "sekisho.io:self-review"

// Sekisho returns the roles and bindings of sekisho's own APIs, reconciled
// like Kubernetes' bootstrap policy: the self-review ClusterRole, bound to
// system:authenticated.
func Sekisho() Policy {
	return Policy{
		ClusterRoles: []rbacv1.ClusterRole{
			clusterRole(SelfReviewRole, rule("create").groups("sekisho.io").resources("selfaccessreviews")),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			clusterBinding(SelfReviewRole, groups("system:authenticated")),
		},
	}
}

// NodeRules are the rules kube-apiserver's Node authorizer grants every
// node for resources it does not restrict by graph (the rules of the
// system:node ClusterRole). Each call returns a new slice.
func NodeRules() []rbacv1.PolicyRule { return nodeRules() }

// Names kubeadm uses.
const (
	kubeadmClusterAdmins  = "kubeadm:cluster-admins"
	kubeadmGetNodes       = "kubeadm:get-nodes"
	kubeadmNodeBootstrap  = "system:bootstrappers:kubeadm:default-node-token"
	kubeadmClusterInfo    = "kubeadm:bootstrap-signer-clusterinfo"
	kubeadmKubeletBoot    = "kubeadm:kubelet-bootstrap"
	kubeadmAutoApprove    = "kubeadm:node-autoapprove-bootstrap"
	kubeadmAutoApproveRot = "kubeadm:node-autoapprove-certificate-rotation"
)

// Kubeadm returns the objects `kubeadm init` creates once: the
// kubeadm:cluster-admins ClusterRoleBinding (group kubeadm:cluster-admins
// → cluster-admin), kubeadm:get-nodes ClusterRole+binding,
// kubeadm:kubelet-bootstrap (system:node-bootstrapper → group
// system:bootstrappers:kubeadm:default-node-token),
// kubeadm:node-autoapprove-bootstrap,
// kubeadm:node-autoapprove-certificate-rotation, and in kube-public the
// Role+RoleBinding kubeadm:bootstrap-signer-clusterinfo (get configmap
// cluster-info for user system:anonymous). Exact names/subjects as kubeadm
// uses. kubeadm sets no labels or annotations; subjects carry the API
// group kube-apiserver defaults for users and groups.
func Kubeadm() Policy {
	bind := func(name, role string, subs []rbacv1.Subject) rbacv1.ClusterRoleBinding {
		b := rbacv1.ClusterRoleBinding{RoleRef: clusterRoleRef(role), Subjects: subs}
		b.Name = name
		return b
	}
	getNodes := rbacv1.ClusterRole{Rules: rules(rule("get").groups(core).resources("nodes"))}
	getNodes.Name = kubeadmGetNodes

	clusterInfo := rbacv1.Role{Rules: rules(rule("get").groups(core).resources("configmaps").names("cluster-info"))}
	clusterInfo.Name, clusterInfo.Namespace = kubeadmClusterInfo, kubePublic
	clusterInfoBinding := rbacv1.RoleBinding{
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: kubeadmClusterInfo},
		Subjects: users("system:anonymous"),
	}
	clusterInfoBinding.Name, clusterInfoBinding.Namespace = kubeadmClusterInfo, kubePublic

	return Policy{
		ClusterRoles: []rbacv1.ClusterRole{getNodes},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			bind(kubeadmClusterAdmins, "cluster-admin", groups(kubeadmClusterAdmins)),
			bind(kubeadmGetNodes, kubeadmGetNodes, groups(kubeadmNodeBootstrap)),
			bind(kubeadmKubeletBoot, "system:node-bootstrapper", groups(kubeadmNodeBootstrap)),
			bind(kubeadmAutoApprove, "system:certificates.k8s.io:certificatesigningrequests:nodeclient", groups(kubeadmNodeBootstrap)),
			bind(kubeadmAutoApproveRot, "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", groups("system:nodes")),
		},
		Roles:        []rbacv1.Role{clusterInfo},
		RoleBindings: []rbacv1.RoleBinding{clusterInfoBinding},
	}
}
