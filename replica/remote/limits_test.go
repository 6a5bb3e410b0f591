package remote_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/replica/remote"
	"github.com/litepull/litepull/source/sqlite"
)

// TestPagesFitOneRequest: on D1 (100 parameters a statement, 1,000
// statements a request) a 51-column table takes one row a statement, so
// a page of 5,000 rows (or of 993) cannot be one request: Apply refuses it whole, and
// the engine reads pages the replica's BatchLimits allow, each one
// request.
func TestPagesFitOneRequest(t *testing.T) {
	const width, n = 51, 993 // one row more than a page of 992
	srv := remotetest.NewD1(t)
	r := open(t, srv)
	src := sqlitetest.New(t)
	cols := make([]string, width)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d INTEGER", i)
	}
	cols[0] = "c0 INTEGER PRIMARY KEY"
	src.Exec(t, "CREATE TABLE wide ("+strings.Join(cols, ", ")+")")
	src.Exec(t, "INSERT INTO wide (c0) WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?) SELECT i FROM g", int64(n))
	cfg := litepull.Config{Replica: "unused", Sources: []litepull.SourceConfig{{ID: "src", Kind: "sqlite", DSN: src.Path, PageSize: 5000,
		Tables: []litepull.TableConfig{{Table: "wide", CursorColumn: "c0"}}}}}
	cfg.ApplyDefaults()
	s, err := sqlite.New(cfg.Sources[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	schema, err := s.Describe(context.Background(), "wide")
	if err != nil {
		t.Fatal(err)
	}
	tg := &litepull.Target{SourceID: "src", SourceTable: "wide", Dest: "wide", Columns: schema.Columns, PrimaryKey: []string{"c0"}}
	if err := r.EnsureTable(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	rows := make([][]litepull.Value, 1000) // and the guard and the sequence: 1,002 statements
	for i := range rows {
		rows[i] = make([]litepull.Value, width)
		rows[i][0] = int64(i + 1)
	}
	before := srv.Writes()
	err = r.Apply(context.Background(), litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows}}})
	if !errors.Is(err, remote.ErrBatchTooLarge) || srv.Writes() != before {
		t.Fatalf("a batch of %d rows x %d columns: %v, want ErrBatchTooLarge and nothing sent", len(rows), width, err)
	}

	sum, err := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg.Sources[0], Source: s}}, nil).Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil || sum.Tables[0].Error != "" || sum.Tables[0].RowsPulled != n || sum.Tables[0].Pages != 2 {
		t.Fatalf("run: %v %+v, want %d rows in 2 pages", err, sum.Tables, n)
	}
}

// TestKeptValues: a change stream's row that keeps a column's value (an
// unchanged TOASTed value) reads it from the replica's row in the same
// request; a row the replica lacks fails the request whole, naming the
// table, instead of writing NULL.
func TestKeptValues(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		srv := k.new(t)
		r := open(t, srv)
		tg := &litepull.Target{SourceID: "pg", SourceTable: "docs", Dest: "docs", PrimaryKey: []string{"id"},
			Columns: []litepull.Column{{Name: "id", SourceType: "bigint", Affinity: litepull.AffInteger}, {Name: "body", SourceType: "text", Affinity: litepull.AffText}, {Name: "n", SourceType: "bigint", Affinity: litepull.AffInteger}}}
		if err := r.EnsureTable(ctx, tg); err != nil {
			t.Fatal(err)
		}
		apply := func(rows ...[]litepull.Value) error {
			tx, err := r.Begin(ctx)
			if err != nil {
				return err
			}
			if err := tx.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows}}}); err != nil {
				return err
			}
			return tx.Commit()
		}
		if err := apply([]litepull.Value{int64(1), "long body", int64(1)}); err != nil {
			t.Fatal(err)
		}
		if err := apply([]litepull.Value{int64(1), litepull.Keep{}, int64(2)}); err != nil {
			t.Fatal(err)
		}
		res, _ := srv.Query("SELECT body, n FROM docs", nil)
		if fmt.Sprint(res.Rows) != "[[long body 2]]" {
			t.Fatalf("after a kept value: %v, want [[long body 2]]", res.Rows)
		}
		err := apply([]litepull.Value{int64(2), "other", int64(1)}, []litepull.Value{int64(3), litepull.Keep{}, int64(1)})
		var te *litepull.TableError
		if !errors.Is(err, litepull.ErrMissingRow) || !errors.As(err, &te) || te.Table != "docs" {
			t.Fatalf("keeping from a missing row: %v, want ErrMissingRow for docs", err)
		}
		res, _ = srv.Query("SELECT count(*) FROM docs", nil)
		if res.Rows[0][0] != int64(1) {
			t.Errorf("the failed request left %v rows, want 1", res.Rows[0][0])
		}
	})
}

// TestLargeSourceTransaction: a change stream's transaction is sent as one
// request at Commit; one that grows past what D1 takes in a request fails
// at the Apply that overflows it (holding nothing more), and nothing of it
// is written.
func TestLargeSourceTransaction(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.NewD1(t)
	r := open(t, srv)
	cols := []litepull.Column{{Name: "id", SourceType: "bigint", Affinity: litepull.AffInteger}}
	for i := 1; i < 51; i++ { // 51 columns: one row a statement
		cols = append(cols, litepull.Column{Name: fmt.Sprintf("c%d", i), SourceType: "bigint", Affinity: litepull.AffInteger})
	}
	tg := &litepull.Target{SourceID: "pg", SourceTable: "w", Dest: "w", PrimaryKey: []string{"id"}, Columns: cols}
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	rows := func(from int) [][]litepull.Value {
		out := make([][]litepull.Value, 600)
		for i := range out {
			out[i] = make([]litepull.Value, len(cols))
			out[i][0] = int64(from + i)
		}
		return out
	}
	before := srv.Writes()
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows(0)}}}); err != nil {
		t.Fatalf("first 600 rows: %v", err)
	}
	err = tx.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows(600)}}})
	if !errors.Is(err, remote.ErrBatchTooLarge) {
		t.Fatalf("1,200 rows in one transaction: %v, want ErrBatchTooLarge", err)
	}
	if err := tx.Commit(); !errors.Is(err, remote.ErrBatchTooLarge) || srv.Writes() != before {
		t.Fatalf("commit: %v, %d requests ran; want ErrBatchTooLarge and none", err, srv.Writes()-before)
	}
}
