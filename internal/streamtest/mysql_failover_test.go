package streamtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull/internal/testdb"
)

// privateMariaDB is a mariadbd of a test's own, in a temporary folder:
// the machine's server is shared, and a failover test needs a topology
// of its own.
type privateMariaDB struct {
	dsn string // root, the app database
	db  *sql.DB
}

// mariaTemplate installs a fresh data folder for private servers to copy.
// The test is skipped where MariaDB is not installed.
func mariaTemplate(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"mariadbd", "mariadb-install-db"} {
		if _, err := exec.LookPath(bin); err != nil {
			if testdb.RequireServices() {
				t.Fatalf("%s: %v", bin, err)
			}
			t.Skipf("%s is not installed: no private server for a failover", bin)
		}
	}
	dir := t.TempDir()
	out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+dir+"/data", "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	return dir + "/data"
}

// startMariaDB starts mariadbd on a copy of template, as server serverID,
// with a binlog that also logs what it replicates (unless flags, added to
// its command line, say otherwise). It is shut down when the test ends.
func startMariaDB(t *testing.T, serverID int, template string, flags ...string) *privateMariaDB {
	t.Helper()
	dir, err := os.MkdirTemp("", "lpmaria") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("cp", "-a", template, data).CombinedOutput(); err != nil {
		t.Fatalf("copy the data folder: %v %s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command("mariadbd", "--no-defaults", "--datadir="+data, "--user=root", "--bind-address=127.0.0.1",
		"--port="+strconv.Itoa(port), "--socket="+filepath.Join(dir, "s.sock"), "--pid-file="+filepath.Join(dir, "m.pid"),
		"--log-error="+filepath.Join(dir, "err.log"), "--server-id="+strconv.Itoa(serverID), "--log-bin=bin",
		"--log-slave-updates=ON", "--binlog-format=ROW", "--binlog-row-image=FULL", "--innodb-buffer-pool-size=16M")
	cmd.Args = append(cmd.Args, flags...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	admin := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec("SHUTDOWN")
		db.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(30 * time.Second); db.Ping() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Fatalf("mariadbd did not start:\n%s", log)
		}
	}
	db.SetMaxOpenConns(1)
	return &privateMariaDB{dsn: admin + "app", db: db}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (m *privateMariaDB) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := m.db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (m *privateMariaDB) gtid(t *testing.T, v string) string {
	t.Helper()
	var s string
	if err := m.db.QueryRow("SELECT @@" + v).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// makeItems makes app.items (id, v VARCHAR(width)) with rows, a VALUES
// list.
func (m *privateMariaDB) makeItems(t *testing.T, width int, rows string) {
	t.Helper()
	m.exec(t, "CREATE DATABASE app")
	m.exec(t, fmt.Sprintf("CREATE TABLE app.items (id BIGINT PRIMARY KEY, v VARCHAR(%d))", width))
	m.exec(t, "INSERT INTO app.items VALUES "+rows)
}

// replicate makes m a GTID replica of primary, and starts it.
func (m *privateMariaDB) replicate(t *testing.T, primary *privateMariaDB) {
	t.Helper()
	var port string
	if err := primary.db.QueryRow("SELECT @@port").Scan(&port); err != nil {
		t.Fatal(err)
	}
	m.exec(t, "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT="+port+", MASTER_USER='root', MASTER_USE_GTID=slave_pos")
	m.exec(t, "START SLAVE")
}

// caughtUp waits, up to 30 s, until m has applied all primary wrote, and
// returns that GTID position.
func (m *privateMariaDB) caughtUp(t *testing.T, primary *privateMariaDB) string {
	t.Helper()
	want := primary.gtid(t, "gtid_binlog_pos")
	for deadline := time.Now().Add(30 * time.Second); m.gtid(t, "gtid_slave_pos") != want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not catch up: %s, want %s", m.gtid(t, "gtid_slave_pos"), want)
		}
	}
	return want
}

// TestMySQLFailoverByGTID streams from a MariaDB primary, fails over to
// its replica (log_slave_updates, MASTER_USE_GTID=slave_pos) and points
// litepull at the replica: the stream goes on from the same transaction by
// GTID, with nothing copied again, nothing missed and nothing applied
// twice; then it follows the new primary's own writes.
func TestMySQLFailoverByGTID(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two mariadbd")
	}
	template := mariaTemplate(t)
	primary := startMariaDB(t, 11, template)
	standby := startMariaDB(t, 12, template)
	primary.makeItems(t, 20, "(1, 'a'), (2, 'b'), (3, 'c')")
	standby.replicate(t, primary)

	cfg := myStreamConfig(t, &testdb.My{DSN: primary.dsn}, "app", tableConfig("items"))
	file := replicaFile(t)
	e, r := engine(t, file, cfg)
	drain(t, e)
	primary.exec(t, "UPDATE app.items SET v = 'streamed' WHERE id = 1")
	drain(t, e)
	// Changes the replica has not streamed when the primary goes.
	primary.exec(t, "INSERT INTO app.items VALUES (4, 'in flight')")
	primary.exec(t, "DELETE FROM app.items WHERE id = 2")
	primary.exec(t, "UPDATE app.items SET id = 30 WHERE id = 3")
	want := standby.caughtUp(t, primary)
	standby.exec(t, "STOP SLAVE")
	primary.exec(t, "SHUTDOWN")
	r.Close()

	// Failover: the same source, at the standby.
	cfg.DSN = standby.dsn
	e, r = engine(t, file, cfg)
	sum := drain(t, e)
	if fullRefreshed(sum, "items") || sum.Tables[0].RowsPulled != 3 {
		t.Fatalf("after the failover: %+v; want the 3 row changes in flight, no copy", sum.Tables[0])
	}
	appDB, err := sql.Open("mysql", standby.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	standbyMy := &testdb.My{DSN: standby.dsn, DB: appDB}
	mySameRows(t, standbyMy, file, "SELECT id, v FROM items ORDER BY id")
	recs, err := r.StreamStates(context.Background())
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	if gtid, _ := gtidOf(string(recs[0].Position)); gtid != want {
		t.Fatalf("the stream stands at %s, want GTID %s", recs[0].Position, want)
	}

	// The new primary's own writes stream on, by file and offset now.
	standby.exec(t, "INSERT INTO app.items VALUES (5, 'new primary')")
	if sum := drain(t, e); fullRefreshed(sum, "items") || sum.Tables[0].RowsPulled != 1 {
		t.Fatalf("a write at the new primary: %+v", sum.Tables[0])
	}
	mySameRows(t, standbyMy, file, "SELECT id, v FROM items ORDER BY id")
	recs, _ = r.StreamStates(context.Background())
	if p := string(recs[0].Position); !strings.Contains(p, "@12;gtid=0-12-") {
		t.Fatalf("the stream stands at %s, want the new primary's position and GTID", p)
	}
}

// TestMySQLBinlogReallyPurged purges, on a private server, the binlog
// file the replica's position lies in: the run fails saying a new
// snapshot is needed, changing nothing, until a run with Full.
func TestMySQLBinlogReallyPurged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mariadbd")
	}
	server := startMariaDB(t, 21, mariaTemplate(t))
	server.makeItems(t, 20, "(1, 'a')")
	cfg := myStreamConfig(t, &testdb.My{DSN: server.dsn}, "app", tableConfig("items"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	server.exec(t, "INSERT INTO app.items VALUES (2, 'lost')")
	server.exec(t, "FLUSH BINARY LOGS")
	// The server keeps a file a binlog reader still reads: the last run's,
	// until the server notices it is gone.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		server.exec(t, "PURGE BINARY LOGS TO 'bin.000002'")
		if firstBinlog(t, server.db) == "bin.000002" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bin.000001 was not purged within 30s")
		}
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
	server.exec(t, "INSERT INTO app.items VALUES (3, 'streamed')")
	if sum := drain(t, e); fullRefreshed(sum, "items") {
		t.Fatal("the run after the new snapshot copied again")
	}
	check()
}

// firstBinlog is the oldest binlog file the server keeps.
func firstBinlog(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	v := make([]any, len(cols))
	var name string
	v[0] = &name
	for i := 1; i < len(v); i++ {
		v[i] = new(sql.RawBytes)
	}
	if !rows.Next() {
		t.Fatal("no binlog files")
	}
	if err := rows.Scan(v...); err != nil {
		t.Fatal(err)
	}
	return name
}
