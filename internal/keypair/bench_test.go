package keypair

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHandshake measures full TLS 1.3 handshakes (new connections,
// no resumption) against a server choosing its ECDSA P-256 certificate
// with SNI.GetCertificate, as sekisho's serving port does: "steady" with
// the files unchanged, "reloading" while a writer replaces the pair every
// 10 ms and the watcher checks every millisecond, so that handshakes run
// across hundreds of reloads. The two are compared in docs/benchmarks.md.
func BenchmarkHandshake(b *testing.B) {
	for _, mode := range []string{"steady", "reloading"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			now := time.Now()
			pairs := make([][2][]byte, 8)
			for i := range pairs {
				c, k := issue(b, int64(i+1), now.Add(-time.Hour), now.Add(time.Hour))
				pairs[i] = [2][]byte{c, k}
			}
			p := &Pair{CertFile: filepath.Join(dir, "s.crt"), KeyFile: filepath.Join(dir, "s.key"), Interval: time.Millisecond}
			write := func(i int) {
				// Whole files renamed into place, as sekisho's renewal writes them.
				os.WriteFile(p.KeyFile+".tmp", pairs[i][1], 0o600)
				os.WriteFile(p.CertFile+".tmp", pairs[i][0], 0o644)
				os.Rename(p.KeyFile+".tmp", p.KeyFile)
				os.Rename(p.CertFile+".tmp", p.CertFile)
			}
			write(0)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sni := &SNI{Default: p}
			if err := sni.Start(ctx); err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			srv := &tls.Config{GetCertificate: sni.GetCertificate, MinVersion: tls.VersionTLS12, SessionTicketsDisabled: true}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						tc := tls.Server(c, srv)
						tc.Handshake()
						tc.Close()
					}()
				}
			}()
			var reloads atomic.Int64
			if mode == "reloading" {
				go func() {
					for i := 1; ctx.Err() == nil; i++ {
						write(i % len(pairs))
						reloads.Add(1)
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			roots := x509.NewCertPool()
			for _, pr := range pairs {
				roots.AppendCertsFromPEM(pr[0])
			}
			client := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
			b.ResetTimer()
			for b.Loop() {
				c, err := tls.Dial("tcp", ln.Addr().String(), client)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			if mode == "reloading" {
				b.ReportMetric(float64(reloads.Load()), "rewrites")
			}
		})
	}
}
