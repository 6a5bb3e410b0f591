package replica_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

func target(dest string, pk []string, cols ...string) *litepull.Target {
	t := &litepull.Target{SourceID: "s", SourceTable: "src_" + dest, Dest: dest, PrimaryKey: pk}
	for _, c := range cols {
		col := litepull.Column{Name: c, SourceType: "text", Affinity: litepull.AffText}
		if c == "id" {
			col.SourceType, col.Affinity = "bigint", litepull.AffInteger
		}
		t.Columns = append(t.Columns, col)
	}
	return t
}

func TestSeedStateTableIsMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	conn, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The seed plugin's table, with a row of its own.
	err = conn.Exec(`CREATE TABLE tmp_replication_state (source_id TEXT NOT NULL, table_name TEXT NOT NULL, cursor_column TEXT,
		cursor_value TEXT, last_run_ts TEXT, last_rows_pulled INTEGER, last_error TEXT, PRIMARY KEY (source_id, table_name));
		INSERT INTO tmp_replication_state VALUES ('prod', 'users', 'id', '41', '2025-01-01T00:00:00Z', 10, NULL);`)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.State(context.Background(), "prod", "users")
	if err != nil {
		t.Fatal(err)
	}
	if st.Watermark == nil || st.Watermark.Cursor != "41" || st.CursorColumn != "id" || st.NullCursorRows != -1 {
		t.Fatalf("seed state read as %+v (watermark %v); want to resume after cursor 41", st, st.Watermark)
	}
}

func TestCommitPageAndState(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	tg := target("t", []string{"id"}, "id", "v")
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	st := litepull.State{SourceID: "s", Table: "src_t", CursorColumn: "id", CursorValue: "2",
		Watermark: &litepull.Watermark{Cursor: int64(2), PK: []litepull.Value{int64(2)}}, RowsTotal: 2}
	if err := commitPage(ctx, r, tg, [][]litepull.Value{{int64(1), "a"}, {int64(2), "b"}}, st); err != nil {
		t.Fatal(err)
	}
	// Upsert: the same key again updates in place.
	if err := commitPage(ctx, r, tg, [][]litepull.Value{{int64(2), "B"}}, st); err != nil {
		t.Fatal(err)
	}
	_, rows, _ := r.Query(ctx, "SELECT id, v FROM t ORDER BY id")
	if want := [][]any{{int64(1), "a"}, {int64(2), "B"}}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows = %v, want %v", rows, want)
	}
	got, err := r.State(ctx, "s", "src_t")
	if err != nil || !reflect.DeepEqual(got.Watermark, st.Watermark) {
		t.Fatalf("state watermark = %v, %v; want %v", got.Watermark, err, st.Watermark)
	}

	// A page that cannot be stored leaves rows and state as they were.
	bad := litepull.State{SourceID: "s", Table: "src_t", Watermark: &litepull.Watermark{Cursor: int64(9), PK: []litepull.Value{int64(9)}}}
	err = commitPage(ctx, r, tg, [][]litepull.Value{{int64(3), "c"}, {int64(4), struct{}{}}}, bad)
	if err == nil {
		t.Fatal("a page with an unstorable value committed")
	}
	_, rows, _ = r.Query(ctx, "SELECT count(*) FROM t")
	if rows[0][0] != int64(2) {
		t.Fatalf("a failed page left %v rows, want 2", rows[0][0])
	}
	if got, _ := r.State(ctx, "s", "src_t"); !reflect.DeepEqual(got.Watermark, st.Watermark) {
		t.Fatalf("a failed page moved the watermark to %v", got.Watermark)
	}
}

func TestEnsureTableErrors(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.EnsureTable(ctx, target("t", []string{"id"}, "id", "v")); err != nil {
		t.Fatal(err)
	}
	for name, tg := range map[string]*litepull.Target{
		"OtherPrimaryKey": target("t", []string{"v"}, "id", "v"),
		"OtherSource":     {SourceID: "other", SourceTable: "src_t", Dest: "t", PrimaryKey: []string{"id"}, Columns: []litepull.Column{{Name: "id", Affinity: litepull.AffInteger}}},
		"ReservedName":    target("tmp_replication_state", []string{"id"}, "id"),
	} {
		if err := r.EnsureTable(ctx, tg); !errors.Is(err, litepull.ErrSchemaConflict) {
			t.Errorf("%s: %v, want ErrSchemaConflict", name, err)
		}
	}
	if err := r.EnsureTable(ctx, target("x y", []string{"id"}, "id")); !errors.Is(err, litepull.ErrBadIdentifier) {
		t.Errorf("bad dest: %v, want ErrBadIdentifier", err)
	}
}

func TestCloseTwice(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.States(context.Background()); err == nil {
		t.Fatal("States on a closed replica succeeded")
	}
}

// TestOpenRefusesForeignFile: a replica path that points at someone else's
// SQLite database is refused before anything in it changes; new files,
// litepull's own and the seed's state table are accepted.
func TestOpenRefusesForeignFile(t *testing.T) {
	cases := []struct {
		name, ddl string
		ok        bool
	}{
		{"Empty", "", true},
		{"AppTables", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)", false},
		{"OtherAppID", "PRAGMA application_id = 42", false},
		{"StateTableNotSeedShape", "CREATE TABLE tmp_replication_state (source_id TEXT, table_name TEXT, owner TEXT)", false},
		{"SeedStateTable", `CREATE TABLE tmp_replication_state (source_id TEXT NOT NULL, table_name TEXT NOT NULL, cursor_column TEXT,
			cursor_value TEXT, last_run_ts TEXT, last_rows_pulled INTEGER, last_error TEXT, PRIMARY KEY (source_id, table_name));
			CREATE TABLE users (id INTEGER PRIMARY KEY)`, true},
		{"UnmarkedLitepullReplica", `CREATE TABLE litepull_columns (dest_table TEXT NOT NULL, column_name TEXT NOT NULL, source_id TEXT NOT NULL,
			source_table TEXT NOT NULL, source_type TEXT NOT NULL, sqlite_type TEXT NOT NULL, ordinal INTEGER NOT NULL, is_pk INTEGER NOT NULL,
			PRIMARY KEY (dest_table, column_name));
			CREATE TABLE tmp_replication_state (source_id TEXT NOT NULL, table_name TEXT NOT NULL, cursor_column TEXT,
			cursor_value TEXT, last_run_ts TEXT, last_rows_pulled INTEGER, last_error TEXT, dest_table TEXT, watermark TEXT,
			PRIMARY KEY (source_id, table_name));
			CREATE TABLE users (id INTEGER PRIMARY KEY)`, true},
		{"SeedColumnsWithoutKey", `CREATE TABLE tmp_replication_state (source_id TEXT, table_name TEXT, cursor_column TEXT,
			cursor_value TEXT, last_run_ts TEXT, last_rows_pulled INTEGER, last_error TEXT)`, false},
		{"ForeignTableNamedLikeLitepulls", "CREATE TABLE litepull_columns (dest_table TEXT); CREATE TABLE mine (id INTEGER PRIMARY KEY)", false},
		{"UnmarkedLitepullReplicaWithStreams", `CREATE TABLE litepull_columns (dest_table TEXT NOT NULL, column_name TEXT NOT NULL, source_id TEXT NOT NULL,
			source_table TEXT NOT NULL, source_type TEXT NOT NULL, sqlite_type TEXT NOT NULL, ordinal INTEGER NOT NULL, is_pk INTEGER NOT NULL,
			PRIMARY KEY (dest_table, column_name));
			CREATE TABLE tmp_replication_state (source_id TEXT NOT NULL, table_name TEXT NOT NULL, cursor_column TEXT,
			cursor_value TEXT, last_run_ts TEXT, last_rows_pulled INTEGER, last_error TEXT, PRIMARY KEY (source_id, table_name));
			CREATE TABLE litepull_streams (source_id TEXT NOT NULL PRIMARY KEY, slot TEXT NOT NULL, position TEXT NOT NULL, commit_ts TEXT, applied_ts TEXT NOT NULL)`, true},
		{"SeedStateTableWithForeignStreams", `CREATE TABLE tmp_replication_state (source_id TEXT NOT NULL, table_name TEXT NOT NULL, cursor_column TEXT,
			cursor_value TEXT, last_run_ts TEXT, last_rows_pulled INTEGER, last_error TEXT, PRIMARY KEY (source_id, table_name));
			CREATE TABLE litepull_streams (id INTEGER PRIMARY KEY, note TEXT)`, false},
		{"OnlyStreamsTable", "CREATE TABLE litepull_streams (source_id TEXT NOT NULL PRIMARY KEY, slot TEXT NOT NULL, position TEXT NOT NULL, commit_ts TEXT, applied_ts TEXT NOT NULL)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			conn, err := sqlite3.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.ddl != "" {
				err = conn.Exec(c.ddl)
			}
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			before := fileBytes(t, path)
			r, err := replica.Open(path)
			if c.ok {
				if err != nil {
					t.Fatalf("open: %v; want it accepted", err)
				}
				r.Close()
				r, err = replica.Open(path) // marked now: opens again
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				r.Close()
				return
			}
			if err == nil {
				r.Close()
				t.Fatal("open succeeded; want ErrNotReplica")
			}
			if !errors.Is(err, litepull.ErrNotReplica) || !strings.Contains(err.Error(), "new file") {
				t.Fatalf("open: %v; want ErrNotReplica with a hint", err)
			}
			if after := fileBytes(t, path); after != before {
				t.Fatal("the foreign file changed")
			}
			if _, err := os.Stat(path + "-wal"); err == nil {
				t.Fatal("the foreign file was switched to WAL")
			}
		})
	}
}

func fileBytes(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

// TestUserTableIsNotADest: a table the user made in the replica file is
// never written or rebuilt by a source table whose dest names it; a table
// the seed's plugin filled (its state row says so) is adopted.
func TestUserTableIsNotADest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if _, _, err := r.Query(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	r.Close()
	conn, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Exec(`CREATE TABLE mytab (id INTEGER PRIMARY KEY, v TEXT, extra TEXT); INSERT INTO mytab VALUES (1, 'mine', 'keep');
		CREATE TABLE users (id INTEGER PRIMARY KEY, v TEXT);
		INSERT INTO tmp_replication_state (source_id, table_name, cursor_column, cursor_value) VALUES ('s', 'src_users', 'id', '1')`)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err = replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mine := target("mytab", []string{"id"}, "id", "v")
	if _, err := r.SchemaChange(ctx, mine); !errors.Is(err, litepull.ErrSchemaConflict) || !strings.Contains(err.Error(), "did not make") {
		t.Errorf("SchemaChange of the user's table: %v; want ErrSchemaConflict", err)
	}
	if err := r.EnsureTable(ctx, mine); !errors.Is(err, litepull.ErrSchemaConflict) {
		t.Errorf("EnsureTable of the user's table: %v; want ErrSchemaConflict", err)
	}
	if _, rows, _ := r.Query(ctx, "SELECT extra FROM mytab"); !reflect.DeepEqual(rows, [][]any{{"keep"}}) {
		t.Errorf("the user's table changed: %v", rows)
	}
	if err := r.EnsureTable(ctx, target("users", []string{"id"}, "id", "v")); err != nil {
		t.Errorf("EnsureTable of a table the seed filled: %v; want it adopted", err)
	}
}

// TestSwapKeepsUserIndexesAndTriggers: a full refresh (and so a rebuild for
// a schema change) makes the user's indexes and triggers again.
func TestSwapKeepsUserIndexesAndTriggers(t *testing.T) {
	r, err := replica.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	tg := target("t", []string{"id"}, "id", "v")
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Query(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	conn, err := sqlite3.Open(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Exec(`CREATE TABLE audit (v TEXT); CREATE INDEX t_v ON t (v);
		CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN INSERT INTO audit VALUES (new.v); END;`)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	shadow, err := r.BeginFull(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: shadow, Upserts: [][]litepull.Value{{int64(1), "a"}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.SwapFull(ctx, tg, shadow, litepull.State{SourceID: "s", Table: "src_t", NullCursorRows: -1}); err != nil {
		t.Fatal(err)
	}
	_, rows, _ := r.Query(ctx, "SELECT name FROM sqlite_schema WHERE tbl_name = 't' AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name")
	if !reflect.DeepEqual(rows, [][]any{{"t_audit"}, {"t_v"}}) {
		t.Fatalf("after the swap: %v, want the index t_v and the trigger t_audit", rows)
	}
}

// commitPage applies one table's rows with its state, as a polling page is.
func commitPage(ctx context.Context, r *replica.Replica, t *litepull.Target, rows [][]litepull.Value, st litepull.State) error {
	return r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: t, Upserts: rows}}, States: []litepull.State{st}})
}

// TestBatchIsAtomicAcrossTables: a batch touching two tables (as one source
// transaction of a change stream does) commits whole or not at all.
func TestBatchIsAtomicAcrossTables(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	a, b := target("a", []string{"id"}, "id", "v"), target("b", []string{"id"}, "id", "v")
	for _, tg := range []*litepull.Target{a, b} {
		if err := r.EnsureTable(ctx, tg); err != nil {
			t.Fatal(err)
		}
	}
	seed := litepull.Batch{Changes: []litepull.TableChanges{
		{Target: a, Upserts: [][]litepull.Value{{int64(1), "a1"}, {int64(2), "a2"}}},
		{Target: b, Upserts: [][]litepull.Value{{int64(1), "b1"}}},
	}}
	if err := r.Apply(ctx, seed); err != nil {
		t.Fatal(err)
	}
	bad := litepull.Batch{Changes: []litepull.TableChanges{
		{Target: a, Deletes: [][]litepull.Value{{int64(1)}}, Upserts: [][]litepull.Value{{int64(3), "a3"}}},
		{Target: b, Upserts: [][]litepull.Value{{int64(2), struct{}{}}}}, // cannot be stored
	}, States: []litepull.State{{SourceID: "s", Table: "src_a", NullCursorRows: -1, LastError: "x"}}}
	if err := r.Apply(ctx, bad); err == nil {
		t.Fatal("a batch with a value that cannot be stored was applied")
	}
	_, rows, _ := r.Query(ctx, "SELECT (SELECT group_concat(v) FROM (SELECT v FROM a ORDER BY id)), (SELECT group_concat(v) FROM b), (SELECT count(*) FROM tmp_replication_state)")
	if !reflect.DeepEqual(rows, [][]any{{"a1,a2", "b1", int64(0)}}) {
		t.Fatalf("after a failed batch: %v; want both tables and the state as they were", rows)
	}
}

// TestSwapsCommitWithTheBatch: a batch's swaps (a change stream's copies
// of several tables) replace their tables in the batch's transaction,
// before its changes; a batch that fails swaps nothing in.
func TestSwapsCommitWithTheBatch(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	a, b := target("a", []string{"id"}, "id", "v"), target("b", []string{"id"}, "id", "v")
	var swaps []litepull.Swap
	for _, tg := range []*litepull.Target{a, b} {
		if err := r.EnsureTable(ctx, tg); err != nil {
			t.Fatal(err)
		}
		if err := commitPage(ctx, r, tg, [][]litepull.Value{{int64(1), "old"}}, litepull.State{SourceID: "s", Table: tg.SourceTable, NullCursorRows: -1}); err != nil {
			t.Fatal(err)
		}
		shadow, err := r.BeginFull(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: shadow, Upserts: [][]litepull.Value{{int64(1), "copied"}}}}}); err != nil {
			t.Fatal(err)
		}
		swaps = append(swaps, litepull.Swap{Target: tg, Shadow: shadow, State: litepull.State{SourceID: "s", Table: tg.SourceTable, CursorValue: "S", NullCursorRows: -1}})
	}
	read := func() [][]any {
		_, rows, _ := r.Query(ctx, "SELECT (SELECT group_concat(v) FROM (SELECT v FROM a ORDER BY id)), (SELECT group_concat(v) FROM (SELECT v FROM b ORDER BY id)), (SELECT group_concat(cursor_value) FROM tmp_replication_state)")
		return rows
	}
	bad := litepull.Batch{Swaps: swaps, Changes: []litepull.TableChanges{{Target: b, Upserts: [][]litepull.Value{{int64(2), struct{}{}}}}}}
	if err := r.Apply(ctx, bad); err == nil {
		t.Fatal("a batch with a value that cannot be stored was applied")
	}
	if rows := read(); !reflect.DeepEqual(rows, [][]any{{"old", "old", nil}}) { // no positions
		t.Fatalf("after a failed batch with swaps: %v; want both tables as they were", rows)
	}
	good := litepull.Batch{Swaps: swaps, Changes: []litepull.TableChanges{{Target: b, Upserts: [][]litepull.Value{{int64(2), "after"}}}}}
	if err := r.Apply(ctx, good); err != nil {
		t.Fatal(err)
	}
	if rows := read(); !reflect.DeepEqual(rows, [][]any{{"copied", "copied,after", "S,S"}}) {
		t.Fatalf("after a batch with swaps: %v; want both copies in, then the batch's row, and their states", rows)
	}
}
