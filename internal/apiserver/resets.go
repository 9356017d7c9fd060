package apiserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defences against HTTP/2 rapid reset (CVE-2023-44487): a client opens a
// stream and cancels it at once, over and over, so that the server starts
// work it never gets to finish. Each stream a client resets is counted on
// its connection; a connection whose resets pass resetLimit within
// resetWindow is closed. A sane client cancels a request now and then (a
// watch it no longer needs, a timeout); hundreds a second is an attack.
const (
	resetWindow = time.Second
	resetLimit  = 200
)

type connGuardKey struct{}

// connGuard counts the streams reset on one connection.
type connGuard struct {
	conn net.Conn
	log  *slog.Logger

	mu          sync.Mutex
	windowStart time.Time
	resets      int
	closed      bool
}

// withConnGuard gives each connection a guard, for http.Server.ConnContext.
func withConnGuard(log *slog.Logger) func(ctx context.Context, c net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connGuardKey{}, &connGuard{conn: c, log: log})
	}
}

// reset records a stream the client cancelled, and closes the connection
// once it resets too many too fast.
func (g *connGuard) reset(now time.Time) {
	g.mu.Lock()
	if now.Sub(g.windowStart) > resetWindow {
		g.windowStart, g.resets = now, 0
	}
	g.resets++
	tooMany := g.resets > resetLimit && !g.closed
	if tooMany {
		g.closed = true
	}
	g.mu.Unlock()
	if tooMany {
		g.log.Warn("closing connection: streams reset faster than a client would (HTTP/2 rapid reset)",
			"remote", g.conn.RemoteAddr().String(), "resets", resetLimit, "within", resetWindow.String())
		g.conn.Close()
	}
}

// withResetGuard is the outermost filter. A stream the client has already
// reset gets no work at all; one reset while it was served is counted
// against its connection.
func (s *Server) withResetGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, _ := r.Context().Value(connGuardKey{}).(*connGuard)
		if g == nil || r.ProtoMajor < 2 {
			next.ServeHTTP(w, r)
			return
		}
		if r.Context().Err() != nil {
			g.reset(time.Now())
			return
		}
		next.ServeHTTP(w, r)
		// Only the client (a reset stream or a closed connection) ends
		// this context: the request deadline is a child of it.
		if r.Context().Err() != nil {
			g.reset(time.Now())
		}
	})
}
