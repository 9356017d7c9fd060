package encryption

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Config is an EncryptionConfiguration (apiserver.config.k8s.io/v1), as
// --encryption-provider-config gives it: for each resource, the
// providers that seal and open its stored values.
type Config struct {
	byResource map[schema.GroupResource]*Providers
	kms        []*kmsV2
}

// The prefixes kube-apiserver writes before a sealed value; a key's name
// and a colon follow.
const (
	prefixEncrypted = "k8s:enc:"
	prefixAESGCM    = "k8s:enc:aesgcm:v1:"
	prefixAESCBC    = "k8s:enc:aescbc:v1:"
	prefixSecretbox = "k8s:enc:secretbox:v1:"
)

// LoadConfig reads the configuration file at path. The file holds keys:
// one that others may read is refused, naming it.
func LoadConfig(path string) (*Config, error) {
	ec, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	c, err := newConfig(ec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// CheckPrivate refuses a file holding keys that others may read.
func CheckPrivate(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s: mode %04o lets others read its keys; make it 0600 (chmod 600 %s)", path, perm, path)
	}
	return nil
}

// ParseConfig decodes and checks a configuration, with kube-apiserver's
// validation and messages. A field the type does not know is refused: a
// misspelt provider must not leave Secrets in the clear.
func ParseConfig(data []byte) (*Config, error) {
	ec, err := decodeConfig(data)
	if err != nil {
		return nil, err
	}
	return newConfig(ec)
}

func newConfig(ec *apiserverv1.EncryptionConfiguration) (*Config, error) {
	c := &Config{byResource: map[schema.GroupResource]*Providers{}}
	for _, rc := range ec.Resources {
		p, err := c.newProviders(rc.Providers)
		if err != nil {
			c.Close()
			return nil, err
		}
		for _, r := range rc.Resources {
			c.byResource[schema.ParseGroupResource(r)] = p
		}
	}
	return c, nil
}

// decodeConfig decodes and validates a configuration.
func decodeConfig(data []byte) (*apiserverv1.EncryptionConfiguration, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %w", err)
	}
	var ec apiserverv1.EncryptionConfiguration
	strict, err := sigsjson.UnmarshalStrict(js, &ec)
	if err != nil {
		return nil, fmt.Errorf("cannot decode the EncryptionConfiguration: %w", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("the configuration has fields apiserver.config.k8s.io/v1 does not know: %w", strict[0])
	}
	if ec.Kind != "EncryptionConfiguration" || ec.APIVersion != "apiserver.config.k8s.io/v1" {
		return nil, fmt.Errorf("apiVersion %q kind %q: want apiserver.config.k8s.io/v1 EncryptionConfiguration", ec.APIVersion, ec.Kind)
	}
	if errs := validateConfig(&ec); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return &ec, nil
}

// For is the transformer of a resource's values: its own entry, else its
// group's (*.apps; *. for the core group), else every resource's (*.*),
// else none, which stores values as they are and refuses to read one
// that is sealed.
func (c *Config) For(gr schema.GroupResource) Transformer {
	if c != nil {
		for _, k := range []schema.GroupResource{gr, {Group: gr.Group, Resource: "*"}, {Group: "*", Resource: "*"}} {
			if p, ok := c.byResource[k]; ok {
				return p
			}
		}
	}
	return identityCheck{}
}

// Providers seal with the first provider's first key and open with any
// provider whose prefix the value carries: what kube-apiserver's
// prefix transformers do. A value opened with another than the first is
// stale, to be sealed again.
type Providers struct {
	entries []prefixed
}

type prefixed struct {
	prefix []byte
	t      Transformer
}

func (c *Config) newProviders(list []apiserverv1.ProviderConfiguration) (*Providers, error) {
	p := &Providers{}
	for _, pc := range list {
		switch {
		case pc.AESGCM != nil:
			for _, k := range pc.AESGCM.Keys {
				g, err := newAESGCM(decodeKey(k))
				if err != nil {
					return nil, fmt.Errorf("aesgcm key %s: %w", k.Name, err)
				}
				p.entries = append(p.entries, prefixed{[]byte(prefixAESGCM + k.Name + ":"), g})
			}
		case pc.AESCBC != nil:
			for _, k := range pc.AESCBC.Keys {
				c, err := newAESCBC(decodeKey(k))
				if err != nil {
					return nil, fmt.Errorf("aescbc key %s: %w", k.Name, err)
				}
				p.entries = append(p.entries, prefixed{[]byte(prefixAESCBC + k.Name + ":"), c})
			}
		case pc.Secretbox != nil:
			for _, k := range pc.Secretbox.Keys {
				s := &secretBox{}
				copy(s.key[:], decodeKey(k))
				p.entries = append(p.entries, prefixed{[]byte(prefixSecretbox + k.Name + ":"), s})
			}
		case pc.Identity != nil:
			p.entries = append(p.entries, prefixed{nil, identityCheck{}})
		case pc.KMS != nil:
			if pc.KMS.APIVersion != "v2" {
				return nil, fmt.Errorf("kms provider %s: apiVersion %s is not served: KMS v1 is deprecated and off in Kubernetes; use apiVersion: v2", pc.KMS.Name, kmsAPIVersion(pc.KMS))
			}
			timeout := 3 * time.Second
			if pc.KMS.Timeout != nil {
				timeout = pc.KMS.Timeout.Duration
			}
			k, err := newKMSv2(pc.KMS.Name, pc.KMS.Endpoint, timeout)
			if err != nil {
				return nil, err
			}
			c.kms = append(c.kms, k)
			p.entries = append(p.entries, prefixed{[]byte(prefixKMSv2 + pc.KMS.Name + ":"), k})
		}
	}
	return p, nil
}

// decodeKey is a validated key's secret.
func decodeKey(k apiserverv1.Key) []byte {
	b, _ := base64.StdEncoding.DecodeString(k.Secret)
	return b
}

// appendSealer is a provider that seals into the tail of dst, so that a
// value and its provider prefix are one allocation: on a busy write path
// the second copy of every value showed as much CPU as the sealing.
type appendSealer interface {
	appendSeal(dst, plain, key []byte) ([]byte, error)
}

// Seal seals with the first provider.
func (p *Providers) Seal(ctx context.Context, plain, key []byte) ([]byte, error) {
	first := p.entries[0]
	if a, ok := first.t.(appendSealer); ok {
		return a.appendSeal(first.prefix[:len(first.prefix):len(first.prefix)], plain, key)
	}
	sealed, err := first.t.Seal(ctx, plain, key)
	if err != nil {
		return nil, err
	}
	return append(first.prefix[:len(first.prefix):len(first.prefix)], sealed...), nil
}

// Open opens with the first provider whose prefix the value carries and
// that opens it.
func (p *Providers) Open(ctx context.Context, sealed, key []byte) ([]byte, bool, error) {
	var first error
	for i, e := range p.entries {
		if !bytes.HasPrefix(sealed, e.prefix) {
			continue
		}
		plain, stale, err := e.t.Open(ctx, sealed[len(e.prefix):], key)
		if err == nil {
			return plain, stale || i != 0, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = errors.New("no provider of the encryption configuration matches the stored value's prefix")
	}
	return nil, false, first
}

// identityCheck stores values as they are, and refuses to read a sealed
// one as if it were plain (kube-apiserver's identity provider).
type identityCheck struct{}

func (identityCheck) Seal(_ context.Context, plain, _ []byte) ([]byte, error) { return plain, nil }

func (identityCheck) Open(_ context.Context, sealed, _ []byte) ([]byte, bool, error) {
	if bytes.HasPrefix(sealed, []byte(prefixEncrypted)) {
		name, _, _ := strings.Cut(strings.TrimPrefix(string(sealed[:min(len(sealed), 64)]), prefixEncrypted), ":")
		return nil, false, fmt.Errorf("the value is sealed (provider %s) and no provider of the configuration opens it", name)
	}
	return sealed, false, nil
}

// The messages of kube-apiserver's validation.
const (
	moreThanOneElementErr = "more than one provider specified in a single element, should split into different list elements"
	keyLenErrFmt          = "secret is not of the expected length, got %d, expected one of %v"
	atLeastOneRequiredFmt = "at least one %s is required"
	mandatoryFieldErrFmt  = "%s is a mandatory field for a %s"
	base64EncodingErr     = "secrets must be base64 encoded"
	eventsGroupErr        = "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file"
	extensionsGroupErr    = "'extensions' group has been removed and cannot be used for encryption"
	starResourceErr       = "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
	overlapErr            = "using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked"
	nonRESTAPIResourceErr = "resources which do not have REST API/s cannot be encrypted"
	resourceNameErr       = "resource name should not contain capital letters"
	resourceAcrossGroup   = "encrypting the same resource across groups is not supported"
	duplicateResourceErr  = "the same resource cannot be specified multiple times"
)

var (
	aesKeySizes       = []int{16, 24, 32}
	secretboxKeySizes = []int{32}
)

func validateConfig(c *apiserverv1.EncryptionConfiguration) field.ErrorList {
	root := field.NewPath("resources")
	var errs field.ErrorList
	if len(c.Resources) == 0 {
		return append(errs, field.Required(root, fmt.Sprintf(atLeastOneRequiredFmt, root)))
	}
	kmsNames := map[string]bool{}
	for i, rc := range c.Resources {
		r, p := root.Index(i).Child("resources"), root.Index(i).Child("providers")
		if len(rc.Resources) == 0 {
			errs = append(errs, field.Required(r, fmt.Sprintf(atLeastOneRequiredFmt, r)))
		}
		errs = append(errs, validateOverlap(rc.Resources, r)...)
		errs = append(errs, validateResourceNames(rc.Resources, r)...)
		if len(rc.Providers) == 0 {
			errs = append(errs, field.Required(p, fmt.Sprintf(atLeastOneRequiredFmt, p)))
		}
		for j, pc := range rc.Providers {
			path := p.Index(j)
			errs = append(errs, validateSingleProvider(pc, path)...)
			switch {
			case pc.AESGCM != nil:
				errs = append(errs, validateKeys(pc.AESGCM.Keys, path.Child("aesgcm").Child("keys"), aesKeySizes)...)
			case pc.AESCBC != nil:
				errs = append(errs, validateKeys(pc.AESCBC.Keys, path.Child("aescbc").Child("keys"), aesKeySizes)...)
			case pc.Secretbox != nil:
				errs = append(errs, validateKeys(pc.Secretbox.Keys, path.Child("secretbox").Child("keys"), secretboxKeySizes)...)
			case pc.KMS != nil:
				errs = append(errs, validateKMS(pc.KMS, path.Child("kms"), kmsNames)...)
				kmsNames[pc.KMS.Name] = true
			}
		}
	}
	return errs
}

func validateOverlap(resources []string, path *field.Path) field.ErrorList {
	if len(resources) < 2 {
		return nil
	}
	grs := make([]schema.GroupResource, len(resources))
	for i, r := range resources {
		grs[i] = schema.ParseGroupResource(r)
	}
	var duplicate, overlap bool
	for i, a := range grs {
		for j, b := range grs {
			switch {
			case i == j:
			case a == b:
				duplicate = true
			case a == schema.GroupResource{Group: "*", Resource: "*"}:
				overlap = true
			case a.Group == b.Group && (a.Resource == "*" || b.Resource == "*"):
				overlap = true
			}
		}
	}
	var errs field.ErrorList
	if duplicate {
		errs = append(errs, field.Invalid(path, resources, duplicateResourceErr))
	}
	if overlap {
		errs = append(errs, field.Invalid(path, resources, overlapErr))
	}
	return errs
}

func validateResourceNames(resources []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for j, res := range resources {
		at := path.Index(j)
		if strings.ToLower(res) != res {
			errs = append(errs, field.Invalid(at, resources[j], resourceNameErr))
			continue
		}
		if res == "*" {
			errs = append(errs, field.Invalid(at, resources[j], starResourceErr))
			continue
		}
		if res == "apiserveripinfo" || res == "serviceipallocations" || res == "servicenodeportallocations" {
			errs = append(errs, field.Invalid(at, resources[j], nonRESTAPIResourceErr))
			continue
		}
		gr := schema.ParseGroupResource(res)
		switch {
		case gr.Group == "events.k8s.io":
			errs = append(errs, field.Invalid(at, resources[j], eventsGroupErr))
		case gr.Group == "extensions":
			errs = append(errs, field.Invalid(at, resources[j], extensionsGroupErr))
		case gr.Group == "*" && gr.Resource != "*":
			errs = append(errs, field.Invalid(at, resources[j], resourceAcrossGroup))
		}
	}
	return errs
}

func validateSingleProvider(pc apiserverv1.ProviderConfiguration, path *field.Path) field.ErrorList {
	n := 0
	for _, set := range []bool{pc.AESGCM != nil, pc.AESCBC != nil, pc.Secretbox != nil, pc.Identity != nil, pc.KMS != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return field.ErrorList{field.Invalid(path, pc, "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity")}
	case n > 1:
		return field.ErrorList{field.Invalid(path, pc, moreThanOneElementErr)}
	}
	return nil
}

func validateKeys(keys []apiserverv1.Key, path *field.Path, sizes []int) field.ErrorList {
	if len(keys) == 0 {
		return field.ErrorList{field.Required(path, fmt.Sprintf(atLeastOneRequiredFmt, "keys"))}
	}
	var errs field.ErrorList
	for i, k := range keys {
		at := path.Index(i)
		if k.Name == "" {
			errs = append(errs, field.Required(at.Child("name"), fmt.Sprintf(mandatoryFieldErrFmt, "name", "key")))
		}
		if k.Secret == "" {
			errs = append(errs, field.Required(at.Child("secret"), fmt.Sprintf(mandatoryFieldErrFmt, "secret", "key")))
			continue
		}
		secret, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			errs = append(errs, field.Invalid(at.Child("secret"), "REDACTED", base64EncodingErr))
			continue
		}
		if !slices.Contains(sizes, len(secret)) {
			errs = append(errs, field.Invalid(at.Child("secret"), "REDACTED", fmt.Sprintf(keyLenErrFmt, len(secret), sizes)))
		}
	}
	return errs
}

// Configured reports whether the configuration names gr, itself or by a
// wildcard: whether its stored values are this configuration's to seal.
func (c *Config) Configured(gr schema.GroupResource) bool {
	_, ok := c.For(gr).(*Providers)
	return ok
}

// Current reports, from its prefix alone, whether a stored value of gr
// is sealed as a write would seal it now. A value that is not current is
// stale: re-encryption rewrites it.
func (c *Config) Current(gr schema.GroupResource, value []byte) bool {
	p, ok := c.For(gr).(*Providers)
	if !ok {
		return !bytes.HasPrefix(value, []byte(prefixEncrypted))
	}
	w := p.entries[0]
	switch {
	case w.prefix == nil:
		return !bytes.HasPrefix(value, []byte(prefixEncrypted))
	case !bytes.HasPrefix(value, w.prefix):
		return false
	}
	if k, ok := w.t.(*kmsV2); ok {
		return k.currentValue(value[len(w.prefix):])
	}
	return true
}

// Writer names what seals gr's values now, as KeyOf names a value's key.
func (c *Config) Writer(gr schema.GroupResource) string {
	p, ok := c.For(gr).(*Providers)
	if !ok || p.entries[0].prefix == nil {
		return Plaintext
	}
	name := KeyOf(p.entries[0].prefix)
	if k, ok := p.entries[0].t.(*kmsV2); ok {
		return name + ":" + keyIDHash(keyIDOf(k.state.Load()))
	}
	return name
}

// Plaintext is what KeyOf calls a value that is not sealed.
const Plaintext = "identity"

// KeyOf names the provider and key that sealed a stored value, from its
// prefix: "aesgcm:key1", "secretbox:key2", or Plaintext. It reads no
// more than the prefix and never decrypts.
//
// A KMS v2 value is named "kms:<provider>:<hash of the plugin's key id>"
// (its prefix names no key; the key id is read from the EncryptedObject
// that follows, which is not decrypted), and a KMS v2 prefix alone
// "kms:<provider>".
func KeyOf(value []byte) string {
	if !bytes.HasPrefix(value, []byte(prefixEncrypted)) {
		return Plaintext
	}
	// k8s:enc:<provider>:v1:<key>: or k8s:enc:kms:v2:<name>:
	parts := bytes.SplitN(value[len(prefixEncrypted):], []byte(":"), 4)
	if len(parts) < 4 {
		return "unknown"
	}
	name := string(parts[0]) + ":" + string(parts[2])
	if bytes.HasPrefix(value, []byte(prefixKMSv2)) && len(parts[3]) > 0 {
		obj, err := unmarshalEncryptedObject(parts[3])
		if err != nil {
			return name + ":unreadable"
		}
		return name + ":" + keyIDHash(obj.keyID)
	}
	return name
}

func kmsAPIVersion(k *apiserverv1.KMSConfiguration) string {
	if k.APIVersion == "" {
		return "v1"
	}
	return k.APIVersion
}

// Start starts the configuration's KMS providers: each asks its plugin
// for a data key now, and for its status every few seconds after, until
// ctx ends or Close. onRotate is called when a plugin's key id changed
// and a new data key writes.
func (c *Config) Start(ctx context.Context, log *slog.Logger, onRotate func()) {
	if c == nil {
		return
	}
	for _, k := range c.kms {
		k.start(ctx, log, onRotate)
	}
}

// Close stops the KMS providers and closes their connections.
func (c *Config) Close() {
	if c == nil {
		return
	}
	for _, k := range c.kms {
		k.stop()
	}
}

// KMSHealth is the health of the KMS providers' plugins, as their last
// status checks found it; nil without KMS providers.
func (c *Config) KMSHealth() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, k := range c.kms {
		errs = append(errs, k.Health())
	}
	return errors.Join(errs...)
}

// KMSCalls counts the Encrypt and Decrypt calls the KMS providers made.
func (c *Config) KMSCalls() int64 {
	var n int64
	if c != nil {
		for _, k := range c.kms {
			n += k.calls.Load()
		}
	}
	return n
}

// CanOpen reports, from its prefix alone, whether a provider of the
// configuration would try to open a stored value of gr: whether the
// configuration still holds the key that sealed it.
func (c *Config) CanOpen(gr schema.GroupResource, value []byte) bool {
	p, ok := c.For(gr).(*Providers)
	if !ok {
		return !bytes.HasPrefix(value, []byte(prefixEncrypted))
	}
	for _, e := range p.entries {
		if e.prefix == nil && !bytes.HasPrefix(value, []byte(prefixEncrypted)) || e.prefix != nil && bytes.HasPrefix(value, e.prefix) {
			return true
		}
	}
	return false
}

// Readers names, as KeyOf does, every key the configuration opens gr's
// values with, the writer first.
func (c *Config) Readers(gr schema.GroupResource) []string {
	p, ok := c.For(gr).(*Providers)
	if !ok {
		return []string{Plaintext}
	}
	out := make([]string, 0, len(p.entries))
	for _, e := range p.entries {
		if e.prefix == nil {
			out = append(out, Plaintext)
		} else {
			out = append(out, KeyOf(e.prefix))
		}
	}
	return out
}

// validateKMS is kube-apiserver's check of a kms provider. Names must be
// unique in the whole configuration: sekisho reloads it, and
// kube-apiserver asks that of v1 names too when it does.
func validateKMS(k *apiserverv1.KMSConfiguration, path *field.Path, names map[string]bool) field.ErrorList {
	var errs field.ErrorList
	version := kmsAPIVersion(k)
	if k.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), fmt.Sprintf(mandatoryFieldErrFmt, "name", "provider")))
	}
	if version != "v1" && strings.Contains(k.Name, ":") {
		errs = append(errs, field.Invalid(path.Child("name"), k.Name, fmt.Sprintf("invalid KMS provider name %s, must not contain ':'", k.Name)))
	}
	if names[k.Name] {
		errs = append(errs, field.Invalid(path.Child("name"), k.Name, fmt.Sprintf("duplicate KMS provider name %s, names must be unique", k.Name)))
	}
	if k.Timeout != nil && k.Timeout.Duration <= 0 {
		errs = append(errs, field.Invalid(path.Child("timeout"), k.Timeout, "timeout should be a positive value"))
	}
	switch u, err := url.Parse(k.Endpoint); {
	case k.Endpoint == "":
		errs = append(errs, field.Invalid(path.Child("endpoint"), "", fmt.Sprintf(mandatoryFieldErrFmt, "endpoint", "kms")))
	case err != nil:
		errs = append(errs, field.Invalid(path.Child("endpoint"), k.Endpoint, fmt.Sprintf("invalid endpoint for kms provider, error: %v", err)))
	case u.Scheme != "unix":
		errs = append(errs, field.Invalid(path.Child("endpoint"), k.Endpoint, fmt.Sprintf("unsupported scheme %q for KMS provider, only unix is supported", u.Scheme)))
	}
	if version != "v1" && k.CacheSize != nil {
		errs = append(errs, field.Invalid(path.Child("cachesize"), *k.CacheSize, "cachesize is not supported in v2"))
	}
	if version != "v1" && version != "v2" {
		errs = append(errs, field.Invalid(path.Child("apiVersion"), k.APIVersion, "unsupported apiVersion apiVersion for KMS provider, only v1 and v2 are supported"))
	}
	return errs
}
