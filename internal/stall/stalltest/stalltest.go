// Package stalltest gives tests servers that stop answering: a listener
// that accepts connections and never says a word, and a proxy that
// forwards a real server's first bytes and then stops forwarding.
package stalltest

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Silent listens on 127.0.0.1 and accepts every connection without ever
// answering: a server behind a dead proxy, or one too busy to speak. It
// returns host:port; everything is closed when the test ends.
func Silent(tb testing.TB) string {
	tb.Helper()
	ln, keep := listen(tb)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			keep(c)
			go io.Copy(io.Discard, c) // reads what it is sent, says nothing
		}
	}()
	return ln.Addr().String()
}

// listen listens on 127.0.0.1; keep records connections to close, with
// the listener, when the test ends.
func listen(tb testing.TB) (ln net.Listener, keep func(...net.Conn)) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln, func(c ...net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c...)
	}
}

// Proxy forwards connections to target, but each connection's answers only
// for their first limit bytes: then it stops forwarding them, holding
// both connections open, as a stalled network or proxy does mid-answer.
// It returns its own host:port.
func Proxy(tb testing.TB, target string, limit int64) string {
	tb.Helper()
	ln, keep := listen(tb)
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			keep(client, server)
			go io.Copy(server, client)
			go func() {
				io.CopyN(client, server, limit)
				// Stalled: nothing more reaches the client, and the
				// connections stay open until the test ends.
			}()
		}
	}()
	return ln.Addr().String()
}

// Pausing forwards connections to target until pause is called; from
// then on it drops the server's answers, holding the connections open,
// as a network that died silently does. It returns its own host:port.
func Pausing(tb testing.TB, target string) (addr string, pause func()) {
	tb.Helper()
	ln, keep := listen(tb)
	var paused atomic.Bool
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			keep(client, server)
			go io.Copy(server, client)
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := server.Read(buf)
					if err != nil || paused.Load() {
						return // stop reading: the server's answers go nowhere
					}
					client.Write(buf[:n])
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { paused.Store(true) }
}

// Within runs f with a context that ends at twice limit, so that a test
// of something that hangs never hangs itself, and fails tb unless f
// returned within limit.
func Within(tb testing.TB, limit time.Duration, f func(ctx context.Context)) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*limit)
	defer cancel()
	start := time.Now()
	f(ctx)
	if took := time.Since(start); took > limit {
		tb.Fatalf("took %s, want at most %s", took.Round(time.Millisecond), limit)
	}
}
