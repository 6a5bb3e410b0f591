// Package replicatest is the conformance suite of replicas: the same
// tests run against the replica file (package replica) and each remote
// replica (package replica/remote, against its test server), driving the
// engine from a SQLite source and comparing every value.
package replicatest

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/sqlite"
)

// Harness is a replica under test.
type Harness interface {
	// Open opens the replica, as a new process would: nothing cached.
	Open(tb testing.TB) litepull.Replica
	// Query reads the replica's SQLite database directly.
	Query(tb testing.TB, sql string) [][]any
}

// Run runs the suite; newHarness makes an empty replica.
func Run(t *testing.T, newHarness func(tb testing.TB) Harness) {
	t.Run("TiesAcrossPages", func(t *testing.T) { testTies(t, newHarness(t)) })
	t.Run("Types", func(t *testing.T) { testTypes(t, newHarness(t)) })
	t.Run("FullRefresh", func(t *testing.T) { testFull(t, newHarness(t)) })
	t.Run("Reconcile", func(t *testing.T) { testReconcile(t, newHarness(t)) })
	t.Run("SoftDelete", func(t *testing.T) { testSoftDelete(t, newHarness(t)) })
	t.Run("StateSurvivesReopen", func(t *testing.T) { testReopen(t, newHarness(t)) })
	t.Run("SchemaChangeRebuilds", func(t *testing.T) { testSchemaChange(t, newHarness(t)) })
}

// fixture is a SQLite source and a replica, with a table config.
type fixture struct {
	h   Harness
	src *sqlitetest.DB
	cfg litepull.SourceConfig
	r   litepull.Replica
}

func newFixture(t *testing.T, h Harness, tc litepull.TableConfig, pageSize int) *fixture {
	src := sqlitetest.New(t)
	cfg := litepull.Config{Replica: "unused", Sources: []litepull.SourceConfig{{ID: "src", Kind: "sqlite", DSN: src.Path, PageSize: pageSize,
		Tables: []litepull.TableConfig{tc}}}}
	cfg.ApplyDefaults()
	return &fixture{h: h, src: src, cfg: cfg.Sources[0], r: h.Open(t)}
}

// run runs the engine once over a fresh source connection.
func (f *fixture) run(t *testing.T, opts litepull.RunOptions) litepull.TableResult {
	t.Helper()
	s, err := sqlite.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum, err := litepull.NewEngine(f.r, []litepull.BoundSource{{Config: f.cfg, Source: s}}, nil).Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Tables) != 1 || sum.Tables[0].Error != "" {
		t.Fatalf("run: %+v", sum.Tables)
	}
	return sum.Tables[0]
}

// same compares every value of table in source and replica, by type and
// bytes: hex() of each value but a REAL, which is compared as a number
// (quote() of a REAL differs between SQLite versions, and text read back
// through a JSON service would lose what is not UTF-8).
func (f *fixture) same(t *testing.T, table, dest string, cols ...string) {
	t.Helper()
	var parts []string
	for _, c := range cols {
		parts = append(parts, "typeof("+c+")", fmt.Sprintf(`CASE typeof(%[1]s) WHEN 'real' THEN
			CASE WHEN %[1]s > 1.7976931348623157e308 THEN 'inf' WHEN %[1]s < -1.7976931348623157e308 THEN '-inf' ELSE %[1]s END
			ELSE hex(%[1]s) END`, c))
	}
	sel := "SELECT " + strings.Join(parts, ", ") + " FROM %s ORDER BY " + cols[0]
	res, err := f.src.Query(fmt.Sprintf(sel, table), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := f.h.Query(t, fmt.Sprintf(sel, dest))
	if len(got) != len(res.Rows) {
		t.Fatalf("replica has %d rows, source %d", len(got), len(res.Rows))
	}
	for i := range got {
		if g, w := rendered(got[i]), rendered(res.Rows[i]); g != w {
			t.Errorf("row %d: replica %v, source %v", i, g, w)
		}
	}
}

// rendered is a row of (typeof, value) pairs as text, a REAL (a float64
// or a JSON number) in shortest round-trip form.
func rendered(row []any) string {
	var b strings.Builder
	for k := 0; k+1 < len(row); k += 2 {
		v := fmt.Sprint(row[k+1])
		if row[k] == "real" && v != "inf" && v != "-inf" {
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				v = strconv.FormatFloat(x, 'g', -1, 64)
			}
		}
		fmt.Fprintf(&b, "%v:%s ", row[k], v)
	}
	return b.String()
}

func testTies(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "ev", CursorColumn: "at"}, 5)
	f.src.Exec(t, "CREATE TABLE ev (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, v TEXT)")
	for i := 1; i <= 30; i++ {
		f.src.Exec(t, "INSERT INTO ev VALUES (?, ?, ?)", int64(i), int64(i/4), fmt.Sprint("v", i))
	}
	if res := f.run(t, litepull.RunOptions{Drain: true}); res.RowsPulled != 30 {
		t.Fatalf("pulled %d rows, want 30", res.RowsPulled)
	}
	// A row that ties with the watermark's cursor, after its key.
	f.src.Exec(t, "INSERT INTO ev VALUES (31, 7, 'tie')")
	if res := f.run(t, litepull.RunOptions{Drain: true}); res.RowsPulled != 1 {
		t.Fatalf("pulled %d rows, want the 1 that ties", res.RowsPulled)
	}
	f.same(t, "ev", "ev", "id", "at", "v")
}

func testTypes(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "ty", CursorColumn: "id"}, 3)
	f.src.Exec(t, "CREATE TABLE ty (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, a ANY)")
	rows := [][]any{
		{int64(1), int64(math.MaxInt64), 0.1, "plain", []byte{0, 1, 2}, int64(1<<53 + 1)},
		{int64(2), int64(math.MinInt64), math.Inf(1), "é 李 \U0001F600", []byte{}, 2.5},
		{int64(3), int64(1<<53 + 1), math.Inf(-1), "", []byte{0xff}, []byte{0, 0}},
		{int64(4), nil, 1e300, "quote ' \" \\ ", nil, "text"},
		{int64(5), int64(-1 << 53), 2.0, "x", []byte("y"), nil},
		{int64(6), int64(0), -0.5, "12345678901234567890", []byte{1}, 1.0000000000000002},
		{int64(7), int64(7), 7.5, "bad \xff\xfe utf-8", []byte{7}, "nul \x00 inside"},
	}
	f.src.Insert(t, "ty", []string{"id", "i", "r", "s", "b", "a"}, rows)
	if res := f.run(t, litepull.RunOptions{Drain: true}); res.RowsPulled != int64(len(rows)) {
		t.Fatalf("pulled %d rows, want %d", res.RowsPulled, len(rows))
	}
	f.same(t, "ty", "ty", "id", "i", "r", "s", "b", "a")
}

func testFull(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "fu", CursorColumn: "id"}, 4)
	f.src.Exec(t, "CREATE TABLE fu (id INTEGER PRIMARY KEY, v TEXT)")
	for i := 1; i <= 10; i++ {
		f.src.Exec(t, "INSERT INTO fu VALUES (?, ?)", int64(i), fmt.Sprint("v", i))
	}
	f.run(t, litepull.RunOptions{Drain: true})
	f.src.Exec(t, "DELETE FROM fu WHERE id IN (2, 9)")
	f.src.Exec(t, "UPDATE fu SET v = 'new' WHERE id = 3")
	res := f.run(t, litepull.RunOptions{Drain: true, Full: true})
	if !res.FullRefresh {
		t.Fatalf("run -full: %+v", res)
	}
	f.same(t, "fu", "fu", "id", "v")
	if rows := f.h.Query(t, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'litepull_shadow_%'"); fmt.Sprint(rows[0][0]) != "0" {
		t.Errorf("a shadow table is left: %v", rows)
	}
	st, err := f.r.State(context.Background(), "src", "fu")
	if err != nil || st.RowsTotal != 8 || st.LastFullRefresh.IsZero() {
		t.Errorf("state after full refresh: %+v %v", st, err)
	}
}

func testReconcile(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "re", CursorColumn: "v", Deletes: litepull.DeletesReconcile}, 4)
	f.src.Exec(t, "CREATE TABLE re (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))")
	for i := 1; i <= 12; i++ {
		f.src.Exec(t, "INSERT INTO re VALUES (?, ?, ?)", fmt.Sprint("k", i%3), int64(i), fmt.Sprintf("v%02d", i))
	}
	f.run(t, litepull.RunOptions{Drain: true})
	f.src.Exec(t, "DELETE FROM re WHERE b IN (1, 5, 12)")
	res := f.run(t, litepull.RunOptions{Drain: true, Reconcile: true})
	if res.RowsDeleted != 3 {
		t.Fatalf("reconcile deleted %d rows, want 3", res.RowsDeleted)
	}
	f.same(t, "re", "re", "b", "a", "v")
}

func testSoftDelete(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "so", CursorColumn: "at", SoftDelete: "gone"}, 3)
	f.src.Exec(t, "CREATE TABLE so (id INTEGER PRIMARY KEY, at INTEGER, gone INTEGER)")
	for i := 1; i <= 8; i++ {
		f.src.Exec(t, "INSERT INTO so VALUES (?, ?, 0)", int64(i), int64(i))
	}
	f.run(t, litepull.RunOptions{Drain: true})
	f.src.Exec(t, "UPDATE so SET gone = 1, at = 20 + id WHERE id IN (2, 3, 7)")
	res := f.run(t, litepull.RunOptions{Drain: true})
	if res.RowsDeleted != 3 {
		t.Fatalf("soft deletes removed %d rows, want 3", res.RowsDeleted)
	}
	rows := f.h.Query(t, "SELECT group_concat(id) FROM (SELECT id FROM so ORDER BY id)")
	if fmt.Sprint(rows[0][0]) != "1,4,5,6,8" {
		t.Errorf("replica keeps %v, want 1,4,5,6,8", rows[0][0])
	}
}

func testReopen(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "ro", CursorColumn: "id"}, 4)
	f.src.Exec(t, "CREATE TABLE ro (id INTEGER PRIMARY KEY, v TEXT)")
	for i := 1; i <= 9; i++ {
		f.src.Exec(t, "INSERT INTO ro VALUES (?, 'x')", int64(i))
	}
	f.run(t, litepull.RunOptions{Drain: true})
	f.r = h.Open(t)
	if res := f.run(t, litepull.RunOptions{Drain: true}); res.RowsPulled != 0 {
		t.Fatalf("a reopened replica pulled %d rows again", res.RowsPulled)
	}
	st, err := f.r.State(context.Background(), "src", "ro")
	if err != nil || st.RowsTotal != 9 || st.Watermark == nil || st.Watermark.Cursor != int64(9) {
		t.Fatalf("state after reopen: %+v %v", st, err)
	}
}

func testSchemaChange(t *testing.T, h Harness) {
	f := newFixture(t, h, litepull.TableConfig{Table: "sc", CursorColumn: "id"}, 4)
	f.src.Exec(t, "CREATE TABLE sc (id INTEGER PRIMARY KEY, v TEXT)")
	for i := 1; i <= 9; i++ {
		f.src.Exec(t, "INSERT INTO sc VALUES (?, 'x')", int64(i))
	}
	f.run(t, litepull.RunOptions{Drain: true})
	// Every old row gets the new column's default: ALTER TABLE alone would
	// leave them NULL in the replica.
	f.src.Exec(t, "ALTER TABLE sc ADD COLUMN w INTEGER NOT NULL DEFAULT 7")
	if res := f.run(t, litepull.RunOptions{Drain: true}); res.SchemaChange == nil {
		t.Fatalf("run after ADD COLUMN: %+v, want a schema change", res)
	}
	f.same(t, "sc", "sc", "id", "v", "w")
}
