package litepull_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// Two accounts, x and y, in two tables: every source transaction moves an
// amount from one to the other, so any state of the source at one commit
// holds transferTotal in all.
const transferSchema = `CREATE TABLE x (id INTEGER PRIMARY KEY, n INTEGER);
	CREATE TABLE y (id INTEGER PRIMARY KEY, n INTEGER);`

const transferTotal = 100

var transferCols = map[string][]string{"x": {"id", "n"}, "y": {"id", "n"}}

// transfers is a fake source of transfers between x and y.
type transfers struct {
	*fakeChanges
	x int64 // x's balance; y holds the rest
}

func newTransfers(t *testing.T) *transfers {
	f := newFakeChanges(t, transferSchema, transferCols)
	f.commit(ins("x", int64(1), int64(transferTotal)), ins("y", int64(1), int64(0)))
	return &transfers{fakeChanges: f, x: transferTotal}
}

// move commits n transfers, each in one source transaction that writes
// both tables.
func (tr *transfers) move(n int) {
	for range n {
		tr.x = (tr.x*7 + 3) % (transferTotal + 1)
		tr.commit(upd("x", transferCols["x"], int64(1), int64(1), tr.x),
			upd("y", transferCols["y"], int64(1), int64(1), transferTotal-tr.x))
	}
}

// checkingReplica checks the replica after every commit, as a reader of
// it would see it: x and y are both there or both absent, and hold
// transferTotal in all (the state of the source at one commit).
type checkingReplica struct {
	*replica.Replica
	t      *testing.T
	path   string
	mu     sync.Mutex
	checks int
}

func (c *checkingReplica) Apply(ctx context.Context, b litepull.Batch) error {
	err := c.Replica.Apply(ctx, b)
	c.check()
	return err
}

func (c *checkingReplica) SwapFull(ctx context.Context, t, shadow *litepull.Target, st litepull.State) error {
	err := c.Replica.SwapFull(ctx, t, shadow, st)
	c.check()
	return err
}

func (c *checkingReplica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	tx, err := c.Replica.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &checkingTx{ReplicaTx: tx, c: c}, nil
}

type checkingTx struct {
	litepull.ReplicaTx
	c *checkingReplica
}

func (t *checkingTx) Commit() error {
	err := t.ReplicaTx.Commit()
	t.c.check()
	return err
}

// check reads the replica as another connection would.
func (c *checkingReplica) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks++
	conn, err := sqlite3.Open(c.path)
	if err != nil {
		c.t.Error(err)
		return
	}
	defer conn.Close()
	var present []string
	sum := int64(0)
	for _, table := range []string{"x", "y"} {
		s, _, err := conn.Prepare("SELECT n FROM " + table)
		if err != nil {
			continue // not made yet
		}
		for s.Step() {
			present = append(present, table)
			sum += s.ColumnInt64(0)
		}
		if err := s.Close(); err != nil {
			c.t.Error(err)
		}
	}
	if len(present) == 1 || (len(present) == 2 && sum != transferTotal) {
		c.t.Errorf("after replica commit %d a reader sees half of a source transaction: tables %v hold %d, want %d in both",
			c.checks, present, sum, transferTotal)
	}
}

// checkedEngine is a stream engine over tr whose replica is checked
// after every commit.
func checkedEngine(t *testing.T, tr *transfers, path string) (*litepull.Engine, *checkingReplica) {
	t.Helper()
	cfg := litepull.Config{Replica: path, Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := &checkingReplica{Replica: r, t: t, path: path}
	return litepull.NewEngine(c, []litepull.BoundSource{{Config: cfg.Sources[0], Source: tr}}, nil), c
}

// drain runs a drain with opts and fails the test on any error.
func drain(t *testing.T, e *litepull.Engine, opts litepull.RunOptions) *litepull.Summary {
	t.Helper()
	opts.Drain = true
	sum, err := e.Run(context.Background(), opts)
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

// The tables a stream copies from one snapshot are swapped in together,
// where the stream crosses the snapshot: a reader never sees one table
// ahead of the other, whatever made the copy.
func TestStreamCopiesAreSwappedInTogether(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before runs between the first drain and the checked one, and
		// gives the checked drain's options.
		before func(tr *transfers) litepull.RunOptions
	}{
		{"first copy", nil},
		{"full run with a backlog", func(tr *transfers) litepull.RunOptions {
			tr.move(5)
			return litepull.RunOptions{Full: true}
		}},
		{"full run of one table with a backlog", func(tr *transfers) litepull.RunOptions {
			tr.move(5)
			return litepull.RunOptions{Full: true, Table: "x"}
		}},
		{"table that joined the publication", func(tr *transfers) litepull.RunOptions {
			tr.move(5)
			tr.joined = []string{"y"}
			return litepull.RunOptions{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransfers(t)
			tr.move(3)
			rp := filepath.Join(t.TempDir(), "r.db")
			e, c := checkedEngine(t, tr, rp)
			opts := litepull.RunOptions{}
			if tc.before != nil {
				drain(t, e, opts)
				opts = tc.before(tr)
			}
			checks := c.checks
			drain(t, e, opts)
			if c.checks == checks {
				t.Fatal("the checked drain committed nothing")
			}
			sameTables(t, tr.fakeChanges, rp, "x", "y")
		})
	}
}

// A session that ends between a copy and its swap (the stream broke
// before it reached the snapshot's position) swaps nothing in and shows
// none of the source transactions it read meanwhile; the next session
// copies the table again, unless the stream carried its rows (a run with
// Full), and the replica ends equal to the source.
func TestStreamEndedBeforeTheSwap(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts litepull.RunOptions
		// joined: y joins the publication, so its rows do not take the
		// stream's changes; else x is copied by a run with Full, and the
		// stream carries its rows until the swap.
		joined bool
	}{
		{"table that joined", litepull.RunOptions{}, true},
		{"full run of one table", litepull.RunOptions{Full: true, Table: "x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransfers(t)
			rp := filepath.Join(t.TempDir(), "r.db")
			e, c := checkedEngine(t, tr, rp)
			drain(t, e, litepull.RunOptions{})
			tr.move(5)
			if tc.joined {
				tr.joined = []string{"y"}
			}
			tr.breakAt = 2*4 + 1 // after two transfers (begin, two updates, commit)
			opts := tc.opts
			opts.Drain = true
			sum, err := e.Run(context.Background(), opts)
			if err != nil || !slices.ContainsFunc(sum.Tables, func(r litepull.TableResult) bool { return r.Err != nil }) {
				t.Fatalf("the session whose stream broke: %+v, %v; want it failed", sum, err)
			}
			st, err := c.State(context.Background(), "pg", "y")
			if err != nil || (st.CursorValue == "") != tc.joined {
				t.Fatalf("y's state after a session that never swapped its copy in: %+v, %v", st, err)
			}
			sum = drain(t, e, litepull.RunOptions{})
			sameTables(t, tr.fakeChanges, rp, "x", "y")
			copied := slices.ContainsFunc(sum.Tables, func(r litepull.TableResult) bool { return r.FullRefresh })
			if copied != tc.joined {
				t.Fatalf("the next session copied a table: %v, want %v", copied, tc.joined)
			}
		})
	}
}

// A shutdown while a copy waits for its swap leaves the replica as it
// was (the shadow dropped), and status says which tables wait meanwhile.
func TestStreamShutdownWhileACopyWaits(t *testing.T) {
	tr := newTransfers(t)
	rp := filepath.Join(t.TempDir(), "r.db")
	e, _ := checkedEngine(t, tr, rp)
	drain(t, e, litepull.RunOptions{})
	tr.move(5)
	tr.onSnapshot = func() { tr.setStall(stallBefore) } // the stream never reaches the snapshot
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, litepull.RunOptions{Drain: true, Full: true, Table: "x"})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(e.StreamInfos(), func(si litepull.StreamInfo) bool { return slices.Equal(si.Waiting, []string{"x"}) }) {
		if time.Now().After(deadline) {
			t.Fatalf("status never said x waits for its swap: %+v", e.StreamInfos())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got := dump(t, rp, "sqlite_schema WHERE name LIKE '"+replica.ShadowPrefix+"%'"); got != "" {
		t.Fatalf("shadow left behind: %s", got)
	}
	tr.onSnapshot = nil
	tr.setStall(0)
	drain(t, e, litepull.RunOptions{})
	sameTables(t, tr.fakeChanges, rp, "x", "y")
}
