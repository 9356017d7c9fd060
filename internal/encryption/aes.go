package encryption

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
)

// aesGCM is kube-apiserver's aesgcm provider: a random 12-byte nonce,
// then the sealed value, with the storage key as additional data.
type aesGCM struct{ aead cipher.AEAD }

func newAESGCM(key []byte) (*aesGCM, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &aesGCM{aead: aead}, nil
}

func (g *aesGCM) Seal(_ context.Context, plain, key []byte) ([]byte, error) {
	return g.appendSeal(nil, plain, key)
}

func (g *aesGCM) appendSeal(dst, plain, key []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	out := slices.Grow(dst, n+len(plain)+g.aead.Overhead())
	nonce := out[len(dst) : len(dst)+n]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("aesgcm: no nonce: %w", err)
	}
	return g.aead.Seal(out[:len(dst)+n], nonce, plain, key), nil
}

func (g *aesGCM) Open(_ context.Context, sealed, key []byte) ([]byte, bool, error) {
	n := g.aead.NonceSize()
	if len(sealed) < n {
		return nil, false, errors.New("aesgcm: the value is shorter than a nonce")
	}
	plain, err := g.aead.Open(nil, sealed[:n], sealed[n:], key)
	if err != nil {
		return nil, false, errors.New("aesgcm: the value does not open with this key: altered, or sealed with another key or under another name")
	}
	return plain, false, nil
}

// aesCBC is kube-apiserver's aescbc provider: a random 16-byte IV, then
// the value padded as PKCS#7. It authenticates nothing; Kubernetes
// advises against it, and sekisho reads it for migrations.
type aesCBC struct{ block cipher.Block }

func newAESCBC(key []byte) (*aesCBC, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &aesCBC{block: block}, nil
}

func (c *aesCBC) Seal(_ context.Context, plain, _ []byte) ([]byte, error) {
	bs := c.block.BlockSize()
	pad := bs - len(plain)%bs
	out := make([]byte, bs+len(plain)+pad)
	if _, err := rand.Read(out[:bs]); err != nil {
		return nil, fmt.Errorf("aescbc: no IV: %w", err)
	}
	copy(out[bs:], plain)
	copy(out[bs+len(plain):], bytes.Repeat([]byte{byte(pad)}, pad))
	cipher.NewCBCEncrypter(c.block, out[:bs]).CryptBlocks(out[bs:], out[bs:])
	return out, nil
}

var errCBC = errors.New("aescbc: the value does not open with this key")

func (c *aesCBC) Open(_ context.Context, sealed, _ []byte) ([]byte, bool, error) {
	bs := c.block.BlockSize()
	if len(sealed) < 2*bs || len(sealed)%bs != 0 {
		return nil, false, errCBC
	}
	plain := make([]byte, len(sealed)-bs)
	cipher.NewCBCDecrypter(c.block, sealed[:bs]).CryptBlocks(plain, sealed[bs:])
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > bs || pad > len(plain) {
		return nil, false, errCBC
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, false, errCBC
		}
	}
	return plain[:len(plain)-pad], false, nil
}
