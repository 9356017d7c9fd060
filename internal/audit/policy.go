package audit

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Policy decides what the audit log records of each request: an
// audit.k8s.io/v1 Policy, with kube-apiserver's semantics (the first rule
// that matches decides; no rule matching means level None).
type Policy struct {
	rules             []auditv1.PolicyRule // each rule's omitStages include the policy's
	omitStages        []auditv1.Stage
	omitManagedFields bool
}

// Decision is what the log records of one request.
type Decision struct {
	Level             auditv1.Level
	OmitStages        []auditv1.Stage
	OmitManagedFields bool
}

// Omits reports whether the stage is not to be recorded.
func (d Decision) Omits(s auditv1.Stage) bool { return slices.Contains(d.OmitStages, s) }

// Request is what a policy rule matches.
type Request struct {
	User   string
	Groups []string
	Verb   string

	ResourceRequest bool
	APIGroup        string // "" is the core group
	Namespace       string // "" for cluster-scoped resources
	Resource        string
	Subresource     string
	Name            string

	Path string // of a non-resource request
}

// LoadPolicy reads and checks the policy file at path.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy decodes and checks a policy in YAML or JSON. Unlike
// kube-apiserver, which falls back to ignoring fields it does not know
// (and logs a warning), an unknown field is refused: a misspelt
// omitStages or userGroups would silently change what is recorded.
func ParsePolicy(data []byte) (*Policy, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %w", err)
	}
	var p auditv1.Policy
	strict, err := sigsjson.UnmarshalStrict(js, &p)
	if err != nil {
		return nil, fmt.Errorf("cannot decode the policy: %w", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("the policy has fields audit.k8s.io/v1 does not know: %w", strict[0])
	}
	if p.APIVersion != auditv1.SchemeGroupVersion.String() || p.Kind != "Policy" {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want %s Policy", p.APIVersion, p.Kind, auditv1.SchemeGroupVersion)
	}
	if errs := validatePolicy(&p); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if len(p.Rules) == 0 {
		return nil, fmt.Errorf("rules: the policy has none")
	}
	out := &Policy{omitStages: p.OmitStages, omitManagedFields: p.OmitManagedFields}
	for _, r := range p.Rules {
		r.OmitStages = unionStages(p.OmitStages, r.OmitStages)
		out.rules = append(out.rules, r)
	}
	return out, nil
}

// Decide returns what the log records of r.
func (p *Policy) Decide(r Request) Decision {
	for i := range p.rules {
		rule := &p.rules[i]
		if ruleMatches(rule, r) {
			d := Decision{Level: rule.Level, OmitStages: rule.OmitStages, OmitManagedFields: p.omitManagedFields}
			if rule.OmitManagedFields != nil {
				d.OmitManagedFields = *rule.OmitManagedFields
			}
			return d
		}
	}
	return Decision{Level: auditv1.LevelNone, OmitStages: p.omitStages, OmitManagedFields: p.omitManagedFields}
}

func ruleMatches(rule *auditv1.PolicyRule, r Request) bool {
	if len(rule.Users) > 0 && !slices.Contains(rule.Users, r.User) {
		return false
	}
	if len(rule.UserGroups) > 0 && !slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(rule.UserGroups, g) }) {
		return false
	}
	if len(rule.Verbs) > 0 && !slices.Contains(rule.Verbs, r.Verb) {
		return false
	}
	switch {
	case len(rule.Namespaces) > 0 || len(rule.Resources) > 0:
		return r.ResourceRequest && resourceMatches(rule, r)
	case len(rule.NonResourceURLs) > 0:
		return !r.ResourceRequest && slices.ContainsFunc(rule.NonResourceURLs, func(spec string) bool { return pathMatches(r.Path, spec) })
	}
	return true
}

// pathMatches: "*" is every path, and a trailing "*" every path under it.
func pathMatches(path, spec string) bool {
	if spec == "*" || spec == path {
		return true
	}
	prefix, wild := strings.CutSuffix(spec, "*")
	return wild && strings.HasPrefix(path, prefix)
}

// resourceMatches: "*" is every resource and subresource, "pods" the
// resource alone, "pods/log" one subresource, "pods/*" every subresource
// of pods and "*/status" the status of every resource. resourceNames,
// when given, narrow the rule's resources to objects of those names.
func resourceMatches(rule *auditv1.PolicyRule, r Request) bool {
	if len(rule.Namespaces) > 0 && !slices.Contains(rule.Namespaces, r.Namespace) {
		return false
	}
	if len(rule.Resources) == 0 {
		return true
	}
	combined := r.Resource
	if r.Subresource != "" {
		combined += "/" + r.Subresource
	}
	for _, gr := range rule.Resources {
		if gr.Group != r.APIGroup && gr.Group != "*" {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, r.Name) {
			continue
		}
		for _, res := range gr.Resources {
			switch {
			case res == "*" || res == combined:
				return true
			case r.Subresource != "" && res == "*/"+r.Subresource:
				return true
			case strings.HasSuffix(res, "/*") && strings.TrimSuffix(res, "/*") == r.Resource:
				return true
			}
		}
	}
	return false
}

func unionStages(lists ...[]auditv1.Stage) []auditv1.Stage {
	var out []auditv1.Stage
	for _, l := range lists {
		for _, s := range l {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

var (
	levels = []string{string(auditv1.LevelNone), string(auditv1.LevelMetadata), string(auditv1.LevelRequest), string(auditv1.LevelRequestResponse)}
	stages = []string{string(auditv1.StageRequestReceived), string(auditv1.StageResponseStarted), string(auditv1.StageResponseComplete), string(auditv1.StagePanic)}
)

// validatePolicy checks a policy as kube-apiserver does, with its messages.
func validatePolicy(p *auditv1.Policy) field.ErrorList {
	errs := validateStages(p.OmitStages, field.NewPath("omitStages"))
	for i, rule := range p.Rules {
		path := field.NewPath("rules").Index(i)
		switch {
		case rule.Level == "":
			errs = append(errs, field.Required(path.Child("level"), ""))
		case !slices.Contains(levels, string(rule.Level)):
			errs = append(errs, field.NotSupported(path.Child("level"), rule.Level, levels))
		}
		for j, url := range rule.NonResourceURLs {
			if url == "*" {
				continue
			}
			if !strings.HasPrefix(url, "/") {
				errs = append(errs, field.Invalid(path.Child("nonResourceURLs").Index(j), url, "non-resource URL rules must begin with a '/' character"))
			}
			if url != "" && strings.ContainsRune(url[:len(url)-1], '*') {
				errs = append(errs, field.Invalid(path.Child("nonResourceURLs").Index(j), url, "non-resource URL wildcards '*' must be the final character of the rule"))
			}
		}
		for _, gr := range rule.Resources {
			if gr.Group != "" && gr.Group != "*" {
				if msgs := validation.NameIsDNSSubdomain(gr.Group, false); len(msgs) > 0 {
					errs = append(errs, field.Invalid(path.Child("resources").Child("group"), gr.Group, strings.Join(msgs, ",")))
				}
			}
			if len(gr.ResourceNames) > 0 && len(gr.Resources) == 0 {
				errs = append(errs, field.Invalid(path.Child("resources").Child("resourceNames"), gr.ResourceNames, "using resourceNames requires at least one resource"))
			}
		}
		errs = append(errs, validateStages(rule.OmitStages, path.Child("omitStages"))...)
		if len(rule.NonResourceURLs) > 0 && (len(rule.Resources) > 0 || len(rule.Namespaces) > 0) {
			errs = append(errs, field.Invalid(path.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
	}
	return errs
}

func validateStages(list []auditv1.Stage, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range list {
		if !slices.Contains(stages, string(s)) {
			errs = append(errs, field.Invalid(path.Index(i), string(s), "allowed stages are "+strings.Join(stages, ",")))
		}
	}
	return errs
}
