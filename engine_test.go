package litepull_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/sqlite"
)

// sourceFile makes a SQLite source database with one table of n rows.
func sourceFile(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "src.db")
	c, err := sqlite3.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	err = c.Exec(fmt.Sprintf(`CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
		WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d)
		INSERT INTO t SELECT i, i %% 4, 'v' || i FROM g;`, n))
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

func newEngine(tb testing.TB, srcPath string, tables ...litepull.TableConfig) (*litepull.Engine, *replica.Replica) {
	tb.Helper()
	cfg := litepull.Config{Replica: filepath.Join(tb.TempDir(), "r.db"), Sources: []litepull.SourceConfig{
		{ID: "s", Kind: "sqlite", DSN: srcPath, PageSize: 10, Tables: tables}}}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	r, err := replica.Open(cfg.Replica)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	src, err := sqlite.New(cfg.Sources[0])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	return litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg.Sources[0], Source: src}}, nil), r
}

func TestErrCursorChanged(t *testing.T) {
	path := sourceFile(t, 30)
	e, r := newEngine(t, path, litepull.TableConfig{Table: "t", CursorColumn: "id"})
	if _, err := e.Run(context.Background(), litepull.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// Same replica, the config now pages on another column.
	cfg := e.Sources()[0]
	cfg.Config.Tables = []litepull.TableConfig{{Table: "t", CursorColumn: "k"}}
	e2 := litepull.NewEngine(r, []litepull.BoundSource{cfg}, nil)
	sum, err := e2.Run(context.Background(), litepull.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := sum.Tables[0]
	if !errors.Is(res.Err, litepull.ErrCursorChanged) || !strings.Contains(res.Error, "reset") {
		t.Fatalf("error = %v, want ErrCursorChanged with a hint to reset", res.Err)
	}
	if err := r.ResetState(context.Background(), "s", "t"); err != nil {
		t.Fatal(err)
	}
	sum, _ = e2.Run(context.Background(), litepull.RunOptions{Drain: true})
	if sum.Failed() != 0 || sum.Tables[0].RowsPulled != 30 {
		t.Fatalf("after reset: %+v", sum.Tables[0])
	}
}

func TestRunFilters(t *testing.T) {
	e, _ := newEngine(t, sourceFile(t, 5), litepull.TableConfig{Table: "t", CursorColumn: "id"})
	if _, err := e.Run(context.Background(), litepull.RunOptions{Table: "nope"}); err == nil {
		t.Fatal("a run for an unknown table succeeded")
	}
	sum, err := e.Run(context.Background(), litepull.RunOptions{SourceID: "s", Table: "t"})
	if err != nil || len(sum.Tables) != 1 || sum.Tables[0].RowsPulled != 5 {
		t.Fatalf("filtered run: %+v, %v", sum, err)
	}
}

func TestRunCancelled(t *testing.T) {
	e, r := newEngine(t, sourceFile(t, 1000), litepull.TableConfig{Table: "t", CursorColumn: "id"})
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	_, err := e.Run(ctx, litepull.RunOptions{Drain: true, Progress: func(litepull.Progress) {
		if pages++; pages == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	st, _ := r.State(context.Background(), "s", "t")
	_, rows, _ := r.Query(context.Background(), "SELECT count(*) FROM t")
	if st.LastError != "" || st.RowsTotal != rows[0][0].(int64) || st.RowsTotal%10 != 0 || st.RowsTotal == 1000 {
		t.Fatalf("after cancel: state %+v, %v rows; want whole pages, no error recorded", st, rows[0][0])
	}
}

// TestConcurrentRunsDoNotInterleave runs the same table from two goroutines:
// each page is applied once, the watermark only moves forward.
func TestConcurrentRunsDoNotInterleave(t *testing.T) {
	e, r := newEngine(t, sourceFile(t, 500), litepull.TableConfig{Table: "t", CursorColumn: "k"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				sum, err := e.Run(context.Background(), litepull.RunOptions{})
				if err != nil || sum.Failed() > 0 {
					t.Errorf("run: %v %+v", err, sum)
					return
				}
				mu.Lock()
				total += sum.RowsPulled()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st, _ := r.State(context.Background(), "s", "t")
	if total != 500 || st.RowsTotal != 500 {
		t.Fatalf("rows pulled over all runs %d, state total %d; want 500 each (no page read twice)", total, st.RowsTotal)
	}
}

func mustExec(path, sql string) {
	c, err := sqlite3.Open(path)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.BusyTimeout(10 * time.Second); err != nil {
		panic(err)
	}
	if err := c.Exec(sql); err != nil {
		panic(err)
	}
}

func TestLookbackMustFitTheCursor(t *testing.T) {
	path := sourceFile(t, 10)
	lb := litepull.Lookback{Duration: time.Minute}
	e, r := newEngine(t, path, litepull.TableConfig{Table: "t", CursorColumn: "id", Lookback: &lb})
	sum, err := e.Run(context.Background(), litepull.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res := sum.Tables[0]; !errors.Is(res.Err, litepull.ErrUnsupported) || !strings.Contains(res.Error, "lookback") {
		t.Fatalf("a duration lookback on an integer cursor: %v, want ErrUnsupported", res.Err)
	}
	// The same lookback source-wide is simply not applied to this table.
	bs := e.Sources()[0]
	bs.Config.Lookback = lb
	bs.Config.Tables = []litepull.TableConfig{{Table: "t", CursorColumn: "id"}}
	e2 := litepull.NewEngine(r, []litepull.BoundSource{bs}, nil)
	for i := 0; i < 2; i++ { // the second run starts caught up: a lookback would apply
		sum, err := e2.Run(context.Background(), litepull.RunOptions{Drain: true})
		if err != nil || sum.Failed() > 0 {
			t.Fatalf("run %d with a source-wide duration lookback on an integer cursor: %v %+v", i, err, sum.Tables)
		}
	}
}

// TestStaleShadowDropped: a full refresh killed before its swap leaves its
// shadow table behind; the next run of the table, of any kind, drops it.
func TestStaleShadowDropped(t *testing.T) {
	path := sourceFile(t, 30)
	e, r := newEngine(t, path, litepull.TableConfig{Table: "t", CursorColumn: "id"})
	if sum, err := e.Run(context.Background(), litepull.RunOptions{}); err != nil || sum.Failed() > 0 {
		t.Fatalf("first run: %v %+v", err, sum)
	}
	r.Close()
	mustExec(r.Path(), "CREATE TABLE litepull_shadow_t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)")

	r2, err := replica.Open(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	e2 := litepull.NewEngine(r2, e.Sources(), nil)
	if sum, err := e2.Run(context.Background(), litepull.RunOptions{}); err != nil || sum.Failed() > 0 {
		t.Fatalf("incremental run: %v %+v", err, sum)
	}
	_, rows, err := r2.Query(context.Background(), "SELECT name FROM sqlite_schema WHERE name LIKE 'litepull_shadow_%'")
	if err != nil || len(rows) != 0 {
		t.Fatalf("shadow tables after an incremental run: %v %v; want none", rows, err)
	}
}

// TestDestRenamedStartsFromScratch: renaming dest after a first run fills
// the new replica table completely; the old state was for the old table.
func TestDestRenamedStartsFromScratch(t *testing.T) {
	path := sourceFile(t, 151)
	e, r := newEngine(t, path, litepull.TableConfig{Table: "t", CursorColumn: "id"})
	if sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil || sum.Failed() > 0 {
		t.Fatalf("first run: %v %+v", err, sum)
	}
	bs := e.Sources()[0]
	bs.Config.Tables = []litepull.TableConfig{{Table: "t", CursorColumn: "id", Dest: "t_copy"}}
	e2 := litepull.NewEngine(r, []litepull.BoundSource{bs}, nil)
	if sum, err := e2.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil || sum.Failed() > 0 {
		t.Fatalf("run after the rename: %v %+v", err, sum)
	}
	_, rows, err := r.Query(context.Background(), "SELECT count(*) FROM t_copy")
	if err != nil || rows[0][0] != int64(151) {
		t.Fatalf("renamed dest has %v rows (%v); want all 151", rows, err)
	}

	// Back to the first name, after rows were deleted at the source: the
	// old table is replaced by a full copy, not upserted into.
	mustExec(bs.Config.DSN, "DELETE FROM t WHERE id <= 100")
	e3 := litepull.NewEngine(r, []litepull.BoundSource{e.Sources()[0]}, nil)
	if sum, err := e3.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil || sum.Failed() > 0 {
		t.Fatalf("run after renaming back: %v %+v", err, sum)
	}
	_, rows, _ = r.Query(context.Background(), "SELECT count(*) FROM t")
	if rows[0][0] != int64(51) {
		t.Fatalf("dest renamed back has %v rows; want the source's 51", rows[0][0])
	}
}

// TestDestClashesAcrossSources: two discovered sources with a table of the
// same name (in any case) into one replica: validate and run both refuse
// the second, naming the first.
func TestDestClashesAcrossSources(t *testing.T) {
	a, b := sourceFile(t, 5), sourceFile(t, 7)
	cfg := litepull.Config{Replica: filepath.Join(t.TempDir(), "r.db"), Sources: []litepull.SourceConfig{
		{ID: "a", Kind: "sqlite", DSN: a}, {ID: "b", Kind: "sqlite", DSN: b}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(cfg.Replica)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var bound []litepull.BoundSource
	for _, sc := range cfg.Sources {
		src, err := sqlite.New(sc)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		bound = append(bound, litepull.BoundSource{Config: sc, Source: src})
	}
	e := litepull.NewEngine(r, bound, nil)
	checks := e.Check(context.Background())
	if len(checks) != 2 || checks[0].Error != "" || !strings.Contains(checks[1].Error, "also the destination of a/t") {
		t.Fatalf("validate: %+v; want the second source's t refused, naming a/t", checks)
	}
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed() != 1 || sum.Tables[0].Error != "" || !errors.Is(sum.Tables[1].Err, litepull.ErrSchemaConflict) {
		t.Fatalf("run: %+v; want a/t replicated and b/t refused", sum.Tables)
	}
	_, rows, _ := r.Query(context.Background(), "SELECT count(*) FROM t")
	if rows[0][0] != int64(5) {
		t.Fatalf("replica t has %v rows; want source a's 5", rows[0][0])
	}
}

// TestNonIntegerInIntegerKey: a SQLite source may hold text in an INT key;
// the replica's INTEGER key cannot, and the error says which key and what
// to do.
func TestNonIntegerInIntegerKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "src.db")
	mustExec(path, "CREATE TABLE s (id INT PRIMARY KEY, v TEXT); INSERT INTO s VALUES (1, 'a'), ('abc', 'b')")
	e, _ := newEngine(t, path, litepull.TableConfig{Table: "s", CursorColumn: "v"})
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := sum.Tables[0]; !strings.Contains(r.Error, "key id = abc is not an integer") {
		t.Fatalf("error = %q; want it to name the key value that is not an integer", r.Error)
	}
}

// TestKeyContainingTheRowid: a primaryKey that contains SQLite's INTEGER
// PRIMARY KEY (the rowid, which no index lists) is unique and accepted.
func TestKeyContainingTheRowid(t *testing.T) {
	path := sourceFile(t, 20)
	e, _ := newEngine(t, path, litepull.TableConfig{Table: "t", CursorColumn: "id", PrimaryKey: []string{"id", "k"}})
	if sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil || sum.Failed() > 0 {
		t.Fatalf("primaryKey [id, k]: %v %+v", err, sum)
	}
}

// TestDestCaseChangeIsNotASchemaChange: dest Users, then users (one SQLite
// table): the column metadata keeps one spelling, and later runs copy
// nothing whole.
func TestDestCaseChangeIsNotASchemaChange(t *testing.T) {
	path := sourceFile(t, 20)
	e, r := newEngine(t, path, litepull.TableConfig{Table: "t", CursorColumn: "id", Dest: "Users"})
	if sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil || sum.Failed() > 0 {
		t.Fatalf("first run: %v %+v", err, sum)
	}
	bs := e.Sources()[0]
	bs.Config.Tables = []litepull.TableConfig{{Table: "t", CursorColumn: "id", Dest: "users"}}
	for i := 0; i < 3; i++ {
		r2, err := replica.Open(r.Path()) // a new process: nothing cached
		if err != nil {
			t.Fatal(err)
		}
		sum, err := litepull.NewEngine(r2, []litepull.BoundSource{bs}, nil).Run(context.Background(), litepull.RunOptions{Drain: true})
		r2.Close()
		if err != nil || sum.Failed() > 0 || sum.Tables[0].FullRefresh {
			t.Fatalf("run %d with dest users: %v %+v; want an incremental run", i, err, sum.Tables)
		}
	}
}
