package catalog

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rules of storage.k8s.io objects, as kube-apiserver words them.

const (
	stoMaxParameters     = 512        // keys of a StorageClass's or VolumeAttributesClass's parameters
	stoMaxParameterBytes = 256 * 1024 // their keys and values together
	stoMaxNodeIDLength   = 256        // a CSINode driver's nodeID
	stoMinTokenSeconds   = 10 * 60    // a CSIDriver token request's expirationSeconds
)

// stoValidateProvisioner checks a StorageClass's provisioner or a
// VolumeAttributesClass's driverName: a qualified name, in any case.
func stoValidateProvisioner(s string, p *field.Path) field.ErrorList {
	if s == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return validateQualifiedName(strings.ToLower(s), p)
}

// stoValidateParameters checks a parameters map: no empty key, bounded
// size, and (unless allowEmpty) at least one entry.
func stoValidateParameters(params map[string]string, allowEmpty bool, p *field.Path) field.ErrorList {
	if len(params) > stoMaxParameters {
		return field.ErrorList{field.TooLong(p, "", stoMaxParameters)}
	}
	var errs field.ErrorList
	for k := range params {
		if k == "" {
			errs = append(errs, field.Invalid(p, k, "field can not be empty."))
		}
	}
	if dataSize(params) > stoMaxParameterBytes {
		errs = append(errs, field.TooLong(p, "", stoMaxParameterBytes))
	}
	if !allowEmpty && len(params) == 0 {
		errs = append(errs, field.Required(p, "must contain at least one key/value pair"))
	}
	return errs
}

// stoValidateStorageClass checks a (defaulted) StorageClass.
func stoValidateStorageClass(c *storagev1.StorageClass) field.ErrorList {
	errs := stoValidateProvisioner(c.Provisioner, field.NewPath("provisioner"))
	errs = append(errs, stoValidateParameters(c.Parameters, true, field.NewPath("parameters"))...)
	if c.ReclaimPolicy != nil && *c.ReclaimPolicy != "" {
		errs = append(errs, stoNotSupported(string(*c.ReclaimPolicy), []string{"Delete", "Retain"}, field.NewPath("reclaimPolicy"))...)
	}
	if c.VolumeBindingMode == nil {
		errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else {
		errs = append(errs, stoNotSupported(string(*c.VolumeBindingMode), []string{"Immediate", "WaitForFirstConsumer"}, field.NewPath("volumeBindingMode"))...)
	}
	return append(errs, stoValidateAllowedTopologies(c.AllowedTopologies, field.NewPath("allowedTopologies"))...)
}

// stoNotSupported refuses a value outside allowed, the empty one too.
func stoNotSupported(v string, allowed []string, p *field.Path) field.ErrorList {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, v, allowed)}
}

// stoValidateStorageClassUpdate keeps what provisioning depends on.
func stoValidateStorageClassUpdate(n, o *storagev1.StorageClass) field.ErrorList {
	errs := immutable(n.Parameters, o.Parameters, field.NewPath("parameters"))
	errs = append(errs, immutable(n.Provisioner, o.Provisioner, field.NewPath("provisioner"))...)
	errs = append(errs, immutable(n.ReclaimPolicy, o.ReclaimPolicy, field.NewPath("reclaimPolicy"))...)
	return append(errs, immutable(n.VolumeBindingMode, o.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
}

// stoValidateAllowedTopologies checks each term's label requirements and
// that no two terms are the same.
func stoValidateAllowedTopologies(terms []corev1.TopologySelectorTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var seen []map[string]map[string]bool
	for i, term := range terms {
		tp := p.Index(i)
		exprs := map[string]map[string]bool{}
		for j, req := range term.MatchLabelExpressions {
			ep := tp.Child("matchLabelExpressions").Index(j)
			values := map[string]bool{}
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(ep.Child("values"), ""))
			}
			for k, v := range req.Values {
				if values[v] {
					errs = append(errs, field.Duplicate(ep.Child("values").Index(k), v))
				}
				values[v] = true
			}
			errs = append(errs, metavalidation.ValidateLabelName(req.Key, ep.Child("key"))...)
			if _, dup := exprs[req.Key]; dup {
				errs = append(errs, field.Duplicate(ep.Child("key"), req.Key))
			}
			exprs[req.Key] = values
		}
		for _, s := range seen {
			if apiequality.Semantic.DeepEqual(s, exprs) {
				errs = append(errs, field.Duplicate(tp.Child("matchLabelExpressions"), ""))
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}

// stoValidateCSIDriverName checks the name of a CSI driver where another
// object names one: at most 63 characters, a DNS subdomain in any case.
func stoValidateCSIDriverName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if len(name) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	return append(errs, netEachInvalid(p, name, validation.IsDNS1123Subdomain(strings.ToLower(name)))...)
}

// stoValidateCSIDriverSpec checks a (defaulted) CSIDriver's spec.
func stoValidateCSIDriverSpec(s *storagev1.CSIDriverSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	required := []struct {
		name string
		set  bool
	}{
		{"attachedRequired", s.AttachRequired != nil}, {"podInfoOnMount", s.PodInfoOnMount != nil}, {"storageCapacity", s.StorageCapacity != nil},
		{"seLinuxMount", s.SELinuxMount != nil}, {"preventPodSchedulingIfMissing", s.PreventPodSchedulingIfMissing != nil},
	}
	for _, r := range required {
		if !r.set {
			errs = append(errs, field.Required(p.Child(r.name), ""))
		}
	}
	if s.FSGroupPolicy != nil {
		errs = append(errs, stoNotSupported(string(*s.FSGroupPolicy), []string{"File", "None", "ReadWriteOnceWithFSType"}, p.Child("fsGroupPolicy"))...)
	}
	errs = append(errs, stoValidateTokenRequests(s.TokenRequests, p.Child("tokenRequests"))...)
	for _, m := range s.VolumeLifecycleModes {
		errs = append(errs, stoNotSupported(string(m), []string{"Persistent", "Ephemeral"}, p.Child("volumeLifecycleModes"))...)
	}
	if v := s.NodeAllocatableUpdatePeriodSeconds; v != nil && *v < 10 {
		errs = append(errs, field.Invalid(p.Child("nodeAllocatableUpdatePeriodSeconds"), *v, "must be greater than or equal to 10 seconds"))
	}
	if s.ServiceAccountTokenInSecrets != nil && len(s.TokenRequests) == 0 {
		errs = append(errs, field.Invalid(p.Child("serviceAccountTokenInSecrets"), *s.ServiceAccountTokenInSecrets, "serviceAccountTokenInSecrets is set but no tokenRequests are specified"))
	}
	return errs
}

// stoValidateTokenRequests checks audiences are distinct and lifetimes
// between ten minutes and 2^32 seconds.
func stoValidateTokenRequests(reqs []storagev1.TokenRequest, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, r := range reqs {
		ip := p.Index(i)
		if seen[r.Audience] {
			errs = append(errs, field.Duplicate(ip.Child("audience"), r.Audience))
			continue
		}
		seen[r.Audience] = true
		if r.ExpirationSeconds == nil {
			continue
		}
		if *r.ExpirationSeconds < stoMinTokenSeconds {
			errs = append(errs, field.Invalid(ip.Child("expirationSeconds"), *r.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
		if *r.ExpirationSeconds > 1<<32 {
			errs = append(errs, field.Invalid(ip.Child("expirationSeconds"), *r.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	return errs
}

// stoDefaultCSIDriver fills in kube-apiserver 1.37's CSIDriver defaults
// (SELinuxMountReadWriteOncePod and VolumeLimitScaling are on).
func stoDefaultCSIDriver(s *storagev1.CSIDriverSpec) {
	defaultTo(&s.AttachRequired, true)
	defaultTo(&s.PodInfoOnMount, false)
	defaultTo(&s.StorageCapacity, false)
	defaultTo(&s.RequiresRepublish, false)
	defaultTo(&s.SELinuxMount, false)
	defaultTo(&s.PreventPodSchedulingIfMissing, false)
	defaultTo(&s.FSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
	}
}

// stoValidateCSINodeDrivers checks a CSINode's drivers.
func stoValidateCSINodeDrivers(drivers []storagev1.CSINodeDriver, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, d := range drivers {
		dp := p.Index(i)
		errs = append(errs, stoValidateCSIDriverName(d.Name, dp.Child("name"))...)
		if d.NodeID == "" {
			errs = append(errs, field.Required(dp.Child("nodeID"), ""))
		}
		if len(d.NodeID) > stoMaxNodeIDLength {
			errs = append(errs, field.Invalid(dp.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", stoMaxNodeIDLength)))
		}
		if d.Allocatable != nil && d.Allocatable.Count != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*d.Allocatable.Count), dp.Child("allocatable", "count"))...)
		}
		if names[d.Name] {
			errs = append(errs, field.Duplicate(dp.Child("name"), d.Name))
		}
		names[d.Name] = true
		errs = append(errs, stoValidateTopologyKeys(d.TopologyKeys, dp)...)
	}
	return errs
}

// stoValidateTopologyKeys checks a CSINode driver's topology keys; kube
// reports their errors at the driver's path.
func stoValidateTopologyKeys(keys []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for _, k := range keys {
		if k == "" {
			errs = append(errs, field.Required(p, ""))
		}
		if seen[k] {
			errs = append(errs, field.Duplicate(p, k))
		}
		seen[k] = true
		errs = append(errs, validateQualifiedName(k, p)...)
	}
	return errs
}

// stoValidateCSINodeUpdate keeps each existing driver as it was but for
// its allocatable count.
func stoValidateCSINodeUpdate(n, o *storagev1.CSINode) field.ErrorList {
	var errs field.ErrorList
	for _, od := range o.Spec.Drivers {
		for _, nd := range n.Spec.Drivers {
			if od.Name != nd.Name {
				continue
			}
			od, nd := *od.DeepCopy(), *nd.DeepCopy()
			od.Allocatable, nd.Allocatable = nil, nil
			errs = append(errs, immutable(nd, od, field.NewPath("spec", "drivers"))...)
		}
	}
	return errs
}

// stoValidateVolumeAttachment checks a VolumeAttachment's spec.
func stoValidateVolumeAttachment(v *storagev1.VolumeAttachment) field.ErrorList {
	p := field.NewPath("spec")
	errs := stoValidateCSIDriverName(v.Spec.Attacher, p.Child("attacher"))
	errs = append(errs, stoValidateAttachmentSource(&v.Spec.Source, p.Child("source"))...)
	errs = append(errs, netEachInvalid(p.Child("nodeName"), v.Spec.NodeName, apivalidation.NameIsDNSSubdomain(v.Spec.NodeName, false))...)
	if pv := v.Spec.Source.PersistentVolumeName; pv != nil {
		errs = append(errs, netEachInvalid(field.NewPath("spec.source.persistentVolumeName"), *pv, apivalidation.NameIsDNSSubdomain(*pv, false))...)
	}
	return errs
}

func stoValidateAttachmentSource(s *storagev1.VolumeAttachmentSource, p *field.Path) field.ErrorList {
	const one = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
	switch {
	case s.InlineVolumeSpec == nil && s.PersistentVolumeName == nil:
		return field.ErrorList{field.Required(p, one)}
	case s.InlineVolumeSpec != nil && s.PersistentVolumeName != nil:
		return field.ErrorList{field.Forbidden(p, one)}
	case s.PersistentVolumeName != nil:
		if *s.PersistentVolumeName == "" {
			return field.ErrorList{field.Required(p.Child("persistentVolumeName"), "must specify non empty persistentVolumeName")}
		}
		return nil
	}
	return stoValidateInlineVolumeSpec(s.InlineVolumeSpec, p.Child("inlineVolumeSpec"))
}

// stoValidateInlineVolumeSpec checks the rules particular to a volume
// spec inlined in a VolumeAttachment: a CSI volume with no capacity,
// claim or node affinity, and access modes.
func stoValidateInlineVolumeSpec(s *corev1.PersistentVolumeSpec, p *field.Path) field.ErrorList {
	const inline = "may not be specified in the context of inline volumes"
	var errs field.ErrorList
	if s.ClaimRef != nil {
		errs = append(errs, field.Forbidden(p.Child("claimRef"), inline))
	}
	if len(s.Capacity) != 0 {
		errs = append(errs, field.Forbidden(p.Child("capacity"), inline))
	}
	if s.CSI == nil {
		errs = append(errs, field.Required(p.Child("csi"), "has to be specified in the context of inline volumes"))
	}
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), ""))
	}
	modes := []string{"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}
	for _, m := range s.AccessModes {
		errs = append(errs, stoNotSupported(string(m), modes, p.Child("accessModes"))...)
	}
	if s.PersistentVolumeReclaimPolicy != "" && s.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.Forbidden(p.Child("persistentVolumeReclaimPolicy"), "may only be Retain in the context of inline volumes"))
	}
	if s.NodeAffinity != nil {
		errs = append(errs, field.Forbidden(p.Child("nodeAffinity"), inline))
	}
	if s.CSI != nil {
		errs = append(errs, stoValidateCSIDriverName(s.CSI.Driver, p.Child("csi", "driver"))...)
		if s.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(p.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

// stoValidateCSIStorageCapacity checks a CSIStorageCapacity.
func stoValidateCSIStorageCapacity(c *storagev1.CSIStorageCapacity) field.ErrorList {
	errs := validateLabelSelector(c.NodeTopology, field.NewPath("nodeTopology"))
	errs = append(errs, netEachInvalid(field.NewPath("storageClassName"), c.StorageClassName, apivalidation.NameIsDNSSubdomain(c.StorageClassName, false))...)
	if c.Capacity != nil {
		errs = append(errs, validateNonNegativeQuantity(*c.Capacity, field.NewPath("capacity"))...)
	}
	return errs
}

// stoValidateCSIStorageCapacityUpdate keeps what the capacity was
// measured for.
func stoValidateCSIStorageCapacityUpdate(n, o *storagev1.CSIStorageCapacity) field.ErrorList {
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(n.NodeTopology, o.NodeTopology) {
		errs = append(errs, field.Invalid(field.NewPath("nodeTopology"), n.NodeTopology, "field is immutable"))
	}
	if n.StorageClassName != o.StorageClassName {
		errs = append(errs, field.Invalid(field.NewPath("storageClassName"), n.StorageClassName, "field is immutable"))
	}
	return errs
}

// stoValidateVolumeAttributesClassUpdate forbids changing the driver or
// the parameters.
func stoValidateVolumeAttributesClassUpdate(n, o *storagev1.VolumeAttributesClass) field.ErrorList {
	var errs field.ErrorList
	if n.DriverName != o.DriverName {
		errs = append(errs, field.Forbidden(field.NewPath("driverName"), "updates to driverName are forbidden."))
	}
	if !apiequality.Semantic.DeepEqual(n.Parameters, o.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	return errs
}
