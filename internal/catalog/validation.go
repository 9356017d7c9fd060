package catalog

import (
	"fmt"
	"net"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Name rules, by resource.
var (
	nameDNSSubdomain = apivalidation.NameIsDNSSubdomain
	nameDNSLabel     = apivalidation.NameIsDNSLabel
	namePathSegment  = func(name string, prefix bool) []string {
		return path.ValidatePathSegmentName(name, prefix)
	}
	// nameAny is the rule of types that accept any name a URL path can
	// carry (CertificateSigningRequests: kubelets name theirs
	// node-csr-<base64url>).
	nameAny = func(string, bool) []string { return nil }
)

// ValidateMeta checks the object metadata common to every type: name,
// namespace presence, labels, annotations, finalizers and owner references.
func (r *Resource) ValidateMeta(obj Object) field.ErrorList {
	nameFn := r.ValidateName
	if nameFn == nil {
		nameFn = nameDNSSubdomain
	}
	errs := apivalidation.ValidateObjectMetaAccessor(obj, r.Namespaced, nameFn, field.NewPath("metadata"))
	if len(errs) > 0 {
		return errs
	}
	// Whatever the type's own rule, a name is a segment of the object's
	// URL; kube-apiserver checks this after the type's validation passes.
	for _, msg := range path.ValidatePathSegmentName(obj.GetName(), false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), obj.GetName(), msg))
	}
	return errs
}

// ValidateMetaUpdate checks that immutable metadata did not change.
func ValidateMetaUpdate(obj, old Object) field.ErrorList {
	return apivalidation.ValidateObjectMetaAccessorUpdate(obj, old, field.NewPath("metadata"))
}

func validateLabelSelector(sel *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, p)
}

func validatePort(port int32, p *field.Path) field.ErrorList {
	if port < 1 || port > 65535 {
		return field.ErrorList{field.Invalid(p, port, validation.InclusiveRangeError(1, 65535))}
	}
	return nil
}

func validateProtocol(proto string, p *field.Path) field.ErrorList {
	switch proto {
	case "TCP", "UDP", "SCTP":
		return nil
	case "":
		return field.ErrorList{field.Required(p, "")}
	}
	return field.ErrorList{field.NotSupported(p, proto, []string{"SCTP", "TCP", "UDP"})}
}

func validateIP(ip string, p *field.Path) field.ErrorList {
	if net.ParseIP(ip) == nil {
		return field.ErrorList{field.Invalid(p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")}
	}
	return nil
}

func validateNonNegativeQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

// invalidBy turns the messages of one of apimachinery's string checks
// (validation.IsDNS1123Label, IsValidLabelValue, ...) into errors at p.
func invalidBy(check func(string) []string, s string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range check(s) {
		errs = append(errs, field.Invalid(p, s, msg))
	}
	return errs
}

func validateDNSLabel(s string, p *field.Path) field.ErrorList {
	return invalidBy(validation.IsDNS1123Label, s, p)
}

func validateQualifiedName(s string, p *field.Path) field.ErrorList {
	return invalidBy(validation.IsQualifiedName, s, p)
}

// immutable reports a change to a field that may not change.
func immutable(newVal, oldVal any, p *field.Path) field.ErrorList {
	if apiequality.Semantic.DeepEqual(newVal, oldVal) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, newVal, "field is immutable")}
}

// totalSize sums the bytes of the keys and values of a data map.
func dataSize[V string | []byte](m map[string]V) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

const maxDataSize = 1 << 20 // Secrets and ConfigMaps hold at most 1 MiB

func validateDataKeys[V string | []byte](m map[string]V, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k := range m {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p.Key(k), k, msg))
		}
	}
	return errs
}

func tooLong(p *field.Path, size, limit int) *field.Error {
	return field.TooLong(p, fmt.Sprintf("%d bytes", size), limit)
}

func validateEnum(value string, allowed []string, p *field.Path) field.ErrorList {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	if value == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return field.ErrorList{field.NotSupported(p, value, allowed)}
}
