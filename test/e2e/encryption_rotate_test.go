package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/reencrypt"
)

// encryptionStatus is what `sekisho encryption status -o json` prints.
func (s *server) encryptionStatus(t *testing.T) reencrypt.Status {
	t.Helper()
	out := mustSekisho(t, "encryption", "status", "-o", "json", "--kubeconfig", s.kubeconfig())
	var st reencrypt.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("encryption status: %v\n%s", err, out)
	}
	if len(st.Resources) != 1 || st.Resources[0].Resource != "secrets" {
		t.Fatalf("encryption status names other than secrets: %s", out)
	}
	return st
}

// createSecrets creates n Secrets of about 1 KiB, names prefix-0..., from
// 8 clients at once.
func (s *server) createSecrets(t *testing.T, prefix string, n int) {
	t.Helper()
	c := s.client(true)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				body := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s-%d"},"stringData":{"v":"secret-value-%s-%d-%s"}}`,
					prefix, i, prefix, i, strings.Repeat("x", 1000))
				resp, _ := s.send(t, c, "POST", "/api/v1/namespaces/default/secrets", "application/json", body, nil)
				if resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d Secrets were not created", failed.Load(), n)
	}
}

// checkSecrets reads every Secret the test made back through the API.
func (s *server) checkSecrets(t *testing.T, prefix string, n int) {
	t.Helper()
	_, body := s.do("GET", "/api/v1/namespaces/default/secrets", "", nil)
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Data     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("the list of Secrets: %v", err)
	}
	got := 0
	for _, it := range list.Items {
		if !strings.HasPrefix(it.Metadata.Name, prefix+"-") {
			continue
		}
		got++
		v, _ := base64.StdEncoding.DecodeString(it.Data["v"])
		if want := "secret-value-" + it.Metadata.Name + "-"; !strings.HasPrefix(string(v), want) {
			t.Fatalf("%s reads back as %.40q", it.Metadata.Name, v)
		}
	}
	if got != n {
		t.Fatalf("%d of %d Secrets read back", got, n)
	}
}

// TestUpEncryptsAndRotatesUnderLoad: up seals Secrets with a key of its
// own; `sekisho encryption rotate` replaces it while clients create and
// patch Secrets, and no request fails; at the end no object uses the
// old key and the file no longer holds it.
func TestUpEncryptsAndRotatesUnderLoad(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	config := filepath.Join(s.dir, "encryption-config.yaml")
	if info, err := os.Stat(config); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("up's encryption configuration: %v %v", info, err)
	}
	if !strings.Contains(s.logs.String(), "Secrets are encrypted at rest with a new aesgcm key in "+config) {
		t.Errorf("up does not say it made a key:\n%s", s.logs.String())
	}
	s.createSecrets(t, "pre", 500)
	before := s.encryptionStatus(t).Resources[0]
	old := before.Writer
	if !strings.HasPrefix(old, "aesgcm:key-") || before.Stale != 0 || before.Plaintext != 0 || before.Keys[old] != before.Objects || before.Objects < 500 {
		t.Fatalf("status before rotation: %+v", before)
	}

	// The load: creates (2,000 at most) and patches without
	// preconditions, as kubectl apply and controllers make them.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	c := s.client(true)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var resp *http.Response
				var body string
				if i%2 == 0 && i < 1000 {
					resp, body = s.send(t, c, "POST", "/api/v1/namespaces/default/secrets", "application/json",
						fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"load-%d-%d"},"stringData":{"v":"secret-value-load-%d-%d-"}}`, w, i, w, i), nil)
				} else {
					resp, body = s.send(t, c, "PATCH", fmt.Sprintf("/api/v1/namespaces/default/secrets/pre-%d", (w*131+i)%500), "application/merge-patch+json",
						fmt.Sprintf(`{"metadata":{"labels":{"round":"%d"}}}`, i), nil)
				}
				requests.Add(1)
				if resp.StatusCode >= 300 {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	r := sekisho(t, "encryption", "rotate", "--config", config, "--kubeconfig", s.kubeconfig(), "--timeout", "1m")
	out := r.stdout
	if r.code != 0 {
		close(stop)
		wg.Wait()
		t.Fatalf("rotate: exit %d\n%s\n%s\nserver log:\n%s", r.code, r.stdout, r.stderr, s.logs.String())
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Errorf("%d of %d requests failed during rotation; the first: %v", failures.Load(), requests.Load(), firstFailure.Load())
	}
	if !strings.Contains(out, "retired "+old) {
		t.Errorf("rotate says:\n%s", out)
	}
	after := s.encryptionStatus(t).Resources[0]
	if after.Writer == old || after.Stale != 0 || after.Keys[old] != 0 || after.Keys[after.Writer] != after.Objects || slices.Contains(after.Readers, old) {
		t.Errorf("status after rotation: %+v", after)
	}
	data, _ := os.ReadFile(config)
	// By whole name: a key made in the same second as the old one is
	// named after it with a suffix ("key-...Z-2").
	if regexp.MustCompile(`(?m)name: ` + regexp.QuoteMeta(strings.TrimPrefix(old, "aesgcm:")) + `\s*$`).Match(data) {
		t.Errorf("the configuration still holds the old key:\n%s", data)
	}
	s.checkSecrets(t, "pre", 500)
	t.Logf("%d requests during rotation, none failed", requests.Load())
}

// TestReencryptionResumesAfterACrash kills the server in the middle of a
// re-encryption pass; the next start completes it, and every Secret
// reads back.
func TestReencryptionResumesAfterACrash(t *testing.T) {
	requireTools(t, "kubectl")
	const n = 1500
	s := startServer(t)
	s.createSecrets(t, "crash", n)
	old := s.encryptionStatus(t).Resources[0].Writer
	s.stop()

	// A new writer, and a slow pass: 300 objects a second.
	config := filepath.Join(s.dir, "encryption-config.yaml")
	if _, err := sekishoRotateFile(t, config); err != nil {
		t.Fatal(err)
	}
	s.extra = []string{"--encryption-rewrite-rate", "300"}
	s.start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.encryptionStatus(t)
		if st.Reencryption.Rewritten >= 300 && st.Reencryption.Running {
			break
		}
		if time.Now().After(deadline) || !st.Reencryption.Running && st.Reencryption.Rewritten > 0 {
			t.Fatalf("the pass was not caught midway: %+v", st.Reencryption)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.kill()
	stale := countSealedBy(t, s.dir, "k8s:enc:"+strings.Replace(old, ":", ":v1:", 1)+":")
	if stale == 0 || stale >= n {
		t.Fatalf("after the crash %d values are sealed by the old key: the crash did not land midway", stale)
	}

	s.extra = nil
	s.start()
	deadline = time.Now().Add(30 * time.Second)
	for {
		st := s.encryptionStatus(t).Resources[0]
		if st.Stale == 0 && st.Keys[old] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("re-encryption did not complete after the restart: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.checkSecrets(t, "crash", n)
}

// sekishoRotateFile puts a new key first in the file, as the first step
// of `sekisho encryption rotate` does, with no server to wait for.
func sekishoRotateFile(t *testing.T, config string) (string, error) {
	t.Helper()
	data, err := os.ReadFile(config)
	if err != nil {
		return "", err
	}
	var ec apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &ec); err != nil {
		return "", err
	}
	gcm := ec.Resources[0].Providers[0].AESGCM
	key := apiserverv1.Key{Name: "crash-test-key", Secret: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))}
	gcm.Keys = append([]apiserverv1.Key{key}, gcm.Keys...)
	if data, err = yaml.Marshal(&ec); err != nil {
		return "", err
	}
	return "aesgcm:crash-test-key", os.WriteFile(config, data, 0o600)
}

// countSealedBy counts the Secrets in the stopped server's database whose
// stored value carries prefix.
func countSealedBy(t *testing.T, dir, prefix string) int {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "storage", "sekisho.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket([]byte("kv")).Cursor()
		for k, v := c.Seek([]byte("/registry/secrets/")); k != nil && bytes.HasPrefix(k, []byte("/registry/secrets/")); k, v = c.Next() {
			if bytes.Contains(v, []byte(prefix)) {
				n++
			}
		}
		return nil
	})
	return n
}

// TestUpRotatesItsKeyByUse: once up's key sealed its limit of values (here
// 100, instead of 150,000), a new key replaces it, what it sealed is
// re-encrypted, and it leaves the file, with no restart.
func TestUpRotatesItsKeyByUse(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t, "--encryption-rotate-after-writes", "100")
	first := s.encryptionStatus(t).Resources[0].Writer
	s.createSecrets(t, "use", 150)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.encryptionStatus(t).Resources[0]
		if st.Writer != first && st.Stale == 0 && len(st.Readers) == 2 && st.Readers[1] == "identity" {
			if st.Keys[first] != 0 || st.Keys[st.Writer] != st.Objects {
				t.Fatalf("after the rotation: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation by use: %+v\n%s", st, s.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if log := s.logs.String(); !strings.Contains(log, "rotated the encryption key") || !strings.Contains(log, "retired encryption keys no stored object uses") {
		t.Errorf("the log does not tell of the rotation:\n%s", log)
	}
	s.checkSecrets(t, "use", 150)
	// The counts are saved each second; the retired key's goes.
	for deadline = time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		data, err := os.ReadFile(filepath.Join(s.dir, "storage", "encryption-writes.json"))
		if err == nil && !strings.Contains(string(data), first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write counts: %s %v", data, err)
		}
	}
}
