package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
)

func fullSetup(t *testing.T, rows int) (*testdb.PG, litepull.SourceConfig, *replica.Replica) {
	t.Helper()
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, v text)")
	pg.Exec(t, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, $1::int) g", rows)
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema, PageSize: 100,
		Tables: []litepull.TableConfig{{Table: "t", Mode: litepull.ModeFull}}}
	c := litepull.Config{Replica: filepath.Join(t.TempDir(), "r.db"), Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(c.Replica)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return pg, c.Sources[0], r
}

// TestFullRefreshConcurrentReaders: a reader of the replica, on its own
// connection, sees the old table or the new one during full refreshes,
// never an empty or half-copied one.
func TestFullRefreshConcurrentReaders(t *testing.T) {
	pg, cfg, r := fullSetup(t, 3000)
	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	if sum, err := e.Run(context.Background(), litepull.RunOptions{}); err != nil || sum.Failed() > 0 {
		t.Fatalf("first full refresh: %v %+v", err, sum)
	}

	reader, err := sqlite3.OpenFlags(r.Path(), sqlite3.OPEN_READONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	reader.BusyTimeout(5e9)
	var stop atomic.Bool
	var wg sync.WaitGroup
	seen := map[int64]int{}
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			s, _, err := reader.Prepare("SELECT count(*) FROM t")
			if err != nil {
				readErr = err
				return
			}
			if s.Step() {
				seen[s.ColumnInt64(0)]++
			}
			if err := s.Err(); err != nil {
				readErr = err
			}
			s.Close()
		}
	}()
	counts := []int64{3000}
	for i := 0; i < 4; i++ {
		pg.Exec(t, "DELETE FROM t WHERE id % 4 = $1", i)
		if sum, err := e.Run(context.Background(), litepull.RunOptions{}); err != nil || sum.Failed() > 0 {
			t.Fatalf("full refresh %d: %v %+v", i, err, sum)
		}
		counts = append(counts, int64(3000-750*(i+1)))
	}
	stop.Store(true)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("reader: %v", readErr)
	}
	for n := range seen {
		ok := false
		for _, c := range counts {
			ok = ok || n == c
		}
		if !ok {
			t.Fatalf("a reader saw %d rows; every read must see one of %v (seen: %v)", n, counts, seen)
		}
	}
	if len(seen) < 2 {
		t.Logf("the reader saw only %v; the swap raced past it", seen)
	}
}

// failingSource fails on its third page.
type failingSource struct {
	litepull.Source
	pages int
}

var errInjected = errors.New("injected failure on page 3")

func (f *failingSource) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	if req.Descending {
		return f.Source.ReadPage(ctx, req)
	}
	f.pages++
	if f.pages == 3 {
		return nil, errInjected
	}
	return f.Source.ReadPage(ctx, req)
}

// TestFullRefreshFailureKeepsOldTable: a full refresh that fails midway
// leaves the replica table, its state and the schema as they were.
func TestFullRefreshFailureKeepsOldTable(t *testing.T) {
	pg, cfg, r := fullSetup(t, 500)
	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	good := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	if sum, err := good.Run(context.Background(), litepull.RunOptions{}); err != nil || sum.Failed() > 0 {
		t.Fatalf("first full refresh: %v %+v", err, sum)
	}
	ctx := context.Background()
	_, before, _ := r.Query(ctx, "SELECT id, v FROM t ORDER BY id")
	stBefore, _ := r.State(ctx, "pg", "t")

	pg.Exec(t, "DELETE FROM t WHERE id % 2 = 0")
	bad := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: &failingSource{Source: src}}}, nil)
	sum, err := bad.Run(ctx, litepull.RunOptions{})
	if err != nil || sum.Failed() != 1 || !errors.Is(sum.Tables[0].Err, errInjected) {
		t.Fatalf("failing full refresh: %v %+v", err, sum)
	}
	_, after, _ := r.Query(ctx, "SELECT id, v FROM t ORDER BY id")
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("the replica table changed after a failed full refresh: %d rows, had %d", len(after), len(before))
	}
	stAfter, _ := r.State(ctx, "pg", "t")
	if !stAfter.LastFullRefresh.Equal(stBefore.LastFullRefresh) || stAfter.RowsTotal != stBefore.RowsTotal || stAfter.LastError == "" {
		t.Fatalf("state after a failed full refresh: %+v (before %+v); want the same, with the error recorded", stAfter, stBefore)
	}
	_, shadows, _ := r.Query(ctx, "SELECT name FROM sqlite_schema WHERE name LIKE 'litepull_shadow_%'")
	if len(shadows) != 0 {
		t.Fatalf("shadow tables left behind: %v", shadows)
	}
}
