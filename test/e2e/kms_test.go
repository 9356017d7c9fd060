package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kmsPlugin is a running `sekisho kms-plugin`.
type kmsPlugin struct {
	t       *testing.T
	socket  string
	keyFile string
	cmd     *exec.Cmd
	logs    *syncBuffer
}

func kmsKeyLine(id string, b byte) string {
	return id + " " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) + "\n"
}

func newKMSPlugin(t *testing.T, keys string) *kmsPlugin {
	// A short directory: a unix socket's path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "kms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &kmsPlugin{t: t, socket: filepath.Join(dir, "kms.sock"), keyFile: filepath.Join(dir, "keys")}
	p.setKeys(keys)
	return p
}

func (p *kmsPlugin) setKeys(keys string) {
	if err := os.WriteFile(p.keyFile+".tmp", []byte(keys), 0o600); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(p.keyFile+".tmp", p.keyFile); err != nil {
		p.t.Fatal(err)
	}
}

func (p *kmsPlugin) start() {
	p.t.Helper()
	p.cmd = exec.Command(sekishoBin, "kms-plugin", "--listen", p.socket, "--key-file", p.keyFile)
	p.logs = &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(p.stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(p.socket); err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the KMS plugin does not listen:\n%s", p.logs.String())
		}
	}
}

func (p *kmsPlugin) stop() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

func (p *kmsPlugin) calls(what string) int { return strings.Count(p.logs.String(), "msg="+what) }

// readyz is /readyz?verbose as an anonymous client sees it.
func (s *server) readyz() (int, string) {
	resp, err := s.client(false).Get(s.url("/readyz?verbose"))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// waitKMS polls cond for up to d.
func waitKMS(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
	}
}

// TestKMSv2Plugin runs Secrets through a real KMS v2 plugin over gRPC:
// sealed on disk, no KMS call per write, reads that outlive the plugin, a
// rotated plugin key re-encrypting everything, and a server that starts
// without its plugin, says why it is not ready, and recovers.
func TestKMSv2Plugin(t *testing.T) {
	requireTools(t, "kubectl")
	plugin := newKMSPlugin(t, kmsKeyLine("kek-1", 1))
	plugin.start()
	config := filepath.Join(t.TempDir(), "encryption.yaml")
	os.WriteFile(config, []byte(encryptionConfig(fmt.Sprintf("  - kms: {apiVersion: v2, name: dev, endpoint: \"unix://%s\"}\n  - identity: {}\n", plugin.socket))), 0o600)
	s := startServer(t, "--encryption-provider-config", config)
	if code, body := s.readyz(); code != http.StatusOK || !strings.Contains(body, "[+]kms-providers ok") {
		t.Fatalf("readyz with the plugin up: %d\n%s", code, body)
	}

	// Sealed on disk, with one Encrypt (the data key) for every write.
	s.createSecrets(t, "kms", 200)
	if n := plugin.calls("encrypt"); n != 1 {
		t.Errorf("200 writes made %d Encrypt calls; want the 1 of the data key", n)
	}
	if n := plugin.calls("decrypt"); n != 0 {
		t.Errorf("%d Decrypt calls; want none", n)
	}
	s.checkSecrets(t, "kms", 200)
	if n := plugin.calls("decrypt"); n != 0 {
		t.Errorf("reading back made %d Decrypt calls; want none", n)
	}
	st := s.encryptionStatus(t).Resources[0]
	if !strings.HasPrefix(st.Writer, "kms:dev:sha256:") || st.Keys[st.Writer] < 200 || st.Stale != 0 {
		t.Errorf("status: %+v", st)
	}
	s.stop()
	if sealed := countSealedBy(t, s.dir, "k8s:enc:kms:v2:dev:"); sealed < 200 {
		t.Errorf("%d Secrets in the database carry the KMS prefix", sealed)
	}
	if raw, _ := os.ReadFile(filepath.Join(s.dir, "storage", "sekisho.db")); bytes.Contains(raw, []byte("secret-value-kms-1-")) {
		t.Error("the database holds a Secret's value in the clear")
	}
	s.start()

	// A new key in the plugin: a new data key, and every Secret moved.
	before := s.encryptionStatus(t).Resources[0].Writer
	plugin.setKeys(kmsKeyLine("kek-2", 2) + kmsKeyLine("kek-1", 1))
	waitKMS(t, 30*time.Second, "the Secrets to move to the new key", func() bool {
		st := s.encryptionStatus(t).Resources[0]
		return st.Writer != before && st.Stale == 0 && st.Keys[st.Writer] == st.Objects
	})
	s.checkSecrets(t, "kms", 200)

	// The plugin goes down: the Secrets still read (their data keys are
	// known), writes go on, and /readyz says the plugin is down.
	plugin.stop()
	waitKMS(t, 10*time.Second, "readyz to fail", func() bool {
		code, body := s.readyz()
		return code == http.StatusInternalServerError && strings.Contains(body, "[-]kms-providers failed")
	})
	s.checkSecrets(t, "kms", 200)
	s.mustKubectl("create", "secret", "generic", "while-down", "--from-literal=v=secret-value-while-down-")

	// A start without the plugin: the server serves, is not ready, and its
	// log says why; the plugin's return makes it ready.
	s.stop()
	s.launch()
	waitKMS(t, 20*time.Second, "readyz to answer", func() bool {
		code, body := s.readyz()
		return code == http.StatusInternalServerError && strings.Contains(body, "[-]kms-providers failed")
	})
	if log := s.logs.String(); !strings.Contains(log, "KMS plugin check failed") || !strings.Contains(log, plugin.socket) {
		t.Errorf("the log does not say the plugin is unreachable:\n%s", log)
	}
	r := s.kubectl("get", "secret", "kms-1")
	if r.code == 0 {
		t.Error("a Secret whose data key nobody can decrypt was served")
	}
	plugin.start()
	waitKMS(t, 10*time.Second, "readyz to pass", func() bool {
		code, _ := s.readyz()
		return code == http.StatusOK
	})
	s.checkSecrets(t, "kms", 200)
}

// TestProvidersChainedByReload moves live Secrets through every provider
// by editing the configuration of a running server: identity, aesgcm,
// aescbc, secretbox, then KMS v2, each new writer first and the previous
// one kept as a reader. After each reload the values stored in the
// database file, read with bbolt, all carry the new provider's prefix
// and none holds a Secret's value.
func TestProvidersChainedByReload(t *testing.T) {
	requireTools(t, "kubectl")
	plugin := newKMSPlugin(t, kmsKeyLine("kek-1", 1))
	plugin.start()
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	steps := []struct{ provider, prefix, writer string }{
		{"  - identity: {}\n", "", "identity"},
		{"  - aesgcm: {keys: [{name: g1, secret: " + key(1) + "}]}\n", "k8s:enc:aesgcm:v1:g1:", "aesgcm:g1"},
		{"  - aescbc: {keys: [{name: c1, secret: " + key(2) + "}]}\n", "k8s:enc:aescbc:v1:c1:", "aescbc:c1"},
		{"  - secretbox: {keys: [{name: s1, secret: " + key(3) + "}]}\n", "k8s:enc:secretbox:v1:s1:", "secretbox:s1"},
		{fmt.Sprintf("  - kms: {apiVersion: v2, name: dev, endpoint: \"unix://%s\"}\n", plugin.socket), "k8s:enc:kms:v2:dev:", "kms:dev:"},
	}
	config := filepath.Join(t.TempDir(), "encryption.yaml")
	os.WriteFile(config, []byte(encryptionConfig(steps[0].provider)), 0o600)
	s := startServer(t, "--encryption-provider-config", config)
	s.createSecrets(t, "chain", 50)
	for i, step := range steps[1:] {
		// The new writer first, the one before it as a reader.
		os.WriteFile(config+".tmp", []byte(encryptionConfig(step.provider+steps[i].provider)), 0o600)
		os.Rename(config+".tmp", config)
		waitKMS(t, 30*time.Second, "the Secrets to move to "+step.prefix, func() bool {
			st := s.encryptionStatus(t).Resources[0]
			return strings.HasPrefix(st.Writer, step.writer) && st.Stale == 0 && st.Plaintext == 0 && st.Keys[st.Writer] == st.Objects
		})
		s.stop()
		if n := countSealedBy(t, s.dir, step.prefix); n < 50 {
			t.Errorf("after the move to %s, %d Secrets carry its prefix", step.prefix, n)
		}
		if n := countSealedBy(t, s.dir, "secret-value-chain-"); n != 0 {
			t.Errorf("after the move to %s, %d stored Secrets hold their value in the clear", step.prefix, n)
		}
		s.start()
		s.checkSecrets(t, "chain", 50)
	}
}
