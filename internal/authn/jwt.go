package authn

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// UnverifiedIssuer reads the "iss" claim of a compact JWT without
// verifying anything, so that a token authenticator can tell whether a
// token is one of its kind before it spends a signature check on it. It
// must never be trusted for more than that.
func UnverifiedIssuer(token string) (string, bool) {
	header, rest, ok := strings.Cut(token, ".")
	if !ok || header == "" {
		return "", false
	}
	payload, signature, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(signature, ".") {
		return "", false
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(data, &c) != nil {
		return "", false
	}
	return c.Issuer, true
}
