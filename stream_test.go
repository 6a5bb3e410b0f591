package litepull_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

var fakeCols = map[string][]string{"a": {"id", "v", "big"}, "b": {"id", "n"}}

const fakeSchema = `CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT, big TEXT);
	CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER);`

func streamEngine(t *testing.T, f *fakeChanges) (*litepull.Engine, *replica.Replica, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.db")
	cfg := litepull.Config{Replica: path, Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg.Sources[0], Source: f}}, nil), r, path
}

// dump renders a table of a SQLite file, in key order.
func dump(t *testing.T, path, table string) string {
	t.Helper()
	c, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _, err := c.Prepare("SELECT * FROM " + table + " ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b strings.Builder
	for s.Step() {
		for i := range s.ColumnCount() {
			fmt.Fprintf(&b, "%v:%s|", s.ColumnType(i), s.ColumnText(i))
		}
		b.WriteString("\n")
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// run drains the stream and fails the test on any table error.
func run(t *testing.T, e *litepull.Engine) *litepull.Summary {
	t.Helper()
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Tables {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Table, r.Err)
		}
	}
	return sum
}

func sameTables(t *testing.T, f *fakeChanges, replicaPath string, tables ...string) {
	t.Helper()
	for _, tb := range tables {
		if want, got := dump(t, f.path, tb), dump(t, replicaPath, tb); want != got {
			t.Fatalf("table %s:\nsource:\n%s\nreplica:\n%s", tb, want, got)
		}
	}
}

func rowsPulled(sum *litepull.Summary, table string) int64 {
	for _, r := range sum.Tables {
		if r.Table == table {
			return r.RowsPulled
		}
	}
	return -1
}

func TestStreamCopiesThenApplies(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	a, b := fakeCols["a"], fakeCols["b"]
	f.commit(ins("a", int64(1), "x", "big1"), ins("b", int64(1), int64(10)))
	f.commit(del("a", a, int64(1)), ins("a", int64(2), "y", "big2"))
	e, r, rp := streamEngine(t, f)

	sum := run(t, e)
	sameTables(t, f, rp, "a", "b")
	// The copy holds both transactions: the stream, which replays them
	// from the slot's start, must skip them.
	if n := rowsPulled(sum, "a"); n != 1 {
		t.Fatalf("a: %d rows pulled, want the 1 row copied", n)
	}

	f.commit(upd("a", a, int64(2), int64(2), "y2", litepull.Keep{}), ins("a", int64(3), "z", "big3"))
	f.commit(upd("a", a, int64(3), int64(4), "moved", litepull.Keep{}))         // a key change keeping a TOAST value
	f.commit(upd("b", b, int64(1), int64(1), int64(11)), del("a", a, int64(2))) // two tables, one transaction
	f.commit(trunc("b"), ins("b", int64(5), int64(50)))
	sum = run(t, e)
	sameTables(t, f, rp, "a", "b")
	if n := rowsPulled(sum, "a"); n != 4 {
		t.Fatalf("a: %d changes applied, want 4", n)
	}
	states, err := r.StreamStates(context.Background())
	// The drain ends at the source's position when it started: past the
	// last commit, where the source's keepalive said it stood.
	if err != nil || len(states) != 1 || states[0].Position != pos(2*int64(len(f.log))) {
		t.Fatalf("stream states %+v, %v; want one at %d", states, err, 2*len(f.log))
	}
	if f.confirmed != num(states[0].Position) {
		t.Fatalf("acknowledged %d, want %s", f.confirmed, states[0].Position)
	}
}

func TestStreamResumesWithoutReapplying(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, _, rp := streamEngine(t, f)
	run(t, e)
	for i := range 5 {
		f.commit(ins("b", int64(i), int64(i)))
	}
	if n := rowsPulled(run(t, e), "b"); n != 5 {
		t.Fatalf("b: %d rows, want 5", n)
	}
	f.confirmed = 0 // as if the ack was lost: the source sends everything again
	f.commit(ins("b", int64(9), int64(9)))
	if n := rowsPulled(run(t, e), "b"); n != 1 {
		t.Fatalf("b: %d rows applied after a lost ack, want only the 1 new", n)
	}
	sameTables(t, f, rp, "a", "b")
}

func TestStreamShapeChangeCopiesAgain(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	f.commit(ins("b", int64(1), int64(1)))
	e, _, rp := streamEngine(t, f)
	run(t, e)
	mustExec(f.path, "ALTER TABLE b ADD COLUMN extra TEXT DEFAULT 'dflt'")
	f.cols = map[string][]string{"a": fakeCols["a"], "b": {"id", "n", "extra"}}
	f.commit(relation("b"), ins("b", int64(2), int64(2), "new"))
	sum := run(t, e)
	sameTables(t, f, rp, "a", "b")
	if got := dump(t, rp, "b"); !strings.Contains(got, "INTEGER:1|INTEGER:1|TEXT:dflt|") {
		t.Fatalf("old row lacks the new column's value:\n%s", got)
	}
	for _, r := range sum.Tables {
		if r.Table == "b" && !r.FullRefresh {
			t.Fatalf("b was not copied again: %+v", r)
		}
	}
}

func TestStreamLostOrMovedSlotCopiesAll(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, _, rp := streamEngine(t, f)
	run(t, e)
	f.commit(ins("a", int64(1), "x", "y"))
	f.confirmed = 2 * int64(len(f.log)) // the slot moved past the replica: that row is in no stream
	f.commit(ins("a", int64(2), "x", "y"))
	sum := run(t, e)
	sameTables(t, f, rp, "a", "b")
	if !sum.Tables[0].FullRefresh {
		t.Fatalf("a slot that moved past the replica did not copy the tables: %+v", sum.Tables[0])
	}

	f.lost = true
	f.commit(ins("a", int64(3), "x", "y"))
	sum = run(t, e)
	sameTables(t, f, rp, "a", "b")
	if !sum.Tables[0].FullRefresh {
		t.Fatalf("a lost stream did not copy the tables: %+v", sum.Tables[0])
	}
}

func TestStreamTableFailsAlone(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, r, rp := streamEngine(t, f)
	run(t, e)
	// The stream sends an update whose old key is missing (replica
	// identity NOTHING, say): that table fails, the other goes on.
	bad := upd("a", fakeCols["a"], int64(7), int64(8), "v", "w")
	bad.ev.Old = []litepull.Value{nil, nil, nil}
	f.commit(ins("a", int64(7), "v", "w"))
	f.commit(bad, ins("b", int64(1), int64(1)))
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	var aErr, bErr error
	for _, res := range sum.Tables {
		switch res.Table {
		case "a":
			aErr = res.Err
		case "b":
			bErr = res.Err
		}
	}
	if aErr == nil || bErr != nil || !strings.Contains(aErr.Error(), "REPLICA IDENTITY") {
		t.Fatalf("a: %v (want the replica identity error), b: %v (want none)", aErr, bErr)
	}
	sameTables(t, f, rp, "b")
	st, err := r.State(context.Background(), "pg", "a")
	if err != nil || st.LastError == "" || st.CursorValue != "" {
		t.Fatalf("a's state %+v, %v: want its error and no position (copied again next time)", st, err)
	}
	run(t, e) // the next session copies it
	sameTables(t, f, rp, "a", "b")
}

// TestStreamBrokenMidTransactionShowsNoneOfIt: a stream that breaks in the
// middle of a source transaction larger than what is held in memory (its
// first rows are already in the open replica transaction) leaves the
// replica as it was before that transaction; the next run applies it
// whole.
func TestStreamBrokenMidTransactionShowsNoneOfIt(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, _, rp := streamEngine(t, f)
	run(t, e)
	f.commit(ins("b", int64(0), int64(0)))
	var big []fakeOp
	for i := range 6000 {
		big = append(big, ins("b", int64(i+1), int64(i)))
	}
	f.commit(big...)
	f.breakAt = 3 + 1 + 5500 // the small transaction, then the big one's begin and 5500 of its rows
	if _, err := e.Run(context.Background(), litepull.RunOptions{Drain: true}); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, rp, "b"); got != "" && got != "1:0|1:0|\n" {
		t.Fatalf("after the stream broke mid-transaction the replica shows %d rows of b, want those before it (0 or 1)", strings.Count(got, "\n"))
	}
	run(t, e)
	sameTables(t, f, rp, "a", "b")
}

// TestStreamStatesOfGroupedTransactions: source transactions that share a
// replica transaction leave each table's state as its own last one left
// it: the position of the last transaction that touched it, and every row.
func TestStreamStatesOfGroupedTransactions(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, r, _ := streamEngine(t, f)
	run(t, e)
	for i := range 5 {
		f.commit(ins("b", int64(i), int64(i)))
	}
	aCommit := pos(2*int64(len(f.log)) + 1)
	f.commit(ins("a", int64(1), "x", "y"))
	bCommit := pos(2*int64(len(f.log)) + 1)
	f.commit(ins("b", int64(5), int64(5)), ins("b", int64(6), int64(6)))
	run(t, e)
	for _, want := range []struct {
		table           string
		position        litepull.Position
		total, lastRows int64
	}{{"a", aCommit, 1, 1}, {"b", bCommit, 7, 2}} {
		st, err := r.State(context.Background(), "pg", want.table)
		if err != nil || st.CursorValue != string(want.position) || st.RowsTotal != want.total || st.LastRowsPulled != want.lastRows {
			t.Errorf("%s: state at %q with %d rows, %d in the last transaction (%v); want %q, %d, %d",
				want.table, st.CursorValue, st.RowsTotal, st.LastRowsPulled, err, want.position, want.total, want.lastRows)
		}
	}
}
