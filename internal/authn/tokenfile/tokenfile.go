// Package tokenfile authenticates static bearer tokens listed in a CSV
// file in Kubernetes' format: token,user,uid,"group1,group2". Unlike
// kube-apiserver, the file is reloaded when it changes.
package tokenfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/sekisho/sekisho/internal/authn"
)

// Authenticator holds the tokens of the last good file, keyed by their
// SHA-256 digest so that no token is kept in the clear.
type Authenticator struct {
	tokens atomic.Pointer[map[[sha256.Size]byte]*authn.User]
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil)

// Load parses a token file and, if every line is valid, replaces the token
// set. Errors name the line. It is a reload.Loader.
func (a *Authenticator) Load(data []byte, exists bool) error {
	if !exists {
		return errors.New("the token file does not exist")
	}
	tokens, err := Parse(data)
	if err != nil {
		return err
	}
	a.tokens.Store(&tokens)
	return nil
}

// Parse reads a token file.
func Parse(data []byte) (map[[sha256.Size]byte]*authn.User, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	tokens := map[[sha256.Size]byte]*authn.User{}
	firstLine := map[[sha256.Size]byte]int{}
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A csv.ParseError names its line itself. (FieldPos must not be
			// asked after an error: it panics when the record has no field,
			// as a lone quote makes it, which the fuzzer found.)
			return nil, fmt.Errorf("token file: %v", err)
		}
		line, _ := r.FieldPos(0)
		if len(record) < 3 {
			return nil, fmt.Errorf("line %d: want at least 3 columns (token,user,uid[,\"groups\"]), found %d", line, len(record))
		}
		// A control character (a line break inside quotes, say) can never
		// arrive in an Authorization header, and would split a log line:
		// it is a mistake in the file, not a credential or a name.
		for i, f := range record {
			if strings.IndexFunc(f, unicode.IsControl) >= 0 {
				return nil, fmt.Errorf("line %d: column %d holds a control character", line, i+1)
			}
		}
		token, name, uid := strings.TrimSpace(record[0]), strings.TrimSpace(record[1]), strings.TrimSpace(record[2])
		if token == "" || name == "" {
			return nil, fmt.Errorf("line %d: the token and the user name must not be empty", line)
		}
		sum := sha256.Sum256([]byte(token))
		if prev, dup := firstLine[sum]; dup {
			return nil, fmt.Errorf("line %d: duplicate token, first seen on line %d", line, prev)
		}
		firstLine[sum] = line
		u := &authn.User{Name: name, UID: uid, Authenticator: "token-file"}
		if len(record) > 3 {
			for _, g := range strings.Split(record[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					u.Groups = append(u.Groups, g)
				}
			}
		}
		u.Groups = append(u.Groups, authn.GroupAuthenticated)
		tokens[sum] = u
	}
	return tokens, nil
}

// AuthenticateToken implements authn.TokenAuthenticator. The token is
// hashed first and only digests are compared: how long a comparison takes
// can then tell an attacker nothing about a token, since matching a prefix
// of a SHA-256 digest gives no handle on the input.
func (a *Authenticator) AuthenticateToken(_ context.Context, token string) (*authn.User, bool, error) {
	tokens := a.tokens.Load()
	if tokens == nil {
		return nil, false, nil
	}
	u, ok := (*tokens)[sha256.Sum256([]byte(token))]
	return u, ok, nil
}
