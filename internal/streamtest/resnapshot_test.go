package streamtest_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// cannotResume runs a source whose stream cannot resume: with resnapshot
// manual (the default) the run fails with ErrSnapshotNeeded, saying how to
// take a new snapshot, and leaves the replica as it was, run after run;
// a run with Full then copies every table and the stream goes on from
// there (check compares source and replica). With resnapshot: auto the
// run copies every table on its own.
func cannotResume(t *testing.T, e *litepull.Engine, mode litepull.ResnapshotMode, file, id, table string, check func()) {
	t.Helper()
	if mode == litepull.ResnapshotAuto {
		if sum := drain(t, e); !fullRefreshed(sum, table) {
			t.Fatalf("resnapshot: auto did not copy %s again: %+v", table, sum.Tables)
		}
		check()
		return
	}
	before := replicaRows(t, file, "SELECT * FROM "+table+" ORDER BY 1")
	for range 2 {
		sum := runAll(t, e)
		for _, r := range sum.Tables {
			if !errors.Is(r.Err, litepull.ErrSnapshotNeeded) || !strings.Contains(r.Error, "litepull run -full -source "+id) {
				t.Fatalf("%s: want ErrSnapshotNeeded saying how to take one, got %v", r.Table, r.Err)
			}
		}
		if after := replicaRows(t, file, "SELECT * FROM "+table+" ORDER BY 1"); !reflect.DeepEqual(before, after) {
			t.Fatalf("the failed run changed the replica:\n%v\n%v", before, after)
		}
	}
	sum, err := e.Run(context.Background(), litepull.RunOptions{SourceID: id, Full: true, Drain: true})
	if err != nil || sum.Failed() > 0 || !fullRefreshed(sum, table) {
		t.Fatalf("the full run: %v %+v", err, sum)
	}
	check()
}

// TestPostgresSlotDroppedBetweenRuns: a slot dropped while litepull is
// stopped loses the changes made meanwhile.
func TestPostgresSlotDroppedBetweenRuns(t *testing.T) {
	for _, mode := range []litepull.ResnapshotMode{"", litepull.ResnapshotAuto} {
		t.Run("resnapshot="+string(mode), func(t *testing.T) {
			pg := testdb.Postgres(t)
			pg.Exec(t, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a')")
			cfg := streamConfig(t, pg, "lost", tableConfig("items"))
			cfg.Resnapshot = mode
			file := replicaFile(t)
			e, _ := engine(t, file, cfg)
			drain(t, e)
			pg.Exec(t, "INSERT INTO items VALUES (2, 'b')")
			drain(t, e)
			pg.Exec(t, "SELECT pg_drop_replication_slot('"+cfg.Slot+"')")
			pg.Exec(t, "INSERT INTO items VALUES (3, 'lost'); UPDATE items SET v = 'lost too' WHERE id = 1")
			check := func() { sameRows(t, pg, file, "SELECT id, v FROM items ORDER BY id") }
			cannotResume(t, e, mode, file, "lost", "items", check)
			pg.Exec(t, "INSERT INTO items VALUES (4, 'after')")
			if sum := drain(t, e); fullRefreshed(sum, "items") {
				t.Fatalf("the run after the new snapshot copied again")
			}
			check()
		})
	}
}

// TestMySQLBinlogPurgedBetweenRuns: a replica whose position lies in a
// binlog file the server purged (a file name before the server's oldest:
// purging the machine's binlog would cut other tests' streams).
func TestMySQLBinlogPurgedBetweenRuns(t *testing.T) {
	for _, mode := range []litepull.ResnapshotMode{"", litepull.ResnapshotAuto} {
		t.Run("resnapshot="+string(mode), func(t *testing.T) {
			my := testdb.MySQL(t)
			my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, v VARCHAR(20))")
			my.Exec(t, "INSERT INTO items VALUES (1, 'a')")
			cfg := myStreamConfig(t, my, "purged", tableConfig("items"))
			cfg.Resnapshot = mode
			file := replicaFile(t)
			e, _ := engine(t, file, cfg)
			drain(t, e)
			my.Exec(t, "INSERT INTO items VALUES (2, 'b')")
			drain(t, e)
			// The record moves to file .000000 of the server's binlog: purged.
			c, err := sqlite3.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Exec(`UPDATE litepull_streams SET position = substr(position, 1, instr(position, '.')) || '000000:4' || substr(position, instr(position, '@'))`)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			my.Exec(t, "INSERT INTO items VALUES (3, 'lost')")
			my.Exec(t, "UPDATE items SET v = 'lost too' WHERE id = 1")
			check := func() { mySameRows(t, my, file, "SELECT id, v FROM items ORDER BY id") }
			cannotResume(t, e, mode, file, "purged", "items", check)
			my.Exec(t, "INSERT INTO items VALUES (4, 'after')")
			if sum := drain(t, e); fullRefreshed(sum, "items") {
				t.Fatalf("the run after the new snapshot copied again")
			}
			check()
		})
	}
}

// TestPostgresSlotMadeAgainBehindReplica: the replica's position lies
// past the end of the WAL of the server the source now names (a server
// restored from a backup to an earlier point, another cluster), whose
// slot is gone: the slot made now holds none of the changes made there
// since, whatever its LSN. The run fails saying a new snapshot is needed
// (a slot made after the replica's position is caught by its LSN; one
// made before it was resumed from, skipping every change up to the
// replica's LSN).
func TestPostgresSlotMadeAgainBehindReplica(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a')")
	cfg := streamConfig(t, pg, "restored", tableConfig("items"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	pg.Exec(t, "INSERT INTO items VALUES (2, 'b')")
	drain(t, e)
	// The server is now one whose WAL ends before the replica's position.
	c, err := sqlite3.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Exec(`UPDATE litepull_streams SET position = 'FFF/0'`)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "SELECT pg_drop_replication_slot('"+cfg.Slot+"')")
	pg.Exec(t, "INSERT INTO items VALUES (3, 'after the restore'); UPDATE items SET v = 'changed' WHERE id = 1")
	check := func() { sameRows(t, pg, file, "SELECT id, v FROM items ORDER BY id") }
	cannotResume(t, e, "", file, "restored", "items", check)
	pg.Exec(t, "INSERT INTO items VALUES (4, 'after')")
	if sum := drain(t, e); fullRefreshed(sum, "items") || sum.Failed() > 0 {
		t.Fatalf("the run after the new snapshot: %+v", sum.Tables)
	}
	check()
}
