package postgres_test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// TestStreamOutlivesAPause: a caller away from Next for longer than the
// read timeout and the server's wal_sender_timeout (copying a table from
// a snapshot, say) finds the stream alive when it comes back.
func TestStreamOutlivesAPause(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("wal_sender_timeout", "1s") // a runtime parameter of every connection
	u.RawQuery = q.Encode()
	const read = 300 * time.Millisecond
	e := newChangeEnvConfig(t, pg, litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: u.String(), Schema: pg.Schema,
		ReadTimeout: litepull.Duration(read)}, "a")
	// The slot is made with the default timeouts: its wait for other
	// tests' transactions is not this test's concern.
	maker := newChangeEnv(t, pg, "a")
	maker.opts = e.opts
	maker.open(t).Close()
	cs := e.start(t, "")
	pg.Exec(t, "INSERT INTO a VALUES (1)")
	wantRow(t, readTxn(t, cs), "insert a [1]", "before the pause")

	time.Sleep(2500 * time.Millisecond) // away: more than both timeouts
	pg.Exec(t, "INSERT INTO a VALUES (2)")
	wantRow(t, readTxn(t, cs), "insert a [2]", "after the pause")
}

// TestStreamFollowsARename: a table renamed at the source is the same
// relation. A stream that knows it by its new name still decodes the
// transactions from before the rename (whose relation messages carry the
// old name), and one that knows it by its old name follows it past the
// rename, under the name it was configured with.
func TestStreamFollowsARename(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	old := e.start(t, "")
	pg.Exec(t, "INSERT INTO a VALUES (1)")
	pg.Exec(t, "ALTER TABLE a RENAME TO a2")
	pg.Exec(t, "INSERT INTO a2 VALUES (2)")
	wantRow(t, readTxn(t, old), "insert a [1]", "before the rename")
	wantRow(t, readTxn(t, old), "insert a [2]", "after the rename, configured as a")
	old.Close()

	e.opts.Tables = []string{"a2"}
	cs := e.start(t, "") // from the slot's start: the insert before the rename again
	wantRow(t, readTxn(t, cs), "insert a2 [1]", "before the rename, configured as a2")
	wantRow(t, readTxn(t, cs), "insert a2 [2]", "after the rename, configured as a2")
}

// TestKeepaliveNeverPassesAPendingTransaction: while the server decodes a
// transaction whose first changes are to tables the publication leaves
// out, it sends no BEGIN yet (Postgres 15 begins a transaction with its
// first published change), but it does answer status updates with
// keepalives. Their position must not pass that transaction's commit: the
// engine records and acknowledges a keepalive's position as applied
// through, and would skip the transaction.
func TestKeepaliveNeverPassesAPendingTransaction(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	pg.Exec(t, "CREATE TABLE unpublished (id int)")
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("wal_sender_timeout", "200ms") // keepalives every 100 ms while it decodes
	u.RawQuery = q.Encode()
	e := newChangeEnvConfig(t, pg, litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: u.String(), Schema: pg.Schema,
		ReadTimeout: litepull.Duration(300 * time.Millisecond)}, "a") // pings every 100 ms
	maker := newChangeEnv(t, pg, "a")
	maker.opts = e.opts
	maker.open(t).Close()
	cs := e.start(t, "")

	pg.Exec(t, "BEGIN; INSERT INTO unpublished SELECT generate_series(1, 400000); INSERT INTO a VALUES (1); COMMIT")
	committed := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var during []litepull.Position // keepalives after the commit, before its BEGIN
	for {
		ev, err := cs.Next(ctx)
		if err != nil && ctx.Err() == nil {
			// The test's 200 ms wal_sender_timeout is tight on purpose; on a
			// loaded machine the server may end the stream before the
			// transaction's BEGIN comes.
			t.Skipf("the stream ended under the test's tight timeouts (%v): nothing was checked", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == litepull.ChangeBegin {
			replaying := 0 // keepalives sent while the server replayed the transaction at its commit
			for _, p := range during {
				if cs.Includes(p, ev.Position) {
					t.Fatalf("a keepalive at %s came before the BEGIN of a transaction that commits at %s", p, ev.Position)
				}
				if p == ev.Position {
					replaying++
				}
			}
			t.Logf("%d keepalives in the %s the server took to decode the transaction, %d of them at its commit (%s)",
				len(during), time.Since(committed).Round(time.Millisecond), replaying, ev.Position)
			if replaying == 0 {
				t.Skip("no keepalive came while the server replayed the transaction: nothing was checked")
			}
			return
		}
		if ev.Kind == litepull.ChangeKeepalive {
			during = append(during, ev.Position)
		}
	}
}

// TestJoined: a stream says which tables its publication did not hold
// before it opened: all of them the first time, none when nothing
// changed, and a table dropped and made again under its name (a new
// relation, whose changes until now the publication never carried).
func TestJoined(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	pg.Exec(t, "CREATE TABLE b (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a", "b")
	joined := func() []string {
		t.Helper()
		cs := e.open(t)
		defer cs.Close()
		return cs.Joined()
	}
	if got := joined(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("first open: joined %v, want a and b", got)
	}
	if got := joined(); len(got) != 0 {
		t.Errorf("second open: joined %v, want none", got)
	}
	pg.Exec(t, "DROP TABLE b")
	pg.Exec(t, "CREATE TABLE b (id int PRIMARY KEY)")
	if got := joined(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after b was made again: joined %v, want b", got)
	}
}
