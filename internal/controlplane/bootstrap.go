package controlplane

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	apfbootstrap "k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/sekisho/sekisho/internal/aggregator"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/pki"
	"github.com/sekisho/sekisho/internal/store"
)

// bootstrap creates what every cluster has from the start: the system
// namespaces, the system priority classes, the flow-control configuration,
// and the "kubernetes" Service (apiserverendpoints keeps its endpoints).
// Existing objects are left alone.
func bootstrap(ctx context.Context, reg *catalog.Catalog, w *store.Writer, o Options, port int) error {
	lookup := func(resource string) *catalog.Resource {
		res, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
		return res
	}
	// An object that exists is left as it is, even where it no longer
	// passes admission (a Service whose address left a changed range).
	ensure := func(res *catalog.Resource, obj catalog.Object) error {
		if _, err := w.Get(ctx, res, obj.GetNamespace(), obj.GetName()); err == nil || !apierrors.IsNotFound(err) {
			return err
		}
		_, err := w.Create(ctx, res, obj, store.Options{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	for _, ns := range catalog.SystemNamespaces {
		if err := ensure(lookup("namespaces"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	// The system priority classes and API priority and fairness's
	// configuration, as kube-apiserver creates them at start-up. sekisho
	// stores the configuration for clients that read it; its own limits
	// are --max-requests-inflight and --max-mutating-requests-inflight.
	group := func(gv schema.GroupVersion, resource string) *catalog.Resource {
		res, _ := reg.Lookup(gv.WithResource(resource))
		return res
	}
	if err := registerLocalAPIServices(ctx, reg, w, ensure); err != nil {
		return err
	}
	for _, pc := range systemPriorityClasses() {
		if err := ensure(group(schedulingv1.SchemeGroupVersion, "priorityclasses"), pc); err != nil {
			return err
		}
	}
	for _, list := range [][]*flowcontrolv1.PriorityLevelConfiguration{apfbootstrap.MandatoryPriorityLevelConfigurations, apfbootstrap.SuggestedPriorityLevelConfigurations} {
		for _, pl := range list {
			if err := ensure(group(flowcontrolv1.SchemeGroupVersion, "prioritylevelconfigurations"), pl.DeepCopy()); err != nil {
				return err
			}
		}
	}
	for _, list := range [][]*flowcontrolv1.FlowSchema{apfbootstrap.MandatoryFlowSchemas, apfbootstrap.SuggestedFlowSchemas} {
		for _, fs := range list {
			if err := ensure(group(flowcontrolv1.SchemeGroupVersion, "flowschemas"), fs.DeepCopy()); err != nil {
				return err
			}
		}
	}
	_, cidr, _ := net.ParseCIDR(o.ServiceClusterIPRange)
	svcIP := firstIP(cidr)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"},
		},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: svcIP.String(),
			Ports: []corev1.ServicePort{{
				Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port)),
			}},
		},
	}
	if err := ensure(lookup("services"), svc); err != nil {
		return err
	}
	return nil
}

// systemPriorityClasses are Kubernetes' two built-in priority classes;
// kube-apiserver's validation reserves their names and values.
// registerLocalAPIServices registers the Local APIServices kube-apiserver
// registers at start for the versions it serves itself; as its
// autoregistration does at start, an automanaged one takes this server's
// priorities again, and one for a version no longer served goes.
func registerLocalAPIServices(ctx context.Context, reg *catalog.Catalog, w *store.Writer, ensure func(*catalog.Resource, catalog.Object) error) error {
	apiServices, _ := reg.Lookup(apiregistrationv1.SchemeGroupVersion.WithResource("apiservices"))
	want := map[string]*apiregistrationv1.APIService{}
	for _, svc := range aggregator.LocalAPIServices(reg.GroupVersions()) {
		want[svc.Name] = svc
		if err := ensure(apiServices, svc); err != nil {
			return err
		}
	}
	objs, err := w.ListObjects(ctx, apiServices, "", aggregator.AutomanagedLabel+"=onstart")
	if err != nil {
		return err
	}
	for _, obj := range objs {
		have := obj.(*apiregistrationv1.APIService)
		t := store.Target{Resource: apiServices, Name: have.Name}
		desired, ok := want[have.Name]
		switch {
		case !ok:
			if _, _, err := w.Delete(ctx, t, store.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		case have.Spec.GroupPriorityMinimum != desired.Spec.GroupPriorityMinimum || have.Spec.VersionPriority != desired.Spec.VersionPriority ||
			have.Spec.Service != nil:
			_, err := w.Update(ctx, t, store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
				next := cur.(*apiregistrationv1.APIService)
				next.Spec = desired.Spec
				return next, nil
			})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

func systemPriorityClasses() []*schedulingv1.PriorityClass {
	const systemCritical = 2000000000
	return []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: systemCritical + 1000,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: systemCritical,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	}
}

// publishAuthenticationSettings writes kube-system/extension-apiserver-authentication,
// where aggregated API servers read which client CAs and proxy headers to trust.
// The bundles come from the pools the server verifies with, so they are the
// ones in force, reloads included.
func publishAuthenticationSettings(ctx context.Context, configMaps *catalog.Resource, st *store.Writer, o Options, a *authentication) error {
	data := map[string]string{}
	if a.clientCAs != nil {
		data["client-ca-file"] = string(pki.EncodeCertificates(a.clientCAs.Certificates()...))
	}
	if a.proxyCAs != nil {
		data["requestheader-client-ca-file"] = string(pki.EncodeCertificates(a.proxyCAs.Certificates()...))
		for key, list := range map[string][]string{
			"requestheader-allowed-names":        o.RequestHeaderAllowedNames,
			"requestheader-username-headers":     o.RequestHeaderUsernameHeaders,
			"requestheader-uid-headers":          o.RequestHeaderUIDHeaders,
			"requestheader-group-headers":        o.RequestHeaderGroupHeaders,
			"requestheader-extra-headers-prefix": o.RequestHeaderExtraHeadersPrefix,
		} {
			if list == nil {
				list = []string{}
			}
			encoded, _ := json.Marshal(list)
			data[key] = string(encoded)
		}
	}
	const name = "extension-apiserver-authentication"
	// Several servers starting together race to create it: the loser
	// updates what the winner made.
	for {
		_, err := st.Update(ctx, store.ObjectTarget(configMaps, metav1.NamespaceSystem, name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
			cm := cur.(*corev1.ConfigMap)
			cm.Data = data
			return cm, nil
		})
		if !apierrors.IsNotFound(err) {
			return err
		}
		_, err = st.Create(ctx, configMaps, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem}, Data: data}, store.Options{})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
}

// firstIP is the first usable address of a CIDR: the network address + 1.
func firstIP(n *net.IPNet) net.IP {
	ip := make(net.IP, len(n.IP))
	copy(ip, n.IP)
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
	}
	return ip
}

// keepAuthenticationSettings republishes the settings whenever a CA bundle
// reloads, until ctx ends.
func keepAuthenticationSettings(ctx context.Context, configMaps *catalog.Resource, st *store.Writer, o Options, a *authentication, log *slog.Logger) {
	generations := func() (client, proxy uint64) {
		if a.clientCAs != nil {
			_, client = a.clientCAs.Pool()
		}
		if a.proxyCAs != nil {
			_, proxy = a.proxyCAs.Pool()
		}
		return client, proxy
	}
	published0, published1 := generations()
	t := time.NewTicker(reloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, p := generations()
		if c == published0 && p == published1 {
			continue
		}
		if err := publishAuthenticationSettings(ctx, configMaps, st, o, a); err != nil {
			if ctx.Err() == nil {
				log.Warn("republishing kube-system/extension-apiserver-authentication failed; retrying", "err", err)
			}
			continue
		}
		published0, published1 = c, p
	}
}
