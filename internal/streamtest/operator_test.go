package streamtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// fullRefreshed reports whether a run copied the table again.
func fullRefreshed(sum *litepull.Summary, table string) bool {
	for _, r := range sum.Tables {
		if r.Table == table {
			return r.FullRefresh
		}
	}
	return false
}

// TestIdentityFullWithoutPrimaryKeyStreams streams a table with REPLICA
// IDENTITY FULL and a unique index but no primary key: its rows stream
// like any other's, without copying the table again each session (the
// stream's key flags, every column under FULL, are not a new key).
func TestIdentityFullWithoutPrimaryKeyStreams(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE d (id int NOT NULL, v text); CREATE UNIQUE INDEX d_id ON d (id);
		ALTER TABLE d REPLICA IDENTITY FULL; INSERT INTO d VALUES (1, 'a'), (2, 'b')`)
	cfg := streamConfig(t, pg, "full", litepull.TableConfig{Table: "d"})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	for i, q := range []string{"UPDATE d SET v = 'b2' WHERE id = 2", "DELETE FROM d WHERE id = 1", "UPDATE d SET id = 3 WHERE id = 2"} {
		pg.Exec(t, q)
		if sum := drain(t, e); fullRefreshed(sum, "d") {
			t.Fatalf("step %d (%s): d was copied again; its changes should stream", i, q)
		}
		sameRows(t, pg, file, "SELECT id, v FROM d ORDER BY id")
	}
}

// tableErr is a run's error for one table, nil if it ran fine.
func tableErr(t *testing.T, sum *litepull.Summary, table string) error {
	t.Helper()
	for _, r := range sum.Tables {
		if r.Table == table {
			return r.Err
		}
	}
	t.Fatalf("no result for table %s", table)
	return nil
}

// runAll runs the engine once, table errors allowed.
func runAll(t *testing.T, e *litepull.Engine) *litepull.Summary {
	t.Helper()
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestTableTakenOutOfTheConfigAndBack takes a table out of a streamed
// source's config for a while: the other streams on (the stream still
// holds the table's changes made before the publication dropped it), and
// once it is back it is copied again, since the stream never carried the
// changes made while it was out.
func TestTableTakenOutOfTheConfigAndBack(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);
		INSERT INTO a VALUES (1, 'a'); INSERT INTO b VALUES (1, 'b')`)
	both := streamConfig(t, pg, "io", litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "b"})
	aOnly := both
	aOnly.Tables = both.Tables[:1]
	file := replicaFile(t)
	e, r := engine(t, file, both)
	drain(t, e)
	r.Close()

	pg.Exec(t, "UPDATE b SET v = 'b while in' WHERE id = 1; UPDATE a SET v = 'a1' WHERE id = 1")
	e, r = engine(t, file, aOnly)
	drain(t, e) // b's change, published when it was made, is not a's to fail on
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	pg.Exec(t, "UPDATE b SET v = 'b while out' WHERE id = 1; UPDATE a SET v = 'a2' WHERE id = 1")
	drain(t, e)
	r.Close()

	e, _ = engine(t, file, both)
	if sum := drain(t, e); !fullRefreshed(sum, "b") {
		t.Errorf("b, back in the config, was not copied again")
	}
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	sameRows(t, pg, file, "SELECT id, v FROM b ORDER BY id")
}

// TestTableRenamedOrDroppedAtTheSource renames one streamed table, then
// drops it: the stream goes on for the others, the table fails alone
// (its name no longer resolves), and once the name is back it is copied.
func TestTableRenamedOrDroppedAtTheSource(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE c (id int PRIMARY KEY, v text);
		INSERT INTO a VALUES (1, 'a'); INSERT INTO c VALUES (1, 'c')`)
	cfg := streamConfig(t, pg, "ren", litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "c"})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)

	pg.Exec(t, "UPDATE c SET v = 'c1' WHERE id = 1; ALTER TABLE c RENAME TO c2; UPDATE c2 SET v = 'c2' WHERE id = 1")
	pg.Exec(t, "UPDATE a SET v = 'a1' WHERE id = 1")
	sum := runAll(t, e)
	if err := tableErr(t, sum, "a"); err != nil {
		t.Fatalf("a failed after c was renamed: %v", err)
	}
	if err := tableErr(t, sum, "c"); err == nil || !errors.Is(err, litepull.ErrNoTable) {
		t.Fatalf("c, renamed away: error %v, want no such table", err)
	}
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")

	pg.Exec(t, "ALTER TABLE c2 RENAME TO c; UPDATE c SET v = 'c3' WHERE id = 1; UPDATE a SET v = 'a2' WHERE id = 1")
	drain(t, e)
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	sameRows(t, pg, file, "SELECT id, v FROM c ORDER BY id")

	pg.Exec(t, "UPDATE c SET v = 'c4' WHERE id = 1; DROP TABLE c; UPDATE a SET v = 'a3' WHERE id = 1")
	sum = runAll(t, e)
	if err := tableErr(t, sum, "a"); err != nil {
		t.Fatalf("a failed after c was dropped: %v", err)
	}
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
}

// TestSourcesSharingAPublication runs two sources whose configs name one
// publication, each with its own slot: each run makes the publication
// hold its own tables, so the other's stream lacks its changes meanwhile;
// each copies its tables again rather than miss them.
func TestSourcesSharingAPublication(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);
		INSERT INTO a VALUES (1, 'a'); INSERT INTO b VALUES (1, 'b')`)
	x := streamConfig(t, pg, "x", litepull.TableConfig{Table: "a"})
	y := streamConfig(t, pg, "y", litepull.TableConfig{Table: "b"})
	y.Publication = x.Publication
	file := replicaFile(t)
	e, _ := engine(t, file, x, y)
	for i := range 3 {
		pg.Exec(t, sprintf("UPDATE a SET v = 'a%d' WHERE id = 1", i))
		runAll(t, e)
		sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
		sameRows(t, pg, file, "SELECT id, v FROM b ORDER BY id")
	}
}

// TestGeneratedColumnLeftOut streams a table with a generated column,
// which Postgres before 18 does not stream, leaving it out with columns:
// its changes stream without copying the table again for each session.
func TestGeneratedColumnLeftOut(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE gen (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED, extra text);
		INSERT INTO gen (id, a) VALUES (1, 1)`)
	cfg := streamConfig(t, pg, "gen", litepull.TableConfig{Table: "gen", Columns: []string{"id", "a"}})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	for i := 2; i < 5; i++ {
		pg.Exec(t, sprintf("INSERT INTO gen (id, a) VALUES (%d, %d); UPDATE gen SET a = a + 1 WHERE id = 1", i, i))
		if sum := drain(t, e); fullRefreshed(sum, "gen") {
			t.Fatalf("step %d: gen was copied again; its changes should stream", i)
		}
		sameRows(t, pg, file, "SELECT id, a FROM gen ORDER BY id")
	}
}

// TestUndecodableColumnFailsItsTableAlone streams a table with a column
// the stream cannot decode (an array of a composite type) beside another:
// the other streams on, and once the column is dropped the table is copied
// and streams again, though the slot still holds the changes made before.
func TestUndecodableColumnFailsItsTableAlone(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TYPE pair AS (x int, y text);
		CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE odd (id int PRIMARY KEY, ps pair[]);
		INSERT INTO a VALUES (1, 'a'); INSERT INTO odd VALUES (1, '{"(1,x)"}')`)
	cfg := streamConfig(t, pg, "odd", litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "odd"})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	pg.Exec(t, `INSERT INTO odd VALUES (2, '{"(2,y)"}'); UPDATE a SET v = 'a1' WHERE id = 1`)
	sum := runAll(t, e)
	if err := tableErr(t, sum, "a"); err != nil {
		t.Fatalf("a failed with odd: %v", err)
	}
	if err := tableErr(t, sum, "odd"); err == nil {
		t.Fatalf("odd streamed a composite array; want its error")
	}
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")

	pg.Exec(t, `ALTER TABLE odd DROP COLUMN ps; INSERT INTO odd VALUES (3); UPDATE a SET v = 'a2' WHERE id = 1`)
	drain(t, e)
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	sameRows(t, pg, file, "SELECT id FROM odd ORDER BY id")
}

// TestPrimaryKeyOtherThanTheSources configures a unique column as the key
// of a table whose primary key is another: the stream names an updated
// row by the source's key alone, so an update of the configured key
// cannot be followed (its old row would stay) unless the table's replica
// identity is FULL. Without it the table fails; with it, it streams.
func TestPrimaryKeyOtherThanTheSources(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE u (id int PRIMARY KEY, email text NOT NULL UNIQUE, v text);
		INSERT INTO u VALUES (1, 'a@x', 'a'), (2, 'b@x', 'b')`)
	cfg := streamConfig(t, pg, "pk", litepull.TableConfig{Table: "u", PrimaryKey: []string{"email"}})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	pg.Exec(t, "UPDATE u SET email = 'a2@x' WHERE id = 1")
	if err := tableErr(t, runAll(t, e), "u"); err == nil || !strings.Contains(err.Error(), "REPLICA IDENTITY FULL") {
		t.Fatalf("u, keyed on email under REPLICA IDENTITY DEFAULT: error %v; want one asking for FULL", err)
	}

	pg.Exec(t, "ALTER TABLE u REPLICA IDENTITY FULL")
	drain(t, e) // copied again
	pg.Exec(t, "UPDATE u SET email = 'b2@x' WHERE id = 2; UPDATE u SET v = 'a3' WHERE id = 1")
	drain(t, e)
	sameRows(t, pg, file, "SELECT email, id, v FROM u ORDER BY email")
}

// TestTableWithoutReplicaIdentityFailsAlone lists a table without a
// primary key (and a unique index, so it can be copied) beside another:
// the source cannot name its updated rows, so it fails, alone; once its
// replica identity is FULL it streams too.
func TestTableWithoutReplicaIdentityFailsAlone(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE nopk (id int NOT NULL, v text);
		CREATE UNIQUE INDEX nopk_id ON nopk (id); INSERT INTO a VALUES (1, 'a'); INSERT INTO nopk VALUES (1, 'n')`)
	cfg := streamConfig(t, pg, "ri", litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "nopk"})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	for i := range 2 {
		pg.Exec(t, sprintf("UPDATE a SET v = 'a%d' WHERE id = 1", i))
		sum := runAll(t, e)
		if err := tableErr(t, sum, "a"); err != nil {
			t.Fatalf("run %d: a failed beside nopk: %v", i, err)
		}
		if err := tableErr(t, sum, "nopk"); !errors.Is(err, litepull.ErrNoPrimaryKey) {
			t.Fatalf("run %d: nopk: error %v; want ErrNoPrimaryKey", i, err)
		}
		sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	}
	pg.Exec(t, "ALTER TABLE nopk REPLICA IDENTITY FULL")
	drain(t, e)
	pg.Exec(t, "UPDATE nopk SET v = 'n2' WHERE id = 1; UPDATE a SET v = 'a3' WHERE id = 1")
	drain(t, e)
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	sameRows(t, pg, file, "SELECT id, v FROM nopk ORDER BY id")
}

// TestDeferrablePrimaryKeyIsRefused: a DEFERRABLE primary key is no
// replica identity for Postgres, so publishing its table makes every
// UPDATE and DELETE of the application fail ("does not have a replica
// identity"); and under REPLICA IDENTITY FULL one statement may swap two
// rows' keys (a transient duplicate the constraint allows until commit),
// which a replica keyed on it cannot follow: the swap lost a row. Such a
// table fails alone, saying so, and is never published.
func TestDeferrablePrimaryKeyIsRefused(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, v text);
		CREATE TABLE sw (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v text);
		CREATE TABLE swf (id int PRIMARY KEY DEFERRABLE, v text); ALTER TABLE swf REPLICA IDENTITY FULL;
		INSERT INTO a VALUES (1, 'a'); INSERT INTO sw VALUES (1, 'one'), (2, 'two'), (3, 'three');
		INSERT INTO swf VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
	cfg := streamConfig(t, pg, "defer", tableConfig("a"), tableConfig("sw"), tableConfig("swf"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	for i := range 2 {
		// The application's writes go on: sw is not in the publication.
		pg.Exec(t, sprintf("UPDATE a SET v = 'a%d' WHERE id = 1; UPDATE sw SET v = 'v%d' WHERE id = 1", i, i))
		pg.Exec(t, "SET CONSTRAINTS ALL DEFERRED; UPDATE swf SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 ELSE id END")
		sum := runAll(t, e)
		if err := tableErr(t, sum, "a"); err != nil {
			t.Fatalf("run %d: a failed beside the deferrable tables: %v", i, err)
		}
		for _, name := range []string{"sw", "swf"} {
			if err := tableErr(t, sum, name); err == nil || !strings.Contains(err.Error(), "DEFERRABLE") {
				t.Fatalf("run %d: %s: error %v; want one saying its primary key is DEFERRABLE", i, name, err)
			}
		}
		sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	}
}

// TestOnlyTableFailingSaysWhy: when no table of a streamed source can be
// streamed (here its one table's primaryKey is not unique), the run says
// the table's own error, not that a stream of no tables cannot open.
func TestOnlyTableFailingSaysWhy(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE k (id int PRIMARY KEY, w int); INSERT INTO k VALUES (1, 1), (2, 1)`)
	cfg := streamConfig(t, pg, "only", litepull.TableConfig{Table: "k", PrimaryKey: []string{"w"}})
	e, _ := engine(t, replicaFile(t), cfg)
	sum := runAll(t, e)
	if len(sum.Tables) != 1 || sum.Tables[0].Err == nil || !strings.Contains(sum.Tables[0].Error, "not unique") {
		t.Fatalf("results %+v; want one error saying the key is not unique", sum.Tables)
	}
}

// TestDeferrableUniqueKeyIsNoStreamKey: a configured primaryKey that only
// a DEFERRABLE unique constraint makes unique is refused for a streamed
// table: swapping two rows' keys in one statement lost a row (the stream
// sends the updates as the transaction made them, two rows sharing a key
// in between), while the run said ok.
func TestDeferrableUniqueKeyIsNoStreamKey(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE du (id int PRIMARY KEY, code int NOT NULL, v text,
			CONSTRAINT du_code UNIQUE (code) DEFERRABLE INITIALLY DEFERRED);
		ALTER TABLE du REPLICA IDENTITY FULL; INSERT INTO du VALUES (1, 10, 'one'), (2, 20, 'two');
		CREATE TABLE a (id int PRIMARY KEY)`)
	cfg := streamConfig(t, pg, "dk", litepull.TableConfig{Table: "du", PrimaryKey: []string{"code"}}, tableConfig("a"))
	e, _ := engine(t, replicaFile(t), cfg)
	sum := runAll(t, e)
	if err := tableErr(t, sum, "du"); err == nil || !strings.Contains(err.Error(), "DEFERRABLE") {
		t.Fatalf("du: error %v; want one saying a DEFERRABLE unique key does not do", err)
	}
}
