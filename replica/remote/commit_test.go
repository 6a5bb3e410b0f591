package remote_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/replica/remote"
	"github.com/litepull/litepull/source/sqlite"
)

// pull is a SQLite source of one table, ev(id, at, v), 40 rows with five
// to a cursor value, read in pages of 6.
type pull struct {
	src *sqlitetest.DB
	cfg litepull.SourceConfig
}

func newPull(t *testing.T) *pull {
	src := sqlitetest.New(t)
	src.Exec(t, "CREATE TABLE ev (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, v TEXT)")
	for i := 1; i <= 40; i++ {
		src.Exec(t, "INSERT INTO ev VALUES (?, ?, ?)", int64(i), int64(i/5), fmt.Sprint("v", i))
	}
	cfg := litepull.Config{Replica: "unused", Sources: []litepull.SourceConfig{{ID: "src", Kind: "sqlite", DSN: src.Path, PageSize: 6,
		Tables: []litepull.TableConfig{{Table: "ev", CursorColumn: "at"}}}}}
	cfg.ApplyDefaults()
	return &pull{src: src, cfg: cfg.Sources[0]}
}

// run drains the table into r and returns its result.
func (p *pull) run(t *testing.T, r litepull.Replica) litepull.TableResult {
	t.Helper()
	s, err := sqlite.New(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum, err := litepull.NewEngine(r, []litepull.BoundSource{{Config: p.cfg, Source: s}}, nil).Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil || len(sum.Tables) != 1 {
		t.Fatalf("run: %v %+v", err, sum)
	}
	return sum.Tables[0]
}

// check asserts that the replica holds every source row once, and a state
// that counts them.
func (p *pull) check(t *testing.T, srv *remotetest.Server, r litepull.Replica) {
	t.Helper()
	res, err := srv.Query("SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id) FROM ev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows[0]); got != "[40 40 820 1 40]" {
		t.Errorf("replica rows (count, distinct, sum, min, max) = %s, want [40 40 820 1 40]", got)
	}
	st, err := r.State(context.Background(), "src", "ev")
	if err != nil || st.RowsTotal != 40 || st.Watermark == nil || st.Watermark.Cursor != int64(8) || fmt.Sprint(st.Watermark.PK) != "[40]" {
		t.Errorf("state = %+v (watermark %v), %v; want 40 rows up to (8, 40)", st, st.Watermark, err)
	}
}

// kind is a remote service under test.
type kind struct {
	name   string
	new    func(testing.TB) *remotetest.Server
	atomic bool
}

var kinds = []kind{
	{"starbase", remotetest.NewStarbase, false},
	{"d1", remotetest.NewD1, true},
	{"libsql", remotetest.NewLibSQL, true},
}

func forKinds(t *testing.T, f func(*testing.T, kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// dropConnection ends the connection without an answer, as a network
// failure after the request was served would.
func dropConnection(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err == nil {
		buf.Flush()
		conn.Close()
	}
	_ = bufio.ErrBufferFull
}

// TestLostAnswerOfCommittedRequest drops the answers of committed write
// requests (a 502 with no body, a closed connection): the replica finds
// its commit in the writer row and does not send it again, so every row
// is there once, and the service ran exactly as many write requests as a
// run without faults.
func TestLostAnswerOfCommittedRequest(t *testing.T) { forKinds(t, testLostAnswer) }

func testLostAnswer(t *testing.T, k kind) {
	p := newPull(t)
	clean := k.new(t)
	p.run(t, open(t, clean))
	cleanWrites := clean.Writes()

	srv := k.new(t)
	r := open(t, srv)
	srv.Lost.Add(dropConnection, sqlitetest.Status(http.StatusBadGateway, ""), dropConnection, sqlitetest.Status(http.StatusGatewayTimeout, ""))
	if res := p.run(t, r); res.Error != "" || res.RowsPulled != 40 {
		t.Fatalf("run with lost answers: %+v", res)
	}
	p.check(t, srv, r)
	if got, want := srv.Writes(), cleanWrites; got != want {
		t.Errorf("service ran %d write requests, a run without faults %d: a commit was sent again", got, want)
	}
}

// TestRequestCutShort cuts a request after its first statements (the
// service died: StarbaseDB kept them, an atomic service rolled them back):
// the replica sees its sequence unmoved, sends the whole request again, and
// the replica ends whole.
func TestRequestCutShort(t *testing.T) { forKinds(t, testCutShort) }

func testCutShort(t *testing.T, k kind) {
	p := newPull(t)
	srv := k.new(t)
	r := open(t, srv)
	srv.Cut(1, 3) // after the table is made: the first page's guard and two upserts
	if res := p.run(t, r); res.Error != "" || res.RowsPulled != 40 {
		t.Fatalf("run with a cut request: %+v", res)
	}
	p.check(t, srv, r)
}

// TestCrashBetweenRequests leaves a request cut short and its resends
// failing, as a process that dies there: on StarbaseDB the rows it wrote
// are ahead of a state that did not move; on an atomic service there are
// none. A new process finishes the table, each row once.
func TestCrashBetweenRequests(t *testing.T) { forKinds(t, testCrashBetween) }

func testCrashBetween(t *testing.T, k kind) {
	p := newPull(t)
	srv := k.new(t)
	r := open(t, srv)
	ctx := context.Background()
	tg := &litepull.Target{SourceID: "src", SourceTable: "ev", Dest: "ev", PrimaryKey: []string{"id"},
		Columns: []litepull.Column{{Name: "id", SourceType: "INTEGER", Affinity: litepull.AffInteger}, {Name: "at", SourceType: "INTEGER", Affinity: litepull.AffInteger}, {Name: "v", SourceType: "TEXT", Affinity: litepull.AffText}}}
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	var rows [][]litepull.Value
	for i := int64(1); i <= 12; i++ {
		rows = append(rows, []litepull.Value{i, i / 5, fmt.Sprint("v", i)})
	}
	st := litepull.State{SourceID: "src", Table: "ev", Dest: "ev", CursorColumn: "at", Watermark: &litepull.Watermark{Cursor: int64(2), PK: []litepull.Value{int64(12)}}, RowsTotal: 12}
	srv.Cut(0, 3)
	srv.FailWrites(3) // every resend
	if err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows}}, States: []litepull.State{st}}); err == nil {
		t.Fatal("the cut request and its failed resends returned no error")
	}
	res, _ := srv.Query("SELECT count(*) FROM ev", nil)
	if n := res.Rows[0][0].(int64); (k.atomic && n != 0) || (!k.atomic && (n == 0 || n >= 12)) {
		t.Fatalf("the cut request left %d rows, want none on an atomic service, some of the page on StarbaseDB", n)
	}
	if got, err := r.State(ctx, "src", "ev"); err != nil || got.Watermark != nil {
		t.Fatalf("state after the cut request = %+v, %v: a watermark ahead of its rows", got, err)
	}
	p.run(t, open(t, srv))
	p.check(t, srv, open(t, srv))
}

// TestConflictingWriter: a second replica on the same service commits;
// the first one's next commit is refused as a conflict, writes nothing,
// and the one after (its state read again) goes through.
func TestConflictingWriter(t *testing.T) { forKinds(t, testConflict) }

func testConflict(t *testing.T, k kind) {
	ctx := context.Background()
	srv := k.new(t)
	a, b := open(t, srv), open(t, srv)
	st := litepull.State{SourceID: "s", Table: "t", LastRowsPulled: 1}
	if err := a.Apply(ctx, litepull.Batch{States: []litepull.State{st}}); err != nil {
		t.Fatal(err)
	}
	st.LastRowsPulled = 2
	err := b.Apply(ctx, litepull.Batch{States: []litepull.State{st}})
	if !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("second writer's commit: %v, want ErrConflict", err)
	}
	if got, _ := a.State(ctx, "s", "t"); got.LastRowsPulled != 1 {
		t.Errorf("the refused commit wrote its state: %+v", got)
	}
	if err := b.Apply(ctx, litepull.Batch{States: []litepull.State{st}}); err != nil {
		t.Fatalf("commit after the conflict: %v", err)
	}
}

// TestSwapCutShort cuts a full refresh's swap right after it dropped the
// old table. On StarbaseDB the engine's clean-up finds the swap recorded
// and renames the complete shadow in, instead of dropping the only copy;
// an atomic service rolled the swap back, and it is sent again. Either
// way the table is whole.
func TestSwapCutShort(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) { testSwapCut(t, k, 7) }) // after DROP TABLE ev, before the RENAME
	// StarbaseDB, at every statement of the swap: claim, guard, record, 3
	// columns, stale columns, DROP, RENAME, state, end of record, release.
	for n := 1; n <= 11; n++ {
		t.Run(fmt.Sprint("starbase/", n), func(t *testing.T) { testSwapCut(t, kinds[0], n) })
	}
}

func testSwapCut(t *testing.T, k kind, n int) {
	p := newPull(t)
	srv := k.new(t)
	r := open(t, srv)
	p.run(t, r)
	p.src.Exec(t, "UPDATE ev SET v = 'new' WHERE id = 3")
	srv.CutWhere("RENAME TO", n)
	srv.FailWrites(0)
	s, err := sqlite.New(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum, err := litepull.NewEngine(r, []litepull.BoundSource{{Config: p.cfg, Source: s}}, nil).Run(context.Background(), litepull.RunOptions{Drain: true, Full: true})
	if err != nil || len(sum.Tables) != 1 {
		t.Fatalf("run -full: %v %+v", err, sum)
	}
	if failed := sum.Tables[0].Error != ""; failed == k.atomic {
		t.Fatalf("the cut swap reported error %q: want one on StarbaseDB only (an atomic request is sent again)", sum.Tables[0].Error)
	}
	res, err := srv.Query("SELECT count(*), sum(v = 'new') FROM ev", nil)
	if recorded := n >= 3 || k.atomic; recorded && (err != nil || fmt.Sprint(res.Rows[0]) != "[40 1]") { // the swap recorded: the new copy
		t.Fatalf("after the swap cut at %d: %v %v, want the whole new copy in place", n, res, err)
	}
	p.run(t, open(t, srv))
	p.check(t, srv, open(t, srv))
}

// TestRateLimited: a write answered 429 ran nothing; it is sent again
// after the wait the service asked for (Retry-After), and commits once.
func TestRateLimited(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		srv := k.new(t)
		r := open(t, srv)
		before := srv.Writes()
		srv.Faults.Add(func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			sqlitetest.Status(http.StatusTooManyRequests, `{"error": "rate limited"}`)(w)
		})
		start := time.Now()
		if err := r.Apply(context.Background(), litepull.Batch{States: []litepull.State{{SourceID: "s", Table: "t"}}}); err != nil {
			t.Fatalf("a rate-limited commit: %v", err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("resent after %s, before the second Retry-After asked for", waited)
		}
		if got := srv.Writes() - before; got != 1 {
			t.Errorf("%d write requests ran, want 1", got)
		}
	})
}

// TestFirstRequestsCutShort cuts the first write requests of a table (the
// one that makes it, then its first page) after each possible number of
// statements: whatever StarbaseDB kept, the next run makes the table whole
// (never refusing it as a table litepull did not make).
func TestFirstRequestsCutShort(t *testing.T) {
	for n := 1; n <= 8; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := newPull(t)
			srv := remotetest.NewStarbase(t)
			r := open(t, srv)
			srv.Cut(0, n)
			p.run(t, r) // may fail: DDL is not sent again on StarbaseDB
			if res := p.run(t, open(t, srv)); res.Error != "" {
				t.Fatalf("the run after a cut at statement %d: %s", n, res.Error)
			}
			p.check(t, srv, open(t, srv))
		})
	}
}
