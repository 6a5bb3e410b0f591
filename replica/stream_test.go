package replica_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
	"github.com/litepull/litepull/replica"
)

// newFileReplica opens a replica file in a temporary directory with the
// tables tgs.
func newFileReplica(tb testing.TB, tgs ...*litepull.Target) *replica.Replica {
	tb.Helper()
	r := openReplica(tb, filepath.Join(tb.TempDir(), "r.db"))
	for _, tg := range tgs {
		if err := r.EnsureTable(context.Background(), tg); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// reader opens a second, read-only connection to the replica file, as
// another process reading it would.
func reader(tb testing.TB, r *replica.Replica) *sqlite3.Conn {
	tb.Helper()
	c, err := sqlitex.OpenReadOnly(r.Path())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// rowsOf runs q on c.
func rowsOf(tb testing.TB, c *sqlite3.Conn, q string) [][]any {
	tb.Helper()
	_, rows, err := sqlitex.QueryAll(c, q)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// query runs q on the replica's own connection.
func query(tb testing.TB, r *replica.Replica, q string) [][]any {
	tb.Helper()
	_, rows, err := r.Query(context.Background(), q)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

func upserts(tg *litepull.Target, rows ...[]litepull.Value) litepull.Batch {
	return litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows}}}
}

func row(vals ...litepull.Value) []litepull.Value { return vals }

// TestTxCommitsAtOnce: the Applies of one transaction are invisible to
// another connection until Commit, then visible together.
func TestTxCommitsAtOnce(t *testing.T) {
	a, b := target("a", []string{"id"}, "id", "v"), target("b", []string{"id"}, "id", "v")
	r := newFileReplica(t, a, b)
	ctx := context.Background()
	other := reader(t, r)
	const count = "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM litepull_streams)"

	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, batch := range []litepull.Batch{
		upserts(a, row(int64(1), "a1"), row(int64(2), "a2")),
		upserts(b, row(int64(1), "b1")),
		{Changes: []litepull.TableChanges{{Target: a, Deletes: [][]litepull.Value{{int64(1)}}}},
			Stream: &litepull.StreamState{SourceID: "s", Slot: "slot", Position: "0/10"}},
	} {
		if err := tx.Apply(ctx, batch); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if got := rowsOf(t, other, count); !reflect.DeepEqual(got, [][]any{{int64(0), int64(0), int64(0)}}) {
			t.Fatalf("after apply %d another connection sees %v; want nothing before Commit", i, got)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, other, count); !reflect.DeepEqual(got, [][]any{{int64(1), int64(1), int64(1)}}) {
		t.Fatalf("after Commit another connection sees %v; want a: 1 row, b: 1 row, 1 stream", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit: %v; want nothing done", err)
	}
	if err := tx.Apply(ctx, upserts(a, row(int64(3), "a3"))); err == nil {
		t.Fatal("Apply after Commit succeeded")
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("a second Commit succeeded")
	}
	if got := query(t, r, "SELECT id, v FROM a"); !reflect.DeepEqual(got, [][]any{{int64(2), "a2"}}) {
		t.Fatalf("a = %v; want only (2, a2)", got)
	}
}

// TestTxRollback: a rolled back transaction leaves rows, states and stream
// states as they were, and the replica takes the next call.
func TestTxRollback(t *testing.T) {
	tg := target("t", []string{"id"}, "id", "v")
	r := newFileReplica(t, tg)
	ctx := context.Background()
	if err := r.Apply(ctx, upserts(tg, row(int64(1), "old"))); err != nil {
		t.Fatal(err)
	}
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := litepull.Batch{
		Changes: []litepull.TableChanges{{Target: tg, Truncate: true, Upserts: [][]litepull.Value{{int64(2), "new"}}}},
		States:  []litepull.State{{SourceID: "s", Table: "src_t", NullCursorRows: -1}},
		Stream:  &litepull.StreamState{SourceID: "s", Slot: "slot", Position: "0/10"},
	}
	if err := tx.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("second Rollback: %v", err)
	}
	got := query(t, r, "SELECT (SELECT group_concat(v) FROM t), (SELECT count(*) FROM tmp_replication_state), (SELECT count(*) FROM litepull_streams)")
	if !reflect.DeepEqual(got, [][]any{{"old", int64(0), int64(0)}}) {
		t.Fatalf("after Rollback: %v; want the old row, no state, no stream", got)
	}
}

// TestTxFailedApply: after an Apply fails (a value SQLite cannot store, a
// driver panic, an interrupted context) the transaction commits nothing,
// not even its earlier Applies, and the replica works on.
func TestTxFailedApply(t *testing.T) {
	fail := map[string]func(ctx context.Context, tx litepull.ReplicaTx, tg *litepull.Target) error{
		"BadValue": func(ctx context.Context, tx litepull.ReplicaTx, tg *litepull.Target) error {
			return tx.Apply(ctx, upserts(tg, row(int64(3), struct{}{})))
		},
		"DriverPanic": func(ctx context.Context, tx litepull.ReplicaTx, tg *litepull.Target) error {
			replica.SetTestHookAfterRow(func() { panic(errors.New("sqlite3: out of memory")) })
			defer replica.SetTestHookAfterRow(nil)
			return tx.Apply(ctx, upserts(tg, row(int64(3), "c")))
		},
		"Interrupted": func(ctx context.Context, tx litepull.ReplicaTx, tg *litepull.Target) error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return tx.Apply(ctx, upserts(tg, row(int64(3), "c")))
		},
	}
	for name, f := range fail {
		t.Run(name, func(t *testing.T) {
			tg := target("t", []string{"id"}, "id", "v")
			r := newFileReplica(t, tg)
			ctx := context.Background()
			tx, err := r.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Apply(ctx, upserts(tg, row(int64(1), "a"))); err != nil {
				t.Fatal(err)
			}
			if err := f(ctx, tx, tg); err == nil {
				t.Fatal("the failing Apply succeeded")
			}
			if err := tx.Apply(ctx, upserts(tg, row(int64(2), "b"))); err == nil {
				t.Fatal("Apply after a failed Apply succeeded")
			}
			if err := tx.Commit(); err == nil {
				t.Fatal("Commit after a failed Apply succeeded")
			}
			if err := tx.Rollback(); err != nil {
				t.Fatalf("Rollback: %v", err)
			}
			if got := query(t, r, "SELECT count(*) FROM t"); got[0][0] != int64(0) {
				t.Fatalf("the failed transaction left %v rows", got[0][0])
			}
			if err := r.Apply(ctx, upserts(tg, row(int64(4), "d"))); err != nil {
				t.Fatalf("Apply after the failed transaction: %v", err)
			}
			if got := query(t, r, "SELECT id FROM t"); !reflect.DeepEqual(got, [][]any{{int64(4)}}) {
				t.Fatalf("rows = %v; want only 4", got)
			}
		})
	}
}

// TestApplyWaitsForOpenTx: another goroutine's call waits until the open
// transaction ends, then runs.
func TestApplyWaitsForOpenTx(t *testing.T) {
	tg := target("t", []string{"id"}, "id", "v")
	r := newFileReplica(t, tg)
	ctx := context.Background()
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, upserts(tg, row(int64(1), "tx"))); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Apply(ctx, upserts(tg, row(int64(1), "other"), row(int64(2), "other"))) }()
	select {
	case err := <-done:
		t.Fatalf("Apply ran while a transaction was open (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := tx.Apply(ctx, upserts(tg, row(int64(3), "tx"))); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting Apply: %v", err)
	}
	want := [][]any{{int64(1), "other"}, {int64(2), "other"}, {int64(3), "tx"}}
	if got := query(t, r, "SELECT id, v FROM t ORDER BY id"); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows = %v; want %v (the transaction, then the waiting Apply)", got, want)
	}
}

// TestTruncate: a truncate empties the table before the upserts and
// deletes of its entry; other tables and entries are untouched.
func TestTruncate(t *testing.T) {
	a, b := target("a", []string{"id"}, "id", "v"), target("b", []string{"id"}, "id", "v")
	r := newFileReplica(t, a, b)
	ctx := context.Background()
	seed := litepull.Batch{Changes: []litepull.TableChanges{
		{Target: a, Upserts: [][]litepull.Value{{int64(1), "a1"}, {int64(2), "a2"}, {int64(3), "a3"}}},
		{Target: b, Upserts: [][]litepull.Value{{int64(1), "b1"}}},
	}}
	if err := r.Apply(ctx, seed); err != nil {
		t.Fatal(err)
	}
	batch := litepull.Batch{Changes: []litepull.TableChanges{
		{Target: a, Upserts: [][]litepull.Value{{int64(9), "gone"}}},
		{Target: a, Truncate: true, Upserts: [][]litepull.Value{{int64(2), "new2"}, {int64(4), "new4"}}, Deletes: [][]litepull.Value{{int64(4)}}},
		{Target: a, Upserts: [][]litepull.Value{{int64(5), "new5"}}},
	}}
	if err := r.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got := query(t, r, "SELECT (SELECT group_concat(v) FROM (SELECT v FROM a ORDER BY id)), (SELECT group_concat(v) FROM b)")
	if want := [][]any{{"new2,new5", "b1"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after the truncate: %v; want %v", got, want)
	}
}

// keepTarget is a table whose column big a change stream may not send.
func keepTarget() *litepull.Target { return target("k", []string{"id"}, "id", "v", "big") }

// TestKeep: a Keep value keeps the replica's value of its column.
func TestKeep(t *testing.T) {
	ctx := context.Background()
	seeded := func(t *testing.T, tg *litepull.Target) *replica.Replica {
		r := newFileReplica(t, tg)
		if err := r.Apply(ctx, upserts(tg, row(int64(1), "a", "BIG1"), row(int64(2), "b", "BIG2"))); err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(t *testing.T, r *replica.Replica, want ...[]any) {
		t.Helper()
		if got := query(t, r, "SELECT id, v, big FROM k ORDER BY id"); !reflect.DeepEqual(got, want) {
			t.Fatalf("rows = %v; want %v", got, want)
		}
	}
	t.Run("OwnKey", func(t *testing.T) {
		tg := keepTarget()
		r := seeded(t, tg)
		if err := r.Apply(ctx, upserts(tg, row(int64(1), "a'", litepull.Keep{}))); err != nil {
			t.Fatal(err)
		}
		check(t, r, []any{int64(1), "a'", "BIG1"}, []any{int64(2), "b", "BIG2"})
	})
	t.Run("MovedKey", func(t *testing.T) {
		tg := keepTarget()
		r := seeded(t, tg)
		b := litepull.Batch{Changes: []litepull.TableChanges{{Target: tg,
			Upserts: [][]litepull.Value{{int64(7), "moved", litepull.Keep{From: []litepull.Value{int64(1)}}}},
			Deletes: [][]litepull.Value{{int64(1)}}}}}
		if err := r.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		check(t, r, []any{int64(2), "b", "BIG2"}, []any{int64(7), "moved", "BIG1"})
	})
	t.Run("KeepRowsFirst", func(t *testing.T) {
		// Key 1 moves to 3 keeping big; a new row takes key 1 in the same
		// batch, listed first. The moved row reads key 1's old value.
		tg := keepTarget()
		r := seeded(t, tg)
		b := upserts(tg, row(int64(1), "new", "NEW1"), row(int64(3), "moved", litepull.Keep{From: []litepull.Value{int64(1)}}))
		if err := r.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		check(t, r, []any{int64(1), "new", "NEW1"}, []any{int64(2), "b", "BIG2"}, []any{int64(3), "moved", "BIG1"})
	})
	t.Run("SeveralColumnsAndNull", func(t *testing.T) {
		tg := keepTarget()
		r := seeded(t, tg)
		if err := r.Apply(ctx, upserts(tg, row(int64(2), nil, nil))); err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(ctx, upserts(tg, row(int64(2), litepull.Keep{}, litepull.Keep{}))); err != nil {
			t.Fatal(err)
		}
		check(t, r, []any{int64(1), "a", "BIG1"}, []any{int64(2), nil, nil})
	})
	t.Run("SoftDeletedNeedsNoRow", func(t *testing.T) {
		// A row the source soft-deletes is not in the replica; an update
		// that keeps it deleted, and leaves big alone, deletes it again
		// rather than reading big from a row that is not there.
		tg := keepTarget()
		tg.SoftDelete = "v"
		r := newFileReplica(t, tg)
		if err := r.Apply(ctx, upserts(tg, row(int64(1), nil, "BIG1"), row(int64(2), nil, "BIG2"))); err != nil {
			t.Fatal(err)
		}
		b := upserts(tg, row(int64(9), "gone", litepull.Keep{}), row(int64(2), "gone", litepull.Keep{}))
		if err := r.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		check(t, r, []any{int64(1), nil, "BIG1"})
	})
	t.Run("ErrMissingRow", func(t *testing.T) {
		tg := keepTarget()
		r := seeded(t, tg)
		b := litepull.Batch{Changes: []litepull.TableChanges{{Target: tg,
			Upserts: [][]litepull.Value{{int64(5), "x", "y"}, {int64(9), "z", litepull.Keep{}}},
			Deletes: [][]litepull.Value{{int64(1)}}}},
			Stream: &litepull.StreamState{SourceID: "s", Slot: "slot", Position: "0/10"}}
		err := r.Apply(ctx, b)
		if err == nil {
			t.Fatal("a Keep from a row the replica lacks was applied")
		}
		for _, want := range []string{"k", "big", "(9)", "missing a row the source has"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		var te *litepull.TableError
		if !errors.Is(err, litepull.ErrMissingRow) || !errors.As(err, &te) || te.SourceID != "s" || te.Table != "src_k" {
			t.Errorf("error %#v: want ErrMissingRow as a TableError of s/src_k (the engine copies that table again)", err)
		}
		check(t, r, []any{int64(1), "a", "BIG1"}, []any{int64(2), "b", "BIG2"})
		if got, err := r.StreamStates(ctx); err != nil || len(got) != 0 {
			t.Fatalf("stream states = %v, %v; want none", got, err)
		}
	})
}

// TestKeepCompositeKeyAndBlob: Keep.From is in primary key order, which
// need not be column order; a blob is kept as a blob.
func TestKeepCompositeKeyAndBlob(t *testing.T) {
	ctx := context.Background()
	tg := target("c", []string{"b", "a"}, "a", "b", "v")
	tg.Columns[0].Affinity, tg.Columns[2].Affinity = litepull.AffInteger, litepull.AffBlob
	r := newFileReplica(t, tg)
	if err := r.Apply(ctx, upserts(tg, row(int64(1), "x", []byte{0, 1, 2}), row(int64(2), "x", []byte{}))); err != nil {
		t.Fatal(err)
	}
	b := litepull.Batch{Changes: []litepull.TableChanges{{Target: tg,
		Upserts: [][]litepull.Value{{int64(3), "y", litepull.Keep{From: []litepull.Value{"x", int64(1)}}}, {int64(2), "x", litepull.Keep{}}},
		Deletes: [][]litepull.Value{{"x", int64(1)}}}}}
	if err := r.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	got := query(t, r, "SELECT a, b, typeof(v), hex(v) FROM c ORDER BY a")
	want := [][]any{{int64(2), "x", "blob", ""}, {int64(3), "y", "blob", "000102"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows = %v; want %v", got, want)
	}
}

// TestKeepSoftDelete: a Keep in a soft-delete table; a Keep of the
// soft-delete column reads it, and a row the source marks deleted is
// deleted whatever it keeps.
func TestKeepSoftDelete(t *testing.T) {
	ctx := context.Background()
	tg := target("sd", []string{"id"}, "id", "v", "deleted")
	tg.SoftDelete = "deleted"
	r := newFileReplica(t, tg)
	if err := r.Apply(ctx, upserts(tg, row(int64(1), "a", "0"), row(int64(2), "b", ""))); err != nil {
		t.Fatal(err)
	}
	b := upserts(tg, row(int64(1), "a'", litepull.Keep{}), row(int64(2), litepull.Keep{}, "1"))
	if err := r.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, want := query(t, r, "SELECT id, v, deleted FROM sd ORDER BY id"), [][]any{{int64(1), "a'", "0"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("rows = %v; want %v", got, want)
	}
}

// TestStreamState: stream states round-trip, are listed by source, are
// written with their batch or not at all, and a table's reset leaves them.
func TestStreamState(t *testing.T) {
	tg := target("t", []string{"id"}, "id", "v")
	r := newFileReplica(t, tg)
	ctx := context.Background()
	commit := time.Date(2026, 11, 26, 8, 0, 0, 123456789, time.UTC)
	applied := commit.Add(time.Second)
	b := &litepull.StreamState{SourceID: "b", Slot: "slot_b", Position: "0/20", Commit: commit, Applied: applied}
	for _, st := range []*litepull.StreamState{b, {SourceID: "a", Slot: "slot_a", Position: "0/10", Commit: commit}} {
		if err := r.Apply(ctx, litepull.Batch{Stream: st}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.StreamStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SourceID != "a" || got[1].SourceID != "b" {
		t.Fatalf("stream states = %+v; want a, then b", got)
	}
	if !got[1].Commit.Equal(commit) || !got[1].Applied.Equal(applied) || got[1].Slot != "slot_b" || got[1].Position != "0/20" {
		t.Fatalf("b read back as %+v; want %+v", got[1], *b)
	}
	if since := time.Since(got[0].Applied); since < 0 || since > time.Minute {
		t.Fatalf("a zero applied time was stored as %v; want now", got[0].Applied)
	}

	bad := litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: [][]litepull.Value{{int64(1), "x"}, {int64(2), struct{}{}}}}},
		Stream: &litepull.StreamState{SourceID: "b", Slot: "slot_b", Position: "0/30", Commit: commit}}
	if err := r.Apply(ctx, bad); err == nil {
		t.Fatal("a batch with a value that cannot be stored was applied")
	}
	good := litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: [][]litepull.Value{{int64(1), "x"}}}},
		States: []litepull.State{{SourceID: "b", Table: "src_t", NullCursorRows: -1}},
		Stream: &litepull.StreamState{SourceID: "b", Slot: "slot_b", Position: "0/40", Commit: commit}}
	if err := r.Apply(ctx, good); err != nil {
		t.Fatal(err)
	}
	if err := r.ResetState(ctx, "b", "src_t"); err != nil {
		t.Fatal(err)
	}
	got, err = r.StreamStates(ctx)
	if err != nil || len(got) != 2 || got[1].Position != "0/40" {
		t.Fatalf("stream states = %+v, %v; want b at 0/40 (the failed batch's 0/30 never, the reset not touching it)", got, err)
	}
}

// TestStreamsTableIsReserved: litepull_streams is the replica's own table.
func TestStreamsTableIsReserved(t *testing.T) {
	r := newFileReplica(t)
	err := r.EnsureTable(context.Background(), target("Litepull_Streams", []string{"id"}, "id"))
	if !errors.Is(err, litepull.ErrSchemaConflict) {
		t.Fatalf("EnsureTable(Litepull_Streams) = %v; want ErrSchemaConflict", err)
	}
}
