package reencrypt

import (
	"context"
	"fmt"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/store"
)

// Status is what `sekisho encryption status` shows: for each resource the
// configuration names, or that holds sealed values, how many objects
// each key sealed; and the latest re-encryption pass.
type Status struct {
	Resources    []ResourceStatus `json:"resources"`
	Reencryption Progress         `json:"reencryption"`
}

// ResourceStatus counts one resource's stored values by the key that
// sealed them.
type ResourceStatus struct {
	Resource string `json:"resource"`
	// Writer is what seals a write now (encryption.KeyOf's names).
	Writer string `json:"writer"`
	// Readers are the keys the configuration opens values with.
	Readers []string         `json:"readers"`
	Objects int64            `json:"objects"`
	Keys    map[string]int64 `json:"keys"`
	// Stale counts values sealed other than as Writer would, which
	// re-encryption rewrites; Plaintext those not sealed at all while
	// Writer seals.
	Stale     int64 `json:"stale"`
	Plaintext int64 `json:"plaintext"`
}

// Status reads every stored value's prefix; it decrypts nothing.
func (w *Rewriter) Status(ctx context.Context) (*Status, error) {
	cfg := w.Store.Encryption()
	st := &Status{Reencryption: w.Progress()}
	for _, r := range w.Resources {
		gr := r.GroupResource()
		rs := ResourceStatus{Resource: gr.String(), Writer: cfg.Writer(gr), Readers: cfg.Readers(gr), Keys: map[string]int64{}}
		err := w.scan(ctx, r, func(it *storage.Item) {
			k := encryption.KeyOf(it.Value)
			rs.Objects++
			rs.Keys[k]++
			if !cfg.Current(gr, it.Value) {
				rs.Stale++
			}
			if k == encryption.Plaintext && rs.Writer != encryption.Plaintext {
				rs.Plaintext++
			}
		})
		if err != nil {
			return nil, err
		}
		if cfg.Configured(gr) || rs.Objects > rs.Keys[encryption.Plaintext] {
			st.Resources = append(st.Resources, rs)
		}
	}
	return st, nil
}

// CheckReaders refuses a configuration that could not open values
// stored now: one that drops a key still in use, or stops naming a
// resource whose values are sealed. It reads prefixes only. A
// configuration is swapped in only after this check, so a key is
// retired only once nothing uses it.
func (w *Rewriter) CheckReaders(ctx context.Context, next *encryption.Config) error {
	for _, r := range w.Resources {
		gr := r.GroupResource()
		orphans := map[string]int64{}
		err := w.scan(ctx, r, func(it *storage.Item) {
			if !next.CanOpen(gr, it.Value) {
				orphans[encryption.KeyOf(it.Value)]++
			}
		})
		if err != nil {
			return err
		}
		for key, n := range orphans {
			return fmt.Errorf("%d stored %s are sealed by %s, which the new configuration cannot open; keep it as a reader until `sekisho encryption status` shows none use it", n, gr, key)
		}
	}
	return nil
}

// scan calls f with each stored item of r. Each page is read at the
// latest revision: counts need no snapshot, and a snapshot's pages would
// cost the replay of every write since it.
func (w *Rewriter) scan(ctx context.Context, r *catalog.Resource, f func(*storage.Item)) error {
	opts := storage.ListOptions{Limit: pageSize, SkipCount: true}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := w.Store.KV.List(ctx, store.Prefix(r, ""), opts)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			f(it)
		}
		if page.Next == "" {
			return nil
		}
		opts.Start = page.Next
	}
}
