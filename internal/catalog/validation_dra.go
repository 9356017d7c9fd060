package catalog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiservercel "k8s.io/apiserver/pkg/cel"
)

// The validation and defaults of resource.k8s.io/v1, as kube-apiserver
// applies them on create, for the fields the dynamic resource allocation
// types are most often written with.

// draValidateDriver checks a driver name: a DNS subdomain of at most 63
// characters, compared in lower case.
func draValidateDriver(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if len(name) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(name)) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

func draValidatePool(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if len(name) > resourcev1.PoolNameMaxLength {
		errs = append(errs, field.TooLong(p, "", resourcev1.PoolNameMaxLength))
	}
	for _, part := range strings.Split(name, "/") {
		errs = append(errs, invalidBy(validation.IsDNS1123Subdomain, part, p)...)
	}
	return errs
}

func draValidateSubdomain(s string, p *field.Path) field.ErrorList {
	return invalidBy(validation.IsDNS1123Subdomain, s, p)
}

// draValidateDeviceClassSpec checks a DeviceClass's selectors and config.
func draValidateDeviceClassSpec(s *resourcev1.DeviceClassSpec, p *field.Path) field.ErrorList {
	errs := draValidateSelectors(s.Selectors, p.Child("selectors"))
	if len(s.Config) > resourcev1.DeviceConfigMaxSize {
		errs = append(errs, field.TooMany(p.Child("config"), len(s.Config), resourcev1.DeviceConfigMaxSize))
	} else {
		for i, c := range s.Config {
			errs = append(errs, draValidateConfig(c.DeviceConfiguration, p.Child("config").Index(i))...)
		}
	}
	if n := s.ExtendedResourceName; n != nil && !draIsExtendedResourceName(*n) {
		errs = append(errs, field.Invalid(p.Child("extendedResourceName"), *n, "must be a valid extended resource name"))
	}
	return errs
}

// draIsExtendedResourceName is true of a qualified name outside the
// kubernetes.io domains, as Kubernetes defines extended resources.
func draIsExtendedResourceName(name string) bool {
	if !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/") || strings.HasPrefix(name, "requests.") {
		return false
	}
	return len(validation.IsQualifiedName("requests."+name)) == 0
}

func draValidateSelectors(sels []resourcev1.DeviceSelector, p *field.Path) field.ErrorList {
	if len(sels) > resourcev1.DeviceSelectorsMaxSize {
		return field.ErrorList{field.TooMany(p, len(sels), resourcev1.DeviceSelectorsMaxSize)}
	}
	var errs field.ErrorList
	for i, s := range sels {
		if s.CEL == nil {
			errs = append(errs, field.Required(p.Index(i).Child("cel"), ""))
			continue
		}
		errs = append(errs, draCompileSelector(s.CEL.Expression, p.Index(i).Child("cel", "expression"))...)
	}
	return errs
}

func draValidateConfig(c resourcev1.DeviceConfiguration, p *field.Path) field.ErrorList {
	if c.Opaque == nil {
		return field.ErrorList{field.Required(p.Child("opaque"), "")}
	}
	p = p.Child("opaque")
	errs := draValidateDriver(c.Opaque.Driver, p.Child("driver"))
	return append(errs, draValidateParameters(c.Opaque.Parameters.Raw, p.Child("parameters"))...)
}

// draValidateParameters checks opaque parameters: a JSON object of at
// most 10 KiB.
func draValidateParameters(raw []byte, p *field.Path) field.ErrorList {
	var v any
	switch {
	case len(raw) == 0:
		return field.ErrorList{field.Required(p, "")}
	case len(raw) > resourcev1.OpaqueParametersMaxLength:
		return field.ErrorList{field.TooLong(p, "", resourcev1.OpaqueParametersMaxLength)}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return field.ErrorList{field.Invalid(p, "<value omitted>", "error parsing data as JSON: "+err.Error())}
	}
	if v == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	if _, ok := v.(map[string]any); !ok {
		return field.ErrorList{field.Invalid(p, "<value omitted>", "must be a valid JSON object")}
	}
	return nil
}

// draValidateClaimSpec checks the device requests, constraints and config
// of a ResourceClaim's (or its template's) spec.
func draValidateClaimSpec(s *resourcev1.ResourceClaimSpec, p *field.Path) field.ErrorList {
	p = p.Child("devices")
	d := &s.Devices
	var errs field.ErrorList
	names := map[string]map[string]bool{} // request -> its subrequests
	if len(d.Requests) > resourcev1.DeviceRequestsMaxSize {
		errs = append(errs, field.TooMany(p.Child("requests"), len(d.Requests), resourcev1.DeviceRequestsMaxSize))
	} else {
		for i, r := range d.Requests {
			rp := p.Child("requests").Index(i)
			errs = append(errs, draValidateRequest(r, rp)...)
			if _, dup := names[r.Name]; dup {
				errs = append(errs, field.Duplicate(rp, r.Name))
			}
			names[r.Name] = map[string]bool{}
			for _, sub := range r.FirstAvailable {
				names[r.Name][sub.Name] = true
			}
		}
	}
	for i, c := range d.Constraints {
		cp := p.Child("constraints").Index(i)
		errs = append(errs, draValidateRequestRefs(c.Requests, names, cp.Child("requests"))...)
		switch {
		case c.MatchAttribute != nil:
			errs = append(errs, draValidateFullyQualifiedName(string(*c.MatchAttribute), cp.Child("matchAttribute"))...)
		case c.DistinctAttribute != nil:
			errs = append(errs, draValidateFullyQualifiedName(string(*c.DistinctAttribute), cp.Child("distinctAttribute"))...)
		default:
			errs = append(errs, field.Required(cp, "exactly one of \"matchAttribute\" or \"distinctAttribute\" is required, but multiple fields are set"))
		}
	}
	for i, c := range d.Config {
		cp := p.Child("config").Index(i)
		errs = append(errs, draValidateRequestRefs(c.Requests, names, cp.Child("requests"))...)
		errs = append(errs, draValidateConfig(c.DeviceConfiguration, cp)...)
	}
	return errs
}

func draValidateRequest(r resourcev1.DeviceRequest, p *field.Path) field.ErrorList {
	errs := validateDNSLabel(r.Name, p.Child("name"))
	switch {
	case r.Exactly == nil && len(r.FirstAvailable) == 0:
		errs = append(errs, field.Required(p, "exactly one of `exactly` or `firstAvailable` is required"))
	case r.Exactly != nil && len(r.FirstAvailable) > 0:
		errs = append(errs, field.Invalid(p, nil, "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set"))
	case r.Exactly != nil:
		e := r.Exactly
		errs = append(errs, draValidateDeviceChoice(e.DeviceClassName, e.Selectors, e.AllocationMode, e.Count, e.Tolerations, p.Child("exactly"))...)
	case len(r.FirstAvailable) > resourcev1.FirstAvailableDeviceRequestMaxSize:
		errs = append(errs, field.TooMany(p.Child("firstAvailable"), len(r.FirstAvailable), resourcev1.FirstAvailableDeviceRequestMaxSize))
	default:
		seen := map[string]bool{}
		for i, s := range r.FirstAvailable {
			sp := p.Child("firstAvailable").Index(i)
			errs = append(errs, validateDNSLabel(s.Name, sp.Child("name"))...)
			errs = append(errs, draValidateDeviceChoice(s.DeviceClassName, s.Selectors, s.AllocationMode, s.Count, s.Tolerations, sp)...)
			if seen[s.Name] {
				errs = append(errs, field.Duplicate(sp, s.Name))
			}
			seen[s.Name] = true
		}
	}
	return errs
}

// draValidateDeviceChoice checks what an exact request and a subrequest
// share: class, selectors, allocation mode and count, and tolerations.
func draValidateDeviceChoice(class string, sels []resourcev1.DeviceSelector, mode resourcev1.DeviceAllocationMode, count int64,
	tols []resourcev1.DeviceToleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if class == "" {
		errs = append(errs, field.Required(p.Child("deviceClassName"), ""))
	} else {
		errs = append(errs, draValidateSubdomain(class, p.Child("deviceClassName"))...)
	}
	errs = append(errs, draValidateSelectors(sels, p.Child("selectors"))...)
	switch mode {
	case resourcev1.DeviceAllocationModeAll:
		if count != 0 {
			errs = append(errs, field.Invalid(p.Child("count"), count, fmt.Sprintf("must not be specified when allocationMode is '%s'", mode)))
		}
	case resourcev1.DeviceAllocationModeExactCount:
		if count <= 0 {
			errs = append(errs, field.Invalid(p.Child("count"), count, "must be greater than zero"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("allocationMode"), mode, []string{"All", "ExactCount"}))
	}
	for i, t := range tols {
		errs = append(errs, draValidateToleration(t, p.Child("tolerations").Index(i))...)
	}
	return errs
}

// draValidateRequestRefs checks that constraints and config name requests
// ("request" or "request/subrequest") of the claim, each once.
func draValidateRequestRefs(refs []string, names map[string]map[string]bool, p *field.Path) field.ErrorList {
	const msg = "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'"
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, ref := range refs {
		rp := p.Index(i)
		segs := strings.Split(ref, "/")
		if len(segs) > 2 {
			errs = append(errs, field.Invalid(rp, ref, msg))
			continue
		}
		for _, s := range segs {
			errs = append(errs, validateDNSLabel(s, rp)...)
		}
		subs, ok := names[segs[0]]
		if !ok || (len(segs) == 2 && !subs[segs[1]]) {
			errs = append(errs, field.Invalid(rp, ref, msg))
		}
		if seen[ref] {
			errs = append(errs, field.Duplicate(rp, ref))
		}
		seen[ref] = true
	}
	return errs
}

// draValidateQualifiedName checks an attribute name: a C identifier,
// optionally after a driver-like domain and a slash.
func draValidateQualifiedName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	domain, id, qualified := strings.Cut(name, "/")
	if !qualified {
		return draValidateCIdentifier(name, p)
	}
	if domain == "" {
		errs = append(errs, field.Invalid(p, "", "the domain must not be empty"))
	} else {
		errs = append(errs, draValidateDriver(domain, p)...)
	}
	if id == "" {
		return append(errs, field.Invalid(p, "", "the name must not be empty"))
	}
	return append(errs, draValidateCIdentifier(id, p)...)
}

func draValidateFullyQualifiedName(name string, p *field.Path) field.ErrorList {
	errs := draValidateQualifiedName(name, p)
	if !strings.Contains(name, "/") {
		errs = append(errs, field.Invalid(p, name, "a fully qualified name must be a domain and a name separated by a slash"))
	}
	return errs
}

func draValidateCIdentifier(id string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(id) > resourcev1.DeviceMaxIDLength {
		errs = append(errs, field.TooLong(p, "", resourcev1.DeviceMaxIDLength))
	}
	errs = append(errs, invalidBy(validation.IsCIdentifier, id, p)...)
	return errs
}

var draTaintEffects = []string{"NoExecute", "NoSchedule", "None"}

func draValidateTaint(t resourcev1.DeviceTaint, p *field.Path) field.ErrorList {
	errs := metavalidation.ValidateLabelName(t.Key, p.Child("key"))
	if t.Value != "" {
		errs = append(errs, draValidateLabelValue(t.Value, p.Child("value"))...)
	}
	return append(errs, validateEnum(string(t.Effect), draTaintEffects, p.Child("effect"))...)
}

func draValidateToleration(t resourcev1.DeviceToleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
	}
	switch t.Operator {
	case resourcev1.DeviceTolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be empty for operator `Exists`"))
		}
	case resourcev1.DeviceTolerationOpEqual:
		errs = append(errs, draValidateLabelValue(t.Value, p.Child("value"))...)
	default:
		errs = append(errs, validateEnum(string(t.Operator), []string{"Equal", "Exists"}, p.Child("operator"))...)
	}
	if t.Effect != "" {
		errs = append(errs, validateEnum(string(t.Effect), draTaintEffects, p.Child("effect"))...)
	}
	return errs
}

func draValidateLabelValue(v string, p *field.Path) field.ErrorList {
	return invalidBy(validation.IsValidLabelValue, v, p)
}

// draValidateTaintRuleSpec checks a DeviceTaintRule's selector and taint.
func draValidateTaintRuleSpec(s *resourcev1.DeviceTaintRuleSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel := s.DeviceSelector; sel != nil {
		sp := p.Child("deviceSelector")
		if sel.Driver != nil {
			errs = append(errs, draValidateDriver(*sel.Driver, sp.Child("driver"))...)
		}
		if sel.Pool != nil {
			errs = append(errs, draValidatePool(*sel.Pool, sp.Child("pool"))...)
		}
		if sel.Device != nil {
			errs = append(errs, validateDNSLabel(*sel.Device, sp.Child("device"))...)
		}
	}
	return append(errs, draValidateTaint(s.Taint, p.Child("taint"))...)
}

// draValidateSliceSpec checks a ResourceSlice's driver, pool, node choice
// and devices.
func draValidateSliceSpec(s *resourcev1.ResourceSliceSpec, p *field.Path) field.ErrorList {
	errs := draValidateDriver(s.Driver, p.Child("driver"))
	pp := p.Child("pool")
	errs = append(errs, draValidatePool(s.Pool.Name, pp.Child("name"))...)
	if s.Pool.ResourceSliceCount <= 0 {
		errs = append(errs, field.Invalid(pp.Child("resourceSliceCount"), s.Pool.ResourceSliceCount, "must be greater than zero"))
	}
	if s.Pool.Generation < 0 {
		errs = append(errs, field.Invalid(pp.Child("generation"), s.Pool.Generation, "must be greater than or equal to zero"))
	}
	errs = append(errs, draValidateNodeChoice(s, p)...)
	if s.SharedCounters != nil && s.Devices != nil {
		errs = append(errs, field.Invalid(p, "", "only one of `sharedCounters` or `devices` is allowed"))
	}
	seen := map[string]bool{}
	for i, d := range s.Devices {
		dp := p.Child("devices").Index(i)
		errs = append(errs, draValidateDevice(d, dp)...)
		if seen[d.Name] {
			errs = append(errs, field.Duplicate(dp, d.Name))
		}
		seen[d.Name] = true
	}
	return errs
}

// draValidateNodeChoice checks that a slice sets exactly one of nodeName,
// nodeSelector, allNodes and perDeviceNodeSelection.
func draValidateNodeChoice(s *resourcev1.ResourceSliceSpec, p *field.Path) field.ErrorList {
	const choices = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"
	var errs field.ErrorList
	var set []string
	if s.NodeName != nil {
		if *s.NodeName == "" {
			errs = append(errs, field.Invalid(p.Child("nodeName"), "", "must be either unset or set to a non-empty string"))
		} else {
			set = append(set, "`nodeName`")
			errs = append(errs, draValidateSubdomain(*s.NodeName, p.Child("nodeName"))...)
		}
	}
	if s.NodeSelector != nil {
		set = append(set, "`nodeSelector`")
		if len(s.NodeSelector.NodeSelectorTerms) != 1 {
			errs = append(errs, field.Invalid(p.Child("nodeSelector", "nodeSelectorTerms"), s.NodeSelector.NodeSelectorTerms, "must have exactly one node selector term"))
		}
	}
	for _, b := range []struct {
		v    *bool
		name string
	}{{s.AllNodes, "allNodes"}, {s.PerDeviceNodeSelection, "perDeviceNodeSelection"}} {
		if b.v != nil && *b.v {
			set = append(set, "`"+b.name+"`")
		} else if b.v != nil {
			errs = append(errs, field.Invalid(p.Child(b.name), false, "must be either unset or set to true"))
		}
	}
	switch {
	case len(set) == 0:
		errs = append(errs, field.Required(p, choices))
	case len(set) > 1:
		errs = append(errs, field.Invalid(p, "{"+strings.Join(set, ", ")+"}", choices+", but multiple fields are set"))
	}
	return errs
}

var draSemver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func draValidateDevice(d resourcev1.Device, p *field.Path) field.ErrorList {
	errs := validateDNSLabel(d.Name, p.Child("name"))
	for name, a := range d.Attributes {
		errs = append(errs, draValidateQualifiedName(string(name), p.Child("attributes"))...)
		errs = append(errs, draValidateAttribute(a, p.Child("attributes").Key(string(name)))...)
	}
	for name := range d.Capacity {
		errs = append(errs, draValidateQualifiedName(string(name), p.Child("capacity"))...)
	}
	for i, t := range d.Taints {
		errs = append(errs, draValidateTaint(t, p.Child("taints").Index(i))...)
	}
	return errs
}

// draValidateAttribute checks that an attribute has exactly one value.
func draValidateAttribute(a resourcev1.DeviceAttribute, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	for _, set := range []bool{a.BoolValue != nil, a.IntValue != nil, a.StringValue != nil, a.VersionValue != nil,
		a.BoolValues != nil, a.IntValues != nil, a.StringValues != nil, a.VersionValues != nil} {
		if set {
			n++
		}
	}
	if a.StringValue != nil && len(*a.StringValue) > resourcev1.DeviceAttributeMaxValueLength {
		errs = append(errs, field.TooLong(p.Child("string"), "", resourcev1.DeviceAttributeMaxValueLength))
	}
	if v := a.VersionValue; v != nil {
		if !draSemver.MatchString(*v) {
			errs = append(errs, field.Invalid(p.Child("version"), *v, "must be a string compatible with semver.org spec 2.0.0"))
		}
		if len(*v) > resourcev1.DeviceAttributeMaxValueLength {
			errs = append(errs, field.TooLong(p.Child("version"), "", resourcev1.DeviceAttributeMaxValueLength))
		}
	}
	switch n {
	case 0:
		errs = append(errs, field.Invalid(p, "", "exactly one value must be specified"))
	case 1:
	default:
		errs = append(errs, field.Invalid(p, a, "exactly one value must be specified"))
	}
	return errs
}

// draDefaultClaimSpec sets the allocation mode and count of requests.
func draDefaultClaimSpec(s *resourcev1.ResourceClaimSpec) {
	for i := range s.Devices.Requests {
		r := &s.Devices.Requests[i]
		if r.Exactly != nil {
			draDefaultAllocation(&r.Exactly.AllocationMode, &r.Exactly.Count)
		}
		for j := range r.FirstAvailable {
			draDefaultAllocation(&r.FirstAvailable[j].AllocationMode, &r.FirstAvailable[j].Count)
		}
	}
}

// draCompactClaimSpec stores an empty request list as none, as
// kube-apiserver reads it back from storage. It runs after field
// ownership is recorded, which keeps the empty list.
func draCompactClaimSpec(s *resourcev1.ResourceClaimSpec) {
	if len(s.Devices.Requests) == 0 {
		s.Devices.Requests = nil
	}
}

func draDefaultAllocation(mode *resourcev1.DeviceAllocationMode, count *int64) {
	if *mode == "" {
		*mode = resourcev1.DeviceAllocationModeExactCount
	}
	if *mode == resourcev1.DeviceAllocationModeExactCount && *count == 0 {
		*count = 1
	}
}

// draDefaultTaint stamps a taint without a time with the current second.
func draDefaultTaint(t *resourcev1.DeviceTaint) {
	if t.TimeAdded == nil {
		t.TimeAdded = &metav1.Time{Time: time.Now().Truncate(time.Second)}
	}
}

var draCEL struct {
	once sync.Once
	env  *cel.Env
	err  error
}

// draCELEnv is the environment of device selectors: kube-apiserver's base
// libraries, cel.bind and the device variable with its driver,
// attributes, capacity and allowMultipleAllocations.
func draCELEnv() (*cel.Env, error) {
	draCEL.once.Do(func() {
		str := apiservercel.StringType
		attrs := apiservercel.NewMapType(str, apiservercel.NewMapType(str, apiservercel.DynType, -1), -1)
		capacity := apiservercel.NewMapType(str, apiservercel.NewMapType(str, apiservercel.QuantityDeclType, -1), -1)
		field := func(name string, t *apiservercel.DeclType) *apiservercel.DeclField {
			return apiservercel.NewDeclField(name, t, true, nil, nil)
		}
		device := apiservercel.NewObjectType("kubernetes.DRADevice", map[string]*apiservercel.DeclField{
			"driver": field("driver", str), "attributes": field("attributes", attrs), "capacity": field("capacity", capacity),
			"allowMultipleAllocations": field("allowMultipleAllocations", apiservercel.BoolType),
		})
		base, err := cel.NewEnv(celBaseOptions()...)
		if err != nil {
			draCEL.err = err
			return
		}
		typeOpts, err := apiservercel.NewDeclTypeProvider(device).EnvOptions(base.CELTypeProvider())
		if err != nil {
			draCEL.err = err
			return
		}
		opts := append(typeOpts, cel.Variable("device", device.CelType()), ext.Bindings(ext.BindingsVersion(0)))
		draCEL.env, draCEL.err = base.Extend(opts...)
	})
	return draCEL.env, draCEL.err
}

// draCompileSelector compiles a device selector, which must be a bool.
func draCompileSelector(expr string, p *field.Path) field.ErrorList {
	if len(expr) > resourcev1.CELSelectorExpressionMaxLength {
		return field.ErrorList{field.TooLong(p, "", resourcev1.CELSelectorExpressionMaxLength)}
	}
	env, err := draCELEnv()
	if err != nil {
		return field.ErrorList{field.InternalError(p, err)}
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return field.ErrorList{field.Invalid(p, expr, "compilation failed: "+iss.String())}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return field.ErrorList{field.Invalid(p, expr, fmt.Sprintf("must evaluate to %v or the unknown type, not %v", cel.BoolType, t))}
	}
	return nil
}
