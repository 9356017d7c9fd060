// Package encryption transforms values on their way to and from storage, so
// that sensitive resources can be encrypted at rest.
package encryption

import "context"

// Transformer seals values before they are stored and opens them after they
// are read. The storage key is passed as authenticated data, so a sealed
// value moved to another key does not open. Open reports stale=true when the
// value was sealed with something other than the current write key and
// should be rewritten.
type Transformer interface {
	Seal(ctx context.Context, plain, key []byte) ([]byte, error)
	Open(ctx context.Context, sealed, key []byte) (plain []byte, stale bool, err error)
}
