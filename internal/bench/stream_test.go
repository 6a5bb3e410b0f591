package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/litepull/litepull/internal/bench"
	"github.com/litepull/litepull/internal/testdb"
)

// TestStreamPhases runs each stream phase of litepull bench -stream on a
// small Postgres table: each applies every row it should (they check the
// replica themselves) and, once its slot is dropped, leaves neither slot
// nor publication at the source. Speed is the benchmark's business, not
// this test's.
func TestStreamPhases(t *testing.T) {
	pg := testdb.Postgres(t)
	slot := func(t *testing.T, phase string) string {
		name := pg.Schema + "_" + phase
		t.Cleanup(func() { dropped(t, pg, name) })
		return name
	}
	streamPhases(t, "postgres", pg.DSN, pg.Schema, bench.Prepare, slot)
}

// TestStreamPhasesMySQL runs them on a MySQL/MariaDB table (changes:
// binlog), each phase with a binlog server id of its own.
func TestStreamPhasesMySQL(t *testing.T) {
	my := testdb.MySQL(t)
	slot := func(t *testing.T, phase string) string { return my.Database + "_" + phase }
	streamPhases(t, "mysql", my.DSN, my.Database, bench.PrepareMySQL, slot)
}

func streamPhases(t *testing.T, kind, dsn, schema string, prepare func(context.Context, string, string, int) error, slot func(*testing.T, string) string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rows = 2000
	if err := prepare(ctx, dsn, schema, rows); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Run("Snapshot", func(t *testing.T) {
		res, err := bench.Snapshot(ctx, dir, kind, dsn, schema, slot(t, "snapshot"), 500)
		if err != nil || res.Rows != rows {
			t.Fatalf("copied %d rows, want %d: %v", res.Rows, rows, err)
		}
	})
	t.Run("OneTransaction", func(t *testing.T) {
		res, err := bench.BigTx(ctx, dir, kind, dsn, schema, slot(t, "bigtx"))
		if err != nil || res.Rows != rows {
			t.Fatalf("applied %d rows, want %d: %v", res.Rows, rows, err)
		}
	})
	t.Run("SingleRowCommits", func(t *testing.T) {
		res, err := bench.Commits(ctx, dir, kind, dsn, schema, slot(t, "commits"), 300, 3)
		if err != nil || res.Commits != 300 || res.Clients != 3 {
			t.Fatalf("%+v: %v", res, err)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		res, err := bench.Latency(ctx, dir, kind, dsn, schema, slot(t, "latency"), 200, 2, time.Second)
		if err != nil || res.Commits != 200 {
			t.Fatalf("%+v: %v", res, err)
		}
		if res.P50 > res.P99 || res.P99 > res.Max {
			t.Errorf("percentiles out of order: p50 %s, p99 %s, max %s", res.P50, res.P99, res.Max)
		}
	})
}

// dropped drops a phase's slot and publication and checks that they are
// gone.
func dropped(t *testing.T, pg *testdb.PG, slot string) {
	t.Helper()
	ctx := context.Background()
	if err := bench.DropStream(ctx, "postgres", pg.DSN, pg.Schema, slot); err != nil {
		t.Fatalf("drop %s: %v", slot, err)
	}
	var left int
	q := "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1) + (SELECT count(*) FROM pg_publication WHERE pubname = $1)"
	if err := pg.Conn.QueryRow(ctx, q, slot).Scan(&left); err != nil || left != 0 {
		t.Errorf("after DropStream, %d slot(s) and publication(s) named %s are left: %v", left, slot, err)
	}
}
