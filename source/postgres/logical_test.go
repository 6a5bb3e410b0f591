package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/postgres"
)

// changeEnv is a test's source with a slot and publication of its own,
// both dropped when the test ends: a slot left behind keeps WAL on the
// server for ever.
type changeEnv struct {
	pg   *testdb.PG
	src  *postgres.Source
	opts litepull.ChangeOptions
}

func newChangeEnv(t *testing.T, pg *testdb.PG, tables ...string) *changeEnv {
	t.Helper()
	return newChangeEnvConfig(t, pg, litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema}, tables...)
}

func newChangeEnvConfig(t *testing.T, pg *testdb.PG, cfg litepull.SourceConfig, tables ...string) *changeEnv {
	t.Helper()
	src, err := postgres.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := testdb.UniqueName("lp_")
	e := &changeEnv{pg: pg, src: src, opts: litepull.ChangeOptions{Slot: name + "_slot", Publication: name + "_pub", Tables: tables}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := src.DropChanges(ctx, e.opts); err != nil {
			t.Errorf("DropChanges: %v", err)
		}
		src.Close()
		dropSlot(t, pg, e.opts.Slot)
		pg.Exec(t, "DROP PUBLICATION IF EXISTS "+e.opts.Publication)
	})
	return e
}

// dropSlot drops the slot, whoever holds it, in case the code under test
// could not.
func dropSlot(t *testing.T, pg *testdb.PG, slot string) {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		pg.Exec(t, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active", slot)
		_, err := pg.Conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("replication slot %s left behind", slot)
}

// open opens the env's stream, closed when the test ends.
func (e *changeEnv) open(t *testing.T) litepull.ChangeStream {
	t.Helper()
	cs, err := e.src.OpenChanges(context.Background(), e.opts)
	if err != nil {
		t.Fatalf("OpenChanges: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// start opens and starts the env's stream from from.
func (e *changeEnv) start(t *testing.T, from litepull.Position) litepull.ChangeStream {
	t.Helper()
	cs := e.open(t)
	if err := cs.Start(context.Background(), from); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return cs
}

// nextEvent returns the stream's next event other than a keepalive.
func nextEvent(t *testing.T, cs litepull.ChangeStream) litepull.ChangeEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		ev, err := cs.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ev.Kind != litepull.ChangeKeepalive {
			return ev
		}
	}
}

// readTxn reads one transaction: its begin, its events and its commit.
func readTxn(t *testing.T, cs litepull.ChangeStream) []litepull.ChangeEvent {
	t.Helper()
	evs := []litepull.ChangeEvent{nextEvent(t, cs)}
	if evs[0].Kind != litepull.ChangeBegin {
		t.Fatalf("event %s, want a begin", trace(evs[0]))
	}
	for evs[len(evs)-1].Kind != litepull.ChangeCommit {
		evs = append(evs, nextEvent(t, cs))
	}
	return evs
}

// trace writes an event for comparison; a long string is written as its
// length.
func trace(ev litepull.ChangeEvent) string {
	row := func(vs []litepull.Value) string {
		out := make([]string, len(vs))
		for i, v := range vs {
			if s, ok := v.(string); ok && len(s) > 20 {
				v = fmt.Sprintf("<%d bytes>", len(s))
			}
			out[i] = fmt.Sprint(v)
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	switch ev.Kind {
	case litepull.ChangeBegin:
		return "begin"
	case litepull.ChangeCommit:
		return "commit"
	case litepull.ChangeRelation:
		return fmt.Sprintf("relation %s %s key %s", ev.Table, strings.Join(ev.Columns, ","), strings.Join(ev.Schema.PrimaryKey, ","))
	case litepull.ChangeInsert:
		return fmt.Sprintf("insert %s %s", ev.Table, row(ev.Row))
	case litepull.ChangeUpdate:
		return fmt.Sprintf("update %s %s old %s", ev.Table, row(ev.Row), row(ev.Old))
	case litepull.ChangeDelete:
		return fmt.Sprintf("delete %s old %s", ev.Table, row(ev.Old))
	case litepull.ChangeTruncate:
		return fmt.Sprintf("truncate %s", strings.Join(ev.Tables, ","))
	}
	return fmt.Sprintf("kind %d", ev.Kind)
}

func traces(evs []litepull.ChangeEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = trace(ev)
	}
	return out
}

func TestChangeEvents(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE items (id int PRIMARY KEY, v text, big text)")
	pg.Exec(t, "ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL") // out of line, uncompressed: TOASTed
	pg.Exec(t, "CREATE TABLE other (id int PRIMARY KEY, n int)")
	pg.Exec(t, "CREATE TABLE nokey (a int, b text)")
	pg.Exec(t, "ALTER TABLE nokey ALTER COLUMN b SET STORAGE EXTERNAL")
	pg.Exec(t, "ALTER TABLE nokey REPLICA IDENTITY FULL")
	e := newChangeEnv(t, pg, "items", "other", "nokey")
	cs := e.open(t)

	big := strings.Repeat("x", 3000)
	steps := []struct {
		name string
		sql  []string
		want []string
	}{
		{"Insert", []string{"INSERT INTO items VALUES (1, 'a', NULL)"},
			[]string{"begin", "relation items id,v,big key id", "insert items [1 a <nil>]", "commit"}},
		{"UpdateSameKey", []string{"UPDATE items SET v = 'b' WHERE id = 1"},
			[]string{"begin", "update items [1 b <nil>] old []", "commit"}},
		{"UpdateMovesKey", []string{"UPDATE items SET id = 2 WHERE id = 1"},
			[]string{"begin", "update items [2 b <nil>] old [1 <nil> <nil>]", "commit"}},
		{"Delete", []string{"DELETE FROM items WHERE id = 2"},
			[]string{"begin", "delete items old [2 <nil> <nil>]", "commit"}},
		{"MultiTable", []string{"BEGIN", "INSERT INTO items VALUES (3, 'c', NULL)", "INSERT INTO other VALUES (1, 10)",
			"UPDATE items SET v = 'd' WHERE id = 3", "COMMIT"},
			[]string{"begin", "insert items [3 c <nil>]", "relation other id,n key id", "insert other [1 10]",
				"update items [3 d <nil>] old []", "commit"}},
		{"Toast", []string{"INSERT INTO items VALUES (5, 'e', '" + big + "')"},
			[]string{"begin", "insert items [5 e <3000 bytes>]", "commit"}},
		{"UnchangedToastIsKept", []string{"UPDATE items SET v = 'f' WHERE id = 5"},
			[]string{"begin", "update items [5 f {[]}] old []", "commit"}},
		{"UnchangedToastOfMovedRow", []string{"UPDATE items SET id = 6 WHERE id = 5"},
			[]string{"begin", "update items [6 f {[5]}] old [5 <nil> <nil>]", "commit"}},
		{"IdentityFull", []string{"INSERT INTO nokey VALUES (1, '" + big + "')", "UPDATE nokey SET a = 2"},
			[]string{"begin", "relation nokey a,b key ", "insert nokey [1 <3000 bytes>]", "commit",
				"begin", "update nokey [2 <3000 bytes>] old [1 <3000 bytes>]", "commit"}},
		{"DeleteIdentityFull", []string{"DELETE FROM nokey"},
			[]string{"begin", "delete nokey old [2 <3000 bytes>]", "commit"}},
		{"AddColumn", []string{"ALTER TABLE items ADD COLUMN price numeric(10,2)", "INSERT INTO items VALUES (7, 'g', NULL, 1.5)"},
			[]string{"begin", "relation items id,v,big,price key id", "insert items [7 g <nil> 1.50]", "commit"}},
		{"Truncate", []string{"TRUNCATE items, other"},
			[]string{"begin", "truncate items,other", "commit"}},
	}
	for _, s := range steps {
		for _, q := range s.sql {
			pg.Exec(t, q)
		}
	}
	if err := cs.Start(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	var all []litepull.ChangeEvent
	for _, s := range steps {
		var got []litepull.ChangeEvent
		for len(got) < len(s.want) {
			got = append(got, readTxn(t, cs)...)
		}
		if g, w := strings.Join(traces(got), "\n"), strings.Join(s.want, "\n"); g != w {
			t.Errorf("%s: events\n%s\nwant\n%s", s.name, g, w)
		}
		all = append(all, got...)
	}
	checkPositions(t, cs, all)
	checkRelationSchema(t, e, all)
	checkKeepalive(t, cs, all[len(all)-1].Position)
}

// checkKeepalive checks that the caught-up stream's keepalive stands at or
// after its last commit.
func checkKeepalive(t *testing.T, cs litepull.ChangeStream, last litepull.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := cs.Next(ctx)
	if err != nil || ev.Kind != litepull.ChangeKeepalive {
		t.Fatalf("Next after the last transaction: %s, %v; want a keepalive", trace(ev), err)
	}
	if cs.Includes(last, ev.Position) || ev.Time.IsZero() {
		t.Errorf("keepalive at %s (%s), before the last commit at %s", ev.Position, ev.Time, last)
	}
}

// checkPositions checks that each transaction's begin comes before its
// commit, and both after the previous transaction's commit, as Includes
// sees them.
func checkPositions(t *testing.T, cs litepull.ChangeStream, evs []litepull.ChangeEvent) {
	t.Helper()
	var prev litepull.Position
	var begin litepull.Position
	for _, ev := range evs {
		switch ev.Kind {
		case litepull.ChangeBegin:
			if prev != "" && cs.Includes(prev, ev.Position) {
				t.Errorf("begin at %s is included at the previous commit %s", ev.Position, prev)
			}
			begin = ev.Position
		case litepull.ChangeCommit:
			if !cs.Includes(ev.Position, begin) {
				t.Errorf("commit at %s does not include its own begin at %s", ev.Position, begin)
			}
			if prev != "" && !cs.Includes(ev.Position, prev) {
				t.Errorf("commit at %s not after the previous one at %s", ev.Position, prev)
			}
			prev = ev.Position
		}
	}
	if prev == "" {
		t.Error("no commits")
	}
}

// checkRelationSchema checks that the stream describes items's columns as
// Describe does.
func checkRelationSchema(t *testing.T, e *changeEnv, evs []litepull.ChangeEvent) {
	t.Helper()
	var last *litepull.TableSchema
	for _, ev := range evs {
		if ev.Kind == litepull.ChangeRelation && ev.Table == "items" {
			last = ev.Schema
		}
	}
	want, err := e.src.Describe(context.Background(), "items")
	if err != nil {
		t.Fatal(err)
	}
	if last == nil {
		t.Fatal("no relation of items")
	}
	if fmt.Sprint(last.Columns) != fmt.Sprint(want.Columns) || fmt.Sprint(last.PrimaryKey) != fmt.Sprint(want.PrimaryKey) {
		t.Errorf("stream's schema of items\n%+v\nwant Describe's\n%+v", last, want)
	}
	if c, _ := last.Column("price"); c.SourceType != "numeric(10,2)" || c.Position != 4 {
		t.Errorf("price column %+v, want numeric(10,2) at 4", c)
	}
}

// TestStatusSeesTablesChangedUnderTheStream drops and makes again a table
// the stream follows, takes it out of the publication, swaps another in
// under its name, or renames it away: the stream would send nothing more
// of the table under that name, so Status says so.
func TestStatusSeesTablesChangedUnderTheStream(t *testing.T) {
	for _, c := range []struct{ name, sql string }{
		{"Recreated", "DROP TABLE items; CREATE TABLE items (id int PRIMARY KEY)"},
		{"TakenOut", "ALTER PUBLICATION %s DROP TABLE items"},
		// A migration's swap: the old table, still published, is renamed
		// away and another renamed in; the stream followed the old one.
		{"Swapped", "CREATE TABLE items_new (LIKE items INCLUDING ALL); ALTER TABLE items RENAME TO items_old; ALTER TABLE items_new RENAME TO items"},
		{"RenamedAway", "ALTER TABLE items RENAME TO items_gone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pg := testdb.Postgres(t)
			pg.Exec(t, "CREATE TABLE items (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)")
			e := newChangeEnv(t, pg, "items", "other")
			cs := e.start(t, "")
			if _, err := cs.Status(context.Background()); err != nil {
				t.Fatalf("Status: %v", err)
			}
			sql := c.sql
			if strings.Contains(sql, "%s") {
				sql = fmt.Sprintf(sql, e.opts.Publication)
			}
			pg.Exec(t, sql)
			if _, err := cs.Status(context.Background()); !errors.Is(err, litepull.ErrStreamChanged) {
				t.Fatalf("Status after the change: %v; want ErrStreamChanged", err)
			}
		})
	}
}
