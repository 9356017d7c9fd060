package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rapidReset opens one HTTP/2 connection presenting cert and sends
// HEADERS + RST_STREAM(CANCEL) pairs for path until d has passed or the
// server ends the connection. It returns the pairs sent and whether the
// server closed the connection (GOAWAY, or the connection cut).
func rapidReset(t *testing.T, s *server, cert tls.Certificate, path string, d time.Duration) (pairs int, closed bool) {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url(""), "https://"), &tls.Config{
		RootCAs: s.caPool(t), MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"},
		Certificates: []tls.Certificate{cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	bw := bufio.NewWriterSize(conn, 64<<10)
	if _, err := bw.WriteString(http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(bw, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var wmu sync.Mutex // the reader acknowledges settings on the same framer
	var serverClosed atomic.Bool
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				serverClosed.Store(true)
				return
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				serverClosed.Store(true)
				return
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					fr.WriteSettingsAck()
					bw.Flush()
					wmu.Unlock()
				}
			}
		}
	}()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	authority := strings.TrimPrefix(s.url(""), "https://")
	deadline := time.Now().Add(d)
	for id := uint32(1); time.Now().Before(deadline) && !serverClosed.Load(); id += 2 {
		hbuf.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		wmu.Lock()
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true})
		if err == nil {
			err = fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		if err == nil && id%64 == 1 {
			err = bw.Flush()
		}
		wmu.Unlock()
		if err != nil {
			return pairs, true
		}
		pairs++
	}
	wmu.Lock()
	bw.Flush()
	wmu.Unlock()
	// The server may still be catching up on what was sent: give it a
	// moment to act on it.
	waitDeadline := time.Now().Add(5 * time.Second)
	for !serverClosed.Load() && time.Now().Before(waitDeadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return pairs, serverClosed.Load()
}

// TestHTTP2RapidReset replays CVE-2023-44487 as the attack run did: four
// HTTP/2 connections of a user with no permissions send HEADERS +
// RST_STREAM pairs for 4 s while an administrator (system:masters) keeps
// working. Before the fix, some of the administrator's requests got 429.
// Now the administrator is never refused, each attacking connection is
// closed, and the server keeps serving.
func TestHTTP2RapidReset(t *testing.T) {
	requireTools(t, "kubectl")
	s := startServer(t)
	nobody := clientCertOf(t, s.userKubeconfig(t, "nobody"))

	const attackers = 4
	const attack = 4 * time.Second
	var wg sync.WaitGroup
	var total, conns, closed atomic.Int64
	stop := time.Now().Add(attack)
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A determined attacker reconnects when cut off, while at
			// least a second of the attack is left: a connection opened
			// in its last moments sends too little to be judged.
			for time.Until(stop) > time.Second {
				pairs, c := rapidReset(t, s, nobody, "/api/v1/namespaces/default/secrets", time.Until(stop))
				total.Add(int64(pairs))
				conns.Add(1)
				if c {
					closed.Add(1)
				}
			}
		}()
	}

	// The administrator (system:masters) must never be refused. A user
	// the limits do apply to (admin.conf) is measured too: the attack's
	// streams give their slots back at once, so it is not refused either
	// in practice, but the limits exist to refuse such users under load.
	masters, limited := s.client(true), s.clientWith(true, "admin")
	var refused []string
	requests, limitedRefused := 0, 0
	for time.Now().Before(stop) || requests < 20 {
		resp, body := s.send(t, masters, "GET", "/api/v1/namespaces", "", "", nil)
		requests++
		if resp.StatusCode != http.StatusOK {
			refused = append(refused, fmt.Sprintf("%d %.200s", resp.StatusCode, body))
		}
		if resp, _ := s.send(t, limited, "GET", "/api/v1/namespaces", "", "", nil); resp.StatusCode != http.StatusOK {
			limitedRefused++
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("%d HEADERS+RST_STREAM pairs on %d connections; %d connections closed by the server; %d administrator requests; admin.conf refused %d times; server peak RSS %.0f MiB",
		total.Load(), conns.Load(), closed.Load(), requests, limitedRefused, procStatusMB(t, s.cmd.Process.Pid, "VmHWM:"))
	if len(refused) > 0 {
		t.Errorf("the administrator was refused %d of %d times during the attack: %v", len(refused), requests, refused)
	}
	if closed.Load() != conns.Load() {
		t.Errorf("only %d of %d attacking connections were closed by the server", closed.Load(), conns.Load())
	}
	if !strings.Contains(s.logs.String(), "HTTP/2 rapid reset") {
		t.Errorf("the server did not log closing a connection for rapid reset")
	}
	// A sane client's occasional cancellation is not punished: a request
	// cancelled now and then leaves its connection usable.
	c := s.clientWith(true, "admin")
	for i := range 5 {
		req, _ := http.NewRequest("GET", s.url("/api/v1/namespaces/default/configmaps?watch=1"), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		resp, err := c.Do(req.WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if code, body := s.doWith(c, "GET", "/api/v1/namespaces", "", nil); code != http.StatusOK {
			t.Fatalf("after %d cancelled watches: %d %s", i+1, code, body)
		}
	}
	if code, body := s.doWith(s.anonClient(), "GET", "/readyz", "", nil); code != http.StatusOK {
		t.Errorf("readyz after the attack: %d %s", code, body)
	}
}
