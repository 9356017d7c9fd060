package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
)

// MoveLegacyKeys moves what sekisho before 2026-11-29 kept under
// /registry/<resource>/ for the resources kube-apiserver keeps elsewhere
// (kubePrefixes) to kube-apiserver's keys. Each value is opened under its
// old key and sealed again under its new one (the key is the
// authenticated data of encryption), and created there in the
// transaction that deletes the old key, so that nothing is lost or
// doubled by a crash. It returns how many objects moved. A value that
// does not open, or whose new key is taken, stays where it is, logged
// through the error returned with the others moved.
func (s *Store) MoveLegacyKeys(ctx context.Context, resources []*catalog.Resource) (int, error) {
	moved := 0
	var errs []error
	for _, r := range resources {
		if _, ok := kubePrefixes[r.GroupResource()]; !ok || r.StoredAs != nil {
			continue
		}
		old := keyRoot + r.Name + "/"
		depth := 1
		if r.Namespaced {
			depth = 2
		}
		opts := storage.ListOptions{Limit: 500, SkipCount: true}
		for {
			page, err := s.KV.List(ctx, old, opts)
			if err != nil {
				return moved, err
			}
			for _, it := range page.Items {
				rest := strings.TrimPrefix(it.Key, old)
				// /registry/services/ also holds the new keys of Services
				// and Endpoints, a level deeper.
				parts := strings.Split(rest, "/")
				if len(parts) != depth {
					continue
				}
				ns, name := "", parts[len(parts)-1]
				if r.Namespaced {
					ns = parts[0]
				}
				if err := s.moveKey(ctx, r, it, Key(r, ns, name)); err != nil {
					errs = append(errs, err)
					continue
				}
				moved++
			}
			if page.Next == "" {
				break
			}
			opts.Start = page.Next
		}
	}
	return moved, errors.Join(errs...)
}

func (s *Store) moveKey(ctx context.Context, r *catalog.Resource, it *storage.Item, to string) error {
	plain, err := s.open(ctx, r, it.Key, it.Value)
	if err != nil {
		return fmt.Errorf("%s stays: %w", it.Key, err)
	}
	sealed, err := s.seal(ctx, r, to, plain)
	if err != nil {
		return fmt.Errorf("%s stays: %w", it.Key, err)
	}
	_, err = s.KV.Txn(ctx, []storage.Op{
		{Type: storage.OpCreate, Key: to, Value: sealed},
		{Type: storage.OpDelete, Key: it.Key, IfRev: it.ModRev},
	})
	if err != nil {
		return fmt.Errorf("%s stays (moving it to %s): %w", it.Key, to, err)
	}
	return nil
}
