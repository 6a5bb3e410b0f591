package litepull_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// following runs e.Follow until the returned stop is called, which
// returns Follow's results and error.
func following(t *testing.T, e *litepull.Engine) (stop func() ([]litepull.TableResult, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		res []litepull.TableResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := e.Follow(ctx, "pg")
		done <- out{res, err}
	}()
	stopped := false
	var o out
	stop = func() ([]litepull.TableResult, error) {
		if !stopped {
			stopped = true
			cancel()
			o = <-done
		}
		return o.res, o.err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// eventually waits up to 10s for the replica's table to match the
// source's.
func eventually(t *testing.T, f *fakeChanges, replicaPath, table string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for dump(t, f.path, table) != dump(t, replicaPath, table) {
		if time.Now().After(deadline) {
			t.Fatalf("table %s never matched the source:\nsource:\n%s\nreplica:\n%s", table, dump(t, f.path, table), dump(t, replicaPath, table))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A table whose shape changes while the stream follows it is copied
// again in the same session, even when the transaction that announces
// the new shape touches no other table; and its need for a copy is
// recorded with that transaction, so that a session ending before the
// copy still copies it next time.
func TestStreamShapeChangeWhileFollowing(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	f.commit(ins("b", int64(1), int64(1)))
	e, r, rp := streamEngine(t, f)
	run(t, e)
	stop := following(t, e)
	f.commit(ins("b", int64(2), int64(2)))
	eventually(t, f, rp, "b")

	mustExec(f.path, "ALTER TABLE b ADD COLUMN extra TEXT DEFAULT 'dflt'")
	f.cols = map[string][]string{"a": fakeCols["a"], "b": {"id", "n", "extra"}}
	f.commit(relation("b"), ins("b", int64(3), int64(3), "new"))
	eventually(t, f, rp, "b")
	if _, err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	// Again, but the copy fails and the session ends; then the column
	// goes away again, so the table's shape looks as the replica has it.
	// The replica must still know that b missed a row.
	mustExec(f.path, "ALTER TABLE b DROP COLUMN extra")
	f.cols = fakeCols
	f.commit(relation("b"), ins("b", int64(4), int64(4)))
	mustExec(f.path, "ALTER TABLE b ADD COLUMN extra TEXT")
	f.cols = map[string][]string{"a": fakeCols["a"], "b": {"id", "n", "extra"}}
	f.commit(relation("b"), ins("b", int64(5), int64(5), "x"))
	f.snapErr = errors.New("snapshot refused")
	if _, err := e.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil {
		t.Fatal(err)
	}
	f.snapErr = nil
	run(t, e)
	sameTables(t, f, rp, "a", "b")
	if st, err := r.State(context.Background(), "pg", "b"); err != nil || st.LastError != "" {
		t.Fatalf("b's state %+v, %v", st, err)
	}
}

// A row soft-deleted in the replica (so absent there) that the source
// updates again, leaving a TOASTed value unchanged, is still deleted: the
// replica must not need the row to keep a value of it.
func TestStreamKeepOfSoftDeletedRow(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	a := fakeCols["a"]
	e, r, rp := softDeleteEngine(t, f)
	run(t, e)
	f.commit(ins("a", int64(1), nil, "big1"), ins("a", int64(2), nil, "big2"))
	f.commit(upd("a", a, int64(1), int64(1), "gone", litepull.Keep{})) // soft-deleted: leaves the replica
	f.commit(upd("a", a, int64(1), int64(1), "gone", litepull.Keep{})) // updated again, still deleted
	f.commit(ins("b", int64(1), int64(1)))
	run(t, e)
	if got := dump(t, rp, "a"); strings.Contains(got, "INTEGER:1|") || !strings.Contains(got, "INTEGER:2|") {
		t.Fatalf("replica a:\n%s\nwant row 2 only", got)
	}
	sameTables(t, f, rp, "b")

	// Undeleted with its TOASTed value unchanged: the replica cannot know
	// it. The table fails alone and is copied again, rather than the
	// source's stream failing on it for ever.
	f.commit(upd("a", a, int64(1), int64(1), nil, litepull.Keep{}))
	f.commit(ins("b", int64(2), int64(2)))
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range sum.Tables {
		if res.Table == "a" && res.Err == nil {
			t.Fatalf("a: no error for a kept value of a row the replica lacks")
		}
	}
	run(t, e)
	if got := dump(t, rp, "a"); !strings.Contains(got, "INTEGER:1|NULL:|TEXT:big1|") {
		t.Fatalf("replica a after the next session:\n%s\nwant row 1 back, copied", got)
	}
	sameTables(t, f, rp, "b")
	if st, err := r.State(context.Background(), "pg", "a"); err != nil || st.LastError != "" {
		t.Fatalf("a's state %+v, %v: want it mended", st, err)
	}
}

func softDeleteEngine(t *testing.T, f *fakeChanges) (*litepull.Engine, *replica.Replica, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.db")
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	e := configured(t, r, f, litepull.TableConfig{Table: "a", SoftDelete: "v"}, litepull.TableConfig{Table: "b"})
	return e, r, path
}

// configured is an engine on r whose source pg streams f's tables.
func configured(t *testing.T, r *replica.Replica, f *fakeChanges, tables ...litepull.TableConfig) *litepull.Engine {
	t.Helper()
	cfg := litepull.Config{Replica: r.Path(), Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical, Tables: tables}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg.Sources[0], Source: f}}, nil)
}

// A table taken out of the stream (out of the config, or skipped by
// discovery) misses the changes made meanwhile: when it comes back it is
// copied, not resumed from where it left.
func TestStreamTableBackInTheStreamIsCopied(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	_, r, rp := streamEngine(t, f)
	both := configured(t, r, f, litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "b"})
	f.commit(ins("b", int64(1), int64(1)))
	run(t, both)

	f.commit(ins("b", int64(2), int64(2)), ins("a", int64(1), "x", "y"))
	run(t, configured(t, r, f, litepull.TableConfig{Table: "a"})) // b is out
	f.commit(ins("a", int64(2), "x", "y"))

	run(t, both)
	sameTables(t, f, rp, "a", "b")
}

// A configured primary key other than the source's: an update that moves
// a row to another configured key while its source key stays is sent
// without the old row (REPLICA IDENTITY DEFAULT), so the stream cannot
// tell which replica row it replaces. The table fails, saying to send old
// rows whole; it never keeps the old row beside the new one.
func TestStreamOtherKeyNeedsWholeOldRows(t *testing.T) {
	f := newFakeChanges(t, fakeSchema+"CREATE UNIQUE INDEX b_n ON b (n);", fakeCols)
	_, r, rp := streamEngine(t, f)
	e := configured(t, r, f, litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "b", PrimaryKey: []string{"n"}})
	f.commit(ins("b", int64(1), int64(10)))
	run(t, e)
	f.commit(upd("b", fakeCols["b"], int64(1), int64(1), int64(11))) // n 10 → 11, id kept
	f.commit(ins("a", int64(1), "x", "y"))
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	var bErr error
	for _, res := range sum.Tables {
		if res.Table == "b" {
			bErr = res.Err
		}
	}
	if got := dump(t, rp, "b"); strings.Count(got, "\n") != 1 {
		t.Fatalf("replica b holds\n%s\nwant one row (error %v)", got, bErr)
	}
	if bErr == nil || !strings.Contains(bErr.Error(), "REPLICA IDENTITY FULL") {
		t.Fatalf("b: %v, want an error that asks for REPLICA IDENTITY FULL", bErr)
	}
	sameTables(t, f, rp, "a")
	if errors.Is(bErr, context.Canceled) {
		t.Fatal(bErr)
	}
}

// countingReplica counts the Applies into its transactions.
type countingReplica struct {
	*replica.Replica
	applies int
}

func (c *countingReplica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	tx, err := c.Replica.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{ReplicaTx: tx, c: c}, nil
}

type countingTx struct {
	litepull.ReplicaTx
	c *countingReplica
}

func (t *countingTx) Apply(ctx context.Context, b litepull.Batch) error {
	t.c.applies++
	return t.ReplicaTx.Apply(ctx, b)
}

// A source transaction of a few huge rows is written into the replica
// transaction as its bytes add up, not held whole until its commit.
func TestStreamLargeTransactionBoundedByBytes(t *testing.T) {
	defer litepull.SetFlushBytes(10_000)()
	f := newFakeChanges(t, fakeSchema, fakeCols)
	_, r, rp := streamEngine(t, f)
	c := &countingReplica{Replica: r}
	cfg := litepull.Config{Replica: rp, Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := litepull.NewEngine(c, []litepull.BoundSource{{Config: cfg.Sources[0], Source: f}}, nil)
	run(t, e)
	var ops []fakeOp
	for i := range 20 {
		ops = append(ops, ins("a", int64(i), "v", strings.Repeat("x", 3000)))
	}
	f.commit(ops...)
	c.applies = 0
	run(t, e)
	sameTables(t, f, rp, "a")
	// 60,000 bytes of values in 10,000-byte parts: 6 writes, and the commit's.
	if c.applies < 6 {
		t.Fatalf("%d writes into the replica transaction, want one per 10,000 bytes held at least", c.applies)
	}
}

// A table the stream did not carry until this session (dropped and made
// again under its name, its old rows still in the replica, its first rows
// never streamed) is copied, whatever position the replica holds for it.
func TestStreamJoinedTableIsCopied(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, r, rp := streamEngine(t, f)
	f.commit(ins("b", int64(1), int64(1)))
	run(t, e)
	// Made again between sessions: no change of it is in the stream.
	mustExec(f.path, "DROP TABLE b; CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO b VALUES (7, 7)")
	f.joined = []string{"b"}
	f.snapErr = errors.New("snapshot refused") // and this session ends before its copy
	if _, err := e.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil {
		t.Fatal(err)
	}
	f.snapErr = nil
	run(t, e)
	sameTables(t, f, rp, "a", "b")
	if st, err := r.State(context.Background(), "pg", "b"); err != nil || st.CursorValue == "" {
		t.Fatalf("b's state %+v, %v", st, err)
	}
}

// cancellingReplica cancels a context when its transaction is first
// written into, as a shutdown that comes in the middle of a write.
type cancellingReplica struct {
	*replica.Replica
	cancel  context.CancelFunc
	atBegin bool // cancel before the transaction begins
}

func (c *cancellingReplica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	if c.atBegin {
		c.cancel()
	}
	tx, err := c.Replica.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &cancellingTx{ReplicaTx: tx, cancel: c.cancel}, nil
}

type cancellingTx struct {
	litepull.ReplicaTx
	cancel context.CancelFunc
}

func (t *cancellingTx) Apply(ctx context.Context, b litepull.Batch) error {
	t.cancel()
	return t.ReplicaTx.Apply(ctx, b)
}

// A shutdown that interrupts a write into the replica ends the session
// as cancelled, not failed: nothing is wrong with the stream.
func TestStreamShutdownMidWrite(t *testing.T) {
	t.Run("Apply", func(t *testing.T) { testShutdownMidWrite(t, false) })
	t.Run("Begin", func(t *testing.T) { testShutdownMidWrite(t, true) })
}

func testShutdownMidWrite(t *testing.T, atBegin bool) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, r, rp := streamEngine(t, f)
	run(t, e)
	f.commit(ins("b", int64(1), int64(1)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := litepull.Config{Replica: rp, Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := litepull.NewEngine(&cancellingReplica{Replica: r, cancel: cancel, atBegin: atBegin}, []litepull.BoundSource{{Config: cfg.Sources[0], Source: f}}, nil)
	res, err := c.Follow(ctx, "pg")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow interrupted mid-write: %v, want context.Canceled", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v, want no error", r.Table, r.Err)
		}
	}
	run(t, e)
	sameTables(t, f, rp, "a", "b")
}
