package bootstrap

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// TestDetachedSignature checks the shape kubeadm expects and that the
// signature is an HMAC-SHA256 over header and content keyed by the secret.
func TestDetachedSignature(t *testing.T) {
	sig, err := DetachedSignature("content", "abcdef", "0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("not a detached JWS: %q", sig)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(header) != `{"alg":"HS256","kid":"abcdef"}` {
		t.Errorf("header %s", header)
	}
	mac := hmac.New(sha256.New, []byte("0123456789abcdef"))
	mac.Write([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("content"))))
	if parts[2] != base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) {
		t.Error("signature does not verify")
	}
	other, _ := DetachedSignature("content", "abcdef", "fedcba9876543210")
	if other == sig {
		t.Error("the signature does not depend on the secret")
	}
}
