package streamtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/litepull/litepull/internal/testdb"
)

// TestMySQLResumeOnDivergedServer: the replica followed server A to GTID
// 0-31-4; the source is then pointed at server B, whose history in domain
// 0 is its own (0-32-1..6: it never had A's transactions 4 and later),
// with a later sequence number. B lacks transactions the replica holds:
// the run fails saying a new snapshot is needed, changes nothing, and a
// run with Full recovers. (The server itself refuses to send its binlog
// from 0-31-4; a check by sequence numbers alone took B for a server that
// has it, and the source failed run after run, -full included.)
func TestMySQLResumeOnDivergedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two mariadbd")
	}
	template := mariaTemplate(t)
	a := startMariaDB(t, 31, template)
	b := startMariaDB(t, 32, template)
	for _, m := range []*privateMariaDB{a, b} {
		m.makeItems(t, 20, "(1, 'a')")
	}
	cfg := myStreamConfig(t, &testdb.My{DSN: a.dsn}, "app", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	a.exec(t, "INSERT INTO app.items VALUES (2, 'only on a')")
	drain(t, e)
	for _, q := range []string{"INSERT INTO app.items VALUES (3, 'only on b')", "UPDATE app.items SET v = 'b1' WHERE id = 1",
		"UPDATE app.items SET v = 'b2' WHERE id = 1"} {
		b.exec(t, q)
	}
	r.Close()

	cfg.DSN = b.dsn
	e, _ = engine(t, file, cfg)
	appDB, err := sql.Open("mysql", b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	check := func() { mySameRows(t, &testdb.My{DSN: b.dsn, DB: appDB}, file, "SELECT id, v FROM items ORDER BY id") }
	cannotResume(t, e, "", file, "app", "items", check)
	b.exec(t, "INSERT INTO app.items VALUES (4, 'after')")
	if sum := drain(t, e); fullRefreshed(sum, "items") || sum.Failed() > 0 {
		t.Fatalf("the run after the new snapshot: %+v", sum.Tables)
	}
	check()
}

// TestMySQLFailoverToReplicaWithoutLogSlaveUpdates: a standby that does
// not binlog what it replicates (log_slave_updates OFF) is promoted. Its
// gtid_slave_pos holds the primary's transactions, its binlog (and
// gtid_binlog_pos) only its own: the server cannot send the changes the
// replica lacks from its binlog (here the last insert on the old primary),
// so the run fails saying a new snapshot is needed, and a run with Full
// recovers.
func TestMySQLFailoverToReplicaWithoutLogSlaveUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two mariadbd")
	}
	template := mariaTemplate(t)
	primary := startMariaDB(t, 11, template)
	standby := startMariaDB(t, 12, template, "--log-slave-updates=OFF")
	primary.makeItems(t, 20, "(1, 'a'), (2, 'b')")
	standby.replicate(t, primary)
	cfg := myStreamConfig(t, &testdb.My{DSN: primary.dsn}, "app", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	primary.exec(t, "UPDATE app.items SET v = 'streamed' WHERE id = 1")
	drain(t, e)
	primary.exec(t, "INSERT INTO app.items VALUES (3, 'in flight')")
	standby.caughtUp(t, primary)
	standby.exec(t, "STOP SLAVE")
	primary.exec(t, "SHUTDOWN")
	r.Close()
	standby.exec(t, "INSERT INTO app.items VALUES (4, 'new primary')")

	cfg.DSN = standby.dsn
	e, _ = engine(t, file, cfg)
	appDB, err := sql.Open("mysql", standby.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	check := func() {
		mySameRows(t, &testdb.My{DSN: standby.dsn, DB: appDB}, file, "SELECT id, v FROM items ORDER BY id")
	}
	cannotResume(t, e, "", file, "app", "items", check)
	standby.exec(t, "INSERT INTO app.items VALUES (5, 'after')")
	if sum := drain(t, e); fullRefreshed(sum, "items") || sum.Failed() > 0 {
		t.Fatalf("the run after the new snapshot: %+v", sum.Tables)
	}
	check()
}

// TestMySQLBinlogResetAndRewritten: RESET MASTER while litepull is
// stopped, then enough writes that the new binlog file of the replica's
// position's name reaches past its offset: the file and offset now name
// a place in another binlog, and the changes before it are lost. The run
// fails saying a new snapshot is needed (the server's GTID state no
// longer holds the replica's), and a run with Full recovers.
func TestMySQLBinlogResetAndRewritten(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mariadbd")
	}
	server := startMariaDB(t, 21, mariaTemplate(t))
	server.makeItems(t, 200, "(1, 'a')")
	cfg := myStreamConfig(t, &testdb.My{DSN: server.dsn}, "app", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	server.exec(t, "INSERT INTO app.items VALUES (2, 'b')")
	drain(t, e)
	recs, err := r.StreamStates(context.Background())
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	server.exec(t, "RESET MASTER")
	// The lost changes: more than the binlog held up to the replica's position.
	for i := 3; i < 13; i++ {
		server.exec(t, fmt.Sprintf("INSERT INTO app.items VALUES (%d, REPEAT('x', 150))", i))
	}
	appDB, err := sql.Open("mysql", server.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	check := func() {
		mySameRows(t, &testdb.My{DSN: server.dsn, DB: appDB}, file, "SELECT id, v FROM items ORDER BY id")
	}
	cannotResume(t, e, "", file, "app", "items", check)
}

// TestMySQLGTIDDomainsAndServers streams, on a private MariaDB with
// gtid_strict_mode off, transactions of two replication domains, of
// another server id, and one whose sequence number goes back, each
// session resuming where the last one stopped: every recorded position's
// GTID state is the one the server gives for its file and offset
// (BINLOG_GTID_POS), and the replica equals the source.
func TestMySQLGTIDDomainsAndServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mariadbd")
	}
	server := startMariaDB(t, 61, mariaTemplate(t))
	server.makeItems(t, 20, "(1, 'a')")
	cfg := myStreamConfig(t, &testdb.My{DSN: server.dsn}, "app", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	appDB, err := sql.Open("mysql", server.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	for i, step := range []string{
		"SET SESSION gtid_domain_id = 1",
		"SET SESSION gtid_domain_id = 0",
		"SET SESSION gtid_domain_id = 2, SESSION server_id = 62",
		"SET SESSION gtid_domain_id = 0, SESSION server_id = 61, SESSION gtid_seq_no = 2", // back: strict mode is off
		"SET SESSION gtid_domain_id = 1",
		"FLUSH BINARY LOGS",
	} {
		server.exec(t, step)
		server.exec(t, fmt.Sprintf("INSERT INTO app.items VALUES (%d, 'step %d')", i+10, i))
		r.Close()
		e, r = engine(t, file, cfg)
		drain(t, e)
		recs, err := r.StreamStates(context.Background())
		if err != nil || len(recs) != 1 {
			t.Fatal(recs, err)
		}
		p := string(recs[0].Position)
		gtid, _ := gtidOf(p)
		bin, offset, _ := strings.Cut(strings.SplitN(p, "@", 2)[0], ":")
		var at string
		if err := server.db.QueryRow("SELECT BINLOG_GTID_POS(?, ?)", bin, offset).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if !sameGTIDPos(gtid, at) {
			t.Fatalf("after %q the replica stands at %s; the server's GTID state there is %s", step, p, at)
		}
		mySameRows(t, &testdb.My{DSN: server.dsn, DB: appDB}, file, "SELECT id, v FROM items ORDER BY id")
	}
}

// sameGTIDPos reports whether two MariaDB GTID positions name the same
// GTIDs, in any order.
func sameGTIDPos(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}
