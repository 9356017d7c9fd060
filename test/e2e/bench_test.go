package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStartup measures the time from starting `sekisho up` with an
// existing PKI and store to the first 200 from /readyz.
func BenchmarkStartup(b *testing.B) {
	dir, port := b.TempDir(), freePort(b)
	s := &server{t: b, dir: dir, port: port}
	// First run builds the PKI and the store.
	first := exec.Command(sekishoBin, "up", "--data-dir", dir, "--secure-port", strconv.Itoa(port))
	if err := first.Start(); err != nil {
		b.Fatal(err)
	}
	waitReady(b, s)
	first.Process.Signal(syscall.SIGTERM)
	first.Wait()

	var rss float64
	for b.Loop() {
		cmd := exec.Command(sekishoBin, "up", "--data-dir", dir, "--secure-port", strconv.Itoa(port))
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, s)
		b.StopTimer()
		rss = rssMB(b, cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(rss, "RSS-MB-at-ready")
}

// BenchmarkIdleMemory reports the resident memory of a server that has
// served a kubectl session (discovery, OpenAPI, lists) and then idled.
func BenchmarkIdleMemory(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dir, port := b.TempDir(), freePort(b)
		s := &server{t: b, dir: dir, port: port}
		cmd := exec.Command(sekishoBin, "up", "--data-dir", dir, "--secure-port", strconv.Itoa(port))
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, s)
		fresh := rssMB(b, cmd.Process.Pid)
		cache := b.TempDir()
		for _, args := range [][]string{{"get", "ns"}, {"create", "ns", "x"}, {"-n", "x", "create", "cm", "c", "--from-literal=a=b"},
			{"get", "cm", "-A", "-o", "yaml"}, {"explain", "pod.spec"}} {
			kc := exec.Command("kubectl", append([]string{"--kubeconfig", dir + "/super-admin.conf"}, args...)...)
			kc.Env = append(os.Environ(), "KUBECACHEDIR="+cache)
			if out, err := kc.CombinedOutput(); err != nil {
				b.Fatalf("kubectl %v: %v %s", args, err, out)
			}
		}
		time.Sleep(3 * time.Second)
		b.ReportMetric(fresh, "RSS-MB-fresh")
		b.ReportMetric(rssMB(b, cmd.Process.Pid), "RSS-MB-after-kubectl")
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.StartTimer()
	}
}

func waitReady(b *testing.B, s *server) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var c *http.Client
	for time.Now().Before(deadline) {
		if c == nil || c.Transport == nil {
			c = s.anonClient() // the CA exists only once the first run has built the PKI
		}
		if resp, err := c.Get(s.url("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatal("server not ready within 10s")
}

func rssMB(b testing.TB, pid int) float64 {
	b.Helper()
	return procStatusMB(b, pid, "VmRSS:")
}

// procStatusMB reads a memory figure (VmRSS:, VmHWM: …) of a process in MiB.
func procStatusMB(t testing.TB, pid int, field string) float64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
