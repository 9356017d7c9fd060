package catalog

import (
	"path"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var accessModes = []string{"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}

// validateAccessModes checks a volume's or claim's access modes: known,
// and ReadWriteOncePod only alone.
func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path, requiredDetail string) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		return field.ErrorList{field.Required(p, requiredDetail)}
	}
	once, other := false, false
	for _, m := range modes {
		switch {
		case m == corev1.ReadWriteOncePod:
			once = true
		case !slices.Contains(accessModes, string(m)):
			errs = append(errs, field.NotSupported(p, m, accessModes))
		default:
			other = true
		}
	}
	if once && other {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validateVolumeMode(m *corev1.PersistentVolumeMode, p *field.Path) field.ErrorList {
	if m != nil && *m != corev1.PersistentVolumeBlock && *m != corev1.PersistentVolumeFilesystem {
		return field.ErrorList{field.NotSupported(p, *m, []string{"Block", "Filesystem"})}
	}
	return nil
}

func validatePositiveQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than zero")}
	}
	return nil
}

func validateNoBacksteps(target string, p *field.Path) field.ErrorList {
	for _, part := range strings.Split(target, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, target, "must not contain '..'")}
		}
	}
	return nil
}

// validatePersistentVolumeSpec checks what kube-apiserver checks of a
// volume: access modes, a storage capacity, exactly one volume source
// (with its path rules for hostPath and local), node affinity for local
// volumes, the reclaim policy and the volume mode.
func validatePersistentVolumeSpec(s *corev1.PersistentVolumeSpec) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateAccessModes(s.AccessModes, spec.Child("accessModes"), "")
	capacity := spec.Child("capacity")
	if len(s.Capacity) == 0 {
		errs = append(errs, field.Required(capacity, ""))
	}
	if _, ok := s.Capacity[corev1.ResourceStorage]; !ok || len(s.Capacity) > 1 {
		errs = append(errs, field.NotSupported(capacity, s.Capacity, []string{"storage"}))
	}
	for name, q := range s.Capacity {
		errs = append(errs, validatePositiveQuantity(q, capacity.Key(string(name)))...)
	}
	if s.PersistentVolumeReclaimPolicy != "" {
		errs = append(errs, validateEnum(string(s.PersistentVolumeReclaimPolicy), []string{"Delete", "Recycle", "Retain"}, spec.Child("persistentVolumeReclaimPolicy"))...)
	}
	sources := 0
	src := reflect.ValueOf(s.PersistentVolumeSource)
	for i := range src.NumField() {
		if src.Field(i).IsNil() {
			continue
		}
		name, _, _ := strings.Cut(src.Type().Field(i).Tag.Get("json"), ",")
		if sources++; sources > 1 {
			errs = append(errs, field.Forbidden(spec.Child(name), "may not specify more than 1 volume type"))
		}
	}
	if sources == 0 {
		errs = append(errs, field.Required(spec, "must specify a volume type"))
	}
	if h := s.HostPath; h != nil {
		p := spec.Child("hostPath", "path")
		if h.Path == "" {
			errs = append(errs, field.Required(p, ""))
		} else {
			errs = append(errs, validateNoBacksteps(h.Path, p)...)
		}
		if path.Clean(h.Path) == "/" && s.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
			errs = append(errs, field.Forbidden(spec.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
		}
	}
	if l := s.Local; l != nil {
		p := spec.Child("local", "path")
		if l.Path == "" {
			errs = append(errs, field.Required(p, ""))
		} else {
			errs = append(errs, validateNoBacksteps(l.Path, p)...)
		}
		if s.NodeAffinity == nil || s.NodeAffinity.Required == nil {
			errs = append(errs, field.Required(spec.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	return append(errs, validateVolumeMode(s.VolumeMode, spec.Child("volumeMode"))...)
}

// validateClaimSpec checks a claim's spec, a PersistentVolumeClaim's or a
// StatefulSet's claim template's.
func validateClaimSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	errs := validateAccessModes(s.AccessModes, p.Child("accessModes"), "at least 1 access mode is required")
	if s.Selector != nil {
		errs = append(errs, validateLabelSelector(s.Selector, p.Child("selector"))...)
	}
	storage := p.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storage, ""))
	} else {
		errs = append(errs, validatePositiveQuantity(q, storage)...)
	}
	for n, q := range s.Resources.Requests {
		errs = append(errs, validateNonNegativeQuantity(q, p.Child("resources", "requests").Key(string(n)))...)
	}
	errs = append(errs, validateVolumeMode(s.VolumeMode, p.Child("volumeMode"))...)
	if d := s.DataSource; d != nil {
		errs = append(errs, validateDataSourceRef(d.APIGroup, d.Kind, d.Name, p.Child("dataSource"))...)
	}
	if r := s.DataSourceRef; r != nil {
		errs = append(errs, validateDataSourceRef(r.APIGroup, r.Kind, r.Name, p.Child("dataSourceRef"))...)
		if r.Namespace != nil && *r.Namespace != "" {
			if s.DataSource != nil {
				errs = append(errs, field.Invalid(p, p.Child("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
			}
		} else if s.DataSource != nil && !sameDataSource(s.DataSource, r) {
			errs = append(errs, field.Invalid(p, p.Child("dataSource"), "must match dataSourceRef"))
		}
	}
	return errs
}

// validateDataSourceRef checks what a claim's dataSource and dataSourceRef
// share: a kind and a name, and a claim when no API group is named.
func validateDataSourceRef(group *string, kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	if (group == nil || *group == "") && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	return errs
}

func sameDataSource(d *corev1.TypedLocalObjectReference, r *corev1.TypedObjectReference) bool {
	group := func(g *string) string {
		if g == nil {
			return ""
		}
		return *g
	}
	return group(d.APIGroup) == group(r.APIGroup) && d.Kind == r.Kind && d.Name == r.Name
}

// normalizeDataSources keeps a claim's two data source fields in step, as
// kube-apiserver's claim strategy does: a legacy dataSource that is not a
// claim or a snapshot is dropped when no dataSourceRef is given, and
// each of the two is filled from the other.
func normalizeDataSources(s *corev1.PersistentVolumeClaimSpec) {
	if d := s.DataSource; d != nil && s.DataSourceRef == nil {
		group := ""
		if d.APIGroup != nil {
			group = *d.APIGroup
		}
		if !(group == "" && d.Kind == "PersistentVolumeClaim" || group == "snapshot.storage.k8s.io" && d.Kind == "VolumeSnapshot") {
			s.DataSource = nil
		}
	}
	switch {
	case s.DataSource != nil && s.DataSourceRef == nil:
		s.DataSourceRef = &corev1.TypedObjectReference{Kind: s.DataSource.Kind, Name: s.DataSource.Name}
		if g := s.DataSource.APIGroup; g != nil {
			s.DataSourceRef.APIGroup = ptrTo(*g)
		}
	case s.DataSourceRef != nil && s.DataSource == nil && (s.DataSourceRef.Namespace == nil || *s.DataSourceRef.Namespace == ""):
		s.DataSource = &corev1.TypedLocalObjectReference{Kind: s.DataSourceRef.Kind, Name: s.DataSourceRef.Name}
		if g := s.DataSourceRef.APIGroup; g != nil {
			s.DataSource.APIGroup = ptrTo(*g)
		}
	}
}
