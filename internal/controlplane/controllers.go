package controlplane

import (
	"fmt"
	"slices"
	"strings"
)

// The controllers sekisho runs that kube-controller-manager runs too, by
// kube-controller-manager's names. When both run a cluster, sekisho's are
// switched off with --controllers, in kube-controller-manager's syntax.
const (
	namespaceController           = "namespace-controller"
	serviceAccountController      = "serviceaccount-controller"
	serviceAccountTokenController = "serviceaccount-token-controller"
	csrSigningController          = "certificatesigningrequest-signing-controller"
	csrApprovingController        = "certificatesigningrequest-approving-controller"
	csrCleanerController          = "certificatesigningrequest-cleaner-controller"
	clusterRoleAggregation        = "clusterrole-aggregation-controller"
	bootstrapSignerController     = "bootstrap-signer-controller"
	tokenCleanerController        = "token-cleaner-controller"
	resourceQuotaController       = "resourcequota-controller"
	rootCAPublisherController     = "root-ca-certificate-publisher-controller"
	// sekisho's own: Kubernetes ships no approver for kubelet serving
	// requests. Off unless named: a node writes its own addresses.
	kubeletServingApprover = "kubelet-serving-approving-controller"
)

// controllerAliases are kube-controller-manager's older names.
var controllerAliases = map[string]string{
	"namespace":               namespaceController,
	"serviceaccount":          serviceAccountController,
	"serviceaccount-token":    serviceAccountTokenController,
	"csrsigning":              csrSigningController,
	"csrapproving":            csrApprovingController,
	"csrcleaner":              csrCleanerController,
	"clusterrole-aggregation": clusterRoleAggregation,
	"bootstrapsigner":         bootstrapSignerController,
	"tokencleaner":            tokenCleanerController,
	"resourcequota":           resourceQuotaController,
	"root-ca-cert-publisher":  rootCAPublisherController,
}

// ControllerNames lists the controllers --controllers can name.
func ControllerNames() []string {
	return []string{namespaceController, serviceAccountController, serviceAccountTokenController,
		csrSigningController, csrApprovingController, csrCleanerController, clusterRoleAggregation,
		bootstrapSignerController, tokenCleanerController, resourceQuotaController, rootCAPublisherController, kubeletServingApprover}
}

// controllerSelection says which of sekisho's controllers run. As in
// kube-controller-manager, '*' turns on every controller, 'foo' turns foo
// on and '-foo' turns it off; a list without '*' runs only what it names.
// Unlike kube-controller-manager's, the bootstrap-token pair is on under
// '*' (it also needs --enable-bootstrap-token-auth); the kubelet serving
// approver is off unless named.
type controllerSelection struct {
	all bool
	on  map[string]bool // name -> on (true) or off (false)
}

func parseControllers(list []string) (controllerSelection, error) {
	s := controllerSelection{on: map[string]bool{}}
	for _, item := range list {
		item = strings.TrimSpace(item)
		if item == "" {
			continue // --controllers= runs none
		}
		if item == "*" {
			s.all = true
			continue
		}
		name, off := strings.CutPrefix(item, "-")
		if canonical, ok := controllerAliases[name]; ok {
			name = canonical
		}
		if !slices.Contains(ControllerNames(), name) {
			return s, fmt.Errorf("--controllers: %q is not a controller sekisho runs (%s)", item, strings.Join(ControllerNames(), ", "))
		}
		s.on[name] = !off
	}
	return s, nil
}

// offByDefault are the controllers '*' leaves off, as
// kube-controller-manager leaves some off: they run only when named.
var offByDefault = []string{kubeletServingApprover}

// enabled reports whether a controller runs.
func (s controllerSelection) enabled(name string) bool {
	if on, named := s.on[name]; named {
		return on
	}
	return s.all && !slices.Contains(offByDefault, name)
}
