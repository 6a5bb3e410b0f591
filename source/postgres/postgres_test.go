package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/postgres"
)

type harness struct{ pg *testdb.PG }

func newHarness(tb testing.TB) sourcetest.Harness { return &harness{testdb.Postgres(tb)} }

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: h.pg.DSN, Schema: h.pg.Schema}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := postgres.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (h *harness) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	h.pg.Exec(tb, q, args...)
}

// Insert sends rows in multi-row INSERTs of up to 1000 rows.
func (h *harness) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	for len(rows) > 0 {
		n := min(len(rows), 1000)
		var vals []string
		var args []any
		for _, r := range rows[:n] {
			marks := make([]string, len(r))
			for i, v := range r {
				args = append(args, v)
				marks[i] = fmt.Sprintf("$%d", len(args))
			}
			vals = append(vals, "("+strings.Join(marks, ", ")+")")
		}
		h.pg.Exec(tb, fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "), strings.Join(vals, ", ")), args...)
		rows = rows[n:]
	}
}

func (h *harness) Type(kind string) string {
	return map[string]string{"int": "bigint", "text": "text", "key": "text", "ts": "timestamptz"}[kind]
}

func (h *harness) Arg(n int) string         { return fmt.Sprintf("$%d", n) }
func (h *harness) Quote(name string) string { return `"` + name + `"` }
func (h *harness) Now(d time.Duration) string {
	return time.Now().UTC().Add(d).Format(litepull.LayoutTimestampTZ)
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, newHarness)
}

// TestBadIdentifierSendsNoSQL points the source at a port nothing listens
// on: a bad name must be refused before any connection is attempted.
func TestBadIdentifierSendsNoSQL(t *testing.T) {
	src, err := postgres.New(litepull.SourceConfig{ID: "dead", DSN: "postgres://u:secret@127.0.0.1:1/db?connect_timeout=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Describe(context.Background(), "users; DROP TABLE users")
	if err == nil || !strings.Contains(err.Error(), "bad identifier") {
		t.Fatalf("Describe(bad name) = %v, want a bad identifier error", err)
	}
	_, err = src.Describe(context.Background(), "users")
	if err == nil {
		t.Fatal("Describe on a dead server succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// TestPoolerMode reads pages without named prepared statements, as needed
// behind a transaction-mode pooler.
func TestPoolerMode(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE p (id bigint PRIMARY KEY, v text)")
	pg.Exec(t, "INSERT INTO p SELECT g, 'v' || g FROM generate_series(1, 100) g")
	dsn := pg.DSN + "&default_query_exec_mode=exec"
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: dsn, Schema: pg.Schema, PageSize: 7,
		Tables: []litepull.TableConfig{{Table: "p"}}}
	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	_, rows, err := r.Query(context.Background(), "SELECT count(*) FROM p")
	if err != nil || rows[0][0] != int64(100) {
		t.Fatalf("replica rows = %v, %v", rows, err)
	}
}

// TestDiscoveredNamesDifferingInCase: "Users" and users are two Postgres
// tables but one SQLite table name. The second is refused with an error
// naming the first; the rows of the first stay its own.
func TestDiscoveredNamesDifferingInCase(t *testing.T) {
	h := &harness{testdb.Postgres(t)}
	h.Exec(t, `CREATE TABLE "Users" (id bigint PRIMARY KEY, v text)`)
	h.Exec(t, `CREATE TABLE users (id bigint PRIMARY KEY, v text)`)
	h.Exec(t, `INSERT INTO "Users" VALUES (1, 'upper'), (2, 'upper')`)
	h.Exec(t, `INSERT INTO users VALUES (1, 'lower')`)
	cfg := h.Config()
	src := h.Open(t, cfg)
	defer src.Close()
	r, err := replica.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	for i := 0; i < 2; i++ {
		sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Tables) != 2 || sum.Failed() != 1 || !errors.Is(sum.Tables[1].Err, litepull.ErrSchemaConflict) ||
			!strings.Contains(sum.Tables[1].Error, "ignore case") {
			t.Fatalf("run %d: %+v; want one table replicated and the other refused", i, sum.Tables)
		}
	}
	_, rows, _ := r.Query(context.Background(), "SELECT v, count(*) FROM users GROUP BY v")
	if len(rows) != 1 || rows[0][0] != "upper" || rows[0][1] != int64(2) {
		t.Fatalf("replica users: %v; want only the 2 rows of \"Users\"", rows)
	}
}

// engineFor returns an engine over a fresh replica for the harness's tables.
func engineFor(t *testing.T, h *harness, tables ...litepull.TableConfig) (*litepull.Engine, *replica.Replica) {
	t.Helper()
	cfg := h.Config()
	cfg.Tables, cfg.PageSize = tables, 10
	src := h.Open(t, cfg)
	t.Cleanup(func() { src.Close() })
	r, err := replica.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil), r
}

func drainOK(t *testing.T, e *litepull.Engine) *litepull.Summary {
	t.Helper()
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil || sum.Failed() > 0 {
		t.Fatalf("run: %v %+v", err, sum)
	}
	return sum
}

// TestColumnRetyped: after ALTER COLUMN … TYPE, every replica row holds the
// new type's lossless form, and the column metadata says so.
func TestColumnRetyped(t *testing.T) {
	h := &harness{testdb.Postgres(t)}
	h.Exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, n int, s text)")
	h.Exec(t, "INSERT INTO t SELECT g, g, g::text FROM generate_series(1, 25) g")
	e, r := engineFor(t, h, litepull.TableConfig{Table: "t"})
	drainOK(t, e)
	h.Exec(t, "ALTER TABLE t ALTER COLUMN n TYPE numeric(8,3), ALTER COLUMN s TYPE int USING s::int")
	h.Exec(t, "INSERT INTO t VALUES (26, 1.1, 26)")
	sum := drainOK(t, e)
	if ch := sum.Tables[0].SchemaChange; ch == nil || len(ch.Retyped) != 2 {
		t.Errorf("summary schema change = %+v, want n and s retyped", ch)
	}
	ctx := context.Background()
	_, rows, _ := r.Query(ctx, "SELECT count(*) FROM t WHERE typeof(n) = 'text' AND typeof(s) = 'integer' AND s = id")
	if rows[0][0] != int64(26) {
		t.Fatalf("%v of 26 rows have n as exact text and s as an integer", rows[0][0])
	}
	_, rows, _ = r.Query(ctx, "SELECT n FROM t WHERE id IN (1, 26) ORDER BY id")
	if !reflect.DeepEqual(rows, [][]any{{"1.000"}, {"1.100"}}) {
		t.Fatalf("n of rows 1 and 26 = %v, want 1.000 and 1.100", rows)
	}
	_, rows, _ = r.Query(ctx, "SELECT column_name, source_type, sqlite_type FROM litepull_columns WHERE dest_table = 't' AND column_name IN ('n', 's') ORDER BY 1")
	if !reflect.DeepEqual(rows, [][]any{{"n", "numeric(8,3)", "TEXT"}, {"s", "integer", "INTEGER"}}) {
		t.Fatalf("litepull_columns = %v", rows)
	}
}

// TestCursorRetyped: a cursor column whose type changes (int → text) would
// make the stored watermark compare in the wrong order; the table is
// rebuilt and every row is there.
func TestCursorRetyped(t *testing.T) {
	h := &harness{testdb.Postgres(t)}
	h.Exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, c int)")
	h.Exec(t, "INSERT INTO t SELECT g, g FROM generate_series(1, 50) g")
	e, r := engineFor(t, h, litepull.TableConfig{Table: "t", CursorColumn: "c"})
	drainOK(t, e)
	h.Exec(t, "ALTER TABLE t ALTER COLUMN c TYPE text USING c::text")
	h.Exec(t, "INSERT INTO t SELECT g, g::text FROM generate_series(51, 63) g")
	sum := drainOK(t, e)
	if !sum.Tables[0].FullRefresh || sum.Tables[0].SchemaChange == nil {
		t.Errorf("result %+v: want a rebuild for the retyped cursor", sum.Tables[0])
	}
	_, rows, _ := r.Query(context.Background(), "SELECT count(*), sum(typeof(c) = 'text') FROM t")
	if !reflect.DeepEqual(rows, [][]any{{int64(63), int64(63)}}) {
		t.Fatalf("replica (rows, text cursors) = %v, want 63, 63", rows)
	}
}

func (h *harness) RetypeText(tb testing.TB, table, column string) {
	h.Exec(tb, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE varchar(200)", table, column))
}

func (h *harness) NaiveType() string { return "timestamp" }

func (h *harness) WholeSecondType() string { return "timestamp(0)" }

// TestColumnsSwappedByRenames: two columns of one type swapped by renames
// keep their names and types, but not their values; Postgres's column
// numbers tell, and the table is rebuilt.
func TestColumnsSwappedByRenames(t *testing.T) {
	h := &harness{testdb.Postgres(t)}
	h.Exec(t, "CREATE TABLE sw (id bigint PRIMARY KEY, x int, y int)")
	h.Exec(t, "INSERT INTO sw SELECT g, g, -g FROM generate_series(1, 30) g")
	e, r := engineFor(t, h, litepull.TableConfig{Table: "sw"})
	drainOK(t, e)
	h.Exec(t, "ALTER TABLE sw RENAME x TO tmp")
	h.Exec(t, "ALTER TABLE sw RENAME y TO x")
	h.Exec(t, "ALTER TABLE sw RENAME tmp TO y")
	sum := drainOK(t, e)
	if ch := sum.Tables[0].SchemaChange; ch == nil || len(ch.Replaced) != 2 {
		t.Errorf("schema change = %+v, want x and y re-created", ch)
	}
	_, rows, _ := r.Query(context.Background(), "SELECT count(*) FROM sw WHERE x = -id AND y = id")
	if rows[0][0] != int64(30) {
		t.Fatalf("%v of 30 rows hold the swapped values", rows[0][0])
	}
}

// TestInvalidUniqueIndexProvesNothing: a CREATE UNIQUE INDEX CONCURRENTLY
// that failed on duplicates leaves an invalid index behind; it does not
// make the key unique.
func TestInvalidUniqueIndexProvesNothing(t *testing.T) {
	h := &harness{testdb.Postgres(t)}
	h.Exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, k int)")
	h.Exec(t, "INSERT INTO t VALUES (1, 5), (2, 5)")
	if _, err := h.pg.Conn.Exec(context.Background(), "CREATE UNIQUE INDEX CONCURRENTLY t_k ON t (k)"); err == nil {
		t.Fatal("the unique index was built over duplicates")
	}
	e, _ := engineFor(t, h, litepull.TableConfig{Table: "t", CursorColumn: "id", PrimaryKey: []string{"k"}})
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := sum.Tables[0]; !errors.Is(r.Err, litepull.ErrNoPrimaryKey) {
		t.Fatalf("primaryKey [k] with only an invalid unique index: %+v; want ErrNoPrimaryKey", r)
	}
}

// TestSessionStylesOfTheDatabaseDoNotShow: a role or database may set
// DateStyle and IntervalStyle (here through the DSN's options, as ALTER
// ROLE ... SET would). Values read as their text form (intervals,
// ranges) came out in that style, "+1-2 +3 ..." and "[04/03/2026,...)",
// while the change stream, which pins its session's settings, wrote the
// ISO and postgres forms: one column held both. Every session is pinned.
func TestSessionStylesOfTheDatabaseDoNotShow(t *testing.T) {
	h := &harness{testdb.Postgres(t)}
	h.Exec(t, `CREATE TABLE styled (id int PRIMARY KEY, iv interval, dr daterange, r tstzrange)`)
	h.Exec(t, `INSERT INTO styled VALUES (1, '1 year 2 mons 3 days 04:05:06.7', '[2026-03-04,2026-04-01)',
		'["2026-03-04 05:06:07+00","2026-03-05 00:00:00+00")')`)
	sep := "?"
	if strings.Contains(h.pg.DSN, "?") {
		sep = "&"
	}
	h.pg.DSN += sep + "options=" + strings.NewReplacer(" ", "%20", "=", "%3D", ",", "%2C").Replace("-c DateStyle=SQL,DMY -c IntervalStyle=sql_standard")
	e, r := engineFor(t, h, litepull.TableConfig{Table: "styled"})
	drainOK(t, e)
	_, rows, err := r.Query(context.Background(), "SELECT iv, dr, r FROM styled")
	want := []any{"1 year 2 mons 3 days 04:05:06.7", "[2026-03-04,2026-04-01)", `["2026-03-04 05:06:07+00","2026-03-05 00:00:00+00")`}
	if err != nil || len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Fatalf("replica rows %v, %v; want %v", rows, err, want)
	}
}
