package catalog

import (
	"context"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/certificates"
)

// Roles is rbac.authorization.k8s.io/v1 roles.
func Roles() *Resource {
	return &Resource{
		GroupVersion: rbacv1.SchemeGroupVersion, Name: "roles", SingularName: "role", Kind: "Role", Namespaced: true,
		New:          func() Object { return &rbacv1.Role{} },
		ValidateName: namePathSegment,
		Validate: func(obj Object) field.ErrorList {
			return validatePolicyRules(obj.(*rbacv1.Role).Rules, false)
		},
	}
}

// ClusterRoles is rbac.authorization.k8s.io/v1 clusterroles.
func ClusterRoles() *Resource {
	return &Resource{
		GroupVersion: rbacv1.SchemeGroupVersion, Name: "clusterroles", SingularName: "clusterrole", Kind: "ClusterRole",
		New:          func() Object { return &rbacv1.ClusterRole{} },
		ValidateName: namePathSegment,
		Validate: func(obj Object) field.ErrorList {
			cr := obj.(*rbacv1.ClusterRole)
			errs := validatePolicyRules(cr.Rules, true)
			if cr.AggregationRule != nil {
				if len(cr.AggregationRule.ClusterRoleSelectors) == 0 {
					errs = append(errs, field.Required(field.NewPath("aggregationRule", "clusterRoleSelectors"), "at least one clusterRoleSelector required if aggregationRule is non-nil"))
				}
				for i, sel := range cr.AggregationRule.ClusterRoleSelectors {
					errs = append(errs, validateLabelSelector(&sel, field.NewPath("aggregationRule", "clusterRoleSelectors").Index(i))...)
				}
			}
			return errs
		},
	}
}

func validatePolicyRules(rules []rbacv1.PolicyRule, clusterRole bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if !clusterRole {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			for j, u := range r.NonResourceURLs {
				if !strings.HasPrefix(u, "/") && u != "*" {
					errs = append(errs, field.Invalid(p.Child("nonResourceURLs").Index(j), u, "must start with /"))
				}
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func validateRoleRef(ref, old *rbacv1.RoleRef, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"ClusterRole", "Role"}
	}
	errs = append(errs, validateEnum(ref.Kind, kinds, p.Child("kind"))...)
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range namePathSegment(ref.Name, false) {
			errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
	}
	if old != nil && *ref != *old {
		errs = append(errs, field.Invalid(p, *ref, "cannot change roleRef"))
	}
	return errs
}

func validateSubjects(subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if s.Namespace == "" && !namespaced {
				errs = append(errs, field.Required(p.Child("namespace"), ""))
			}
			if s.Name != "" {
				for _, msg := range nameDNSSubdomain(s.Name, false) {
					errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
				}
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

// defaultSubjects fills the API group of User and Group subjects, which
// kubectl and most manifests leave out.
func defaultSubjects(subjects []rbacv1.Subject) {
	for i := range subjects {
		if subjects[i].APIGroup == "" && (subjects[i].Kind == rbacv1.UserKind || subjects[i].Kind == rbacv1.GroupKind) {
			subjects[i].APIGroup = rbacv1.GroupName
		}
	}
}

func bindingTable(subject string) *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(), col("Role", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]), ageColumn(),
			wide(col("Users", "Users in the "+subject)), wide(col("Groups", "Groups in the "+subject)),
			wide(col("ServiceAccounts", "ServiceAccounts in the "+subject)),
		},
		Cells: func(obj Object, now time.Time) []any {
			var ref rbacv1.RoleRef
			var subjects []rbacv1.Subject
			switch b := obj.(type) {
			case *rbacv1.RoleBinding:
				ref, subjects = b.RoleRef, b.Subjects
			case *rbacv1.ClusterRoleBinding:
				ref, subjects = b.RoleRef, b.Subjects
			}
			var users, groups, sas []string
			for _, s := range subjects {
				switch s.Kind {
				case rbacv1.UserKind:
					users = append(users, s.Name)
				case rbacv1.GroupKind:
					groups = append(groups, s.Name)
				case rbacv1.ServiceAccountKind:
					sas = append(sas, s.Namespace+"/"+s.Name)
				}
			}
			return []any{obj.GetName(), ref.Kind + "/" + ref.Name, age(obj.GetCreationTimestamp(), now),
				strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
		},
	}
}

// RoleBindings is rbac.authorization.k8s.io/v1 rolebindings.
func RoleBindings() *Resource {
	return &Resource{
		GroupVersion: rbacv1.SchemeGroupVersion, Name: "rolebindings", SingularName: "rolebinding", Kind: "RoleBinding", Namespaced: true,
		New:          func() Object { return &rbacv1.RoleBinding{} },
		ValidateName: namePathSegment,
		Default:      func(obj Object) { defaultSubjects(obj.(*rbacv1.RoleBinding).Subjects) },
		Validate: func(obj Object) field.ErrorList {
			b := obj.(*rbacv1.RoleBinding)
			return append(validateRoleRef(&b.RoleRef, nil, true), validateSubjects(b.Subjects, true)...)
		},
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			b, o := obj.(*rbacv1.RoleBinding), old.(*rbacv1.RoleBinding)
			return append(validateRoleRef(&b.RoleRef, &o.RoleRef, true), validateSubjects(b.Subjects, true)...)
		},
		Table: bindingTable("roleBinding"),
	}
}

// ClusterRoleBindings is rbac.authorization.k8s.io/v1 clusterrolebindings.
func ClusterRoleBindings() *Resource {
	return &Resource{
		GroupVersion: rbacv1.SchemeGroupVersion, Name: "clusterrolebindings", SingularName: "clusterrolebinding", Kind: "ClusterRoleBinding",
		New:          func() Object { return &rbacv1.ClusterRoleBinding{} },
		ValidateName: namePathSegment,
		Default:      func(obj Object) { defaultSubjects(obj.(*rbacv1.ClusterRoleBinding).Subjects) },
		Validate: func(obj Object) field.ErrorList {
			b := obj.(*rbacv1.ClusterRoleBinding)
			return append(validateRoleRef(&b.RoleRef, nil, false), validateSubjects(b.Subjects, false)...)
		},
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			b, o := obj.(*rbacv1.ClusterRoleBinding), old.(*rbacv1.ClusterRoleBinding)
			return append(validateRoleRef(&b.RoleRef, &o.RoleRef, false), validateSubjects(b.Subjects, false)...)
		},
		Table: bindingTable("clusterRoleBinding"),
	}
}

// CertificateSigningRequests is certificates.k8s.io/v1
// certificatesigningrequests, with status and approval subresources.
func CertificateSigningRequests() *Resource {
	specDoc := certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()
	statusDoc := certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()
	csrOf := func(o Object) *certificatesv1.CertificateSigningRequest {
		return o.(*certificatesv1.CertificateSigningRequest)
	}
	// approval changes the Approved and Denied conditions only; status
	// changes the certificate and every other condition. Neither touches
	// the spec.
	approval := &Subresource{
		Name: "approval",
		Apply: func(obj, old Object) Object {
			return mergeCSRStatus(csrOf(obj), csrOf(old), true)
		},
		Validate: func(obj, old Object) field.ErrorList { return certificates.ValidateApproval(csrOf(obj), csrOf(old)) },
		Verbs:    []string{"get", "patch", "update"},
	}
	status := &Subresource{
		Name: "status",
		Apply: func(obj, old Object) Object {
			return mergeCSRStatus(csrOf(obj), csrOf(old), false)
		},
		Validate: func(obj, old Object) field.ErrorList { return certificates.ValidateStatus(csrOf(obj), csrOf(old)) },
		Verbs:    []string{"get", "patch", "update"},
	}
	return &Resource{
		GroupVersion: certificatesv1.SchemeGroupVersion, Name: "certificatesigningrequests", SingularName: "certificatesigningrequest",
		Kind: "CertificateSigningRequest", ShortNames: []string{"csr"}, ValidateName: nameAny,
		New: func() Object { return &certificatesv1.CertificateSigningRequest{} },
		PrepareForCreate: func(ctx context.Context, obj Object) {
			clearStatus(obj)
			recordRequester(csrOf(obj), authn.UserFrom(ctx))
		},
		PrepareForUpdate: keepStatus,
		// kube-apiserver's strategy owns the whole request: no manager
		// owns what a write to the object itself sets.
		ResetFields:    []string{"spec", "status"},
		Validate:       func(obj Object) field.ErrorList { return certificates.ValidateCreate(csrOf(obj)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList { return certificates.ValidateUpdate(csrOf(obj), csrOf(old)) },
		Subresources:   []*Subresource{status, approval},
		SelectableFields: func(obj Object) map[string]string {
			return map[string]string{"spec.signerName": csrOf(obj).Spec.SignerName}
		},
		FieldLabels: []string{"spec.signerName"},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				nameColumn(), ageColumn(), col("SignerName", specDoc["signerName"]), col("Requestor", specDoc["request"]),
				col("RequestedDuration", specDoc["expirationSeconds"]), col("Condition", statusDoc["conditions"]),
			},
			Cells: csrCells,
		},
	}
}

// mergeCSRStatus applies a write to a CSR's approval (approval=true) or
// status subresource: the new object's conditions of the subresource's
// kind, the stored object's others, the stored spec, and the certificate
// from the status subresource only. Condition timestamps a client left
// empty are filled in.
func mergeCSRStatus(obj, old *certificatesv1.CertificateSigningRequest, approval bool) Object {
	out := old.DeepCopy()
	isApproval := func(t certificatesv1.RequestConditionType) bool {
		return t == certificatesv1.CertificateApproved || t == certificatesv1.CertificateDenied
	}
	var conds []certificatesv1.CertificateSigningRequestCondition
	for _, c := range obj.Status.Conditions {
		if isApproval(c.Type) == approval {
			conds = append(conds, c)
		}
	}
	for _, c := range old.Status.Conditions {
		if isApproval(c.Type) != approval {
			conds = append(conds, c)
		}
	}
	now := metav1.Now()
	for i := range conds {
		c := &conds[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
			for _, prev := range old.Status.Conditions {
				if prev.Type == c.Type && prev.Status == c.Status && !prev.LastTransitionTime.IsZero() {
					c.LastTransitionTime = prev.LastTransitionTime
				}
			}
		}
	}
	out.Status.Conditions = conds
	if !approval {
		out.Status.Certificate = obj.Status.Certificate
	}
	return out
}

func csrCells(obj Object, now time.Time) []any {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	signer := csr.Spec.SignerName
	if signer == "" {
		signer = "<none>"
	}
	duration := "<none>"
	if csr.Spec.ExpirationSeconds != nil {
		duration = HumanDuration(time.Duration(*csr.Spec.ExpirationSeconds) * time.Second)
	}
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	cond := "Pending"
	switch {
	case denied:
		cond = "Denied"
	case approved:
		cond = "Approved"
	}
	if failed {
		cond += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		cond += ",Issued"
	}
	return []any{csr.Name, age(csr.CreationTimestamp, now), signer, csr.Spec.Username, duration, cond}
}

// Leases is coordination.k8s.io/v1 leases.
func Leases() *Resource {
	return &Resource{
		GroupVersion: coordinationv1.SchemeGroupVersion, Name: "leases", SingularName: "lease", Kind: "Lease", Namespaced: true,
		New: func() Object { return &coordinationv1.Lease{} },
		// Coordinated leader election is off by default in Kubernetes
		// 1.37, and its fields are dropped unless already in use.
		PrepareForCreate: func(_ context.Context, obj Object) {
			l := obj.(*coordinationv1.Lease)
			l.Spec.Strategy, l.Spec.PreferredHolder = nil, nil
		},
		PrepareForUpdate: func(obj, old Object) {
			l, o := obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease)
			if o.Spec.Strategy == nil {
				l.Spec.Strategy = nil
			}
			if o.Spec.PreferredHolder == nil {
				l.Spec.PreferredHolder = nil
			}
		},
		Validate: func(obj Object) field.ErrorList {
			l := obj.(*coordinationv1.Lease)
			var errs field.ErrorList
			if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
				errs = append(errs, field.Invalid(field.NewPath("spec", "leaseDurationSeconds"), *d, "must be greater than 0"))
			}
			if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
				errs = append(errs, field.Invalid(field.NewPath("spec", "leaseTransitions"), *t, "must be greater than or equal to 0"))
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{nameColumn(), col("Holder", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				l := obj.(*coordinationv1.Lease)
				holder := ""
				if l.Spec.HolderIdentity != nil {
					holder = *l.Spec.HolderIdentity
				}
				return []any{l.Name, holder, age(l.CreationTimestamp, now)}
			},
		},
	}
}

// NetworkPolicies is networking.k8s.io/v1 networkpolicies.
func NetworkPolicies() *Resource {
	return &Resource{
		GroupVersion: networkingv1.SchemeGroupVersion, Name: "networkpolicies", SingularName: "networkpolicy", Kind: "NetworkPolicy", Namespaced: true,
		ShortNames:       []string{"netpol"},
		TracksGeneration: true,
		New:              func() Object { return &networkingv1.NetworkPolicy{} },
		Default:          func(obj Object) { defaultNetworkPolicy(obj.(*networkingv1.NetworkPolicy)) },
		Validate: func(obj Object) field.ErrorList {
			np := obj.(*networkingv1.NetworkPolicy)
			p := field.NewPath("spec")
			errs := validateLabelSelector(&np.Spec.PodSelector, p.Child("podSelector"))
			for i, t := range np.Spec.PolicyTypes {
				errs = append(errs, validateEnum(string(t), []string{"Egress", "Ingress"}, p.Child("policyTypes").Index(i))...)
			}
			checkPorts := func(ports []networkingv1.NetworkPolicyPort, pp *field.Path) {
				for i := range ports {
					errs = append(errs, netValidatePolicyPort(&ports[i], pp.Index(i))...)
				}
			}
			checkPeers := func(peers []networkingv1.NetworkPolicyPeer, pp *field.Path) {
				for i := range peers {
					errs = append(errs, netValidatePolicyPeer(&peers[i], pp.Index(i))...)
				}
			}
			for i, r := range np.Spec.Ingress {
				checkPorts(r.Ports, p.Child("ingress").Index(i).Child("ports"))
				checkPeers(r.From, p.Child("ingress").Index(i).Child("from"))
			}
			for i, r := range np.Spec.Egress {
				checkPorts(r.Ports, p.Child("egress").Index(i).Child("ports"))
				checkPeers(r.To, p.Child("egress").Index(i).Child("to"))
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{nameColumn(), col("Pod-Selector", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]), ageColumn()},
			Cells: func(obj Object, now time.Time) []any {
				np := obj.(*networkingv1.NetworkPolicy)
				return []any{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), age(np.CreationTimestamp, now)}
			},
		},
	}
}

func defaultNetworkPolicy(np *networkingv1.NetworkPolicy) {
	tcp := func(ports []networkingv1.NetworkPolicyPort) {
		for i := range ports {
			if ports[i].Protocol == nil {
				p := corev1.ProtocolTCP
				ports[i].Protocol = &p
			}
		}
	}
	for i := range np.Spec.Ingress {
		tcp(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		tcp(np.Spec.Egress[i].Ports)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

// recordRequester makes spec.username, uid, groups and extra those of
// the user creating the request, whatever the body said, as Kubernetes'
// CSR strategy does: signers and approvers trust them. A write with no
// user (none reaches the API without one) keeps what it has.
func recordRequester(csr *certificatesv1.CertificateSigningRequest, u *authn.User) {
	if u == nil {
		return
	}
	csr.Spec.Username, csr.Spec.UID = u.Name, u.UID
	csr.Spec.Groups = slices.Clone(u.Groups)
	csr.Spec.Extra = nil
	if len(u.Extra) > 0 {
		csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range u.Extra {
			csr.Spec.Extra[k] = slices.Clone(v)
		}
	}
}

// Builtin returns every resource sekisho serves: those it stores, and the
// reviews and actions that answer without storing, whose answers the
// server is given (apiserver.Config Reviews and Actions).
func Builtin() *Catalog {
	sa := ServiceAccounts()
	sa.Subresources = append(sa.Subresources, TokenSubresource())
	resources := []*Resource{
		Namespaces(), Secrets(), ConfigMaps(), sa, Pods(), Bindings(), Nodes(), Events(), EventsV1(),
		ResourceQuotas(), LimitRanges(), Services(), Endpoints(), ComponentStatuses(),
		Roles(), ClusterRoles(), RoleBindings(), ClusterRoleBindings(),
		CertificateSigningRequests(), Leases(), NetworkPolicies(),
		TokenReviews(), SelfSubjectReviews(),
		// Workloads and the rest of core/v1.
		PersistentVolumeClaims(), PersistentVolumes(), PodTemplates(), ReplicationControllers(),
		Deployments(), ReplicaSets(), StatefulSets(), DaemonSets(), ControllerRevisions(),
		Jobs(), CronJobs(), HorizontalPodAutoscalers(), PodDisruptionBudgets(),
		// Storage, networking, scheduling and nodes.
		StorageClasses(), CSIDrivers(), CSINodes(), CSIStorageCapacities(), VolumeAttachments(), VolumeAttributesClasses(),
		Ingresses(), IngressClasses(), IPAddresses(), ServiceCIDRs(), EndpointSlices(),
		PriorityClasses(), RuntimeClasses(),
		// Certificates, admission, resource allocation and the API server's own.
		ClusterTrustBundles(), PodCertificateRequests(),
		ValidatingWebhookConfigurations(), MutatingWebhookConfigurations(),
		ValidatingAdmissionPolicies(), ValidatingAdmissionPolicyBindings(),
		MutatingAdmissionPolicies(), MutatingAdmissionPolicyBindings(),
		DeviceClasses(), DeviceTaintRules(), ResourceClaims(), ResourceClaimTemplates(), ResourceSlices(),
		FlowSchemas(), PriorityLevelConfigurations(), StorageVersionMigrations(), APIServices(),
	}
	resources = append(resources, accessReviews()...)
	for _, res := range resources {
		if res.Table == nil {
			res.Table = builtinTables[res.GroupVersion.WithResource(res.Name)]
		}
	}
	r, err := New(resources...)
	if err != nil {
		panic(err) // the built-in table is static; a duplicate is a programming error
	}
	return r
}
