package plugins

import (
	"fmt"
	"slices"
	"strings"
)

// KubernetesOrder is every admission plugin kube-apiserver v1.37 knows, in
// the order it runs them. Names sekisho does not implement are here so that
// the flags can tell "not implemented" from "no such plugin".
var KubernetesOrder = []string{
	"AlwaysAdmit",
	"NamespaceAutoProvision",
	"NamespaceLifecycle",
	"NamespaceExists",
	"LimitPodHardAntiAffinityTopology",
	"LimitRanger",
	"ServiceAccount",
	"NodeRestriction",
	"TaintNodesByCondition",
	"AlwaysPullImages",
	"ImagePolicyWebhook",
	"PodSecurity",
	"PodNodeSelector",
	"Priority",
	"DefaultTolerationSeconds",
	"PodTolerationRestriction",
	"EventRateLimit",
	"ExtendedResourceToleration",
	"DefaultStorageClass",
	"StorageObjectInUseProtection",
	"PodGroupProtection",
	"OwnerReferencesPermissionEnforcement",
	"PersistentVolumeClaimResize",
	"RuntimeClass",
	"CertificateApproval",
	"CertificateSigning",
	"ClusterTrustBundleAttest",
	"CertificateSubjectRestriction",
	"DefaultIngressClass",
	"DenyServiceExternalIPs",
	"PodTopologyLabels",
	"NodeDeclaredFeatureValidator",
	"PodResizeValidator",
	"MutatingAdmissionPolicy",
	"MutatingAdmissionWebhook",
	"ValidatingAdmissionPolicy",
	"ValidatingAdmissionWebhook",
	"ResourceQuota",
	"AlwaysDeny",
}

// KubernetesDefaults are the plugins kube-apiserver v1.37 runs when no
// flag names them.
var KubernetesDefaults = []string{
	"NamespaceLifecycle",
	"LimitRanger",
	"ServiceAccount",
	"DefaultStorageClass",
	"PersistentVolumeClaimResize",
	"DefaultTolerationSeconds",
	"MutatingAdmissionWebhook",
	"ValidatingAdmissionWebhook",
	"ResourceQuota",
	"StorageObjectInUseProtection",
	"PodGroupProtection",
	"Priority",
	"TaintNodesByCondition",
	"RuntimeClass",
	"CertificateApproval",
	"CertificateSigning",
	"ClusterTrustBundleAttest",
	"CertificateSubjectRestriction",
	"DefaultIngressClass",
	"PodSecurity",
	"PodTopologyLabels",
	"MutatingAdmissionPolicy",
	"ValidatingAdmissionPolicy",
	"NodeDeclaredFeatureValidator",
	"PodResizeValidator",
}

// Selection is the outcome of the admission flags: the plugins that run,
// in order, and the default ones sekisho does not have, which are left out
// (they are reported at start so that nobody believes they run).
type Selection struct {
	Enabled []string
	Missing []string
}

// Select applies --enable-admission-plugins and --disable-admission-plugins
// as kube-apiserver does: its default set (with NodeRestriction, which
// sekisho adds), plus the enabled, minus the disabled, in kube-apiserver's
// order whatever the order of the flags. implemented lists the plugins
// sekisho has. Every name must be a plugin Kubernetes knows; naming one in
// both flags is an error, and so is enabling one sekisho does not have:
// admission fails closed rather than running without a control that was
// asked for.
func Select(enable, disable, implemented []string) (Selection, error) {
	var errs []string
	for _, n := range enable {
		if !slices.Contains(KubernetesOrder, n) {
			errs = append(errs, fmt.Sprintf("enable-admission-plugins plugin %q is unknown", n))
		} else if !slices.Contains(implemented, n) {
			errs = append(errs, fmt.Sprintf("enable-admission-plugins plugin %q is not implemented by sekisho", n))
		}
	}
	for _, n := range disable {
		if !slices.Contains(KubernetesOrder, n) {
			errs = append(errs, fmt.Sprintf("disable-admission-plugins plugin %q is unknown", n))
		}
	}
	var both []string
	for _, n := range enable {
		if slices.Contains(disable, n) && !slices.Contains(both, n) {
			both = append(both, n)
		}
	}
	if len(both) > 0 {
		errs = append(errs, fmt.Sprintf("%v in enable-admission-plugins and disable-admission-plugins overlapped", both))
	}
	if len(errs) > 0 {
		return Selection{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	var s Selection
	for _, n := range KubernetesOrder {
		on := slices.Contains(KubernetesDefaults, n) || n == "NodeRestriction" || slices.Contains(enable, n)
		if !on || slices.Contains(disable, n) {
			continue
		}
		if slices.Contains(implemented, n) {
			s.Enabled = append(s.Enabled, n)
		} else {
			s.Missing = append(s.Missing, n)
		}
	}
	return s, nil
}
