package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// writeRows commits rows 1, 2, 3, … of w, one per transaction, until ctx
// ends; last is the last id committed.
func writeRows(ctx context.Context, pg *testdb.PG, last *atomic.Int64) error {
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET search_path TO "+pg.Schema); err != nil {
		return err
	}
	for id := int64(1); ctx.Err() == nil; id++ {
		if _, err := conn.Exec(ctx, "INSERT INTO w (id) VALUES ($1)", id); err != nil {
			return ctx.Err()
		}
		last.Store(id)
	}
	return nil
}

// waitFor waits until cond holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSnapshotMatchesStream copies a table from a snapshot while a writer
// commits rows, then streams the same rows: the snapshot holds exactly the
// transactions its position Includes, the rest come from the stream.
func TestSnapshotMatchesStream(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE w (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
	e := newChangeEnv(t, pg, "w")
	cs := e.open(t)

	ctx, stop := context.WithCancel(context.Background())
	var last atomic.Int64
	done := make(chan error, 1)
	go func() { done <- writeRows(ctx, pg, &last) }()
	waitFor(t, "rows before the snapshot", func() bool { return last.Load() >= 20 })
	snap, err := cs.Snapshot(context.Background())
	if err != nil {
		stop()
		t.Fatal(err)
	}
	after := last.Load() + 20
	waitFor(t, "rows after the snapshot", func() bool { return last.Load() >= after })
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("writer: %v", err)
	}
	total := last.Load()

	copied := readAll(t, snap.Reader, "w")
	if n, err := snap.Reader.CountNullCursor(context.Background(), "w", "at"); err != nil || n != 0 {
		t.Errorf("CountNullCursor in the snapshot = %d, %v", n, err)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("close the snapshot: %v", err)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("close the snapshot twice: %v", err)
	}
	for id := 1; id <= len(copied); id++ {
		if !copied[fmt.Sprint(id)] {
			t.Fatalf("snapshot of %d rows lacks row %d: not a prefix of the commits", len(copied), id)
		}
	}
	if len(copied) < 20 || int64(len(copied)) > total-20 {
		t.Fatalf("snapshot has %d of %d rows, want at least 20 before it and 20 after", len(copied), total)
	}
	// The server drops the temporary slot once it sees the connection
	// closed, a moment after Close: a slot that stays is a leak.
	waitFor(t, "the snapshot's temporary slot to go", func() bool {
		var temp int
		pg.Conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE $1", e.opts.Slot+"_snap_%").Scan(&temp)
		return temp == 0
	})

	if err := cs.Start(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	included := 0
	for seen := int64(0); seen < total; {
		txn := readTxn(t, cs)
		for _, ev := range txn[1 : len(txn)-1] {
			if ev.Kind != litepull.ChangeInsert {
				continue
			}
			id := fmt.Sprint(ev.Row[0])
			in := cs.Includes(snap.Position, txn[0].Position)
			if in != copied[id] {
				t.Errorf("row %d: snapshot has it %v, snapshot at %s Includes its begin at %s %v", seen+1, copied[id], snap.Position, txn[0].Position, in)
			}
			if in {
				included++
			}
			seen++
		}
	}
	if included != len(copied) {
		t.Errorf("the snapshot Includes %d streamed rows, holds %d", included, len(copied))
	}
}

// readAll reads every row of table's id column through r, as a set.
func readAll(t *testing.T, r litepull.Source, table string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	schema, err := r.Describe(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.ReadPage(ctx, litepull.PageRequest{Schema: schema, Columns: []string{"id"}, Cursor: "id", PrimaryKey: []string{"id"}, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, row := range page.Rows {
		out[fmt.Sprint(row[0])] = true
	}
	return out
}

// TestSnapshotReadTimeout: a read inside a snapshot that waits on a lock
// fails at the read timeout.
func TestSnapshotReadTimeout(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE w (id bigint PRIMARY KEY, at timestamptz)")
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema, ReadTimeout: litepull.Duration(time.Second)}
	e := newChangeEnvConfig(t, pg, cfg, "w")
	cs := e.open(t)
	snap, err := cs.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	schema, err := snap.Reader.Describe(context.Background(), "w")
	if err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "BEGIN")
	pg.Exec(t, "LOCK TABLE w IN ACCESS EXCLUSIVE MODE")
	defer pg.Exec(t, "ROLLBACK")
	start := time.Now()
	_, err = snap.Reader.ReadPage(context.Background(), litepull.PageRequest{Schema: schema, Columns: []string{"id"}, Cursor: "id", PrimaryKey: []string{"id"}, Limit: 10})
	var te *litepull.TimeoutError
	if !errors.As(err, &te) || te.Op != litepull.OpRead {
		t.Fatalf("ReadPage behind a lock = %v, want a read timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("read timed out after %s, want about 1s", d)
	}
}
