package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/reencrypt"
	"github.com/sekisho/sekisho/internal/reload"
	"github.com/sekisho/sekisho/internal/store"
)

// EncryptionStatusPath serves `sekisho encryption status`: per resource
// and key, how many stored objects each key sealed, and the latest
// re-encryption pass. It is a non-resource URL, authorized as such
// (get on /encryption/status).
const EncryptionStatusPath = "/encryption/status"

// EncryptionConfigFile is the configuration `sekisho up` writes in its
// data directory, and `sekisho encryption rotate` rotates by default.
const EncryptionConfigFile = "encryption-config.yaml"

// encryptionWritesFile, in the storage directory, counts the values each
// key sealed, for --encryption-rotate-after-writes.
const encryptionWritesFile = "encryption-writes.json"

// startEncryption puts the encryption configuration in force, reloads it
// on change when asked to, and returns the re-encrypter of what an older
// configuration sealed, for the caller to run. A reload that fails to parse, or that drops a key
// stored values still need, is refused and the last configuration kept.
func startEncryption(ctx context.Context, o Options, log *slog.Logger, st *store.Store, cat *catalog.Catalog) (*reencrypt.Rewriter, error) {
	rw := &reencrypt.Rewriter{Store: st, Resources: store.StoredResources(cat), Log: log, MaxRate: o.EncryptionRewriteRate}
	if o.EncryptionProviderConfig == "" {
		return rw, nil
	}
	path := o.EncryptionProviderConfig
	if !o.EncryptionProviderConfigAutomaticReload {
		ec, err := encryption.LoadConfig(path)
		if err != nil {
			return nil, fmt.Errorf("--encryption-provider-config: %w", err)
		}
		ec.Start(ctx, log, rw.Wake)
		st.SetEncryption(ec)
	} else {
		first := true
		f := &reload.File{Path: path, Log: log, Interval: reloadInterval, Load: func(data []byte, _ bool) error {
			if err := encryption.CheckPrivate(path); err != nil {
				return err
			}
			ec, err := encryption.ParseConfig(data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if !first {
				if err := rw.CheckReaders(ctx, ec); err != nil {
					ec.Close()
					return fmt.Errorf("%s: not applied: %w", path, err)
				}
			}
			ec.Start(ctx, log, rw.Wake)
			old := st.Encryption()
			st.SetEncryption(ec)
			// Requests that took the old configuration may still be
			// sealing or opening with its KMS connections.
			time.AfterFunc(time.Minute, old.Close)
			if !first {
				rw.Wake()
			}
			first = false
			return nil
		}}
		if err := f.Start(ctx); err != nil {
			return nil, fmt.Errorf("--encryption-provider-config: %w", err)
		}
	}
	st.OnStale = rw.Stale // Run is started in the encryption controller group
	if o.EncryptionRotateAfterWrites > 0 {
		writes, err := encryption.OpenWriteCount(filepath.Join(o.StorageDir, encryptionWritesFile))
		if err != nil {
			return nil, fmt.Errorf("--encryption-rotate-after-writes: %w", err)
		}
		st.OnSealed = writes.Sealed
		go rotateKeys(ctx, path, o.EncryptionRotateAfterWrites, writes, st, rw, log)
	}
	return rw, nil
}

// encryptionStatus answers GET /encryption/status with reencrypt.Status.
func encryptionStatus(rw *reencrypt.Rewriter, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		st, err := rw.Status(r.Context())
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				log.Error("encryption status", "err", err)
			}
			http.Error(w, "cannot read the stored values' status", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
}

// rotateCheckInterval is how often the key rotation of
// --encryption-rotate-after-writes looks at the write counts.
var rotateCheckInterval = time.Second

// rotateKeys rotates the configuration file's keys by use: a writer key
// that sealed limit values is replaced by a new one (re-encryption
// follows the reload), and a reader key that no stored object uses any
// more is removed from the file. It edits the file, so it runs only where
// sekisho owns the file, as up's. The counts are saved each check.
func rotateKeys(ctx context.Context, path string, limit int64, writes *encryption.WriteCount, st *store.Store, rw *reencrypt.Rewriter, log *slog.Logger) {
	t := time.NewTicker(rotateCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := writes.Save(); err != nil {
				log.Warn("cannot save the encryption keys' write counts", "err", err)
			}
			return
		case <-t.C:
		}
		if err := writes.Save(); err != nil {
			log.Warn("cannot save the encryption keys' write counts", "err", err)
		}
		cfg := st.Encryption()
		writers, retirable := map[string]bool{}, map[string]bool{}
		for _, r := range rw.Resources {
			gr := r.GroupResource()
			if !cfg.Configured(gr) {
				continue
			}
			writers[cfg.Writer(gr)] = true
			for _, k := range cfg.Readers(gr)[1:] {
				if k != encryption.Plaintext && !strings.HasPrefix(k, "kms:") {
					retirable[k] = true
				}
			}
		}
		for w := range writers {
			delete(retirable, w)
		}
		if len(retirable) > 0 && !rw.Progress().Running {
			status, err := rw.Status(ctx)
			if err != nil {
				continue
			}
			for _, rs := range status.Resources {
				for k, n := range rs.Keys {
					if n > 0 {
						delete(retirable, k)
					}
				}
			}
			if keys := slices.Sorted(maps.Keys(retirable)); len(keys) > 0 {
				if err := encryption.RetireFile(path, keys); err != nil {
					log.Error("cannot retire unused encryption keys", "file", path, "keys", keys, "err", err)
					continue
				}
				for _, k := range keys {
					writes.Forget(k)
				}
				log.Info("retired encryption keys no stored object uses", "file", path, "keys", keys)
			}
			continue
		}
		for w := range writers {
			if n := writes.Of(w); w != encryption.Plaintext && n >= limit {
				rot, err := encryption.RotateFile(path, time.Now())
				if err != nil {
					log.Error("cannot rotate the encryption key", "file", path, "key", w, "writes", n, "err", err)
					break
				}
				log.Info("rotated the encryption key: it sealed its limit of values; what it sealed is re-encrypted, then it is retired",
					"file", path, "old", rot.Replaced, "new", rot.Added, "writes", n, "limit", limit)
				break
			}
		}
	}
}
