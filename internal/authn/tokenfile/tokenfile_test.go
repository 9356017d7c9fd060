package tokenfile

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestParseAndAuthenticate(t *testing.T) {
	var a Authenticator
	err := a.Load([]byte(`# comment
abc123,alice,1001,"dev,ops"
def456,bob,1002
`), true)
	if err != nil {
		t.Fatal(err)
	}
	u, ok, err := a.AuthenticateToken(context.Background(), "abc123")
	if !ok || err != nil || u.Name != "alice" || u.UID != "1001" || !slices.Equal(u.Groups, []string{"dev", "ops", "system:authenticated"}) {
		t.Fatalf("alice: %+v %v %v", u, ok, err)
	}
	if u, ok, _ := a.AuthenticateToken(context.Background(), "def456"); !ok || len(u.Groups) != 1 {
		t.Fatalf("bob: %+v", u)
	}
	if _, ok, err := a.AuthenticateToken(context.Background(), "nope"); ok || err != nil {
		t.Fatalf("unknown token must be not-mine: %v %v", ok, err)
	}
}

func TestBadFilesNameTheLineAndKeepTheLastGoodSet(t *testing.T) {
	var a Authenticator
	if err := a.Load([]byte("good,carol,1\n"), true); err != nil {
		t.Fatal(err)
	}
	for data, want := range map[string]string{
		"x,y,z\nshort,row\n":       "line 2: want at least 3 columns",
		"t1,a,1\nt2,b,2\nt1,c,3\n": "line 3: duplicate token, first seen on line 1",
		",nouser,1\n":              "line 1: the token and the user name must not be empty",
		"a,b,1,\"unterminated\n":   "line 1",
		// A lone quote: once a panic, found by FuzzParse.
		"\"":            "parse error on line 1",
		"ok,u,1\n\"x,y": "on line 2",
		// A line break inside a quoted token: csv turns "\r\n" into "\n",
		// so the token read was not the one written (found by FuzzParse).
		"\"0\r\r\n0\",0,":  "line 1: column 1 holds a control character",
		"t,bob\tsmith,1\n": "line 1: column 2 holds a control character",
	} {
		err := a.Load([]byte(data), true)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", data, err, want)
		}
	}
	if _, ok, _ := a.AuthenticateToken(context.Background(), "good"); !ok {
		t.Fatal("a bad reload dropped the last good tokens")
	}
}

func BenchmarkAuthenticateToken(b *testing.B) {
	var a Authenticator
	a.Load([]byte("0123456789abcdef0123456789abcdef,alice,1,\"g1,g2\"\n"), true)
	for b.Loop() {
		if _, ok, _ := a.AuthenticateToken(context.Background(), "0123456789abcdef0123456789abcdef"); !ok {
			b.Fatal("not found")
		}
	}
}
