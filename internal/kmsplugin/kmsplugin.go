// Package kmsplugin is a KMS v2 plugin (k8s.io/kms's gRPC API over a unix
// socket) that wraps data keys with AES-256-GCM keys read from a file:
// the reference plugin `sekisho kms-plugin` runs, for development and
// tests. A production cluster puts a real KMS or HSM behind the same API.
//
// The key file has one key a line, "<key id> <base64 of 32 bytes>"; the
// first line's key wraps new data keys and every key unwraps. Lines that
// are empty or start with # are skipped. Editing the file rotates: the
// plugin reloads it, Status reports the new key id, and API servers make
// a new data key with it.
package kmsplugin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	kmsapi "k8s.io/kms/apis/v2"
)

// Plugin answers the KMS v2 API with the keys of its key file.
type Plugin struct {
	kmsapi.UnimplementedKeyManagementServiceServer
	Log *slog.Logger

	keys atomic.Pointer[keyring]
	// Encrypts and Decrypts count the calls answered.
	Encrypts, Decrypts atomic.Int64
}

type keyring struct {
	current string
	byID    map[string]cipher.AEAD
}

// ParseKeys reads a key file's contents; errors name the line.
func ParseKeys(data []byte) (*keyring, error) {
	r := &keyring{byID: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, " ")
		if !ok || id == "" {
			return nil, fmt.Errorf("line %d: want \"<key id> <base64 of 32 bytes>\"", n)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secret))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("line %d: key %q is not the base64 of 32 bytes", n, id)
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("line %d: key id %q appears twice", n, id)
		}
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		r.byID[id] = aead
		if r.current == "" {
			r.current = id
		}
	}
	if r.current == "" {
		return nil, errors.New("no key: want lines \"<key id> <base64 of 32 bytes>\"")
	}
	return r, nil
}

// SetKeys puts the keys of a key file in force.
func (p *Plugin) SetKeys(data []byte) error {
	r, err := ParseKeys(data)
	if err != nil {
		return err
	}
	p.keys.Store(r)
	return nil
}

func (p *Plugin) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

func (p *Plugin) keyring() (*keyring, error) {
	r := p.keys.Load()
	if r == nil {
		return nil, errors.New("no keys loaded")
	}
	return r, nil
}

// Status reports the key id that wraps new data keys.
func (p *Plugin) Status(context.Context, *kmsapi.StatusRequest) (*kmsapi.StatusResponse, error) {
	r, err := p.keyring()
	if err != nil {
		return &kmsapi.StatusResponse{Version: "v2", Healthz: err.Error()}, nil
	}
	return &kmsapi.StatusResponse{Version: "v2", Healthz: "ok", KeyId: r.current}, nil
}

// Encrypt wraps a data key with the current key, bound to its id.
func (p *Plugin) Encrypt(_ context.Context, req *kmsapi.EncryptRequest) (*kmsapi.EncryptResponse, error) {
	r, err := p.keyring()
	if err != nil {
		return nil, err
	}
	p.Encrypts.Add(1)
	aead := r.byID[r.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(req.Plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	p.log().Info("encrypt", "uid", req.Uid, "keyID", r.current)
	return &kmsapi.EncryptResponse{Ciphertext: aead.Seal(nonce, nonce, req.Plaintext, []byte(r.current)), KeyId: r.current}, nil
}

// Decrypt unwraps a data key with the key its id names.
func (p *Plugin) Decrypt(_ context.Context, req *kmsapi.DecryptRequest) (*kmsapi.DecryptResponse, error) {
	r, err := p.keyring()
	if err != nil {
		return nil, err
	}
	p.Decrypts.Add(1)
	aead, ok := r.byID[req.KeyId]
	if !ok {
		return nil, fmt.Errorf("key id %q is not in the key file", req.KeyId)
	}
	n := aead.NonceSize()
	if len(req.Ciphertext) < n {
		return nil, errors.New("the ciphertext is shorter than a nonce")
	}
	plain, err := aead.Open(nil, req.Ciphertext[:n], req.Ciphertext[n:], []byte(req.KeyId))
	if err != nil {
		return nil, fmt.Errorf("the ciphertext does not open with key %q", req.KeyId)
	}
	p.log().Info("decrypt", "uid", req.Uid, "keyID", req.KeyId)
	return &kmsapi.DecryptResponse{Plaintext: plain}, nil
}

// Serve answers on the unix socket at path until ctx ends. The socket is
// made 0600 (whoever can reach it can unwrap data keys); put it in a
// directory only its users can enter.
func (p *Plugin) Serve(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return err
	}
	srv := grpc.NewServer()
	kmsapi.RegisterKeyManagementServiceServer(srv, p)
	go func() {
		<-ctx.Done()
		srv.GracefulStop()
	}()
	return srv.Serve(l)
}
