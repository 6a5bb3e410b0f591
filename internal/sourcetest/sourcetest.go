// Package sourcetest is the conformance suite every litepull source passes:
// ties across page boundaries, composite keys, updates, NULL cursors, bad
// identifiers, projection and rename, discovery, schema drift, settle and
// lookback. A source package calls Run with a Harness over a real database.
package sourcetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// Harness drives one real source database for the suite.
type Harness interface {
	// Config returns a source config pointing at the harness's database.
	Config() litepull.SourceConfig
	// Open opens the source under test.
	Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source
	// Exec runs SQL on the source database (DDL, DML).
	Exec(tb testing.TB, sql string, args ...any)
	// Insert inserts rows; values are int64, string or nil.
	Insert(tb testing.TB, table string, cols []string, rows [][]any)
	// Type names a column type of the dialect: "int", "text", "key" (text
	// that can be a primary key), "ts".
	Type(kind string) string
	// Arg is the n-th (1-based) placeholder.
	Arg(n int) string
	// Quote quotes an identifier that is not plain.
	Quote(name string) string
	// Now is a timestamp literal of the source's clock plus d, in the form
	// the "ts" type accepts.
	Now(d time.Duration) string
}

// Run runs the suite; newHarness gives every subtest a fresh database.
func Run(t *testing.T, newHarness func(tb testing.TB) Harness) {
	t.Run("TiesAcrossPageBoundary", func(t *testing.T) { testTies(t, newHarness(t)) })
	t.Run("UpdatesPropagate", func(t *testing.T) { testUpdates(t, newHarness(t)) })
	t.Run("CompositeKey", func(t *testing.T) { testComposite(t, newHarness(t)) })
	t.Run("RenameAndProjection", func(t *testing.T) { testProjection(t, newHarness(t)) })
	t.Run("NullCursorReported", func(t *testing.T) { testNullCursor(t, newHarness(t)) })
	t.Run("ErrUnknownColumnIsolated", func(t *testing.T) { testUnknownColumn(t, newHarness(t)) })
	t.Run("ErrBadIdentifier", func(t *testing.T) { testBadIdentifier(t, newHarness(t)) })
	t.Run("ErrKeyNotUnique", func(t *testing.T) { testKeyNotUnique(t, newHarness(t)) })
	t.Run("Discovery", func(t *testing.T) { testDiscovery(t, newHarness(t)) })
	t.Run("SchemaDrift", func(t *testing.T) { testSchemaDrift(t, newHarness(t)) })
	t.Run("LookbackCatchesLateCommit", func(t *testing.T) { testLookback(t, newHarness(t)) })
	t.Run("SettleHorizon", func(t *testing.T) { testSettle(t, newHarness(t)) })
	t.Run("FullRefreshKeepsSettle", func(t *testing.T) { testFullRefreshSettle(t, newHarness(t)) })
	t.Run("SoftDeletes", func(t *testing.T) { testSoftDeletes(t, newHarness(t)) })
	t.Run("FullMode", func(t *testing.T) { testFullMode(t, newHarness(t)) })
	t.Run("FullRefreshOnDemand", func(t *testing.T) { testFullOnDemand(t, newHarness(t)) })
	t.Run("ReconcileFindsDeletes", func(t *testing.T) { testReconcile(t, newHarness(t)) })
	t.Run("ReconcileTextKeyBesideUnpulledRows", func(t *testing.T) { testReconcileKeySwap(t, newHarness(t), textKey) })
	t.Run("ReconcileCompositeKeyBesideUnpulledRows", func(t *testing.T) { testReconcileKeySwap(t, newHarness(t), compositeKey) })
	t.Run("ReconcileIntegerKeyBesideUnpulledRows", func(t *testing.T) { testReconcileKeySwap(t, newHarness(t), integerKey) })
	t.Run("RandomOpsEqualSource", func(t *testing.T) { testRandomOps(t, newHarness(t), opsOptions{rounds: 25}) })
	t.Run("RandomOpsSchemaChanges", func(t *testing.T) {
		testRandomOps(t, newHarness(t), opsOptions{rounds: 25, schemaChanges: true})
	})
	t.Run("RandomOpsConcurrentFull", func(t *testing.T) {
		testRandomOps(t, newHarness(t), opsOptions{rounds: 25, concurrentFull: true})
	})
	t.Run("RandomOpsTextKeyNullCursors", func(t *testing.T) {
		testRandomOps(t, newHarness(t), opsOptions{rounds: 25, textKey: true, nullCursors: true})
	})
	runClock(t, newHarness)
	t.Run("PagesCutByBytes", func(t *testing.T) { testPageBytes(t, newHarness(t)) })
	t.Run("DescribedSchemaTravels", func(t *testing.T) { testSchemaTravels(t, newHarness(t)) })
}

// fixture is a harness with a fresh replica.
type fixture struct {
	h   Harness
	r   *replica.Replica
	src litepull.Source
	cfg litepull.SourceConfig
}

func newFixture(tb testing.TB, h Harness, tables ...litepull.TableConfig) *fixture {
	tb.Helper()
	r, err := replica.Open(filepath.Join(tb.TempDir(), "replica.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	cfg := h.Config()
	cfg.ID = "src"
	cfg.Tables = tables
	cfg.PageSize = litepull.DefaultPageSize
	return &fixture{h: h, r: r, cfg: cfg}
}

// engine opens the source (once) and returns an engine over the fixture.
func (f *fixture) engine(tb testing.TB) *litepull.Engine {
	tb.Helper()
	c := litepull.Config{Replica: f.r.Path(), Sources: []litepull.SourceConfig{f.cfg}}
	if err := c.Validate(); err != nil {
		tb.Fatalf("config: %v", err)
	}
	if f.src == nil {
		f.src = f.h.Open(tb, c.Sources[0])
		tb.Cleanup(func() { f.src.Close() })
	}
	return litepull.NewEngine(f.r, []litepull.BoundSource{{Config: c.Sources[0], Source: f.src}}, nil)
}

// run runs the engine once (drain or one tick); tables may fail.
func (f *fixture) run(tb testing.TB, drain bool) *litepull.Summary {
	tb.Helper()
	sum, err := f.engine(tb).Run(context.Background(), litepull.RunOptions{Drain: drain})
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	return sum
}

func (f *fixture) rows(tb testing.TB, sql string) [][]any {
	tb.Helper()
	_, rows, err := f.r.Query(context.Background(), sql)
	if err != nil {
		tb.Fatalf("replica: %s: %v", sql, err)
	}
	return rows
}

func result(tb testing.TB, sum *litepull.Summary, table string) litepull.TableResult {
	tb.Helper()
	for _, t := range sum.Tables {
		if t.Table == table {
			return t
		}
	}
	tb.Fatalf("no result for table %s in %+v", table, sum.Tables)
	return litepull.TableResult{}
}

func mustOK(tb testing.TB, sum *litepull.Summary) {
	tb.Helper()
	for _, t := range sum.Tables {
		if t.Error != "" {
			tb.Fatalf("table %s failed: %s", t.Table, t.Error)
		}
	}
}

// ts is the n-th second after a fixed base, as ISO-8601 UTC.
func ts(n int) string {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second).Format(litepull.LayoutTimestampTZ)
}

func create(tb testing.TB, h Harness, table string, cols ...string) {
	tb.Helper()
	h.Exec(tb, fmt.Sprintf("CREATE TABLE %s (%s)", table, strings.Join(cols, ", ")))
}

func testTies(t *testing.T, h Harness) {
	create(t, h, "ties", "id "+h.Type("int")+" PRIMARY KEY", "grp "+h.Type("int"), "v "+h.Type("text"))
	// The index a user would have on the cursor: without it every one of the
	// 1,429 pages scans the table, which proves nothing more about ties.
	h.Exec(t, "CREATE INDEX ties_grp ON ties (grp, id)")
	const n = 10000
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), int64(i % 3), fmt.Sprintf("v%d", i+1)}
	}
	h.Insert(t, "ties", []string{"id", "grp", "v"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "ties", CursorColumn: "grp", PageSize: 7})

	first := result(t, f.run(t, false), "ties")
	if first.RowsPulled != 7 || !first.MorePagesAvailable || first.Error != "" {
		t.Fatalf("first tick: got %+v, want 7 rows and more pages", first)
	}
	sum := f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "ties"); r.MorePagesAvailable || r.RowsPulled != n-7 {
		t.Fatalf("drain: got %d rows, more=%v; want %d, false", r.RowsPulled, r.MorePagesAvailable, n-7)
	}
	got := f.rows(t, "SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id) FROM ties")
	want := []any{int64(n), int64(n), int64(n * (n + 1) / 2), int64(1), int64(n)}
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("replica (count, distinct, sum, min, max) = %v, want %v", got[0], want)
	}
	bad := f.rows(t, "SELECT count(*) FROM ties WHERE v != 'v' || id OR grp != id - 1 - ((id - 1) / 3) * 3")
	if bad[0][0] != int64(0) {
		t.Fatalf("%v rows hold wrong values", bad[0][0])
	}
}

func testUpdates(t *testing.T, h Harness) {
	create(t, h, "items", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"), "updated_at "+h.Type("ts"))
	var rows [][]any
	for i := 1; i <= 50; i++ {
		rows = append(rows, []any{int64(i), "old", ts(i / 5)})
	}
	h.Insert(t, "items", []string{"id", "v", "updated_at"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "items", CursorColumn: "updated_at", PageSize: 8})
	mustOK(t, f.run(t, true))

	h.Exec(t, "UPDATE items SET v = 'new', updated_at = "+h.Arg(1)+" WHERE id <= 10", ts(1000))
	h.Insert(t, "items", []string{"id", "v", "updated_at"}, [][]any{{int64(51), "new", ts(1001)}, {int64(52), "new", ts(1001)}})
	sum := f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "items"); r.RowsPulled != 12 {
		t.Errorf("second run pulled %d rows, want 12 (10 updated + 2 new)", r.RowsPulled)
	}
	got := f.rows(t, "SELECT v, count(*) FROM items GROUP BY v ORDER BY v")
	want := [][]any{{"new", int64(12)}, {"old", int64(40)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("replica values by v = %v, want %v", got, want)
	}
	st, err := f.r.State(context.Background(), "src", "items")
	if err != nil {
		t.Fatal(err)
	}
	if st.CursorValue != ts(1001) || st.CursorColumn != "updated_at" || st.RowsTotal != 62 {
		t.Fatalf("state = cursor %s=%q, rows %d; want updated_at=%q, 62", st.CursorColumn, st.CursorValue, st.RowsTotal, ts(1001))
	}
}

func testComposite(t *testing.T, h Harness) {
	create(t, h, "order_lines", "a "+h.Type("int"), "b "+h.Type("int"), "c "+h.Type("int"), "v "+h.Type("text"), "PRIMARY KEY (a, b)")
	var rows [][]any
	for a := 1; a <= 50; a++ {
		for b := 1; b <= 10; b++ {
			rows = append(rows, []any{int64(a), int64(b), int64((a * b) % 5), fmt.Sprintf("%d-%d", a, b)})
		}
	}
	h.Insert(t, "order_lines", []string{"a", "b", "c", "v"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "order_lines", CursorColumn: "c", PageSize: 13})
	mustOK(t, f.run(t, true))
	got := f.rows(t, "SELECT count(*), count(DISTINCT a || '-' || b), sum(CASE WHEN v = a || '-' || b THEN 1 ELSE 0 END) FROM order_lines")
	if want := []any{int64(500), int64(500), int64(500)}; !reflect.DeepEqual(got[0], want) {
		t.Fatalf("replica (rows, distinct keys, right values) = %v, want %v", got[0], want)
	}
	pk := f.rows(t, "SELECT name FROM pragma_table_info('order_lines') WHERE pk > 0 ORDER BY pk")
	if !reflect.DeepEqual(pk, [][]any{{"a"}, {"b"}}) {
		t.Fatalf("replica primary key = %v, want (a, b)", pk)
	}
}

func testProjection(t *testing.T, h Harness) {
	create(t, h, "orders", "order_id "+h.Type("int")+" PRIMARY KEY", "status "+h.Type("text"), "secret "+h.Type("text"), "updated_at "+h.Type("ts"))
	h.Insert(t, "orders", []string{"order_id", "status", "secret", "updated_at"}, [][]any{
		{int64(1), "paid", "s1", ts(1)}, {int64(2), "new", "s2", ts(2)}})
	f := newFixture(t, h, litepull.TableConfig{Table: "orders", Dest: "orders_replica", Columns: []string{"status"}, CursorColumn: "updated_at"})
	mustOK(t, f.run(t, true))
	cols := f.rows(t, "SELECT name FROM pragma_table_info('orders_replica') ORDER BY cid")
	if want := [][]any{{"status"}, {"order_id"}, {"updated_at"}}; !reflect.DeepEqual(cols, want) {
		t.Fatalf("replica columns = %v, want %v (projection plus key and cursor)", cols, want)
	}
	if got := f.rows(t, "SELECT order_id, status FROM orders_replica ORDER BY order_id"); !reflect.DeepEqual(got, [][]any{{int64(1), "paid"}, {int64(2), "new"}}) {
		t.Fatalf("replica rows = %v", got)
	}
	if got := f.rows(t, "SELECT count(*) FROM sqlite_schema WHERE name = 'orders'"); got[0][0] != int64(0) {
		t.Fatal("the source name was created in the replica despite the rename")
	}
	meta := f.rows(t, "SELECT column_name, source_table FROM litepull_columns WHERE dest_table = 'orders_replica' ORDER BY ordinal")
	if len(meta) != 3 || meta[0][1] != "orders" {
		t.Fatalf("column metadata = %v", meta)
	}
}

func testNullCursor(t *testing.T, h Harness) {
	create(t, h, "events", "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+h.Type("ts"))
	h.Insert(t, "events", []string{"id", "updated_at"}, [][]any{{int64(1), ts(1)}, {int64(2), nil}, {int64(3), ts(3)}, {int64(4), nil}})
	f := newFixture(t, h, litepull.TableConfig{Table: "events", CursorColumn: "updated_at"})
	sum := f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "events"); r.NullCursorRows != 2 || r.RowsPulled != 2 {
		t.Fatalf("result: %d rows, %d NULL-cursor rows; want 2 and 2", r.RowsPulled, r.NullCursorRows)
	}
	st, _ := f.r.State(context.Background(), "src", "events")
	if st.NullCursorRows != 2 {
		t.Fatalf("state null_cursor_rows = %d, want 2", st.NullCursorRows)
	}
}

func testUnknownColumn(t *testing.T, h Harness) {
	create(t, h, "good", "id "+h.Type("int")+" PRIMARY KEY")
	create(t, h, "bad", "id "+h.Type("int")+" PRIMARY KEY")
	h.Insert(t, "good", []string{"id"}, [][]any{{int64(1)}, {int64(2)}})
	f := newFixture(t, h,
		litepull.TableConfig{Table: "bad", Columns: []string{"id", "nope"}},
		litepull.TableConfig{Table: "missing_table"},
		litepull.TableConfig{Table: "good"})
	sum := f.run(t, true)
	bad := result(t, sum, "bad")
	if !errors.Is(bad.Err, litepull.ErrUnknownColumn) || !strings.Contains(bad.Error, `"nope"`) || !strings.Contains(bad.Error, "bad") {
		t.Fatalf("bad table error = %q, want ErrUnknownColumn naming the column and table", bad.Error)
	}
	if missing := result(t, sum, "missing_table"); !errors.Is(missing.Err, litepull.ErrNoTable) {
		t.Fatalf("missing table error = %v, want ErrNoTable", missing.Err)
	}
	if good := result(t, sum, "good"); good.Error != "" || good.RowsPulled != 2 {
		t.Fatalf("good table: %+v; one failing table must not stop the others", good)
	}
	st, _ := f.r.State(context.Background(), "src", "bad")
	if !strings.Contains(st.LastError, "nope") || st.ErrorCount != 1 {
		t.Fatalf("state of bad table: last_error %q, error_count %d", st.LastError, st.ErrorCount)
	}
	if sum.Failed() != 2 {
		t.Fatalf("Failed() = %d, want 2", sum.Failed())
	}
}

func testBadIdentifier(t *testing.T, h Harness) {
	create(t, h, "people", "id "+h.Type("int")+" PRIMARY KEY", h.Quote("first name")+" "+h.Type("text"), "last "+h.Type("text"))
	h.Insert(t, "people", []string{"id", h.Quote("first name"), "last"}, [][]any{{int64(1), "Ada", "Lovelace"}})
	cfg := h.Config()
	src := h.Open(t, cfg)
	defer src.Close()
	ctx := context.Background()
	for _, name := range []string{"people; DROP TABLE people", `people"`, "1people", "a.b.c", ""} {
		if _, err := src.Describe(ctx, name); !errors.Is(err, litepull.ErrBadIdentifier) {
			t.Errorf("Describe(%q) = %v, want ErrBadIdentifier", name, err)
		}
	}
	schema, err := src.Describe(ctx, "people")
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.ReadPage(ctx, litepull.PageRequest{Schema: schema, Columns: []string{"id", "first name"}, Cursor: "id", PrimaryKey: []string{"id"}, Limit: 10})
	if !errors.Is(err, litepull.ErrBadIdentifier) {
		t.Errorf("ReadPage with column %q = %v, want ErrBadIdentifier", "first name", err)
	}

	// A discovered column that is not a plain identifier fails the table
	// with a hint; projecting it away makes the table work.
	f := newFixture(t, h, litepull.TableConfig{Table: "people"})
	r := result(t, f.run(t, true), "people")
	if !errors.Is(r.Err, litepull.ErrBadIdentifier) || !strings.Contains(r.Error, "first name") || !strings.Contains(r.Error, "under columns") {
		t.Fatalf("error = %q, want ErrBadIdentifier naming the column and the columns hint", r.Error)
	}
	f.cfg.Tables[0].Columns = []string{"id", "last"}
	mustOK(t, f.run(t, true))
	if got := f.rows(t, "SELECT id, last FROM people"); !reflect.DeepEqual(got, [][]any{{int64(1), "Lovelace"}}) {
		t.Fatalf("replica rows = %v", got)
	}

	_, err = litepull.ParseConfig([]byte("sources:\n- id: s\n  kind: sqlite\n  dsn: x\n  tables:\n  - table: \"users; drop table x\"\n"), func(string) (string, bool) { return "", false })
	if !errors.Is(err, litepull.ErrBadIdentifier) {
		t.Fatalf("config with a bad table name: %v, want ErrBadIdentifier", err)
	}
}

func testDiscovery(t *testing.T, h Harness) {
	create(t, h, "alpha", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"))
	create(t, h, "beta", "k1 "+h.Type("int"), "k2 "+h.Type("int"), "PRIMARY KEY (k1, k2)")
	create(t, h, "gamma", "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+h.Type("ts"))
	create(t, h, "nokey", "v "+h.Type("text"))
	h.Insert(t, "alpha", []string{"id", "v"}, [][]any{{int64(1), "a"}, {int64(2), "b"}})
	h.Insert(t, "gamma", []string{"id", "updated_at"}, [][]any{{int64(1), ts(5)}})
	f := newFixture(t, h)
	f.cfg.CursorColumn = "updated_at"
	sum := f.run(t, true)
	var names []string
	for _, r := range sum.Tables {
		names = append(names, r.Table[strings.LastIndexByte(r.Table, '.')+1:])
	}
	sort.Strings(names)
	if want := []string{"alpha", "beta", "gamma", "nokey"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("discovered %v, want %v", names, want)
	}
	for _, r := range sum.Tables {
		switch {
		case strings.HasSuffix(r.Table, "nokey"):
			if !strings.Contains(r.Skipped, "no primary key") {
				t.Errorf("nokey: skipped = %q, want a reason", r.Skipped)
			}
		case strings.HasSuffix(r.Table, "beta"), strings.HasSuffix(r.Table, "alpha"):
			// No updated_at: paging on the key would never see an update.
			if r.Error != "" || !r.FullRefresh || !strings.Contains(r.Note, "mode: full") {
				t.Errorf("%s has no cursor column: %+v; want a full copy, and a note saying why", r.Table, r)
			}
		case strings.HasSuffix(r.Table, "gamma"):
			st, _ := f.r.State(context.Background(), "src", r.Table)
			if r.Error != "" || st.CursorColumn != "updated_at" {
				t.Errorf("gamma: %+v, cursor %q; want the source-wide cursorColumn", r, st.CursorColumn)
			}
		}
	}
	// An update to a table without a cursor reaches the replica.
	h.Exec(t, "UPDATE alpha SET v = 'changed' WHERE id = 1")
	f.run(t, true)
	if got := f.rows(t, "SELECT v FROM alpha WHERE id = 1"); !reflect.DeepEqual(got, [][]any{{"changed"}}) {
		t.Fatalf("alpha row 1 after an update at the source: %v, want changed", got)
	}
}

func testSchemaDrift(t *testing.T, h Harness) {
	create(t, h, "drift", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"))
	h.Insert(t, "drift", []string{"id", "v"}, [][]any{{int64(1), "a"}})
	f := newFixture(t, h, litepull.TableConfig{Table: "drift"})
	mustOK(t, f.run(t, true))
	h.Exec(t, "ALTER TABLE drift ADD COLUMN extra "+h.Type("text"))
	h.Insert(t, "drift", []string{"id", "v", "extra"}, [][]any{{int64(2), "b", "new column"}})
	mustOK(t, f.run(t, true))
	got := f.rows(t, "SELECT id, v, extra FROM drift ORDER BY id")
	if want := [][]any{{int64(1), "a", nil}, {int64(2), "b", "new column"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("replica after ADD COLUMN = %v, want %v", got, want)
	}

	// A column added with a default: rows already replicated hold it too.
	h.Exec(t, "ALTER TABLE drift ADD COLUMN flag "+h.Type("int")+" NOT NULL DEFAULT 7")
	sum := f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "drift"); r.SchemaChange == nil || !reflect.DeepEqual(r.SchemaChange.Added, []string{"flag"}) {
		t.Errorf("summary schema change = %+v, want flag added", r.SchemaChange)
	}
	if got := f.rows(t, "SELECT id, flag FROM drift ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1), int64(7)}, {int64(2), int64(7)}}) {
		t.Fatalf("replica after ADD COLUMN … DEFAULT 7 = %v, want 7 in every row", got)
	}

	// A dropped column leaves the replica table and its metadata.
	h.Exec(t, "ALTER TABLE drift DROP COLUMN extra")
	h.Insert(t, "drift", []string{"id", "v"}, [][]any{{int64(3), "c"}})
	mustOK(t, f.run(t, true))
	if got := f.rows(t, "SELECT count(*) FROM pragma_table_info('drift') WHERE name = 'extra'"); got[0][0] != int64(0) {
		t.Errorf("replica still has the dropped column extra")
	}
	if got := f.rows(t, "SELECT group_concat(column_name) FROM (SELECT column_name FROM litepull_columns WHERE dest_table = 'drift' ORDER BY ordinal)"); !reflect.DeepEqual(got, [][]any{{"id,v,flag"}}) {
		t.Errorf("litepull_columns after DROP COLUMN = %v, want id,v,flag", got)
	}
	if got := f.rows(t, "SELECT id, v, flag FROM drift ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1), "a", int64(7)}, {int64(2), "b", int64(7)}, {int64(3), "c", int64(7)}}) {
		t.Fatalf("replica after DROP COLUMN = %v", got)
	}

	// Dropped and added again with the same name and type: other values.
	h.Exec(t, "ALTER TABLE drift DROP COLUMN v")
	h.Exec(t, "ALTER TABLE drift ADD COLUMN v "+h.Type("text")+" NOT NULL DEFAULT 'x'")
	mustOK(t, f.run(t, true))
	if got := f.rows(t, "SELECT group_concat(v, '') FROM (SELECT v FROM drift ORDER BY id)"); !reflect.DeepEqual(got, [][]any{{"xxx"}}) {
		t.Fatalf("replica v after DROP and ADD COLUMN v … DEFAULT 'x' = %v, want x in every row", got)
	}
}

func testLookback(t *testing.T, h Harness) {
	create(t, h, "seq", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"))
	var rows [][]any
	for i := 1; i <= 10; i++ {
		if i != 8 {
			rows = append(rows, []any{int64(i), "v"})
		}
	}
	h.Insert(t, "seq", []string{"id", "v"}, rows)
	lb := litepull.Lookback{Amount: 5}
	f := newFixture(t, h, litepull.TableConfig{Table: "seq", Lookback: &lb, PageSize: 2})
	mustOK(t, f.run(t, true))
	// id 8 commits late: its sequence value was taken before 9 and 10 were.
	h.Insert(t, "seq", []string{"id", "v"}, [][]any{{int64(8), "late"}})
	sum := f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "seq"); r.RowsReread != 5 {
		t.Errorf("re-read %d rows, want 5 (ids 6..10)", r.RowsReread)
	}
	if got := f.rows(t, "SELECT v FROM seq WHERE id = 8"); !reflect.DeepEqual(got, [][]any{{"late"}}) {
		t.Fatalf("late row 8 in replica: %v, want it found by the lookback", got)
	}
	if got := f.rows(t, "SELECT count(*) FROM seq"); got[0][0] != int64(10) {
		t.Fatalf("replica has %v rows, want 10", got[0][0])
	}
}

func testSettle(t *testing.T, h Harness) {
	create(t, h, "recent", "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+h.Type("ts"))
	h.Insert(t, "recent", []string{"id", "updated_at"}, [][]any{{int64(1), h.Now(-time.Hour)}, {int64(2), h.Now(-time.Minute)}, {int64(3), h.Now(time.Hour)}})
	settle := litepull.Duration(10 * time.Minute)
	f := newFixture(t, h, litepull.TableConfig{Table: "recent", CursorColumn: "updated_at", Settle: &settle})
	mustOK(t, f.run(t, true))
	if got := f.rows(t, "SELECT id FROM recent ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1)}}) {
		t.Fatalf("with settle 10m: replica ids %v, want only 1 (older than 10 minutes)", got)
	}
	f.cfg.Tables[0].Settle = nil
	mustOK(t, f.run(t, true))
	if got := f.rows(t, "SELECT count(*) FROM recent"); got[0][0] != int64(3) {
		t.Fatalf("without settle: %v rows, want 3", got[0][0])
	}

	// settle asks for a timestamp cursor.
	idSettle := litepull.Duration(time.Second)
	f2 := newFixture(t, h, litepull.TableConfig{Table: "recent", CursorColumn: "id", Settle: &idSettle})
	if r := result(t, f2.run(t, true), "recent"); !errors.Is(r.Err, litepull.ErrUnsupported) {
		t.Fatalf("settle on an integer cursor: %v, want ErrUnsupported", r.Err)
	}
}

// testFullRefreshSettle: a full refresh resumes incremental paging from a
// position inside the settle horizon, so a row that commits late (its
// cursor older than rows the copy saw) is still read.
func testFullRefreshSettle(t *testing.T, h Harness) {
	create(t, h, "events", "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+h.Type("ts"))
	h.Insert(t, "events", []string{"id", "updated_at"}, [][]any{{int64(1), h.Now(-time.Hour)}, {int64(2), h.Now(-time.Minute)}})
	settle := litepull.Duration(10 * time.Minute)
	f := newFixture(t, h, litepull.TableConfig{Table: "events", CursorColumn: "updated_at", Settle: &settle})
	f.runWith(t, litepull.RunOptions{Full: true})
	// A transaction that was open during the copy commits now; its row's
	// cursor is older than row 2, which the copy already has.
	h.Insert(t, "events", []string{"id", "updated_at"}, [][]any{{int64(3), h.Now(-5 * time.Minute)}})
	f.cfg.Tables[0].Settle = nil
	f.runWith(t, litepull.RunOptions{Drain: true})
	if got := f.rows(t, "SELECT id FROM events ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1)}, {int64(2)}, {int64(3)}}) {
		t.Fatalf("replica ids after a full refresh with settle and a late commit: %v, want 1, 2, 3", got)
	}
}

// Replicate drains every table of cfg from src into a fresh replica and
// fails tb if any table fails. For source packages' own type tests.
func Replicate(tb testing.TB, cfg litepull.SourceConfig, src litepull.Source) *replica.Replica {
	tb.Helper()
	r, err := replica.Open(filepath.Join(tb.TempDir(), "replica.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	c := litepull.Config{Replica: r.Path(), Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		tb.Fatalf("config: %v", err)
	}
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: c.Sources[0], Source: src}}, nil)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		tb.Fatal(err)
	}
	mustOK(tb, sum)
	return r
}

// CheckValues reads table from the replica, ordered by id (its first
// column), and checks it has n rows and that each column named in
// want[id] holds exactly that value (bytes compared by content).
func CheckValues(tb testing.TB, r *replica.Replica, table string, n int, want map[int64]map[string]any) {
	tb.Helper()
	cols, rows, err := r.Query(context.Background(), "SELECT * FROM "+table+" ORDER BY id")
	if err != nil {
		tb.Fatal(err)
	}
	if len(rows) != n {
		tb.Fatalf("replica has %d rows, want %d", len(rows), n)
	}
	for _, row := range rows {
		id := row[0].(int64)
		for i, c := range cols {
			w, ok := want[id][c]
			if !ok {
				continue
			}
			got := row[i]
			if wb, ok := w.([]byte); ok {
				if gb, isBytes := got.([]byte); !isBytes || !bytes.Equal(gb, wb) {
					tb.Errorf("row %d %s: got %T of %d bytes, want %d bytes", id, c, got, len(gb), len(wb))
				}
				continue
			}
			if !reflect.DeepEqual(got, w) {
				tb.Errorf("row %d %s = %#v, want %#v", id, c, got, w)
			}
		}
	}
}

// testKeyNotUnique: a configured primaryKey that the source does not hold
// unique would merge rows in the replica while the run counts them all; it
// is refused, and accepted once a unique index proves it.
func testKeyNotUnique(t *testing.T, h Harness) {
	create(t, h, "nk", "id "+h.Type("int")+" PRIMARY KEY", "grp "+h.Type("int"), "code "+h.Type("int"), "opt "+h.Type("int"))
	var rows [][]any
	for i := 1; i <= 30; i++ {
		var opt any = int64(i)
		if i%10 == 5 {
			opt = nil // a unique index lets many NULLs in
		}
		rows = append(rows, []any{int64(i), int64(i % 3), int64(1000 + i), opt})
	}
	h.Insert(t, "nk", []string{"id", "grp", "code", "opt"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "nk", CursorColumn: "id", PrimaryKey: []string{"grp"}})
	r := result(t, f.run(t, true), "nk")
	if !errors.Is(r.Err, litepull.ErrNoPrimaryKey) || !strings.Contains(r.Error, "not unique") {
		t.Fatalf("primaryKey [grp]: %v; want ErrNoPrimaryKey saying it is not unique", r.Err)
	}
	if got := f.rows(t, "SELECT count(*) FROM sqlite_schema WHERE name = 'nk'"); got[0][0] != int64(0) {
		t.Error("a replica table was made for a refused key")
	}
	// A unique index on code proves it; (grp, code) contains it, so is unique too.
	h.Exec(t, "CREATE UNIQUE INDEX nk_code ON nk (code)")
	f.cfg.Tables[0].PrimaryKey = []string{"grp", "code"}
	mustOK(t, f.run(t, true))
	if got := f.rows(t, "SELECT count(*) FROM nk"); got[0][0] != int64(30) {
		t.Fatalf("primaryKey [grp, code]: %v rows, want 30", got[0][0])
	}
	// A unique index on a column that holds NULLs does not make it a key:
	// the NULL rows are refused loudly, never merged or numbered.
	h.Exec(t, "CREATE UNIQUE INDEX nk_opt ON nk (opt)")
	f.cfg.Tables[0].PrimaryKey = []string{"opt"}
	r = result(t, f.run(t, true), "nk")
	if !errors.Is(r.Err, litepull.ErrNoPrimaryKey) || !strings.Contains(r.Error, "NULL in key column opt") {
		t.Fatalf("primaryKey [opt] with NULLs: %v; want ErrNoPrimaryKey naming the NULL key", r.Err)
	}
	if got := f.rows(t, "SELECT count(*) FROM nk"); got[0][0] != int64(30) {
		t.Fatalf("after the refused key: the replica has %v rows, want the 30 it had", got[0][0])
	}
}
