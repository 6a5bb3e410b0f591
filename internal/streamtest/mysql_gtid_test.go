package streamtest_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
)

// gtidOf is the GTID state a binlog position carries, and whether it
// carries one.
func gtidOf(pos string) (string, bool) {
	_, gtid, ok := strings.Cut(pos, ";gtid=")
	return gtid, ok
}

// tableState is a table's state in the replica.
func tableState(t testing.TB, r *replica.Replica, sourceID, table string) litepull.State {
	t.Helper()
	st, err := r.State(context.Background(), sourceID, table)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMySQLGTIDPositions: the position recorded with each transaction the
// binlog stream applies carries the GTID state the server reached with
// it: its last GTID of the transaction's domain is the transaction's own
// (@@last_gtid of the session that committed it).
func TestMySQLGTIDPositions(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, v VARCHAR(20))")
	cfg := myStreamConfig(t, my, "gtid", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	if gtid, ok := gtidOf(tableState(t, r, "gtid", "items").CursorValue); !ok {
		t.Fatalf("the copy's position carries no GTID state (%q)", gtid)
	}
	db := myConnect(t, my)
	for i := 1; i <= 5; i++ {
		if _, err := db.Exec("INSERT INTO items VALUES (?, 'v')", i); err != nil {
			t.Fatal(err)
		}
		var last string
		if err := db.QueryRow("SELECT @@last_gtid").Scan(&last); err != nil || last == "" {
			t.Fatalf("@@last_gtid = %q, %v", last, err)
		}
		drain(t, e)
		pos := tableState(t, r, "gtid", "items").CursorValue
		gtid, ok := gtidOf(pos)
		if !ok || !slices.Contains(strings.Split(gtid, ","), last) {
			t.Fatalf("transaction %d (GTID %s) is recorded at %s", i, last, pos)
		}
	}
	mySameRows(t, my, file, "SELECT id, v FROM items ORDER BY id")
}

// TestMySQLResumeByGTID: a replica whose recorded position names another
// server (as after a failover) resumes by the position's GTID state, with
// nothing copied again, and ends equal to the source.
func TestMySQLResumeByGTID(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, v VARCHAR(20))")
	my.Exec(t, "INSERT INTO items VALUES (1, 'a'), (2, 'b')")
	cfg := myStreamConfig(t, my, "gtid", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	my.Exec(t, "INSERT INTO items VALUES (3, 'c')")
	drain(t, e)

	// The record now names a file and offset of server 4242: they mean
	// nothing here, its GTID state does.
	c, err := sqlite3.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Exec(`UPDATE litepull_streams SET position = 'other-bin.000007:4@4242' || substr(position, instr(position, ';'))`)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := r.StreamStates(context.Background())
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Position), "@4242;gtid=") {
		t.Fatalf("stream records %+v, %v", recs, err)
	}

	my.Exec(t, "UPDATE items SET v = 'changed' WHERE id = 1")
	my.Exec(t, "DELETE FROM items WHERE id = 2")
	my.Exec(t, "INSERT INTO items VALUES (4, 'd')")
	sum := drain(t, e)
	for _, res := range sum.Tables {
		if res.FullRefresh {
			t.Fatalf("a resume by GTID copied %s again", res.Table)
		}
		if res.RowsPulled != 3 {
			t.Fatalf("a resume by GTID applied %d rows, want the 3 changes made since", res.RowsPulled)
		}
	}
	mySameRows(t, my, file, "SELECT id, v FROM items ORDER BY id")
	recs, err = r.StreamStates(context.Background())
	if err != nil || strings.Contains(string(recs[0].Position), "@4242") {
		t.Fatalf("the stream still records the other server's position: %+v, %v", recs, err)
	}
}
