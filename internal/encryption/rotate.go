package encryption

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/atomicfile"
)

// Rotation is what RotateFile changed: the keys it put first, and the
// keys that wrote before and are now readers only.
type Rotation struct {
	Added    []string
	Replaced []string
}

// keyName names a key by when it was made, which also orders keys.
func keyName(now time.Time, taken func(string) bool) string {
	base := "key-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; taken(name); i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// newKey is 32 random bytes, base64: AES-256, or a secretbox key.
func newKey(name string) (apiserverv1.Key, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return apiserverv1.Key{}, err
	}
	return apiserverv1.Key{Name: name, Secret: base64.StdEncoding.EncodeToString(b[:])}, nil
}

// writerKeys is the key list of the provider that writes for rc, and its
// provider's name, or nil when it is one without keys (identity, kms).
func writerKeys(rc *apiserverv1.ResourceConfiguration) (*[]apiserverv1.Key, string) {
	first := &rc.Providers[0]
	switch {
	case first.AESGCM != nil:
		return &first.AESGCM.Keys, "aesgcm"
	case first.AESCBC != nil:
		return &first.AESCBC.Keys, "aescbc"
	case first.Secretbox != nil:
		return &first.Secretbox.Keys, "secretbox"
	}
	return nil, ""
}

// RotateFile puts a new random key first in the writing provider of each
// resource list whose writer is aesgcm, aescbc or secretbox. The keys
// before it stay, as readers, until RetireFile removes them. The file is
// replaced atomically, 0600; its comments are not kept.
func RotateFile(path string, now time.Time) (*Rotation, error) {
	ec, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	rot := &Rotation{}
	for i := range ec.Resources {
		keys, provider := writerKeys(&ec.Resources[i])
		if keys == nil {
			continue
		}
		name := keyName(now, func(n string) bool {
			return slices.ContainsFunc(*keys, func(k apiserverv1.Key) bool { return k.Name == n })
		})
		k, err := newKey(name)
		if err != nil {
			return nil, err
		}
		rot.Replaced = append(rot.Replaced, provider+":"+(*keys)[0].Name)
		rot.Added = append(rot.Added, provider+":"+name)
		*keys = append([]apiserverv1.Key{k}, *keys...)
	}
	if len(rot.Added) == 0 {
		return nil, fmt.Errorf("%s: no resource list is written by aesgcm, aescbc or secretbox: there is no key to rotate", path)
	}
	return rot, writeConfigFile(path, ec, "Keys rotated by sekisho "+now.UTC().Format(time.RFC3339))
}

// RetireFile removes the keys named as KeyOf names them
// ("aesgcm:key-...") from every provider but the writer's first key. A
// provider left without keys goes. The server refuses the file if
// stored values still need a key removed.
func RetireFile(path string, keys []string) error {
	ec, err := readConfigFile(path)
	if err != nil {
		return err
	}
	for i := range ec.Resources {
		rc := &ec.Resources[i]
		var kept []apiserverv1.ProviderConfiguration
		for j, pc := range rc.Providers {
			var list *[]apiserverv1.Key
			var provider string
			switch {
			case pc.AESGCM != nil:
				list, provider = &pc.AESGCM.Keys, "aesgcm"
			case pc.AESCBC != nil:
				list, provider = &pc.AESCBC.Keys, "aescbc"
			case pc.Secretbox != nil:
				list, provider = &pc.Secretbox.Keys, "secretbox"
			}
			if list != nil {
				writer := ""
				if j == 0 {
					writer = (*list)[0].Name
				}
				*list = slices.DeleteFunc(*list, func(k apiserverv1.Key) bool {
					return k.Name != writer && slices.Contains(keys, provider+":"+k.Name)
				})
				if len(*list) == 0 {
					continue
				}
			}
			kept = append(kept, pc)
		}
		rc.Providers = kept
	}
	return writeConfigFile(path, ec, "Keys retired by sekisho "+time.Now().UTC().Format(time.RFC3339))
}

// NewConfigFile writes the configuration `sekisho up` starts with: Secrets
// sealed by a new aesgcm key, and read as plaintext too, so that Secrets
// stored before encryption was on still read (and get re-encrypted).
func NewConfigFile(path string, now time.Time) error {
	k, err := newKey(keyName(now, func(string) bool { return false }))
	if err != nil {
		return err
	}
	ec := &apiserverv1.EncryptionConfiguration{Resources: []apiserverv1.ResourceConfiguration{{
		Resources: []string{"secrets"},
		Providers: []apiserverv1.ProviderConfiguration{
			{AESGCM: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{k}}},
			{Identity: &apiserverv1.IdentityConfiguration{}},
		},
	}}}
	ec.APIVersion, ec.Kind = "apiserver.config.k8s.io/v1", "EncryptionConfiguration"
	return writeConfigFile(path, ec, "Written by sekisho up. It holds the keys Secrets are sealed with:\n"+
		"# back it up with the database, or the Secrets in a backup cannot be read.\n"+
		"# `sekisho encryption rotate` adds a key and retires the old one.")
}

func readConfigFile(path string) (*apiserverv1.EncryptionConfiguration, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ec, err := decodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ec, nil
}

func writeConfigFile(path string, ec *apiserverv1.EncryptionConfiguration, comment string) error {
	if errs := validateConfig(ec); len(errs) > 0 {
		return errors.Join(fmt.Errorf("%s: the new configuration is not valid", path), errs.ToAggregate())
	}
	data, err := yaml.Marshal(ec)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append([]byte("# "+comment+"\n"), data...), 0o600)
}
