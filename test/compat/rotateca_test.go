package compat

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRotateCAWithHollowNodes rotates the cluster CA under a running
// kube-controller-manager, kube-scheduler and three hollow kubelets, none
// restarted. Each was started with the old CA alone in its kubeconfig, and
// keeps verifying the server through the cross-signed certificate; each
// keeps presenting its old-CA client certificate, which stays trusted. No
// node leaves Ready and every node's Lease is renewed after the new CA
// signs. rotate-ca then refuses to finish, naming the components that
// still present old-CA certificates.
func TestRotateCAWithHollowNodes(t *testing.T) {
	c := newCluster(t)
	s := c.startSekisho("--controllers=")
	serverStarted := time.Now()
	c.startControllerManager()
	c.startScheduler()
	boot := c.bootstrapKubeconfig(s, c.bootstrapToken())
	const nodes = 3
	for i := range nodes {
		c.startHollowNode(fmt.Sprintf("hollow-%d", i), boot)
	}
	client := c.clientset(s)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	readyCount := func() (int, string, error) { return readyNodes(ctx, client) }
	eventually(t, 3*time.Minute, "three hollow nodes Ready", func() (bool, string) {
		n, state, err := readyCount()
		if err != nil {
			return false, err.Error()
		}
		return n == nodes, state
	})

	// Every second from here on: every node Ready.
	var checks, notReady atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var watching sync.WaitGroup
	watching.Add(1)
	go func() {
		defer watching.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			n, state, err := readyCount()
			checks.Add(1)
			if err != nil || n != nodes {
				notReady.Add(1)
				if err == nil {
					err = errors.New(state)
				}
				firstBad.CompareAndSwap(nil, err.Error())
			}
		}
	}()
	defer func() { close(stop); watching.Wait() }()

	// Nodes renew their Lease every 10 s: a window of 15 s sees each. The
	// server must have recorded that long before it can tell.
	time.Sleep(time.Until(serverStarted.Add(16 * time.Second)))
	start := time.Now()
	cmd := exec.Command(sekishoBin, "certs", "rotate-ca", "--dir", c.dir, "--unused-for", "15s")
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("rotate-ca with components on old-CA certificates: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "[3/4]") {
		t.Fatalf("rotate-ca did not reach the new CA signing:\n%s", out)
	}
	t.Logf("rotate-ca steps 1 to 3 on the running cluster took %s:\n%s", took.Round(time.Millisecond), out)
	for _, who := range []string{"system:kube-controller-manager", "system:kube-scheduler", "system:node:hollow-"} {
		if !strings.Contains(string(out), who) {
			t.Errorf("rotate-ca's refusal does not name %s", who)
		}
	}

	// The nodes keep reporting through the new serving certificate:
	// each Lease is renewed after the new CA signed, and no node leaves
	// Ready for 45 s (past the 40 s grace the node controller allows).
	rotated := time.Now()
	eventually(t, 60*time.Second, "every node's Lease renewed after the new CA signs", func() (bool, string) {
		renewed, state := 0, ""
		for i := range nodes {
			name := fmt.Sprintf("hollow-%d", i)
			l, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
			if err != nil || l.Spec.RenewTime == nil {
				state += name + ": no lease; "
				continue
			}
			if l.Spec.RenewTime.After(rotated) {
				renewed++
			}
			state += fmt.Sprintf("%s renewed %s; ", name, l.Spec.RenewTime.Format(time.RFC3339Nano))
		}
		return renewed == nodes, state
	})
	time.Sleep(time.Until(rotated.Add(45 * time.Second)))
	t.Logf("%d readiness checks, %d with a node not Ready or the API failing", checks.Load(), notReady.Load())
	if notReady.Load() > 0 {
		t.Errorf("nodes left Ready during the rotation; first: %v", firstBad.Load())
	}
}
