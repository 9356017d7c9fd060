package encryption

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/apis/apiserver"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	kubevalidation "k8s.io/apiserver/pkg/apis/apiserver/validation"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"
	"sigs.k8s.io/yaml"
)

func key(n int, seed byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{seed}, n))
}

var testConfig = fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aesgcm: {keys: [{name: k1, secret: %s}, {name: k2, secret: %s}]}
  - aescbc: {keys: [{name: k3, secret: %s}]}
  - secretbox: {keys: [{name: k4, secret: %s}]}
  - identity: {}
- resources: [configmaps]
  providers:
  - secretbox: {keys: [{name: k5, secret: %s}]}
  - aesgcm: {keys: [{name: k6, secret: %s}]}
- resources: ["*.apps"]
  providers:
  - aescbc: {keys: [{name: k7, secret: %s}]}
- resources: ["*.*"]
  providers:
  - identity: {}
  - aesgcm: {keys: [{name: k8, secret: %s}]}
`, key(32, 1), key(16, 2), key(24, 3), key(32, 4), key(32, 5), key(32, 6), key(16, 7), key(32, 8))

// kubeTransformers loads a configuration with kube-apiserver's own code.
func kubeTransformers(t *testing.T, config string) func(schema.GroupResource) value.Transformer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "encryption.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := encryptionconfig.LoadEncryptionConfig(context.Background(), path, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	return func(gr schema.GroupResource) value.Transformer {
		for _, k := range []schema.GroupResource{gr, {Group: gr.Group, Resource: "*"}, {Group: "*", Resource: "*"}} {
			if tr, ok := kc.Transformers[k]; ok {
				return tr
			}
		}
		t.Fatalf("kube-apiserver has no transformer for %s", gr)
		return nil
	}
}

func loadTest(t *testing.T, config string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "encryption.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStoredValuesAreKubeAPIServers: what sekisho seals, kube-apiserver
// opens with the same configuration, and the reverse, for every
// provider; both say the same of staleness, and both refuse a value
// moved to another key.
func TestStoredValuesAreKubeAPIServers(t *testing.T) {
	ours := loadTest(t, testConfig)
	kube := kubeTransformers(t, testConfig)
	ctx := context.Background()
	plain := []byte(`{"kind":"Secret","apiVersion":"v1","data":{"password":"aHVudGVyMg=="}}`)
	for _, c := range []struct {
		gr     schema.GroupResource
		prefix string
	}{
		{schema.GroupResource{Resource: "secrets"}, "k8s:enc:aesgcm:v1:k1:"},
		{schema.GroupResource{Resource: "configmaps"}, "k8s:enc:secretbox:v1:k5:"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "k8s:enc:aescbc:v1:k7:"},
		{schema.GroupResource{Group: "batch", Resource: "jobs"}, ""},
	} {
		storageKey := []byte("/registry/" + c.gr.Resource + "/default/x")
		sealed, err := ours.For(c.gr).Seal(ctx, plain, storageKey)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(sealed, []byte(c.prefix)) || (c.prefix != "" && bytes.Contains(sealed, []byte("hunter2"))) {
			t.Errorf("%s: sealed as %.40q", c.gr, sealed)
		}
		// Sealing again leaves the first value as it was: no two share
		// memory (the prefix is copied, not appended to in place).
		before := bytes.Clone(sealed)
		if again, err := ours.For(c.gr).Seal(ctx, []byte("other"), storageKey); err != nil || !bytes.Equal(sealed, before) || (c.prefix != "" && bytes.Equal(again, sealed)) {
			t.Errorf("%s: a second seal changed the first value, or repeated it: %v", c.gr, err)
		}
		got, stale, err := kube(c.gr).TransformFromStorage(ctx, sealed, value.DefaultContext(storageKey))
		if err != nil || !bytes.Equal(got, plain) || stale {
			t.Errorf("%s: kube-apiserver opens sekisho's value: %q stale=%v %v", c.gr, got, stale, err)
		}
		kubeSealed, err := kube(c.gr).TransformToStorage(ctx, plain, value.DefaultContext(storageKey))
		if err != nil {
			t.Fatal(err)
		}
		got, stale, err = ours.For(c.gr).Open(ctx, kubeSealed, storageKey)
		if err != nil || !bytes.Equal(got, plain) || stale {
			t.Errorf("%s: sekisho opens kube-apiserver's value: %q stale=%v %v", c.gr, got, stale, err)
		}
	}

	// Every reader of the secrets' list, written by kube-apiserver with a
	// configuration that puts it first, opens in sekisho as stale.
	secrets := schema.GroupResource{Resource: "secrets"}
	storageKey := []byte("/registry/secrets/default/x")
	for _, first := range []string{"k2", "k3", "k4", "identity"} {
		config := reorder(t, testConfig, first)
		sealed, err := kubeTransformers(t, config)(secrets).TransformToStorage(ctx, plain, value.DefaultContext(storageKey))
		if err != nil {
			t.Fatal(err)
		}
		got, stale, err := ours.For(secrets).Open(ctx, sealed, storageKey)
		_, kubeStale, kubeErr := kube(secrets).TransformFromStorage(ctx, sealed, value.DefaultContext(storageKey))
		if err != nil || kubeErr != nil || !bytes.Equal(got, plain) || stale != kubeStale || !stale {
			t.Errorf("written by %s first: stale %v (kube-apiserver %v), %v %v", first, stale, kubeStale, err, kubeErr)
		}
	}

	// A value moved to another key does not open with aesgcm, in either.
	sealed, _ := ours.For(secrets).Seal(ctx, plain, storageKey)
	other := []byte("/registry/secrets/default/y")
	if _, _, err := ours.For(secrets).Open(ctx, sealed, other); err == nil {
		t.Error("sekisho opened an aesgcm value moved to another key")
	}
	if _, _, err := kube(secrets).TransformFromStorage(ctx, sealed, value.DefaultContext(other)); err == nil {
		t.Error("kube-apiserver opened an aesgcm value moved to another key")
	}
	// A flipped byte is an error, never plaintext.
	for i := len("k8s:enc:aesgcm:v1:k1:"); i < len(sealed); i += 7 {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 1
		if got, _, err := ours.For(secrets).Open(ctx, tampered, storageKey); err == nil {
			t.Fatalf("byte %d flipped: opened as %q", i, got)
		}
	}
	// A sealed value under a resource that is not encrypted is refused,
	// not returned as it is.
	if _, _, err := ours.For(schema.GroupResource{Group: "batch", Resource: "jobs"}).Open(ctx, sealed, storageKey); err == nil ||
		!strings.Contains(err.Error(), "aesgcm") {
		t.Errorf("a sealed value read as plain: %v", err)
	}
	if _, _, err := (&Config{}).For(secrets).Open(ctx, sealed, storageKey); err == nil {
		t.Error("no configuration read a sealed value as plain")
	}
}

// reorder moves the provider or key named first to the front of the
// secrets' providers, as an operator rotating keys does.
func reorder(t *testing.T, config, first string) string {
	t.Helper()
	var ec apiserverv1.EncryptionConfiguration
	if err := yaml.Unmarshal([]byte(config), &ec); err != nil {
		t.Fatal(err)
	}
	ps := ec.Resources[0].Providers
	for i, p := range ps {
		switch {
		case first == "identity" && p.Identity != nil,
			p.AESCBC != nil && p.AESCBC.Keys[0].Name == first,
			p.Secretbox != nil && p.Secretbox.Keys[0].Name == first:
			ps = append([]apiserverv1.ProviderConfiguration{p}, slices.Delete(slices.Clone(ps), i, i+1)...)
		case p.AESGCM != nil && p.AESGCM.Keys[1].Name == first:
			p.AESGCM.Keys[0], p.AESGCM.Keys[1] = p.AESGCM.Keys[1], p.AESGCM.Keys[0]
		}
	}
	ec.Resources[0].Providers = ps
	out, err := yaml.Marshal(&ec)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestConfigValidationIsKubeAPIServers: each bad configuration is refused
// with the fields and messages of kube-apiserver's validation.
func TestConfigValidationIsKubeAPIServers(t *testing.T) {
	good := key(32, 1)
	for _, resources := range []string{
		`[]`,
		`[{resources: [], providers: []}]`,
		`[{resources: [secrets], providers: [{}]}]`,
		`[{resources: [secrets], providers: [{identity: {}, aesgcm: {keys: [{name: a, secret: ` + good + `}]}}]}]`,
		`[{resources: [secrets], providers: [{aesgcm: {keys: []}}]}]`,
		`[{resources: [secrets], providers: [{aesgcm: {keys: [{name: "", secret: ""}]}}]}]`,
		`[{resources: [secrets], providers: [{aescbc: {keys: [{name: a, secret: "not base64!"}]}}]}]`,
		`[{resources: [secrets], providers: [{aesgcm: {keys: [{name: a, secret: ` + key(20, 1) + `}]}}]}]`,
		`[{resources: [secrets], providers: [{secretbox: {keys: [{name: a, secret: ` + key(16, 1) + `}]}}]}]`,
		`[{resources: [Secrets, "*", serviceipallocations, "*.events.k8s.io", "*.extensions", "pods.*"], providers: [{identity: {}}]}]`,
		`[{resources: [secrets, secrets], providers: [{identity: {}}]}]`,
		`[{resources: [secrets, "*."], providers: [{identity: {}}]}]`,
		`[{resources: ["*.*", "deployments.apps"], providers: [{identity: {}}]}]`,
	} {
		config := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: " + resources + "\n"
		_, err := ParseConfig([]byte(config))
		var ec apiserverv1.EncryptionConfiguration
		if err := yaml.Unmarshal([]byte(config), &ec); err != nil {
			t.Fatal(err)
		}
		var internal apiserver.EncryptionConfiguration
		if err := apiserverv1.Convert_v1_EncryptionConfiguration_To_apiserver_EncryptionConfiguration(&ec, &internal, nil); err != nil {
			t.Fatal(err)
		}
		want := describe(kubevalidation.ValidateEncryptionConfiguration(&internal, false))
		got := describe(validateConfig(&ec))
		if len(want) == 0 || !slices.Equal(got, want) || err == nil {
			t.Errorf("%s:\nsekisho        %q\nkube-apiserver %q", resources, got, want)
		}
	}
	if _, err := ParseConfig([]byte(testConfig)); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
}

// describe is what an error list says, without how each printed the
// value (the types differ).
func describe(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+" "+string(e.Type)+" "+e.Detail)
	}
	return out
}

func TestLoadConfigRefuses(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.yaml")
	os.WriteFile(open, []byte(testConfig), 0o644)
	if _, err := LoadConfig(open); err == nil || !strings.Contains(err.Error(), open) || !strings.Contains(err.Error(), "0644") {
		t.Errorf("a world-readable configuration: %v", err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte(strings.Replace(testConfig, "secretbox: {keys", "secretbox: {kyes", 1)), 0o600)
	if _, err := LoadConfig(typo); err == nil || !strings.Contains(err.Error(), `unknown field "resources[0].providers[2].secretbox.kyes"`) {
		t.Errorf("a misspelt field: %v", err)
	}
}
