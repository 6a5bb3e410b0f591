package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/internal/testdb"
)

type statusAnswer struct {
	Sources []struct {
		ID     string `json:"id"`
		Tables []struct {
			Table               string `json:"table"`
			LastError           string `json:"lastError"`
			ConsecutiveFailures int    `json:"consecutiveFailures"`
		} `json:"tables"`
	} `json:"sources"`
}

// TestServeLockedTableHoldsNoOtherSource: a migration holds a Postgres
// table (LOCK TABLE … ACCESS EXCLUSIVE) while rows keep arriving in
// another source: they reach the replica on schedule, and the locked
// table fails at its read timeout, saying why.
func TestServeLockedTableHoldsNoOtherSource(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
	pg.Exec(t, "INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 10) g")
	lite := sqlitetest.New(t)
	lite.Exec(t, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
	pg.Exec(t, "BEGIN")
	pg.Exec(t, "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
	defer pg.Exec(t, "ROLLBACK")

	t.Setenv("PG_DSN", pg.DSN)
	d := startDaemon(t, writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: pg
    kind: postgres
    dsn: ${PG_DSN}
    schema: %s
    readTimeout: 2s
    schedule: every 200ms
    tables:
      - table: orders
        cursorColumn: id
  - id: lite
    kind: sqlite
    dsn: %s
    schedule: every 200ms
    tables:
      - table: users
        cursorColumn: id
`, filepath.Join(t.TempDir(), "replica.db"), pg.Schema, lite.Path)))
	defer d.stop()

	start := time.Now()
	for i := 1; i <= 150; i++ {
		lite.Exec(t, "INSERT INTO users (id, name) VALUES (?, ?)", int64(i), fmt.Sprint("user ", i))
		if i%50 == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	within(t, 3*time.Second, "150 rows of the healthy source in the replica", func() bool {
		var ans queryAnswer
		d.call(t, "POST", "/query", "", `{"sql": "SELECT count(*) AS n FROM users"}`, &ans)
		return len(ans.Result) == 1 && ans.Result[0]["n"] == float64(150)
	})
	t.Logf("healthy source caught up %s after the first insert", time.Since(start).Round(time.Millisecond))

	var lastError string
	within(t, 4*time.Second, "the locked table's timeout in the status", func() bool {
		var st statusAnswer
		d.call(t, "GET", "/replicate/status", "", "", &st)
		for _, s := range st.Sources {
			for _, tb := range s.Tables {
				if s.ID == "pg" && tb.Table == "orders" && tb.ConsecutiveFailures > 0 {
					lastError = tb.LastError
					return true
				}
			}
		}
		return false
	})
	if want := "read of orders timed out after 2s; a lock on the table (a migration?)"; !strings.HasPrefix(lastError, want) {
		t.Errorf("last_error %q, want %q…", lastError, want)
	}
}

// within polls cond every 50ms and fails t unless it holds within limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s within %s", what, limit)
}

// TestStopWithStalledSource: a shutdown signal ends serve and run within
// a few seconds while a read hangs mid-page behind a stalled proxy.
func TestStopWithStalledSource(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
	pg.Exec(t, "INSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = stalltest.Proxy(t, u.Host, 64<<10)
	t.Setenv("PG_DSN", u.String())
	cfg := writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: pg
    kind: postgres
    dsn: ${PG_DSN}
    schema: %s
    schedule: every 1s
    tables:
      - table: orders
        cursorColumn: id
`, filepath.Join(t.TempDir(), "replica.db"), pg.Schema))

	for _, args := range [][]string{{"serve", "-addr", "127.0.0.1:0"}, {"run", "-drain"}} {
		t.Run(args[0], func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			var stderr syncBuf
			go func() { done <- Main(ctx, append(args, "-config", cfg), io.Discard, &stderr) }()
			time.Sleep(time.Second) // the first page's read is stuck by now
			cancel()
			start := time.Now()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("did not stop within 20s")
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("stopped %s after the signal, want within 3s", took.Round(time.Millisecond))
			}
			if args[0] == "run" && !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr after the signal: %q; want it to say the run was interrupted", stderr.String())
			}
		})
	}
}

// syncBuf is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
