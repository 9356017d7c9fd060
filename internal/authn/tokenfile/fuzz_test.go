package tokenfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sekisho/sekisho/internal/authn"
)

// FuzzParse feeds token files to Parse. Nothing panics; a file that parses
// renders back to CSV that parses to the same users; and a token
// authenticates only if a line of the file holds exactly that token.
func FuzzParse(f *testing.F) {
	f.Add([]byte("secret-1,alice,a-1,\"dev,ops\"\n# a comment\nsecret-2,bob,b-2\n"), "secret-1")
	f.Add([]byte("t,u,,\n"), "t")
	f.Add([]byte("\"quoted,token\",carol,c\n"), "quoted,token")
	f.Fuzz(func(t *testing.T, data []byte, token string) {
		users, err := Parse(data)
		if err != nil {
			return
		}
		// Render: one line per user, with the token it came from. Parse
		// keeps digests only, so the tokens are read back from the CSV.
		tokens := tokensOf(t, data)
		var buf bytes.Buffer
		for _, tok := range tokens {
			u := users[digest(tok)]
			if u == nil {
				t.Fatalf("token %q of the file has no user", tok)
			}
			groups := slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return g == authn.GroupAuthenticated })
			// Every field quoted: csv.Writer leaves a leading '#' bare,
			// which reads back as a comment.
			for i, field := range []string{tok, u.Name, u.UID, strings.Join(groups, ",")} {
				if i > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString(`"` + strings.ReplaceAll(field, `"`, `""`) + `"`)
			}
			buf.WriteByte('\n')
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\n%s", err, buf.Bytes())
		}
		if !maps.EqualFunc(users, again, func(a, b *authn.User) bool {
			return a.Name == b.Name && a.UID == b.UID && slices.Equal(a.Groups, b.Groups)
		}) {
			t.Fatalf("round trip changed the users:\n%s", buf.Bytes())
		}

		a := &Authenticator{}
		if err := a.Load(data, true); err != nil {
			t.Fatalf("Load refused what Parse accepted: %v", err)
		}
		u, ok, err := a.AuthenticateToken(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		if ok != slices.Contains(tokens, token) {
			t.Fatalf("token %q authenticated=%v (%v), tokens in the file: %q", token, ok, u, tokens)
		}
	})
}

// tokensOf reads the first column of every record as Parse does.
func tokensOf(t *testing.T, data []byte) []string {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord, r.TrimLeadingSpace, r.Comment = -1, true, '#'
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("Parse accepted a file csv refuses: %v", err)
	}
	var out []string
	for _, rec := range records {
		out = append(out, strings.TrimSpace(rec[0]))
	}
	return out
}

func digest(token string) [32]byte { return sha256.Sum256([]byte(token)) }
