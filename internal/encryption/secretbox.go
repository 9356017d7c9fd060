package encryption

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

// secretBox is kube-apiserver's secretbox provider: a random 24-byte
// nonce, then XSalsa20-Poly1305 over the value. The storage key is not
// bound into it: NaCl's secretbox takes no additional data.
type secretBox struct{ key [32]byte }

const secretboxNonceSize = 24

func (s *secretBox) Seal(_ context.Context, plain, _ []byte) ([]byte, error) {
	var nonce [secretboxNonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("secretbox: no nonce: %w", err)
	}
	return secretbox.Seal(nonce[:], plain, &nonce, &s.key), nil
}

func (s *secretBox) Open(_ context.Context, sealed, _ []byte) ([]byte, bool, error) {
	if len(sealed) < secretboxNonceSize+secretbox.Overhead {
		return nil, false, errors.New("secretbox: the value is shorter than a nonce and its tag")
	}
	var nonce [secretboxNonceSize]byte
	copy(nonce[:], sealed)
	plain, ok := secretbox.Open(nil, sealed[secretboxNonceSize:], &nonce, &s.key)
	if !ok {
		return nil, false, errors.New("secretbox: the value does not open with this key: altered, or sealed with another key")
	}
	return plain, false, nil
}
