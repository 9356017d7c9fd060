package clusterpki

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sekisho/sekisho/internal/atomicfile"
	"github.com/sekisho/sekisho/internal/pki"
)

// SARotationFile records, for each service-account key that a rotation
// retired, when it leaves sa.pub. sa.pub itself stays plain PEM, which
// kube-apiserver and openssl read.
var SARotationFile = filepath.Join(PKIDir, "sa-rotation.json")

// SAKey is one public key in sa.pub.
type SAKey struct {
	// ID is the key's "kid" in tokens and in /openid/v1/jwks.
	ID string `json:"keyID"`
	// Signing: sa.key is this key's private half; new tokens use it.
	Signing bool `json:"-"`
	// RetireAfter, when set, is when the key is removed from sa.pub, and
	// tokens signed with it stop verifying.
	RetireAfter time.Time `json:"retireAfter"`

	public crypto.PublicKey
}

// saRotation is SARotationFile's content.
type saRotation struct {
	Retiring []SAKey `json:"retiring"`
}

// saLockFile serializes the read-modify-write of sa.pub and
// sa-rotation.json between the command and a server pruning them.
var saLockFile = filepath.Join(PKIDir, ".sa-rotation.lock")

// lockSAKeys takes the lock, waiting up to ten seconds; a lock older than a
// minute was left by a process that died holding it, and is taken over.
func lockSAKeys(l Layout) (unlock func(), err error) {
	path := l.Path(saLockFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, ModeKey)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) > time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: another rotation of the service-account keys is under way (remove the file if none is)", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saKeys is the service-account key material of a data directory.
type saKeys struct {
	l       Layout
	signing crypto.Signer
	keys    []SAKey
}

func readSAKeys(dir string) (*saKeys, error) {
	l := Layout{Dir: dir}
	signing, ok, err := l.loadKey(SAKeyFile)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s does not exist: the service-account signing key is not managed in this directory", l.Path(SAKeyFile))
	}
	pubData, ok, err := l.readOptional(SAPubFile)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s does not exist", l.Path(SAPubFile))
	}
	pubs, err := pki.ParsePublicKeys(pubData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Path(SAPubFile), err)
	}
	var state saRotation
	if data, ok, err := l.readOptional(SARotationFile); err != nil {
		return nil, err
	} else if ok {
		if err := json.Unmarshal(data, &state); err != nil {
			return nil, fmt.Errorf("%s: %w", l.Path(SARotationFile), err)
		}
	}
	s := &saKeys{l: l, signing: signing}
	signingListed := false
	for _, pub := range pubs {
		id, err := pki.KeyID(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Path(SAPubFile), err)
		}
		k := SAKey{ID: id, public: pub, Signing: pki.KeyMatches(signing, pub)}
		signingListed = signingListed || k.Signing
		if i := slices.IndexFunc(state.Retiring, func(r SAKey) bool { return r.ID == id }); i >= 0 && !k.Signing {
			k.RetireAfter = state.Retiring[i].RetireAfter
		}
		s.keys = append(s.keys, k)
	}
	if !signingListed {
		return nil, fmt.Errorf("%s: no public key matches the signing key %s", l.Path(SAPubFile), l.Path(SAKeyFile))
	}
	return s, nil
}

// write puts sa-rotation.json, sa.pub and, when given, a new sa.key in
// place, all or none, in that order: a server reading them between two
// renames sees the new public keys before the key that signs with one.
func (s *saKeys) write(newSigning crypto.Signer) error {
	var pubPEM []byte
	state := saRotation{Retiring: []SAKey{}}
	for _, k := range s.keys {
		p, err := pki.EncodePublicKey(k.public)
		if err != nil {
			return err
		}
		pubPEM = append(pubPEM, p...)
		if !k.RetireAfter.IsZero() {
			state.Retiring = append(state.Retiring, SAKey{ID: k.ID, RetireAfter: k.RetireAfter.UTC()})
		}
	}
	stateJSON, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	files := []atomicfile.File{
		{Path: s.l.Path(SARotationFile), Data: append(stateJSON, '\n'), Mode: ModeCert, Replace: true},
		{Path: s.l.Path(SAPubFile), Data: pubPEM, Mode: ModeCert, Replace: true},
	}
	if newSigning != nil {
		keyPEM, err := pki.EncodePrivateKey(newSigning)
		if err != nil {
			return err
		}
		files = append(files, atomicfile.File{Path: s.l.Path(SAKeyFile), Data: keyPEM, Mode: ModeKey, Replace: true})
	}
	return atomicfile.WriteAll(files)
}

// prune drops the keys whose retirement has come.
func (s *saKeys) prune(now time.Time) (removed []SAKey) {
	s.keys = slices.DeleteFunc(s.keys, func(k SAKey) bool {
		due := !k.Signing && !k.RetireAfter.IsZero() && !now.Before(k.RetireAfter)
		if due {
			removed = append(removed, k)
		}
		return due
	})
	return removed
}

// ServiceAccountKeys lists the keys in sa.pub, with the signing key marked
// and the retirement of each key a rotation retired.
func ServiceAccountKeys(dir string) ([]SAKey, error) {
	s, err := readSAKeys(dir)
	if err != nil {
		return nil, err
	}
	return s.keys, nil
}

// SAKeyRotation is what RotateServiceAccountKey did.
type SAKeyRotation struct {
	// New signs tokens from now on.
	New SAKey
	// Retired was the signing key; it verifies until its RetireAfter.
	Retired SAKey
	// Removed are keys of earlier rotations whose overlap had ended.
	Removed []SAKey
}

// RotateServiceAccountKey makes a new signing key of keyType (the current
// key's type when empty): sa.pub gains its public key, sa.key becomes it,
// and the key it replaces keeps verifying tokens for overlap, after which
// PruneServiceAccountKeys (which a server renewing its certificates runs)
// removes it. Keys of earlier rotations already due are removed now.
func RotateServiceAccountKey(dir string, keyType pki.KeyType, overlap time.Duration, now time.Time) (SAKeyRotation, error) {
	if overlap <= 0 {
		return SAKeyRotation{}, errors.New("--overlap must be positive")
	}
	unlock, err := lockSAKeys(Layout{Dir: dir})
	if err != nil {
		return SAKeyRotation{}, err
	}
	defer unlock()
	s, err := readSAKeys(dir)
	if err != nil {
		return SAKeyRotation{}, err
	}
	if keyType == "" {
		if keyType = pki.KeyTypeOf(s.signing.Public()); keyType == "" {
			return SAKeyRotation{}, fmt.Errorf("%s: unsupported key; pass --key-type", s.l.Path(SAKeyFile))
		}
	}
	var r SAKeyRotation
	r.Removed = s.prune(now)
	key, err := keyType.GenerateKey()
	if err != nil {
		return SAKeyRotation{}, err
	}
	id, err := pki.KeyID(key.Public())
	if err != nil {
		return SAKeyRotation{}, err
	}
	for i := range s.keys {
		if s.keys[i].Signing {
			s.keys[i].Signing = false
			s.keys[i].RetireAfter = now.Add(overlap).UTC().Truncate(time.Second)
			r.Retired = s.keys[i]
		}
	}
	r.New = SAKey{ID: id, Signing: true, public: key.Public()}
	s.keys = append(s.keys, r.New)
	if err := s.write(key); err != nil {
		return SAKeyRotation{}, err
	}
	return r, nil
}

// PruneServiceAccountKeys removes from sa.pub the keys whose overlap has
// ended. It returns them, and when the next one is due (zero if none).
func PruneServiceAccountKeys(dir string, now time.Time) (removed []SAKey, next time.Time, err error) {
	unlock, err := lockSAKeys(Layout{Dir: dir})
	if err != nil {
		return nil, time.Time{}, err
	}
	defer unlock()
	s, err := readSAKeys(dir)
	if err != nil {
		return nil, time.Time{}, err
	}
	if removed = s.prune(now); len(removed) > 0 {
		if err := s.write(nil); err != nil {
			return nil, time.Time{}, err
		}
	}
	for _, k := range s.keys {
		if !k.RetireAfter.IsZero() && (next.IsZero() || k.RetireAfter.Before(next)) {
			next = k.RetireAfter
		}
	}
	return removed, next, nil
}
