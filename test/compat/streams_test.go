package compat

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubectlRun runs kubectl as kubernetes-super-admin against s, with extra
// environment and stdin, and returns its combined output and exit code.
func (c *cluster) kubectlRun(s *server, env []string, stdin string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", filepath.Join(c.dir, "super-admin.conf"), "--server", s.url}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("kubectl %v: %v", args, err)
	}
	return string(out), code
}

// seedKubeletObjects registers the test kubelet as Node test-kubelet, and
// two pods on it: solo (container main) and duo (main and refuse).
func (c *cluster) seedKubeletObjects(s *server, k *testKubelet) {
	t := c.t
	ctx := context.Background()
	client := c.clientset(s)
	_, port, _ := net.SplitHostPort(k.addr)
	p, _ := strconv.Atoi(port)
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "test-kubelet"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "test-kubelet.invalid"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(p)
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	no := false
	for name, containers := range map[string][]string{"solo": {"main"}, "duo": {"main", "refuse"}} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: "test-kubelet", AutomountServiceAccountToken: &no}}
		for _, cn := range containers {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: cn, Image: "busybox:1.36"})
		}
		pod, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// kubectl port-forward and attach want a running pod.
		pod.Status.Phase, pod.Status.PodIP = corev1.PodRunning, "127.0.0.1"
		if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A user who may read pods, their logs and "get" pods/exec, but not
	// create it: since Kubernetes 1.35 that opens no shell.
	if _, err := client.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "peek"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "pods/exec", "pods/portforward"}, Verbs: []string{"get", "list"}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "peek"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "peek"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "peeker"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestKubeletAccessMatchesKubeAPIServer runs kubectl logs, exec, attach
// and port-forward through both servers to a test kubelet that checks the
// kubelet client certificate, over WebSocket (kubectl's default) and
// SPDY, and requires the same answers. A refused upgrade must leave the
// client's connection closed, with nothing more reaching the kubelet.
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] .*\n`)

func TestKubeletAccessMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	k := c.startTestKubelet()
	kube := c.startKubeAPIServer("--kubelet-certificate-authority=" + k.caFile)
	sekisho := c.startSekisho("--controllers=", "--kubelet-certificate-authority="+k.caFile)
	servers := []*server{kube, sekisho}
	for _, s := range servers {
		c.seedKubeletObjects(s, k)
	}
	spdy := []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}
	cases := []struct {
		what  string
		env   []string
		stdin string
		args  []string
		want  string // in the output; both servers must also agree
		code  int
	}{
		{what: "logs", args: []string{"logs", "solo"}, want: "first line of main\nlast line of main\n"},
		{what: "logs --tail", args: []string{"logs", "solo", "--tail=1"}, want: "last line of main\n"},
		{what: "logs of a named container", args: []string{"logs", "duo", "-c", "refuse"}, want: "last line of refuse"},
		{what: "logs, no container named", args: []string{"logs", "duo", "--all-containers=false", "--default-container=false"}, code: 1},
		{what: "logs, unknown container", args: []string{"logs", "solo", "-c", "nope"}, want: "container nope is not valid for pod solo", code: 1},
		{what: "logs, bad tail", args: []string{"get", "--raw", "/api/v1/namespaces/default/pods/solo/log?tailLines=-1"}, code: 1},
		{what: "exec over WebSocket", args: []string{"exec", "solo", "--", "echo", "hello", "world"}, want: "hello world\n"},
		{what: "exec with stdin over WebSocket", stdin: "piped data\n", args: []string{"exec", "-i", "solo", "--", "cat"}, want: "piped data\n"},
		{what: "exec exit code over WebSocket", args: []string{"exec", "solo", "--", "exit", "3"}, want: "command terminated with exit code 3", code: 3},
		{what: "exec over SPDY", env: spdy, args: []string{"exec", "solo", "--", "echo", "over", "spdy"}, want: "over spdy\n"},
		{what: "exec with stdin over SPDY", env: spdy, stdin: "more data\n", args: []string{"exec", "-i", "solo", "--", "cat"}, want: "more data\n"},
		{what: "exec exit code over SPDY", env: spdy, args: []string{"exec", "solo", "--", "exit", "4"}, want: "command terminated with exit code 4", code: 4},
		{what: "exec into a container that refuses", args: []string{"exec", "duo", "-c", "refuse", "--", "echo", "x"}, code: 1},
		{what: "attach", stdin: "typed\n", args: []string{"attach", "-i", "solo"}, want: "attached to main\ntyped\n"},
		{what: "exec without create", args: []string{"--as=peeker", "exec", "solo", "--", "echo", "x"}, want: `User "peeker" cannot create resource "pods/exec"`, code: 1},
		{what: "logs with get", args: []string{"--as=peeker", "logs", "solo"}, want: "last line of main"},
	}
	for _, tc := range cases {
		outs := make([]string, len(servers))
		for i, s := range servers {
			out, code := c.kubectlRun(s, tc.env, tc.stdin, tc.args...)
			// kubectl's own log lines (its WebSocket client may log a
			// frame that came before its streams were set up, with
			// either server) are not the command's output.
			outs[i] = klogLine.ReplaceAllString(out, "")
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("%s on %s: exit %d, want %d; output lacks %q:\n%s", tc.what, s.name, code, tc.code, tc.want, out)
			}
		}
		if tc.code == 0 && outs[0] != outs[1] {
			t.Errorf("%s: kube-apiserver wrote %q, sekisho %q", tc.what, outs[0], outs[1])
		}
	}

	for _, s := range servers {
		for _, env := range [][]string{nil, {"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}} {
			if got := c.portForward(s, env, "pod/solo", 7000, "ping\n"); got != "port 7000: ping\n" {
				t.Errorf("port-forward on %s (%v): %q", s.name, env, got)
			}
		}
		c.refusedUpgradeClosesTheConnection(s, k)
	}
}

// portForward runs kubectl port-forward to target's port, sends one line
// through it and returns the answer.
func (c *cluster) portForward(s *server, env []string, target string, port int, line string) string {
	t := c.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", filepath.Join(c.dir, "super-admin.conf"), "--server", s.url,
		"port-forward", target, ":"+strconv.Itoa(port))
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	forwarding := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> ` + strconv.Itoa(port))
	sc := bufio.NewScanner(stdout)
	local := ""
	for sc.Scan() {
		if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
			local = m[1]
			break
		}
	}
	if local == "" {
		return "kubectl port-forward did not start"
	}
	go io.Copy(io.Discard, stdout)
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+local, 5*time.Second)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprint(conn, line)
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Sprintf("%q, %v", answer, err)
	}
	return answer
}

// refusedUpgradeClosesTheConnection asks for an exec the kubelet refuses,
// then sends a second request on the same connection, as in
// CVE-2018-1002105: it must not reach the kubelet.
func (c *cluster) refusedUpgradeClosesTheConnection(s *server, k *testKubelet) {
	t := c.t
	rc, err := clientcmd.BuildConfigFromFlags(s.url, filepath.Join(c.dir, "super-admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := rest.TLSConfigFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NextProtos = []string{"http/1.1"}
	host := strings.TrimPrefix(s.url, "https://")
	conn, err := tls.Dial("tcp", host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/namespaces/default/pods/duo/exec?container=refuse&command=echo&stdout=true HTTP/1.1\r\nHost: %s\r\n"+
		"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n", host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: refused upgrade: %v", s.name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		t.Fatalf("%s: the refused upgrade switched protocols", s.name)
	}
	smuggled := "/containerLogs/default/duo/main-" + s.name
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", smuggled, host)
	if second, err := http.ReadResponse(br, nil); err == nil {
		io.Copy(io.Discard, second.Body)
		second.Body.Close()
		if second.StatusCode < 400 {
			t.Errorf("%s: a request after a refused upgrade got %d", s.name, second.StatusCode)
		}
	}
	for _, r := range k.seen() {
		if strings.HasSuffix(r, smuggled) {
			t.Errorf("%s: a request after a refused upgrade reached the kubelet: %s", s.name, r)
		}
	}
}
