package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// PEM block types, as kubeadm writes them.
const (
	blockCertificate   = "CERTIFICATE"
	blockCSR           = "CERTIFICATE REQUEST"
	blockRSAPrivateKey = "RSA PRIVATE KEY"
	blockECPrivateKey  = "EC PRIVATE KEY"
	blockPrivateKey    = "PRIVATE KEY"
	blockPublicKey     = "PUBLIC KEY"
	blockCRL           = "X509 CRL"
)

// EncodeCertificates returns certs as concatenated PEM blocks.
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: blockCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}

// ParseCertificates decodes every CERTIFICATE block in data. It fails when
// data holds no certificate or any block is not a certificate.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	return parseBlocks(data, blockCertificate, "certificate", x509.ParseCertificate)
}

// parseBlocks decodes every PEM block of data, each of which must be of
// type blockType, with parse. It fails when there is none, a block of
// another type, or trailing data.
func parseBlocks[T any](data []byte, blockType, what string, parse func([]byte) (T, error)) ([]T, error) {
	var out []T
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != blockType {
			return nil, fmt.Errorf("unexpected PEM block %q, want %q", block.Type, blockType)
		}
		v, err := parse(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid %s: %w", what, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM %s found", what)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the last PEM block")
	}
	return out, nil
}

// EncodePrivateKey returns key as PEM: PKCS#1 for RSA and SEC 1 for ECDSA,
// the forms kubeadm and openssl write by default.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) {
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: blockRSAPrivateKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		block = &pem.Block{Type: blockECPrivateKey, Bytes: der}
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return pem.EncodeToMemory(block), nil
}

// ParsePrivateKey decodes the first private key block in data, in PKCS#1,
// SEC 1 or PKCS#8 form.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case blockRSAPrivateKey:
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case blockECPrivateKey:
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case blockPrivateKey:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PARAMETERS":
			continue // openssl ecparam writes this before the key
		default:
			return nil, fmt.Errorf("unexpected PEM block %q, want a private key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid private key: %w", err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		switch signer.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey:
			return signer, nil
		}
		return nil, fmt.Errorf("unsupported private key type %T (want RSA or ECDSA)", key)
	}
}

// EncodePublicKey returns pub as a PKIX "PUBLIC KEY" PEM block, the form of sa.pub.
func EncodePublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockPublicKey, Bytes: der}), nil
}

// KeyID is a public key's id as Kubernetes names service-account keys
// (the "kid" of tokens and JWKS): the unpadded base64url SHA-256 of its
// DER public key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// ParsePublicKeys decodes every public key in data. Both "PUBLIC KEY" blocks
// and certificates are accepted, as kube-apiserver's --service-account-key-file does.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case blockPublicKey:
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("invalid public key: %w", err)
			}
			keys = append(keys, k)
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("invalid public key: %w", err)
			}
			keys = append(keys, k)
		case blockCertificate:
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("invalid certificate: %w", err)
			}
			keys = append(keys, c.PublicKey)
		case blockRSAPrivateKey, blockECPrivateKey, blockPrivateKey:
			k, err := ParsePrivateKey(pem.EncodeToMemory(block))
			if err != nil {
				return nil, err
			}
			keys = append(keys, k.Public())
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	// Only RSA and ECDSA keys verify what sekisho checks. A certificate
	// whose key algorithm Go does not know parses with no key at all (the
	// fuzzer found one), and would pass a nil key on.
	for i, k := range keys {
		switch k.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			return nil, fmt.Errorf("public key %d: unsupported type %T (want RSA or ECDSA)", i+1, k)
		}
	}
	return keys, nil
}

// EncodeCSR returns a DER certificate request as PEM.
func EncodeCSR(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockCSR, Bytes: der})
}

// ParseCSR decodes a PEM certificate request, which must be the only block
// in data, and verifies its signature. The messages are those Kubernetes
// gives for a CertificateSigningRequest's spec.request.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST: no PEM data found")
	}
	if block.Type != blockCSR && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("PEM block type must be CERTIFICATE REQUEST, not %q", block.Type)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("must hold exactly one PEM block")
	}
	cr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a certificate request: %v", err)
	}
	if err := cr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the certificate request's signature does not verify: %v", err)
	}
	return cr, nil
}
