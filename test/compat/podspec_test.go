package compat

import (
	"strings"
	"testing"
)

// TestPodSpecSubresourcesMatchKubeAPIServer adds ephemeral containers and
// resizes containers through pods/ephemeralcontainers and pods/resize on
// both servers, including what they refuse, and compares the pods.
func TestPodSpecSubresourcesMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho("--controllers=")
	const ns = "/api/v1/namespaces/default"
	const pod = ns + "/pods/dbg"
	const smp = "application/strategic-merge-patch+json"
	const merge = "application/merge-patch+json"
	resources := func(reqCPU, limCPU string) string {
		return `{"requests":{"cpu":"` + reqCPU + `","memory":"64Mi"},"limits":{"cpu":"` + limCPU + `","memory":"128Mi"}}`
	}
	body := `{"metadata":{"name":"dbg"},"spec":{"automountServiceAccountToken":false,"containers":[{"name":"app","image":"busybox:1.36","resources":` + resources("100m", "200m") + `}]}}`
	ephemeral := func(extra string) string {
		return `{"spec":{"ephemeralContainers":[{"name":"debugger","image":"busybox:1.36","targetContainerName":"app","stdin":true,"tty":true` + extra + `}]}}`
	}
	differential(t, kube, sekisho, []step{
		{what: "service account", method: "POST", path: ns + "/serviceaccounts", body: `{"metadata":{"name":"default"}}`},
		{what: "create pod", method: "POST", path: ns + "/pods", body: body, kube: 201, same: true},
		{what: "get ephemeralcontainers", method: "GET", path: pod + "/ephemeralcontainers", kube: 200, same: true},
		{what: "add an ephemeral container", method: "PATCH", path: pod + "/ephemeralcontainers", contentType: smp, body: ephemeral(""), kube: 200, same: true},
		{what: "an ephemeral container with ports", method: "PATCH", path: pod + "/ephemeralcontainers", contentType: smp,
			body: `{"spec":{"ephemeralContainers":[{"name":"porty","image":"busybox","ports":[{"containerPort":80}]}]}}`, kube: 422},
		{what: "an ephemeral container named as a container", method: "PATCH", path: pod + "/ephemeralcontainers", contentType: smp,
			body: `{"spec":{"ephemeralContainers":[{"name":"app","image":"busybox"}]}}`, kube: 422},
		{what: "an ephemeral container aimed at nothing", method: "PATCH", path: pod + "/ephemeralcontainers", contentType: smp,
			body: `{"spec":{"ephemeralContainers":[{"name":"lost","image":"busybox","targetContainerName":"nope"}]}}`, kube: 422},
		{what: "removing ephemeral containers", method: "PATCH", path: pod + "/ephemeralcontainers", contentType: merge,
			body: `{"spec":{"ephemeralContainers":null}}`, kube: 422},
		{what: "ephemeral containers through the pod", method: "PATCH", path: pod, contentType: smp,
			body: `{"spec":{"ephemeralContainers":[{"name":"sneaky","image":"busybox"}]}}`, kube: 422},
		{what: "resize CPU", method: "PATCH", path: pod + "/resize", contentType: smp,
			body: `{"spec":{"containers":[{"name":"app","resources":` + resources("150m", "300m") + `}]}}`, kube: 200, same: true},
		{what: "resize to another QoS class", method: "PATCH", path: pod + "/resize", contentType: smp,
			body: `{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"300m","memory":"128Mi"},"limits":{"cpu":"300m","memory":"128Mi"}}}]}}`, kube: 422},
		{what: "resize removing limits", method: "PATCH", path: pod + "/resize", contentType: "application/json-patch+json",
			body: `[{"op":"remove","path":"/spec/containers/0/resources/limits"}]`, kube: 422},
		{what: "resize adding a container", method: "PATCH", path: pod + "/resize", contentType: "application/json-patch+json",
			body: `[{"op":"add","path":"/spec/containers/-","value":{"name":"more","image":"busybox"}}]`, kube: 422},
		{what: "resize of other resources", method: "PATCH", path: pod + "/resize", contentType: smp,
			body: `{"spec":{"containers":[{"name":"app","resources":{"requests":{"ephemeral-storage":"1Gi"}}}]}}`, kube: 422},
		{what: "the pod", method: "GET", path: pod, kube: 200, same: true},
		// The change is dropped on both; kube-apiserver alone records the
		// resize's manager as owning a field it added (docs/compatibility.md).
		{what: "resize changes nothing else", method: "PATCH", path: pod + "/resize", contentType: smp,
			body: `{"spec":{"containers":[{"name":"app","image":"busybox:1.37"}],"activeDeadlineSeconds":5}}`, kube: 200},
	})
	_, body2 := sekisho.do(t, "GET", pod, "")
	if !strings.Contains(body2, `"debugger"`) || !strings.Contains(body2, `"300m"`) || strings.Contains(body2, "busybox:1.37") || strings.Contains(body2, "activeDeadlineSeconds") {
		t.Errorf("the pod after the changes: %s", body2)
	}
}
