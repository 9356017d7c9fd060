package compat

import "testing"

// TestLimitRangerMatchesKubeAPIServer sends pods and claims against a
// namespace's LimitRange to both servers: the same defaults are stored and
// the same refusals given, message for message.
func TestLimitRangerMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	const ns = "/api/v1/namespaces/limited"
	pod := func(name, resources string) string {
		return `{"metadata":{"name":"` + name + `"},"spec":{"serviceAccountName":"runner","automountServiceAccountToken":false,` +
			`"containers":[{"name":"app","image":"registry.k8s.io/pause:3.10","resources":` + resources + `}],` +
			`"initContainers":[{"name":"setup","image":"registry.k8s.io/pause:3.10"}]}}`
	}
	claim := func(name, size string) string {
		return `{"metadata":{"name":"` + name + `"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"` + size + `"}}}}`
	}
	differential(t, kube, sekisho, []step{
		{what: "namespace", method: "POST", path: "/api/v1/namespaces", body: `{"metadata":{"name":"limited"}}`, kube: 201},
		{what: "service account", method: "POST", path: ns + "/serviceaccounts", body: `{"metadata":{"name":"runner"}}`, kube: 201},
		{what: "limit range", method: "POST", path: ns + "/limitranges", kube: 201, body: `{"metadata":{"name":"limits"},"spec":{"limits":[
			{"type":"Container","max":{"memory":"256Mi"},"min":{"cpu":"10m"},"default":{"cpu":"200m","memory":"128Mi"},"defaultRequest":{"cpu":"50m","memory":"64Mi"},"maxLimitRequestRatio":{"cpu":"10"}},
			{"type":"Pod","max":{"cpu":"1"}},
			{"type":"PersistentVolumeClaim","min":{"storage":"1Gi"},"max":{"storage":"10Gi"}}]}}`},
		{what: "pod given the defaults", method: "POST", path: ns + "/pods", body: pod("defaulted", `{}`), kube: 201, same: true},
		{what: "pod keeping its own limit", method: "POST", path: ns + "/pods", body: pod("own", `{"limits":{"memory":"200Mi"}}`), kube: 201, same: true},
		{what: "pod over the memory maximum", method: "POST", path: ns + "/pods", body: pod("big", `{"limits":{"memory":"4Gi"}}`), kube: 403, same: true},
		{what: "pod under the cpu minimum", method: "POST", path: ns + "/pods", body: pod("small", `{"requests":{"cpu":"1m"},"limits":{"cpu":"5m"}}`), kube: 403, same: true},
		{what: "pod over the ratio", method: "POST", path: ns + "/pods", body: pod("ratio", `{"requests":{"cpu":"20m"},"limits":{"cpu":"900m"}}`), kube: 403, same: true},
		{what: "pod over the pod maximum", method: "POST", path: ns + "/pods", body: pod("wide", `{"requests":{"cpu":"600m"},"limits":{"cpu":"1500m"}}`), kube: 403, same: true},
		{what: "claim within", method: "POST", path: ns + "/persistentvolumeclaims", body: claim("ok", "2Gi"), kube: 201},
		{what: "claim too big", method: "POST", path: ns + "/persistentvolumeclaims", body: claim("big", "20Gi"), kube: 403, same: true},
		{what: "claim too small", method: "POST", path: ns + "/persistentvolumeclaims", body: claim("small", "100Mi"), kube: 403, same: true},
	})
}

// TestOptInPluginsMatchKubeAPIServer enables AlwaysPullImages and
// DenyServiceExternalIPs (CIS 1.2.11 and 1.2.3) on both servers.
func TestOptInPluginsMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	const plugins = "--enable-admission-plugins=AlwaysPullImages,DenyServiceExternalIPs"
	kube := c.startKubeAPIServer(plugins)
	sekisho := c.startSekisho(plugins)
	const ns = "/api/v1/namespaces/default"
	differential(t, kube, sekisho, []step{
		{what: "service account", method: "POST", path: ns + "/serviceaccounts", body: `{"metadata":{"name":"runner"}}`, kube: 201},
		{what: "pod pulls always", method: "POST", path: ns + "/pods", kube: 201, same: true, body: `{"metadata":{"name":"p"},"spec":{"serviceAccountName":"runner","automountServiceAccountToken":false,
			"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10","imagePullPolicy":"Never"}],"initContainers":[{"name":"i","image":"busybox:1.36","imagePullPolicy":"IfNotPresent"}]}}`},
		{what: "service with an external IP", method: "POST", path: ns + "/services", kube: 403, same: true,
			body: `{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}],"externalIPs":["203.0.113.7"]}}`},
		{what: "service without", method: "POST", path: ns + "/services", kube: 201, body: `{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}`},
		{what: "adding an external IP", method: "PATCH", path: ns + "/services/web", contentType: "application/merge-patch+json", kube: 403, same: true,
			body: `{"spec":{"externalIPs":["203.0.113.7"]}}`},
	})
}
