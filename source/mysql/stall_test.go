package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/mysql"
)

// stallEngine opens an engine over a fresh replica and the MySQL source
// at addr (host:port), with timeouts short enough for a test.
func stallEngine(t *testing.T, dsn, addr string) *litepull.Engine {
	t.Helper()
	dc, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dc.Addr = addr
	cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: dc.FormatDSN(), PageSize: 5000,
		ConnectTimeout: litepull.Duration(500 * time.Millisecond), ReadTimeout: litepull.Duration(time.Second),
		Tables: []litepull.TableConfig{{Table: "orders", CursorColumn: "id"}}}
	src, err := mysql.New(cfg)
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

// runStalled runs the engine (drain), which must end within 3s with a
// timeout of op, reported once; it returns the message.
func runStalled(t *testing.T, e *litepull.Engine, op litepull.TimeoutOp) string {
	t.Helper()
	var sum *litepull.Summary
	stalltest.Within(t, 3*time.Second, func(ctx context.Context) {
		sum, _ = e.Run(ctx, litepull.RunOptions{Drain: true})
	})
	if len(sum.Tables) != 1 {
		t.Fatalf("results %+v, want one table", sum.Tables)
	}
	res := sum.Tables[0]
	var te *litepull.TimeoutError
	if !errors.As(res.Err, &te) || te.Op != op {
		t.Fatalf("error %v, want a *litepull.TimeoutError (op %d)", res.Err, op)
	}
	if res.Error != te.Error() {
		t.Errorf("message %q, want the timeout's own %q", res.Error, te.Error())
	}
	return res.Error
}

func TestStalledServer(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
	for i := 0; i < 20; i++ { // 20,000 rows of 200 bytes: pages far larger than what the proxy forwards
		vals := make([]string, 1000)
		for j := range vals {
			vals[j] = fmt.Sprintf("(%d, REPEAT('x', 200))", i*1000+j+1)
		}
		my.Exec(t, "INSERT INTO orders (id, note) VALUES "+strings.Join(vals, ", "))
	}
	dc, err := driver.ParseDSN(my.DSN)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("NeverSendsHandshake", func(t *testing.T) {
		msg := runStalled(t, stallEngine(t, my.DSN, stalltest.Silent(t)), litepull.OpConnect)
		if !strings.HasPrefix(msg, "connect to 127.0.0.1:") || !strings.Contains(msg, "after 500ms") {
			t.Errorf("message %q, want the server's address and the timeout", msg)
		}
	})

	t.Run("StopsForwardingMidPage", func(t *testing.T) {
		msg := runStalled(t, stallEngine(t, my.DSN, stalltest.Proxy(t, dc.Addr, 64<<10)), litepull.OpRead)
		if want := "read of orders timed out after 1s; a lock on the table (a migration?) or a stalled network"; !strings.HasPrefix(msg, want) {
			t.Errorf("message %q, want %q…", msg, want)
		}
	})

	t.Run("TableLocked", func(t *testing.T) {
		my.Exec(t, "LOCK TABLES orders WRITE") // the admin pool has one connection: the lock holds
		defer my.Exec(t, "UNLOCK TABLES")
		msg := runStalled(t, stallEngine(t, my.DSN, dc.Addr), litepull.OpRead)
		if !strings.HasPrefix(msg, "read of orders timed out after 1s") {
			t.Errorf("message %q, want the table and the timeout", msg)
		}
	})

	t.Run("ValidateDoesNotHang", func(t *testing.T) {
		e := stallEngine(t, my.DSN, stalltest.Silent(t))
		var checks []litepull.TableCheck
		stalltest.Within(t, 3*time.Second, func(ctx context.Context) { checks = e.Check(ctx) })
		if len(checks) != 1 || !strings.Contains(checks[0].Error, "timed out after 500ms") {
			t.Fatalf("checks %+v, want the connect timeout", checks)
		}
	})
}

// TestKilledIdleConnectionIsReplaced: a pooled connection the server
// closed (wait_timeout, a restart, a proxy) is found dead before reuse and
// replaced, as the driver does, though connections now time out on stalls.
func TestKilledIdleConnectionIsReplaced(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE orders (id bigint PRIMARY KEY)")
	src, err := mysql.New(litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	if _, err := src.Describe(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	rows, err := my.DB.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", my.Database)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		t.Fatal("the source's connection is not in the process list")
	}
	for _, id := range ids {
		my.Exec(t, fmt.Sprintf("KILL %d", id))
	}
	time.Sleep(100 * time.Millisecond) // the server closes them
	if _, err := src.Describe(ctx, "orders"); err != nil {
		t.Fatalf("describe after the server closed the idle connection: %v", err)
	}
}
