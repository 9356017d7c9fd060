// Package pki holds the cluster's certificate authority logic: key
// generation, certificate issuance, the table of certificates a Kubernetes
// control plane needs, and the checks that decide whether an existing
// certificate still fits that table. It does no file I/O and prints nothing.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// KeyType names a private key algorithm and size, as accepted by --key-type.
type KeyType string

// The key types sekisho can generate.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	RSA4096   KeyType = "rsa-4096"
)

// KeyTypes lists every supported key type, default first.
func KeyTypes() []KeyType {
	return []KeyType{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096}
}

// ParseKeyType validates a --key-type value.
func ParseKeyType(s string) (KeyType, error) {
	for _, t := range KeyTypes() {
		if string(t) == s {
			return t, nil
		}
	}
	names := make([]string, 0, len(KeyTypes()))
	for _, t := range KeyTypes() {
		names = append(names, string(t))
	}
	return "", fmt.Errorf("unknown key type %q (want one of %s)", s, strings.Join(names, ", "))
}

// GenerateKey creates a new private key of this type.
func (t KeyType) GenerateKey() (crypto.Signer, error) {
	switch t {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("unknown key type %q", string(t))
}

// GenerateKeys creates n keys of this type concurrently.
func (t KeyType) GenerateKeys(n int) ([]crypto.Signer, error) {
	types := make([]KeyType, n)
	for i := range types {
		types[i] = t
	}
	return GenerateKeysOf(types)
}

// GenerateKeysOf creates one key of each given type, concurrently. RSA
// generation dominates the cost of building a PKI, so it is spread over
// every core.
func GenerateKeysOf(types []KeyType) ([]crypto.Signer, error) {
	keys := make([]crypto.Signer, len(types))
	errs := make([]error, len(types))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(types)) {
		wg.Go(func() {
			for i := range next {
				keys[i], errs[i] = types[i].GenerateKey()
			}
		})
	}
	for i := range types {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// KeyTypeOf reports the key type of a public key, or "" when it is not one
// sekisho generates (for example RSA-1024 from an external CA).
func KeyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	}
	return ""
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

// KeyMatches reports whether key is the private half of pub.
func KeyMatches(key crypto.Signer, pub crypto.PublicKey) bool {
	return publicKeysEqual(key.Public(), pub)
}
