package catalog

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestIngressClassRules(t *testing.T) {
	r := IngressClasses()
	runCreateCases(t, r, []createCase{
		{"nginx", `{metadata: {name: a}, spec: {controller: example.com/ingress-nginx}}`, nil},
		{"namespaced parameters", `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {kind: P, name: p, scope: Namespace, namespace: default}}}`, nil},
		{"no controller", `{metadata: {name: a}, spec: {}}`, []string{"spec.controller: Required value"}},
		{"bare controller", `{metadata: {name: a}, spec: {controller: nginx}}`, []string{"spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path"}},
		{"namespace scope without namespace", `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {kind: P, name: p, scope: Namespace}}}`,
			[]string{"spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"}},
		{"cluster scope with namespace", `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {kind: P, name: p, namespace: default}}}`,
			[]string{"spec.parameters.namespace: Forbidden"}},
		{"bad scope", `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {kind: P, name: p, scope: Galaxy}}}`,
			[]string{"spec.parameters.scope: Unsupported value: \"Galaxy\""}},
		{"no kind", `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {name: p}}}`, []string{"spec.parameters.kind: Required value"}},
	})
	c := objectFrom(t, r, `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {kind: ConfigMap, name: c}}}`).(*networkingv1.IngressClass)
	if s := c.Spec.Parameters.Scope; s == nil || *s != "Cluster" {
		t.Errorf("parameters.scope %v, want Cluster", s)
	}
	checkIdempotentDefaults(t, r, `{metadata: {name: a}, spec: {controller: example.com/lb, parameters: {kind: ConfigMap, name: c}}}`)
	if !r.TracksGeneration {
		t.Error("IngressClasses must set metadata.generation")
	}
	n, o := objectFrom(t, r, `{metadata: {name: a}, spec: {controller: example.com/a}}`), objectFrom(t, r, `{metadata: {name: a}, spec: {controller: example.com/b}}`)
	if errs := r.ValidateUpdate(n, o); len(errs) != 1 || errs[0].Field != "spec.controller" {
		t.Errorf("controller change: %v", errs)
	}
}

func TestIngressRules(t *testing.T) {
	const backend = `backend: {service: {name: web, port: {number: 80}}}`
	runCreateCases(t, Ingresses(), []createCase{
		{"default backend only", `{metadata: {name: a}, spec: {defaultBackend: {service: {name: web, port: {name: http}}}}}`, nil},
		{"wildcard host", `{metadata: {name: a}, spec: {tls: [{hosts: ["*.example.org"], secretName: s}], rules: [{host: "*.example.org", http: {paths: [{path: /, pathType: Prefix, ` + backend + `}]}}]}}`, nil},
		{"empty", `{metadata: {name: a}, spec: {}}`, []string{"spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"}},
		{"relative path", `{metadata: {name: a}, spec: {rules: [{http: {paths: [{path: foo, pathType: Prefix, ` + backend + `}]}}]}}`,
			[]string{"spec.rules[0].http.paths[0].path: Invalid value: \"foo\": must be an absolute path"}},
		{"double slash", `{metadata: {name: a}, spec: {rules: [{http: {paths: [{path: "/a//b", pathType: Exact, ` + backend + `}]}}]}}`,
			[]string{"must not contain '//'"}},
		{"no path type", `{metadata: {name: a}, spec: {rules: [{http: {paths: [{path: /, ` + backend + `}]}}]}}`, []string{"pathType: Required value"}},
		{"IP host", `{metadata: {name: a}, spec: {rules: [{host: 1.2.3.4, http: {paths: [{path: /, pathType: Prefix, ` + backend + `}]}}]}}`,
			[]string{"spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address"}},
		{"both backends", `{metadata: {name: a}, spec: {defaultBackend: {service: {name: web, port: {number: 80}}, resource: {kind: B, name: b}}}}`,
			[]string{"spec.defaultBackend: Invalid value: \"\": cannot set both resource and service backends"}},
		{"port name and number", `{metadata: {name: a}, spec: {defaultBackend: {service: {name: web, port: {number: 80, name: http}}}}}`,
			[]string{"spec.defaultBackend: Invalid value: \"\": cannot set both port name & port number"}},
		{"no port", `{metadata: {name: a}, spec: {defaultBackend: {service: {name: web}}}}`, []string{"spec.defaultBackend: Required value: port name or number is required"}},
		{"bad class", `{metadata: {name: a}, spec: {ingressClassName: "Bad Class", defaultBackend: {service: {name: web, port: {number: 80}}}}}`,
			[]string{"spec.ingressClassName: Invalid value"}},
		{"class annotation mismatch", `{metadata: {name: a, annotations: {kubernetes.io/ingress.class: x}}, spec: {ingressClassName: y, defaultBackend: {service: {name: web, port: {number: 80}}}}}`,
			[]string{"annotations.kubernetes.io/ingress.class: Invalid value: \"x\""}},
	})
}

func TestNetworkPolicyRules(t *testing.T) {
	runCreateCases(t, NetworkPolicies(), []createCase{
		{"full", `{metadata: {name: a}, spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}, {podSelector: {}, namespaceSelector: {}}],
			ports: [{port: 5432}, {protocol: UDP, port: 30000, endPort: 32000}, {port: metrics}]}]}}`, nil},
		{"except outside cidr", `{metadata: {name: a}, spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [192.168.0.0/24]}}]}]}}`,
			[]string{"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.0.0/24\": must be a strict subset of `cidr`"}},
		{"endPort below port", `{metadata: {name: a}, spec: {podSelector: {}, ingress: [{ports: [{port: 100, endPort: 50}]}]}}`,
			[]string{"spec.ingress[0].ports[0].endPort: Invalid value: 50: must be greater than or equal to `port`"}},
		{"endPort with named port", `{metadata: {name: a}, spec: {podSelector: {}, ingress: [{ports: [{port: http, endPort: 50}]}]}}`,
			[]string{"may not be specified when `port` is non-numeric"}},
		{"ipBlock and selector", `{metadata: {name: a}, spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}}`,
			[]string{"spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"}},
		{"empty peer", `{metadata: {name: a}, spec: {podSelector: {}, egress: [{to: [{}]}]}}`, []string{"spec.egress[0].to[0]: Required value: must specify a peer"}},
		{"address for cidr", `{metadata: {name: a}, spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.1}}]}]}}`,
			[]string{"spec.egress[0].to[0].ipBlock.cidr: Invalid value: \"10.0.0.1\": must be a valid CIDR value"}},
	})
}

func TestIPAddressRules(t *testing.T) {
	const parent = `spec: {parentRef: {resource: services, namespace: default, name: web}}`
	runCreateCases(t, IPAddresses(), []createCase{
		{"IPv4", `{metadata: {name: 192.168.77.10}, ` + parent + `}`, nil},
		{"IPv6", `{metadata: {name: "2001:db8::10"}, ` + parent + `}`, nil},
		{"leading zero", `{metadata: {name: 192.168.077.11}, ` + parent + `}`, []string{"metadata.name: Invalid value: \"192.168.077.11\": must not have leading 0s"}},
		{"not canonical", `{metadata: {name: "2001:DB8::11"}, ` + parent + `}`, []string{"must be in canonical form (\"2001:db8::11\")"}},
		{"not an IP", `{metadata: {name: not-an-ip}, ` + parent + `}`, []string{"metadata.name: Invalid value: \"not-an-ip\": must be a valid IP address"}},
		{"no parent", `{metadata: {name: 192.168.77.12}, spec: {}}`, []string{"spec.parentRef: Required value"}},
		{"parent without resource", `{metadata: {name: 192.168.77.12}, spec: {parentRef: {name: web}}}`, []string{"spec.parentRef.resource: Required value"}},
	})
}

func TestServiceCIDRRules(t *testing.T) {
	r := ServiceCIDRs()
	runCreateCases(t, r, []createCase{
		{"dual", `{metadata: {name: a}, spec: {cidrs: [172.31.0.0/24, "fd00:1234::/112"]}}`, nil},
		{"two IPv4", `{metadata: {name: a}, spec: {cidrs: [172.28.0.0/24, 172.27.0.0/24]}}`, []string{"spec.cidrs: Invalid value: [\"172.28.0.0/24\",\"172.27.0.0/24\"]: may specify no more than one IP for each IP family"}},
		{"host bits", `{metadata: {name: a}, spec: {cidrs: [172.26.0.1/24]}}`, []string{"spec.cidrs[0]: Invalid value: \"172.26.0.1/24\": must not have bits set beyond the prefix length"}},
		{"empty", `{metadata: {name: a}, spec: {cidrs: []}}`, []string{"spec.cidrs: Required value: at least one CIDR required"}},
		{"three", `{metadata: {name: a}, spec: {cidrs: [10.0.0.0/8, "fd00::/64", 11.0.0.0/8]}}`, []string{"spec.cidrs: Invalid value"}},
	})
	one := objectFrom(t, r, `{metadata: {name: a}, spec: {cidrs: [10.0.0.0/8]}}`)
	dual := objectFrom(t, r, `{metadata: {name: a}, spec: {cidrs: [10.0.0.0/8, "fd00::/64"]}}`)
	other := objectFrom(t, r, `{metadata: {name: a}, spec: {cidrs: [11.0.0.0/8]}}`)
	if errs := r.ValidateUpdate(dual, one); len(errs) != 0 {
		t.Errorf("adding a second CIDR: %v", errs)
	}
	if errs := r.ValidateUpdate(other, one); len(errs) != 1 || errs[0].Field != "spec.cidrs[0]" {
		t.Errorf("changing a CIDR: %v", errs)
	}
	if errs := r.ValidateUpdate(one, dual); len(errs) != 1 || errs[0].Field != "spec.cidrs" {
		t.Errorf("removing a CIDR: %v", errs)
	}
}
