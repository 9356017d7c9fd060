package encryption

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"sync"

	"github.com/sekisho/sekisho/internal/atomicfile"
)

// WriteCount counts the values each key sealed, so that a key can be
// rotated before it seals too many: AES-GCM with random 96-bit nonces is
// safe for a bounded number of messages under one key, and Kubernetes
// documents 200,000 writes as the point to rotate. The counts are kept
// in a file, saved by Save; a crash loses what was counted since.
type WriteCount struct {
	path string

	mu     sync.Mutex
	counts map[string]int64
	dirty  bool
}

// OpenWriteCount reads the counts at path; a missing file counts nothing.
func OpenWriteCount(path string) (*WriteCount, error) {
	w := &WriteCount{path: path, counts: map[string]int64{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &w.counts); err != nil {
		return nil, errors.New(path + ": not the JSON of key write counts: " + err.Error())
	}
	return w, nil
}

// Sealed counts a value just sealed, by the key its prefix names.
func (w *WriteCount) Sealed(value []byte) {
	if !bytes.HasPrefix(value, []byte(prefixEncrypted)) {
		return
	}
	k := KeyOf(value)
	w.mu.Lock()
	w.counts[k]++
	w.dirty = true
	w.mu.Unlock()
}

// Of is how many values key sealed.
func (w *WriteCount) Of(key string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[key]
}

// Forget drops the count of a key that was retired.
func (w *WriteCount) Forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.counts[key]; ok {
		delete(w.counts, key)
		w.dirty = true
	}
}

// Save writes the counts if they changed.
func (w *WriteCount) Save() error {
	w.mu.Lock()
	if !w.dirty {
		w.mu.Unlock()
		return nil
	}
	data, err := json.Marshal(w.counts)
	w.dirty = false
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(w.path, data, 0o600); err != nil {
		w.mu.Lock()
		w.dirty = true
		w.mu.Unlock()
		return err
	}
	return nil
}
