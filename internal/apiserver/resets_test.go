package apiserver

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestConnGuard: a connection is closed on the reset past the limit within
// one window, and a client that resets now and then is never closed.
func TestConnGuard(t *testing.T) {
	newGuard := func() (*connGuard, net.Conn) {
		server, client := net.Pipe()
		t.Cleanup(func() { server.Close(); client.Close() })
		return &connGuard{conn: server, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, client
	}
	isClosed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF
	}

	g, client := newGuard()
	now := time.Unix(1000, 0)
	for range resetLimit {
		g.reset(now)
	}
	if isClosed(client) {
		t.Fatalf("closed after %d resets, the limit", resetLimit)
	}
	g.reset(now.Add(resetWindow / 2))
	if !isClosed(client) {
		t.Fatalf("still open after %d resets within %s", resetLimit+1, resetWindow)
	}

	g, client = newGuard()
	for i := range 10 * resetLimit {
		// Resets spread out: a little under the limit in every window.
		g.reset(now.Add(time.Duration(i) * resetWindow / (resetLimit - 1)))
	}
	if isClosed(client) {
		t.Fatal("a client resetting below the limit was closed")
	}
}
