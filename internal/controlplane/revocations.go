package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	authnx509 "github.com/sekisho/sekisho/internal/authn/x509"
	"github.com/sekisho/sekisho/internal/storage"
)

// revocationsKey holds what the client CRLs have revoked. It sits beside
// the objects but under no resource, so no API request can reach it.
const revocationsKey = "/registry/sekisho.io/revocations"

// revocationStore keeps the CRL revocation state in the API server's own
// store, so it is shared by every server on that store and survives
// restarts.
type revocationStore struct{ kv storage.KV }

var _ authnx509.RevocationStore = revocationStore{}

func (r revocationStore) Load(ctx context.Context) (authnx509.RevocationState, error) {
	var st authnx509.RevocationState
	it, err := r.kv.Get(ctx, revocationsKey)
	if errors.Is(err, storage.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(it.Value, &st); err != nil {
		return st, fmt.Errorf("%s: %w", revocationsKey, err)
	}
	return st, nil
}

// Save merges s into the stored state, retrying when another server wrote
// in between.
func (r revocationStore) Save(ctx context.Context, s authnx509.RevocationState) error {
	for range 16 {
		it, err := r.kv.Get(ctx, revocationsKey)
		var stored authnx509.RevocationState
		switch {
		case errors.Is(err, storage.ErrNotFound):
			it = nil
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(it.Value, &stored); err != nil {
				return fmt.Errorf("%s: %w", revocationsKey, err)
			}
		}
		stored.Merge(s)
		data, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		if it == nil {
			_, err = r.kv.Create(ctx, revocationsKey, data)
		} else {
			_, err = r.kv.Update(ctx, revocationsKey, data, it.ModRev)
		}
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrExists) {
			continue
		}
		return err
	}
	return errors.New("saving the revocations: too many concurrent writers")
}
