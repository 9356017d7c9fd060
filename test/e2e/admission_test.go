package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The admission flags take kube-apiserver's names: the defaults run
// unless disabled, start-up names the plugins in force, and a name that
// is unknown or not implemented stops the server before it serves.
func TestAdmissionPluginFlags(t *testing.T) {
	for _, c := range []struct{ flag, want string }{
		{"--enable-admission-plugins=Nope", `enable-admission-plugins plugin "Nope" is unknown`},
		{"--enable-admission-plugins=ImagePolicyWebhook", `enable-admission-plugins plugin "ImagePolicyWebhook" is not implemented by sekisho`},
		{"--disable-admission-plugins=Nope", `disable-admission-plugins plugin "Nope" is unknown`},
	} {
		cmd := exec.Command(sekishoBin, "up", "--data-dir", t.TempDir(), "--secure-port", strconv.Itoa(freePort(t)), c.flag)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %v\n%s", c.flag, err, out)
		}
	}

	s := startServer(t, "--disable-admission-plugins=ServiceAccount")
	if logs := s.logs.String(); !strings.Contains(logs, "admission plugins") || !strings.Contains(logs, "NodeRestriction") || strings.Contains(logs, "ServiceAccount,") {
		t.Errorf("start-up does not name the plugins in force:\n%s", logs)
	}
	// Without the ServiceAccount plugin a pod keeps what it was given: no
	// account and no token volume.
	s.mustKubectl("run", "bare", "--image=registry.k8s.io/pause:3.10", "--restart=Never")
	if got := s.mustKubectl("get", "pod", "bare", "-o", "jsonpath={.spec.serviceAccountName}|{.spec.volumes}"); got != "|" {
		t.Errorf("pod without the ServiceAccount plugin: %q", got)
	}
}

// The LimitRange case, with kubectl: a maximum of 256Mi memory,
// then a pod asking for 4Gi is refused with a message naming the rule; a
// pod asking for nothing gets the defaults.
func TestLimitRangeWithKubectl(t *testing.T) {
	s := startServer(t, "--enable-admission-plugins=AlwaysPullImages,DenyServiceExternalIPs")
	s.mustKubectl("create", "namespace", "team")
	s.mustKubectl("apply", "-f", writeManifest(t, `apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: team}
spec:
  limits:
  - type: Container
    max: {memory: 256Mi}
    default: {memory: 128Mi}
`))
	// The namespace's default service account comes from a controller;
	// wait for it as a user would.
	if !waitFor(func() bool { return s.kubectl("-n", "team", "get", "sa", "default").code == 0 }) {
		t.Fatal("no default service account in team")
	}
	r := s.kubectl("-n", "team", "run", "big", "--image=registry.k8s.io/pause:3.10", "--restart=Never", "--overrides",
		`{"spec":{"containers":[{"name":"big","image":"registry.k8s.io/pause:3.10","resources":{"limits":{"memory":"4Gi"}}}]}}`)
	if r.code == 0 || !strings.Contains(r.stderr, `pods "big" is forbidden: maximum memory usage per Container is 256Mi, but limit is 4Gi`) {
		t.Errorf("4Gi pod: %d %s", r.code, r.stderr)
	}
	s.mustKubectl("-n", "team", "run", "small", "--image=registry.k8s.io/pause:3.10", "--restart=Never")
	got := s.mustKubectl("-n", "team", "get", "pod", "small", "-o", "jsonpath={.spec.containers[0].resources.limits.memory} {.spec.containers[0].imagePullPolicy}")
	if got != "128Mi Always" {
		t.Errorf("defaulted pod: %q", got)
	}
	r = s.kubectl("-n", "team", "expose", "pod", "small", "--port=80", "--external-ip=203.0.113.7")
	if r.code == 0 || !strings.Contains(r.stderr, "Use of external IPs is denied by admission control") {
		t.Errorf("external IP: %d %s", r.code, r.stderr)
	}
}
