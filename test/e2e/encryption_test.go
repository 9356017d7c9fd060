package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func encryptionConfig(providers string) string {
	return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n" + providers
}

// TestSecretsEncryptedAtRest reads the database file itself: a Secret's
// value is not in it, a ConfigMap's is, and after the configuration
// names a new writer both old and new Secrets read back.
func TestSecretsEncryptedAtRest(t *testing.T) {
	requireTools(t, "kubectl")
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	config := filepath.Join(t.TempDir(), "encryption.yaml")
	write := func(providers string) {
		if err := os.WriteFile(config, []byte(encryptionConfig(providers)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("  - aesgcm: {keys: [{name: first, secret: %s}]}\n  - identity: {}\n", k1))
	s := startServer(t, "--encryption-provider-config", config)
	s.mustKubectl("create", "secret", "generic", "vault", "--from-literal=password=Correct-Horse-Battery-Staple")
	s.mustKubectl("create", "configmap", "plain", "--from-literal=note=visible-on-disk-by-design")
	db := func() []byte {
		data, err := os.ReadFile(filepath.Join(s.dir, "storage", "sekisho.db"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	raw := db()
	for _, secret := range []string{"Correct-Horse-Battery-Staple", base64.StdEncoding.EncodeToString([]byte("Correct-Horse-Battery-Staple"))} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the database file holds the Secret's value %q", secret)
		}
	}
	if !bytes.Contains(raw, []byte("visible-on-disk-by-design")) || !bytes.Contains(raw, []byte("k8s:enc:aesgcm:v1:first:")) {
		t.Fatal("the database file does not hold what was written: the check reads the wrong file")
	}
	if got := s.mustKubectl("get", "secret", "vault", "-o", "jsonpath={.data.password}"); got != base64.StdEncoding.EncodeToString([]byte("Correct-Horse-Battery-Staple")) {
		t.Errorf("the Secret reads back as %q", got)
	}

	// A new writer first, the old key kept as a reader: both read.
	s.stop()
	write(fmt.Sprintf("  - secretbox: {keys: [{name: second, secret: %s}]}\n  - aesgcm: {keys: [{name: first, secret: %s}]}\n", k2, k1))
	s.start()
	s.mustKubectl("create", "secret", "generic", "newer", "--from-literal=pin=Tr0ub4dor-and-3")
	if !bytes.Contains(db(), []byte("k8s:enc:secretbox:v1:second:")) || bytes.Contains(db(), []byte("Tr0ub4dor-and-3")) {
		t.Error("the new Secret is not sealed by the new writer")
	}
	for name, want := range map[string]string{"vault": "Correct-Horse-Battery-Staple", "newer": "Tr0ub4dor-and-3"} {
		out := s.mustKubectl("get", "secret", name, "-o", "go-template={{range .data}}{{.|base64decode}}{{end}}")
		if out != want {
			t.Errorf("%s reads back as %q", name, out)
		}
	}

	// A configuration others may read is refused at start, naming it.
	s.stop()
	os.Chmod(config, 0o644)
	r := sekisho(t, "up", "--data-dir", s.dir, "--secure-port", fmt.Sprint(s.port), "--encryption-provider-config", config)
	if r.code == 0 || !strings.Contains(r.stderr, config) || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("a world-readable configuration: exit %d, %s", r.code, r.stderr)
	}
}

// tamper changes one byte of a stored value in the stopped server's
// database, as a disk fault or an attacker with the file would.
func tamper(t *testing.T, dir, key string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "storage", "sekisho.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("kv"))
		v := slices.Clone(b.Get([]byte(key)))
		if !bytes.Contains(v, []byte("k8s:enc:")) {
			return fmt.Errorf("%s is not sealed: %q", key, v)
		}
		v[len(v)-1] ^= 0x40
		return b.Put([]byte(key), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTamperedSecretIsAnErrorAndTheRestIsServed flips a byte of one
// sealed Secret: reading it is a 500 that names it, never its data or an
// empty object, while a list serves every other Secret with a warning.
func TestTamperedSecretIsAnErrorAndTheRestIsServed(t *testing.T) {
	requireTools(t, "kubectl")
	config := filepath.Join(t.TempDir(), "encryption.yaml")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	if err := os.WriteFile(config, []byte(encryptionConfig(fmt.Sprintf("  - aesgcm: {keys: [{name: k1, secret: %s}]}\n", key))), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--encryption-provider-config", config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.logs.String())
		}
	})
	for _, name := range []string{"alpha", "bravo", "charlie"} {
		s.mustKubectl("create", "secret", "generic", name, "--from-literal=v=value-of-"+name)
	}
	s.stop()
	tamper(t, s.dir, "/registry/secrets/default/bravo")
	s.start()

	code, body := s.do("GET", "/api/v1/namespaces/default/secrets/bravo", "", nil)
	var st metav1.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET of the tampered Secret: %d %s", code, body)
	}
	if code != 500 || st.Reason != metav1.StatusReasonInternalError || st.Details == nil || st.Details.Name != "bravo" ||
		!strings.Contains(st.Message, "corrupt object") || !strings.Contains(st.Message, "/registry/secrets/default/bravo") {
		t.Errorf("GET of the tampered Secret: %d %s", code, body)
	}
	r := s.kubectl("get", "secret", "bravo")
	if r.code == 0 || !strings.Contains(r.stderr, "bravo") {
		t.Errorf("kubectl get of the tampered Secret: exit %d, %s", r.code, r.stderr)
	}

	r = s.kubectl("get", "secrets", "-o", "name")
	if r.code != 0 || r.stdout != "secret/alpha\nsecret/charlie\n" {
		t.Errorf("the list: exit %d, stdout %q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, `secrets "bravo" in namespace "default" is left out`) {
		t.Errorf("the list does not warn of the Secret it leaves out: %s", r.stderr)
	}
	if got := s.mustKubectl("get", "secret", "charlie", "-o", "jsonpath={.data.v}"); got != base64.StdEncoding.EncodeToString([]byte("value-of-charlie")) {
		t.Errorf("charlie reads back as %q", got)
	}
	log := s.logs.String()
	if !strings.Contains(log, "/registry/secrets/default/bravo") || !strings.Contains(log, "does not open") {
		t.Errorf("the server log does not give the cause:\n%s", log)
	}

	// Deleting it: a plain delete must read it, and fails.
	if r := s.kubectl("delete", "secret", "bravo"); r.code == 0 {
		t.Error("a plain delete of an unreadable Secret succeeded")
	}
	// kube-apiserver's unsafe delete needs a second permission...
	s.mustKubectl("create", "role", "secret-deleter", "--verb=delete,get,list", "--resource=secrets")
	s.mustKubectl("create", "rolebinding", "secret-deleter", "--role=secret-deleter", "--user=mallory")
	unsafe := `{"ignoreStoreReadErrorWithClusterBreakingPotential":true}`
	if code, body := s.doAs("mallory", "DELETE", "/api/v1/namespaces/default/secrets/bravo", unsafe); code != 403 || !strings.Contains(body, `not permitted to do \"unsafe-delete-ignore-read-errors\"`) {
		t.Errorf("unsafe delete without unsafe-delete-ignore-read-errors: %d %s", code, body)
	}
	// ...works only on an object that does not read...
	if code, body := s.do("DELETE", "/api/v1/namespaces/default/secrets/alpha", "application/json", strings.NewReader(unsafe)); code != 409 || !strings.Contains(body, "decodable from storage") {
		t.Errorf("unsafe delete of a readable Secret: %d %s", code, body)
	}
	if code, body := s.do("DELETE", "/api/v1/namespaces/default/secrets/bravo", "application/json", strings.NewReader(`{"ignoreStoreReadErrorWithClusterBreakingPotential":true,"gracePeriodSeconds":0}`)); code != 422 || !strings.Contains(body, "cannot be set together with .gracePeriodSeconds") {
		t.Errorf("unsafe delete with a grace period: %d %s", code, body)
	}
	// ...and a watcher in the middle is told to relist, with an ERROR.
	_, listBody := s.do("GET", "/api/v1/namespaces/default/secrets", "", nil)
	var list struct {
		Metadata struct{ ResourceVersion string }
	}
	json.Unmarshal([]byte(listBody), &list)
	watched := make(chan string, 1)
	go func() {
		_, body := s.do("GET", "/api/v1/namespaces/default/secrets?watch=1&timeoutSeconds=10&resourceVersion="+list.Metadata.ResourceVersion, "", nil)
		watched <- body
	}()
	time.Sleep(300 * time.Millisecond)
	if code, body := s.do("DELETE", "/api/v1/namespaces/default/secrets/bravo", "application/json", strings.NewReader(unsafe)); code != 200 || !strings.Contains(body, `"status":"Success"`) {
		t.Fatalf("unsafe delete of the unreadable Secret: %d %s", code, body)
	}
	select {
	case body := <-watched:
		if !strings.Contains(body, `{"type":"ERROR","object":{"kind":"Status"`) || !strings.Contains(body, "corrupt object") {
			t.Errorf("the watch across the delete: %s", body)
		}
	case <-time.After(8 * time.Second):
		t.Error("the watch across the unsafe delete did not end")
	}
	if code, _ := s.do("GET", "/api/v1/namespaces/default/secrets/bravo", "", nil); code != 404 {
		t.Errorf("after the unsafe delete, GET: %d", code)
	}
	if r := s.kubectl("get", "secrets", "-o", "name"); r.code != 0 || strings.Contains(r.stderr, "left out") {
		t.Errorf("the list after the delete: %s %s", r.stdout, r.stderr)
	}
	if auditLog := settledAuditLog(t, s.auditLog()); !strings.Contains(string(auditLog), "apiserver.k8s.io/unsafe-delete-ignore-read-error") {
		t.Error("the audit log does not mark the unsafe delete")
	}
}
