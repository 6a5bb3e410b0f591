package streamtest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/mysql"
	"github.com/litepull/litepull/source/postgres"
)

// streamConfig is a logical source over the test's schema, with a slot
// and publication of its own that the test drops at its end.
func streamConfig(t *testing.T, pg *testdb.PG, id string, tables ...litepull.TableConfig) litepull.SourceConfig {
	t.Helper()
	cfg := litepull.SourceConfig{ID: id, Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema,
		Changes: litepull.ChangesLogical, Slot: pg.Schema + "_" + id, Publication: pg.Schema + "_" + id, Tables: tables}
	c := litepull.Config{Replica: "unused.db", Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSlot(t, c.Sources[0]) })
	return c.Sources[0]
}

// dropSlot removes a test's slot and publication: a slot left behind
// would keep WAL on this machine for ever.
func dropSlot(t *testing.T, cfg litepull.SourceConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := postgres.New(cfg)
	if err != nil {
		t.Error(err)
		return
	}
	defer src.Close()
	for i := 0; ; i++ { // a killed child's walsender may take a moment to go
		err = src.DropChanges(ctx, cfg.ChangeOptions(nil))
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("drop slot %s: %v", cfg.Slot, err)
	}
}

// engine opens the replica file and an engine over the sources.
func engine(t testing.TB, file string, cfgs ...litepull.SourceConfig) (*litepull.Engine, *replica.Replica) {
	t.Helper()
	r, err := replica.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var bound []litepull.BoundSource
	for _, cfg := range cfgs {
		src, err := openSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		bound = append(bound, litepull.BoundSource{Config: cfg, Source: src})
	}
	return litepull.NewEngine(r, bound, nil), r
}

// openSource opens a postgres or mysql source.
func openSource(cfg litepull.SourceConfig) (litepull.Source, error) {
	if cfg.Kind == "mysql" {
		return mysql.New(cfg)
	}
	return postgres.New(cfg)
}

// drain runs the engine until it holds what the source had at the start,
// failing on any table error.
func drain(t testing.TB, e *litepull.Engine) *litepull.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := e.Run(ctx, litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Tables {
		if r.Err != nil {
			t.Fatalf("%s/%s: %v", r.SourceID, r.Table, r.Err)
		}
	}
	return sum
}

func connect(t testing.TB, pg *testdb.PG) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), "SET search_path TO "+pg.Schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// sourceRows reads a query's rows at the source as text (NULL as nil).
func sourceRows(t testing.TB, pg *testdb.PG, q string) [][]any {
	t.Helper()
	rows, err := pg.Conn.Query(context.Background(), q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]any, len(raw))
		for i, v := range raw {
			if v != nil {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// replicaRows reads a query's rows from a replica file with a connection
// of its own, as text (NULL as nil).
func replicaRows(t testing.TB, file, q string) [][]any {
	t.Helper()
	out, err := tryReplicaRows(file, q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryReplicaRows is replicaRows that returns its error.
func tryReplicaRows(file, q string) ([][]any, error) {
	c, err := sqlite3.OpenFlags(file, sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, _, err := c.Prepare(q)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out [][]any
	for s.Step() {
		row := make([]any, s.ColumnCount())
		for i := range row {
			if s.ColumnType(i) != sqlite3.NULL {
				row[i] = s.ColumnText(i)
			}
		}
		out = append(out, row)
	}
	return out, s.Err()
}

// sameRows compares the source's and the replica's rows of one query.
func sameRows(t testing.TB, pg *testdb.PG, file, q string) {
	t.Helper()
	want, got := sourceRows(t, pg, q), replicaRows(t, file, q)
	if !reflect.DeepEqual(want, got) {
		n := min(len(want), len(got))
		for i := 0; i < n; i++ {
			if !reflect.DeepEqual(want[i], got[i]) {
				t.Fatalf("%s: %d source rows, %d replica rows; first difference at row %d:\nsource  %v\nreplica %v", q, len(want), len(got), i, want[i], got[i])
			}
		}
		t.Fatalf("%s: %d source rows, %d replica rows", q, len(want), len(got))
	}
}

func replicaFile(t testing.TB) string { return filepath.Join(t.TempDir(), "replica.db") }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func tableConfig(name string) litepull.TableConfig { return litepull.TableConfig{Table: name} }
