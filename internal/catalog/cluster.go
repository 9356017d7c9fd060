package catalog

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apfbootstrap "k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// PriorityClasses is scheduling.k8s.io/v1 priorityclasses. Names starting
// "system-" are the system's own.
func PriorityClasses() *Resource {
	return stored(schedulingv1.SchemeGroupVersion, "priorityclasses", "PriorityClass", false, func() Object { return &schedulingv1.PriorityClass{} }).
		short("pc").withGeneration().
		defaulted(func(obj Object) {
			defaultTo(&obj.(*schedulingv1.PriorityClass).PreemptionPolicy, corev1.PreemptLowerPriority)
		}).
		validated(func(obj Object) field.ErrorList {
			pc := obj.(*schedulingv1.PriorityClass)
			var errs field.ErrorList
			if strings.HasPrefix(pc.Name, "system-") && pc.Name != "system-cluster-critical" && pc.Name != "system-node-critical" {
				errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"), "priority class names with 'system-' prefix are reserved for system use only"))
			}
			if pc.Value > 1000000000 && !strings.HasPrefix(pc.Name, "system-") {
				errs = append(errs, field.Forbidden(field.NewPath("value"), "maximum allowed value of a user defined priority is 1000000000"))
			}
			return append(errs, validateEnum(string(*pc.PreemptionPolicy), []string{"Never", "PreemptLowerPriority"}, field.NewPath("preemptionPolicy"))...)
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass)
			var errs field.ErrorList
			if n.Value != o.Value {
				errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
			}
			if *n.PreemptionPolicy != *o.PreemptionPolicy {
				errs = append(errs, field.Invalid(field.NewPath("preemptionPolicy"), *n.PreemptionPolicy, "field is immutable"))
			}
			return errs
		})
}

// RuntimeClasses is node.k8s.io/v1 runtimeclasses.
func RuntimeClasses() *Resource {
	return stored(nodev1.SchemeGroupVersion, "runtimeclasses", "RuntimeClass", false, func() Object { return &nodev1.RuntimeClass{} }).
		validated(func(obj Object) field.ErrorList {
			return rcValidateRuntimeClass(obj.(*nodev1.RuntimeClass))
		}, func(obj, old Object) field.ErrorList {
			if obj.(*nodev1.RuntimeClass).Handler != old.(*nodev1.RuntimeClass).Handler {
				return field.ErrorList{field.Invalid(field.NewPath("handler"), obj.(*nodev1.RuntimeClass).Handler, "field is immutable")}
			}
			return nil
		})
}

// EndpointSlices is discovery.k8s.io/v1 endpointslices.
func EndpointSlices() *Resource {
	return stored(discoveryv1.SchemeGroupVersion, "endpointslices", "EndpointSlice", true, func() Object { return &discoveryv1.EndpointSlice{} }).
		defaulted(func(obj Object) {
			for i := range obj.(*discoveryv1.EndpointSlice).Ports {
				p := &obj.(*discoveryv1.EndpointSlice).Ports[i]
				defaultTo(&p.Name, "")
				defaultTo(&p.Protocol, corev1.ProtocolTCP)
			}
		}).
		withGeneration().
		prepared(esNoEmptyEndpoints, func(obj, _ Object) { esNoEmptyEndpoints(obj) }).
		validated(func(obj Object) field.ErrorList {
			s := obj.(*discoveryv1.EndpointSlice)
			errs := validateEnum(string(s.AddressType), []string{"FQDN", "IPv4", "IPv6"}, field.NewPath("addressType"))
			errs = append(errs, esValidatePorts(s.Ports, field.NewPath("ports"))...)
			return append(errs, esValidateEndpoints(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
		}, func(obj, old Object) field.ErrorList {
			if obj.(*discoveryv1.EndpointSlice).AddressType != old.(*discoveryv1.EndpointSlice).AddressType {
				return field.ErrorList{field.Invalid(field.NewPath("addressType"), obj.(*discoveryv1.EndpointSlice).AddressType, "field is immutable")}
			}
			return nil
		})
}

// FlowSchemas is flowcontrol.apiserver.k8s.io/v1 flowschemas, with status:
// stored and validated; sekisho's own limits are --max-requests-inflight.
func FlowSchemas() *Resource {
	return stored(flowcontrolv1.SchemeGroupVersion, "flowschemas", "FlowSchema", false, func() Object { return &flowcontrolv1.FlowSchema{} }).
		withStatus().withGeneration().
		defaulted(func(obj Object) {
			if s := &obj.(*flowcontrolv1.FlowSchema).Spec; s.MatchingPrecedence == 0 {
				s.MatchingPrecedence = 1000
			}
		}).
		validated(func(obj Object) field.ErrorList {
			fs := obj.(*flowcontrolv1.FlowSchema)
			errs := fcValidateFlowSchemaSpec(fs.Name, &fs.Spec, field.NewPath("spec"))
			for _, m := range apfbootstrap.MandatoryFlowSchemas {
				if fs.Name == m.Name && !apiequality.Semantic.DeepEqual(fs.Spec, m.Spec) {
					errs = append(errs, field.Invalid(field.NewPath("spec"), fs.Spec, fmt.Sprintf("spec of '%s' must equal the fixed value", fs.Name)))
				}
			}
			return errs
		}, nil)
}

// PriorityLevelConfigurations is flowcontrol.apiserver.k8s.io/v1
// prioritylevelconfigurations, with status: stored and validated.
func PriorityLevelConfigurations() *Resource {
	return stored(flowcontrolv1.SchemeGroupVersion, "prioritylevelconfigurations", "PriorityLevelConfiguration", false,
		func() Object { return &flowcontrolv1.PriorityLevelConfiguration{} }).
		withStatus().withGeneration().
		defaulted(func(obj Object) {
			fcDefaultPriorityLevel(&obj.(*flowcontrolv1.PriorityLevelConfiguration).Spec)
		}).
		validated(func(obj Object) field.ErrorList {
			pl := obj.(*flowcontrolv1.PriorityLevelConfiguration)
			errs := fcValidatePriorityLevelSpec(pl.Name, &pl.Spec, field.NewPath("spec"))
			for _, m := range apfbootstrap.MandatoryPriorityLevelConfigurations {
				if pl.Name != m.Name {
					continue
				}
				// The exempt level's own exempt settings may be tuned.
				have, why := pl.Spec.DeepCopy(), "must equal the fixed value"
				if m.Spec.Type == flowcontrolv1.PriorityLevelEnablementExempt {
					have.Exempt, why = m.Spec.Exempt, "except the 'spec.exempt' field must equal the fixed value"
				}
				if !apiequality.Semantic.DeepEqual(*have, m.Spec) {
					errs = append(errs, field.Invalid(field.NewPath("spec"), pl.Spec, fmt.Sprintf("spec of '%s' %s", pl.Name, why)))
				}
			}
			return errs
		}, nil)
}

// StorageVersionMigrations is storagemigration.k8s.io/v1
// storageversionmigrations, with status: stored; no migrator runs them.
func StorageVersionMigrations() *Resource {
	return stored(storagemigrationv1.SchemeGroupVersion, "storageversionmigrations", "StorageVersionMigration", false,
		func() Object { return &storagemigrationv1.StorageVersionMigration{} }).
		withStatus().
		validated(func(obj Object) field.ErrorList {
			return svmValidateSpec(&obj.(*storagemigrationv1.StorageVersionMigration).Spec)
		}, func(obj, old Object) field.ErrorList {
			n, o := obj.(*storagemigrationv1.StorageVersionMigration), old.(*storagemigrationv1.StorageVersionMigration)
			return immutable(n.Spec, o.Spec, field.NewPath("spec"))
		})
}

// APIServices is apiregistration.k8s.io/v1 apiservices, with status:
// stored and validated; sekisho aggregates no API servers yet. An
// APIService is named <version>.<group>.
func APIServices() *Resource {
	r := stored(apiregistrationv1.SchemeGroupVersion, "apiservices", "APIService", false, func() Object { return &apiregistrationv1.APIService{} }).
		inCategory("api-extensions").withStatus().
		defaulted(func(obj Object) {
			if svc := obj.(*apiregistrationv1.APIService).Spec.Service; svc != nil {
				defaultTo(&svc.Port, 443)
			}
		}).
		validated(func(obj Object) field.ErrorList {
			a := obj.(*apiregistrationv1.APIService)
			var errs field.ErrorList
			if want := a.Spec.Version + "." + a.Spec.Group; a.Name != want {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), a.Name, "must be `spec.version+\".\"+spec.group`: \""+want+"\""))
			}
			return append(errs, apisvcValidateSpec(&a.Spec)...)
		}, nil)
	// The name need only be a path segment; Validate checks it is
	// <version>.<group>.
	r.ValidateName = namePathSegment
	return r
}
