package compat

import "testing"

// TestServerSideApplyMatchesKubeAPIServer applies, updates and patches the
// same objects on both servers, and requires the same answers: codes,
// Status messages (conflicts name fields and managers) and the objects
// with their managedFields.
func TestServerSideApplyMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho("--controllers=")
	const apply = "application/apply-patch+yaml"
	const merge = "application/merge-patch+json"
	const cms = "/api/v1/namespaces/default/configmaps"
	const deploys = "/apis/apps/v1/namespaces/default/deployments"
	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n" + data
	}
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
      - name: sidecar
        image: busybox:1.36
`
	ua := map[string]string{"User-Agent": "deployer/2.1 (linux)"}
	differential(t, kube, sekisho, []step{
		{what: "apply creates", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply, body: cm("  mode: fast\n  level: \"3\"\n"), kube: 201, same: true},
		{what: "the same apply again", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply, body: cm("  mode: fast\n  level: \"3\"\n"), kube: 200, same: true},
		{what: "another manager, another value", method: "PATCH", path: cms + "/settings?fieldManager=bob", contentType: apply, body: cm("  mode: slow\n"), kube: 409, same: true},
		{what: "another manager, the same value", method: "PATCH", path: cms + "/settings?fieldManager=bob", contentType: apply, body: cm("  level: \"3\"\n"), kube: 200, same: true},
		{what: "forced", method: "PATCH", path: cms + "/settings?fieldManager=bob&force=true", contentType: apply, body: cm("  mode: slow\n  level: \"3\"\n"), kube: 200, same: true},
		{what: "alice drops a field bob shares", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply, body: cm("  extra: x\n"), kube: 200, same: true},
		{what: "an update by user agent", method: "PUT", path: cms + "/settings", header: ua,
			body: `{"metadata":{"name":"settings"},"data":{"mode":"slow","level":"4","extra":"x"}}`, kube: 200, same: true},
		{what: "a merge patch by field manager", method: "PATCH", path: cms + "/settings?fieldManager=carol", contentType: merge, body: `{"data":{"carol":"yes"}}`, kube: 200, same: true},
		{what: "managedFields reset", method: "PATCH", path: cms + "/settings", contentType: merge, body: `{"metadata":{"managedFields":[{}]}}`, kube: 200, same: true},
		{what: "apply without a manager", method: "PATCH", path: cms + "/settings", contentType: apply, body: cm("  mode: fast\n"), kube: 422, same: true},
		{what: "force on a merge patch", method: "PATCH", path: cms + "/settings?force=true", contentType: merge, body: `{}`, kube: 422, same: true},
		{what: "a manager name too long", method: "PATCH", path: cms + "/settings?fieldManager=" + long(129), contentType: merge, body: `{}`, kube: 422, same: true},
		{what: "apply with managedFields", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply,
			body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  managedFields: [{manager: x}]\n", kube: 400, same: true},
		{what: "apply of another version", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply, body: "apiVersion: v2\nkind: ConfigMap\nmetadata: {name: settings}\n", kube: 400, same: true},
		{what: "apply of a list", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply, body: "- a\n- b\n", kube: 400},
		{what: "apply, not YAML", method: "PATCH", path: cms + "/settings?fieldManager=alice", contentType: apply, body: "{{{", kube: 400},
		{what: "apply into a missing namespace", method: "PATCH", path: "/api/v1/namespaces/nowhere/configmaps/x?fieldManager=alice", contentType: apply,
			body: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", kube: 404},
		{what: "get", method: "GET", path: cms + "/settings", kube: 200, same: true},

		{what: "apply a Deployment", method: "PATCH", path: deploys + "/web?fieldManager=kubectl", contentType: apply, body: deployment, kube: 201, same: true},
		{what: "scale it", method: "PUT", path: deploys + "/web/scale?fieldManager=hpa",
			body: `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":4}}`, kube: 200},
		{what: "the scaled Deployment", method: "GET", path: deploys + "/web", kube: 200, same: true},
		{what: "re-apply conflicts on replicas", method: "PATCH", path: deploys + "/web?fieldManager=kubectl", contentType: apply, body: deployment, kube: 409, same: true},
		{what: "apply a status", method: "PATCH", path: deploys + "/web/status?fieldManager=controller", contentType: apply,
			body: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nstatus: {observedGeneration: 1, replicas: 2}\n", kube: 200, same: true},
		{what: "a strategic merge patch of a container", method: "PATCH", path: deploys + "/web?fieldManager=editor", contentType: "application/strategic-merge-patch+json",
			body: `{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.37"}]}}}}`, kube: 200, same: true},
		{what: "drop the sidecar by apply", method: "PATCH", path: deploys + "/web?fieldManager=kubectl&force=true", contentType: apply,
			body: deployment[:len(deployment)-len("      - name: sidecar\n        image: busybox:1.36\n")], kube: 200, same: true},
	})
}

func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'm'
	}
	return string(b)
}
