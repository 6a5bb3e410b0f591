package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/postgres"
)

// stallConfig is a source config at addr (host:port) with the DSN's other
// parts, and timeouts short enough for a test.
func stallConfig(t *testing.T, dsn, addr, schema string) litepull.SourceConfig {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: u.String(), Schema: schema, PageSize: 5000,
		ConnectTimeout: litepull.Duration(500 * time.Millisecond), ReadTimeout: litepull.Duration(time.Second),
		Tables: []litepull.TableConfig{{Table: "orders", CursorColumn: "id"}}}
}

func hostOf(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// stallEngine opens the source and an engine over a fresh replica.
func stallEngine(t *testing.T, cfg litepull.SourceConfig) *litepull.Engine {
	t.Helper()
	src, err := postgres.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stalltest.Within(t, 2*time.Second, func(context.Context) { src.Close() })
		r.Close()
	})
	return litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
}

// runStalled runs the engine (drain) and returns the table's result; it
// must end within 3s.
func runStalled(t *testing.T, e *litepull.Engine) litepull.TableResult {
	t.Helper()
	var sum *litepull.Summary
	stalltest.Within(t, 3*time.Second, func(ctx context.Context) {
		sum, _ = e.Run(ctx, litepull.RunOptions{Drain: true})
	})
	if len(sum.Tables) != 1 {
		t.Fatalf("results %+v, want one table", sum.Tables)
	}
	return sum.Tables[0]
}

// wantTimeout checks that err is a source timeout of op, and its message.
func wantTimeout(t *testing.T, err error, msg string, op litepull.TimeoutOp) {
	t.Helper()
	var te *litepull.TimeoutError
	if !errors.As(err, &te) || te.Op != op || !errors.Is(err, litepull.ErrTimeout) {
		t.Fatalf("error %v, want a *litepull.TimeoutError (op %d)", err, op)
	}
	if !strings.HasPrefix(msg, te.Error()[:20]) || strings.Count(msg, "timed out") != 1 {
		t.Errorf("message %q, want the timeout's own message, once: %q", msg, te.Error())
	}
}

func TestStalledServer(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
	pg.Exec(t, "INSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")

	t.Run("AcceptsAndNeverAnswers", func(t *testing.T) {
		e := stallEngine(t, stallConfig(t, pg.DSN, stalltest.Silent(t), pg.Schema))
		res := runStalled(t, e)
		wantTimeout(t, res.Err, res.Error, litepull.OpConnect)
		if !strings.Contains(res.Error, "connect to 127.0.0.1:") || !strings.Contains(res.Error, "after 500ms") {
			t.Errorf("message %q, want the server's address and the timeout", res.Error)
		}
	})

	t.Run("StopsForwardingMidPage", func(t *testing.T) {
		addr := stalltest.Proxy(t, hostOf(t, pg.DSN), 64<<10)
		e := stallEngine(t, stallConfig(t, pg.DSN, addr, pg.Schema))
		res := runStalled(t, e)
		wantTimeout(t, res.Err, res.Error, litepull.OpRead)
		want := "read of orders timed out after 1s; a lock on the table (a migration?) or a stalled network"
		if !strings.HasPrefix(res.Error, want) {
			t.Errorf("message %q, want %q…", res.Error, want)
		}
	})

	t.Run("TableLocked", func(t *testing.T) {
		// A migration holds the table: the read waits on the lock, and
		// fails at the read timeout instead of waiting for ever.
		pg.Exec(t, "BEGIN")
		pg.Exec(t, "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
		defer pg.Exec(t, "ROLLBACK")
		e := stallEngine(t, stallConfig(t, pg.DSN, hostOf(t, pg.DSN), pg.Schema))
		res := runStalled(t, e)
		wantTimeout(t, res.Err, res.Error, litepull.OpRead)
		if !strings.HasPrefix(res.Error, "read of orders timed out after 1s") {
			t.Errorf("message %q, want the table and the timeout", res.Error)
		}
	})

	t.Run("ValidateDoesNotHang", func(t *testing.T) {
		e := stallEngine(t, stallConfig(t, pg.DSN, stalltest.Silent(t), pg.Schema))
		var checks []litepull.TableCheck
		stalltest.Within(t, 3*time.Second, func(ctx context.Context) { checks = e.Check(ctx) })
		if len(checks) != 1 || !strings.Contains(checks[0].Error, "timed out after 500ms") {
			t.Fatalf("checks %+v, want the connect timeout", checks)
		}
	})
}
