package mysql_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/mysql"
)

// binlogEnv is a test's database, a source over it and change options
// with a server id of the test's own.
type binlogEnv struct {
	my   *testdb.My
	src  *mysql.Source
	opts litepull.ChangeOptions
}

func newBinlogEnv(t *testing.T, tables ...string) *binlogEnv {
	t.Helper()
	my := testdb.MySQL(t)
	src, err := mysql.New(litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return &binlogEnv{my: my, src: src, opts: litepull.ChangeOptions{ServerID: testServerID(), Tables: tables}}
}

// testServerID is a binlog server id no other test uses: a second reader
// with the same id makes the server end the first one's stream.
func testServerID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return 2_000_000_000 + binary.LittleEndian.Uint32(b[:])%2_000_000_000
}

// open opens the stream, closed when the test ends.
func (e *binlogEnv) open(t *testing.T) litepull.ChangeStream {
	t.Helper()
	cs, err := e.src.OpenChanges(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// start opens a stream and starts it at the server's current position.
func (e *binlogEnv) start(t *testing.T) (litepull.ChangeStream, litepull.Position) {
	t.Helper()
	cs := e.open(t)
	pos, err := cs.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Start(context.Background(), pos); err != nil {
		t.Fatal(err)
	}
	return cs, pos
}

// txn is one source transaction as a stream sent it.
type txn struct {
	begin, commit litepull.ChangeEvent
	events        []litepull.ChangeEvent
}

// readTxns reads n transactions, checking on the way that positions only
// grow: keepalives and commits never go back, a begin lies after the last
// commit or keepalive, and Includes orders them.
func readTxns(t *testing.T, cs litepull.ChangeStream, n int) []txn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []txn
	var cur *txn
	var last litepull.Position
	for len(out) < n {
		ev, err := cs.Next(ctx)
		if err != nil {
			t.Fatalf("after %d transactions: %v", len(out), err)
		}
		switch ev.Kind {
		case litepull.ChangeKeepalive:
			if cur != nil {
				t.Fatalf("a keepalive inside a transaction: %+v", ev)
			}
			if last != "" && cs.Includes(last, ev.Position) {
				t.Fatalf("keepalive at %s went back from %s", ev.Position, last)
			}
			last = ev.Position
		case litepull.ChangeBegin:
			if cur != nil {
				t.Fatalf("a begin inside a transaction: %+v", ev)
			}
			if last != "" && cs.Includes(last, ev.Position) {
				t.Fatalf("a transaction begins at %s, before %s", ev.Position, last)
			}
			cur = &txn{begin: ev}
		case litepull.ChangeCommit:
			if cur == nil {
				t.Fatalf("a commit outside a transaction: %+v", ev)
			}
			if !cs.Includes(ev.Position, cur.begin.Position) || cs.Includes(cur.begin.Position, ev.Position) {
				t.Fatalf("begin %s and commit %s are not ordered", cur.begin.Position, ev.Position)
			}
			cur.commit, last = ev, ev.Position
			out = append(out, *cur)
			cur = nil
		default:
			if cur == nil {
				t.Fatalf("a change outside a transaction: %+v", ev)
			}
			cur.events = append(cur.events, ev)
		}
	}
	return out
}

// rowChanges renders a transaction's row changes, truncates and
// relations, one line each.
func rowChanges(tx txn) []string {
	var out []string
	for _, ev := range tx.events {
		switch ev.Kind {
		case litepull.ChangeRelation:
			n := 0
			if ev.Schema != nil {
				n = len(ev.Schema.Columns)
			}
			out = append(out, fmt.Sprintf("relation %s %v (%d described)", ev.Table, ev.Columns, n))
		case litepull.ChangeTruncate:
			out = append(out, fmt.Sprintf("truncate %v", ev.Tables))
		default:
			out = append(out, fmt.Sprintf("%s %s %v old %v", map[litepull.ChangeKind]string{
				litepull.ChangeInsert: "insert", litepull.ChangeUpdate: "update", litepull.ChangeDelete: "delete"}[ev.Kind], ev.Table, ev.Row, ev.Old))
		}
	}
	return out
}

func TestBinlogEvents(t *testing.T) {
	e := newBinlogEnv(t, "items", "tags")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20), n BIGINT)")
	e.my.Exec(t, "CREATE TABLE tags (id BIGINT PRIMARY KEY, tag VARCHAR(20) NOT NULL)")
	e.my.Exec(t, "CREATE TABLE other (id BIGINT PRIMARY KEY)")
	cs, _ := e.start(t)
	for _, q := range []string{
		"INSERT INTO items VALUES (1, 'a', 10), (2, NULL, 20)",
		"INSERT INTO other VALUES (1)", // not streamed: no transaction of its own
		"UPDATE items SET n = 11 WHERE id = 1",
		"UPDATE items SET id = 3 WHERE id = 2",
		"DELETE FROM items WHERE id = 1",
		"BEGIN; INSERT INTO items VALUES (5, 'e', 50); INSERT INTO tags VALUES (1, 'x'); UPDATE items SET name = 'E' WHERE id = 5; COMMIT",
		"TRUNCATE items",
	} {
		e.my.Exec(t, q)
	}
	got := readTxns(t, cs, 6)
	want := [][]string{
		{"relation items [id name n] (3 described)", "insert items [1 a 10] old []", "insert items [2 <nil> 20] old []"},
		{"update items [1 a 11] old [1 a 10]"},
		{"update items [3 <nil> 20] old [2 <nil> 20]"},
		{"delete items [] old [1 a 11]"},
		{"insert items [5 e 50] old []", "relation tags [id tag] (2 described)", "insert tags [1 x] old []", "update items [5 E 50] old [5 e 50]"},
		{"truncate [items]"},
	}
	for i, tx := range got {
		if g := rowChanges(tx); !reflect.DeepEqual(g, want[i]) {
			t.Errorf("transaction %d:\n got %q\nwant %q", i, g, want[i])
		}
		if i > 0 && !cs.Includes(tx.begin.Position, got[i-1].commit.Position) && tx.begin.Position != got[i-1].commit.Position {
			t.Errorf("transaction %d begins at %s, before the last commit %s", i, tx.begin.Position, got[i-1].commit.Position)
		}
		if tx.commit.Time.IsZero() || time.Since(tx.commit.Time) > time.Minute {
			t.Errorf("transaction %d: commit time %v", i, tx.commit.Time)
		}
	}
}

// TestBinlogSnapshotConsistency takes a snapshot while a writer commits
// transactions, and requires the snapshot's reader to hold exactly the
// transactions the stream says begin before the snapshot's position: the
// snapshot's own position (MariaDB), and the position read under a global
// read lock (MySQL's way, which MariaDB knows too).
func TestBinlogSnapshotConsistency(t *testing.T) {
	t.Run("SnapshotPosition", func(t *testing.T) { snapshotConsistency(t, false) })
	t.Run("GlobalReadLock", func(t *testing.T) { snapshotConsistency(t, true) })
}

func snapshotConsistency(t *testing.T, lock bool) {
	e := newBinlogEnv(t, "log")
	e.my.Exec(t, "CREATE TABLE log (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
	cs, _ := e.start(t)
	if lock {
		mysql.LockSnapshots(cs)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	halt := func() {
		once.Do(func() { close(stop) })
		wg.Wait()
	}
	defer halt()
	wg.Add(1)
	written := 0
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.my.DB.Exec(fmt.Sprintf("INSERT INTO log VALUES (%d, %d), (%d, %d)", 2*i, i, 2*i+1, i)); err != nil {
				t.Error(err)
				return
			}
			written = i
		}
	}()
	time.Sleep(150 * time.Millisecond)
	snap, err := cs.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // commits after the snapshot, which it must not see
	halt()
	seen := readSnapshot(t, snap.Reader, "log")
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	streamed := map[int64]bool{}
	for _, tx := range readTxns(t, cs, written) {
		if cs.Includes(snap.Position, tx.begin.Position) {
			for _, ev := range tx.events {
				if ev.Kind == litepull.ChangeInsert {
					streamed[ev.Row[0].(int64)] = true
				}
			}
		}
	}
	if len(seen) == 0 || len(streamed) == 2*written {
		t.Fatalf("the snapshot holds %d rows of %d written: take it while the writer runs", len(seen), 2*written)
	}
	if !reflect.DeepEqual(seen, streamed) {
		t.Fatalf("the snapshot at %s holds %d rows, the transactions before it %d", snap.Position, len(seen), len(streamed))
	}
	t.Logf("snapshot at %s: %d of %d rows", snap.Position, len(seen), 2*written)
}

// readSnapshot reads a table's ids through a snapshot's reader, in pages.
func readSnapshot(t *testing.T, r litepull.Source, table string) map[int64]bool {
	t.Helper()
	ctx := context.Background()
	schema, err := r.Describe(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	req := litepull.PageRequest{Schema: schema, Columns: []string{"id"}, Cursor: "id", PrimaryKey: []string{"id"}, Limit: 37}
	for {
		page, err := r.ReadPage(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range page.Rows {
			seen[row[0].(int64)] = true
		}
		if len(page.Rows) < req.Limit {
			break
		}
		last := page.Rows[len(page.Rows)-1][0]
		req.After = &litepull.Watermark{Cursor: last, PK: []litepull.Value{last}}
	}
	if n, err := r.CountNullCursor(ctx, table, "id"); err != nil || n != 0 {
		t.Fatalf("CountNullCursor = %d, %v", n, err)
	}
	return seen
}

// TestBinlogResume: a stream started at a commit's position sends exactly
// the transactions after it.
func TestBinlogResume(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20))")
	cs, _ := e.start(t)
	for i := 1; i <= 3; i++ {
		e.my.Exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, 'v%d')", i, i))
	}
	first := readTxns(t, cs, 3)
	cs.Close()

	again := e.open(t)
	if err := again.Resumable(context.Background(), first[0].commit.Position); err != nil {
		t.Fatal(err)
	}
	if err := again.Start(context.Background(), first[0].commit.Position); err != nil {
		t.Fatal(err)
	}
	got := readTxns(t, again, 2)
	for i, tx := range got {
		if g, w := rowChanges(tx), rowChanges(first[i+1]); !reflect.DeepEqual(g[len(g)-1], w[len(w)-1]) || tx.commit.Position != first[i+1].commit.Position {
			t.Errorf("resumed transaction %d: %q at %s, want %q at %s", i, g, tx.commit.Position, w, first[i+1].commit.Position)
		}
	}
}

// TestBinlogDDL: a change of a streamed table's definition says its new
// shape; a dropped table says none.
func TestBinlogDDL(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20))")
	cs, _ := e.start(t)
	e.my.Exec(t, "INSERT INTO items VALUES (1, 'a')")
	e.my.Exec(t, "ALTER TABLE items ADD COLUMN n BIGINT")
	e.my.Exec(t, "INSERT INTO items VALUES (2, 'b', 20)")
	e.my.Exec(t, "CREATE TABLE unrelated (id BIGINT PRIMARY KEY)") // no transaction of the stream's
	got := readTxns(t, cs, 3)                                      // read before the DROP: a DDL event is described as the table is when read
	e.my.Exec(t, "DROP TABLE items")
	got = append(got, readTxns(t, cs, 1)...)
	want := [][]string{
		{"relation items [id name] (2 described)", "insert items [1 a] old []"},
		{"relation items [id name n] (3 described)"},
		{"insert items [2 b 20] old []"},
		{"relation items [] (0 described)"},
	}
	for i, tx := range got {
		if g := rowChanges(tx); !reflect.DeepEqual(g, want[i]) {
			t.Errorf("transaction %d:\n got %q\nwant %q", i, g, want[i])
		}
	}
}

// TestBinlogRowsBeforeAlter: rows logged before a change of the table's
// definition, read after it, do not fit the description: the stream says
// the binlog's shape (the replica copies the table again) and sends them
// under columns no table has.
func TestBinlogRowsBeforeAlter(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20))")
	pos, err := e.open(t).Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.my.Exec(t, "INSERT INTO items VALUES (1, 'a')")
	e.my.Exec(t, "ALTER TABLE items ADD COLUMN n BIGINT")
	e.my.Exec(t, "INSERT INTO items VALUES (2, 'b', 2)")
	cs := e.open(t) // described after the ALTER
	if err := cs.Start(context.Background(), pos); err != nil {
		t.Fatal(err)
	}
	got := readTxns(t, cs, 3)
	want := [][]string{
		{"relation items [@1 @2] (2 described)", "insert items [<nil> <nil>] old []"},
		{"relation items [id name n] (3 described)"},
		{"insert items [2 b 2] old []"},
	}
	for i, tx := range got {
		if g := rowChanges(tx); !reflect.DeepEqual(g, want[i]) {
			t.Errorf("transaction %d:\n got %q\nwant %q", i, g, want[i])
		}
	}
}

func TestBinlogResumable(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY)")
	cs := e.open(t)
	ctx := context.Background()
	cur, err := cs.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Resumable(ctx, cur); err != nil {
		t.Fatalf("the current position: %v", err)
	}
	plain, gtid, hasGTID := strings.Cut(string(cur), ";gtid=")
	if !hasGTID {
		t.Fatalf("MariaDB's current position %s carries no GTID state", cur)
	}
	// A lag sample is the position without the GTID state (no binlog
	// scan), here or further on (the server is shared).
	sampler, ok := cs.(litepull.PositionSampler)
	if !ok {
		t.Fatal("a binlog stream is no PositionSampler")
	}
	if sample, err := sampler.SamplePosition(ctx); err != nil || strings.Contains(string(sample), ";gtid=") ||
		cs.Includes(litepull.Position(plain), sample) {
		t.Errorf("SamplePosition = %s, %v; want %s or later, without a GTID state", sample, err, plain)
	}
	file, rest, _ := strings.Cut(plain, ":")
	_, server, _ := strings.Cut(rest, "@")
	base := file[:strings.LastIndexByte(file, '.')]
	ahead := "0-1-999999999"
	for name, c := range map[string]struct{ pos, want string }{
		"purged":      {base + ".000000:4@" + server, "was purged at the source"},
		"otherServer": {file + ":4@" + server + "0", "carries no GTID state"},
		// Another server of the topology that is behind the replica.
		"otherServerBehind": {file + ":4@" + server + "0;gtid=" + ahead, "lacks transactions the replica holds"},
		"pastFileEnd":       {file + ":999999999999@" + server, "past the end of binlog file"},
		"notAPosition":      {"16/B374D848", "not a binlog position"},
	} {
		err := cs.Resumable(ctx, litepull.Position(c.pos))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, litepull.ErrStreamLost) {
			t.Errorf("%s: Resumable(%s) = %v, want %q, a verdict (ErrStreamLost)", name, c.pos, err, c.want)
		}
	}
	// Another server of the topology at the same GTID state: resumed by GTID.
	if err := cs.Resumable(ctx, litepull.Position(file+":4@"+server+"0;gtid="+gtid)); err != nil {
		t.Errorf("another server's position at this server's GTID state: %v", err)
	}
	if err := cs.Start(ctx, litepull.Position(file+":4@"+server+"0")); err == nil {
		t.Errorf("started at another server's position without a GTID state")
	}
}

// TestBinlogDeadlineKeepsStream: Next with a deadline that passes returns
// context.DeadlineExceeded, between events and in the middle of a burst of
// them, and the stream goes on whole.
func TestBinlogDeadlineKeepsStream(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY)")
	cs, _ := e.start(t)
	next := func() (litepull.ChangeEvent, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		defer cancel()
		return cs.Next(ctx)
	}
	timeouts := 0
	for range 5 {
		if _, err := next(); errors.Is(err, context.DeadlineExceeded) {
			timeouts++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	const n = 300
	go func() {
		for i := range n {
			if _, err := e.my.DB.Exec(fmt.Sprintf("INSERT INTO items VALUES (%d)", i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	ids := 0
	deadline := time.Now().Add(20 * time.Second)
	for ids < n && time.Now().Before(deadline) {
		ev, err := next()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			timeouts++
		case err != nil:
			t.Fatal(err)
		case ev.Kind == litepull.ChangeInsert:
			if ev.Row[0] != int64(ids) {
				t.Fatalf("insert %v, want id %d", ev.Row, ids)
			}
			ids++
		}
	}
	if ids != n || timeouts == 0 {
		t.Fatalf("%d of %d inserts, %d deadlines", ids, n, timeouts)
	}
}

func TestBinlogStatus(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, pad VARCHAR(2000))")
	cs, start := e.start(t)
	e.my.Exec(t, "INSERT INTO items VALUES (1, REPEAT('x', 2000))")
	txs := readTxns(t, cs, 1)
	ctx := context.Background()
	if err := cs.Ack(ctx, start); err != nil {
		t.Fatal(err)
	}
	st, err := cs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Confirmed != start || st.LagBytes < 2000 || st.RetainedBytes < st.LagBytes || !st.Active || st.Current == "" {
		t.Fatalf("status %+v after a 2000-byte row; acknowledged %s", st, start)
	}
	if err := cs.Ack(ctx, txs[0].commit.Position); err != nil {
		t.Fatal(err)
	}
	if st, err = cs.Status(ctx); err != nil || st.Confirmed != txs[0].commit.Position || st.LagBytes >= 2000 {
		t.Fatalf("status %+v, %v after acknowledging the commit", st, err)
	}
}

func TestBinlogChecks(t *testing.T) {
	e := newBinlogEnv(t)
	e.my.Exec(t, "CREATE TABLE keyed (id BIGINT PRIMARY KEY)")
	e.my.Exec(t, "CREATE TABLE unique_only (id BIGINT NOT NULL UNIQUE)")
	e.my.Exec(t, "CREATE TABLE unkeyed (id BIGINT)")
	e.my.Exec(t, "CREATE VIEW v AS SELECT id FROM keyed")
	ctx := context.Background()
	check := func(tables ...string) error {
		return e.src.CheckChanges(ctx, litepull.ChangeOptions{ServerID: e.opts.ServerID, Tables: tables})
	}
	if err := check("keyed", "unique_only", e.my.Database+".keyed2x"); !errors.Is(err, litepull.ErrNoTable) {
		t.Errorf("a missing table: %v", err)
	}
	if err := check("keyed", "unique_only"); err != nil {
		t.Errorf("keyed tables: %v", err)
	}
	if err := check("unkeyed"); !errors.Is(err, litepull.ErrNoPrimaryKey) || !strings.Contains(err.Error(), "primaryKey") {
		t.Errorf("a table without a key: %v", err)
	}
	if err := check("v"); err == nil || !strings.Contains(err.Error(), "not a table") {
		t.Errorf("a view: %v", err)
	}
	if err := check("keyed", e.my.Database+".keyed"); err == nil || !strings.Contains(err.Error(), "list it once") {
		t.Errorf("a table twice: %v", err)
	}
	if err := e.src.CheckChanges(ctx, litepull.ChangeOptions{Tables: []string{"keyed"}}); err == nil || !strings.Contains(err.Error(), "serverId") {
		t.Errorf("server id 0: %v", err)
	}
	if err := e.src.DropChanges(ctx, e.opts); err != nil {
		t.Errorf("DropChanges: %v", err)
	}
}

// TestBinlogPrivileges: a user without the binlog privileges is told
// which it lacks and how to grant them.
func TestBinlogPrivileges(t *testing.T) {
	e := newBinlogEnv(t)
	e.my.Exec(t, "CREATE TABLE keyed (id BIGINT PRIMARY KEY)")
	user := testdb.UniqueName("lpu_")
	e.my.Exec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user))
	t.Cleanup(func() { e.my.DB.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	e.my.Exec(t, fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'%%'", e.my.Database, user))
	src, err := mysql.New(litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: fmt.Sprintf("%s:pw@tcp(127.0.0.1:3306)/%s", user, e.my.Database)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.CheckChanges(context.Background(), litepull.ChangeOptions{ServerID: e.opts.ServerID, Tables: []string{"keyed"}})
	if err == nil || !strings.Contains(err.Error(), "REPLICATION SLAVE and REPLICATION CLIENT") || !strings.Contains(err.Error(), "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '"+user+"'@'%'") {
		t.Fatalf("a user without binlog privileges: %v", err)
	}
}

// TestBinlogServerIDInUse: two readers with one server id: the server
// ends one of them, which says to give each source a server id of its
// own.
func TestBinlogServerIDInUse(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY)")
	first, _ := e.start(t)
	second, _ := e.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		for _, cs := range []litepull.ChangeStream{first, second} {
			wait, stop := context.WithTimeout(ctx, 50*time.Millisecond)
			_, err := cs.Next(wait)
			stop()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				if !strings.Contains(err.Error(), fmt.Sprintf("another binlog reader or replica uses server id %d", e.opts.ServerID)) {
					t.Fatalf("a server id in use: %v", err)
				}
				return
			}
		}
	}
	t.Fatal("two readers with one server id both went on")
}

// TestBinlogSilence: an idle stream keeps going on the server's
// heartbeats, with a keepalive every read timeout at least; a server that
// says nothing for the read timeout fails the stream with a timeout.
func TestBinlogSilence(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY)")
	dc, err := driver.ParseDSN(my.DSN)
	if err != nil {
		t.Fatal(err)
	}
	addr, pause := stalltest.Pausing(t, dc.Addr)
	dc.Addr = addr
	const read = 400 * time.Millisecond
	src, err := mysql.New(litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: dc.FormatDSN(),
		ConnectTimeout: litepull.Duration(500 * time.Millisecond), ReadTimeout: litepull.Duration(read)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	ctx := context.Background()
	cs, err := src.OpenChanges(ctx, litepull.ChangeOptions{ServerID: testServerID(), Tables: []string{"items"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalltest.Within(t, 3*time.Second, func(context.Context) { cs.Close() }) })
	if err := cs.Start(ctx, ""); err != nil {
		t.Fatal(err)
	}
	keepalives := 0
	for start := time.Now(); time.Since(start) < 4*read; {
		ev, err := cs.Next(ctx)
		if err != nil {
			t.Fatalf("Next on an idle stream: %v", err)
		}
		if ev.Kind == litepull.ChangeKeepalive {
			keepalives++
		}
	}
	if keepalives < 4 {
		t.Errorf("%d keepalives in %s of an idle stream with a read timeout of %s", keepalives, 4*read, read)
	}
	pause()
	stalltest.Within(t, 3*read, func(ctx context.Context) {
		for err == nil {
			_, err = cs.Next(ctx)
		}
	})
	var te *litepull.TimeoutError
	if !errors.As(err, &te) || te.Op != litepull.OpRead || te.After != read {
		t.Fatalf("Next on a silent server: %v, want a read timeout after %s", err, read)
	}
}

// TestBinlogRotation: the stream follows the server to a new binlog file
// (FLUSH BINARY LOGS), its positions keep their order across files, a
// stream resumed in the old file crosses into the new one, and the lag
// counts the bytes of both.
func TestBinlogRotation(t *testing.T) {
	e := newBinlogEnv(t, "items")
	e.my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY)")
	cs, start := e.start(t)
	e.my.Exec(t, "INSERT INTO items VALUES (1)")
	e.my.Exec(t, "FLUSH BINARY LOGS")
	e.my.Exec(t, "INSERT INTO items VALUES (2)")
	got := readTxns(t, cs, 2)
	file := func(p litepull.Position) string { f, _, _ := strings.Cut(string(p), ":"); return f }
	if file(got[0].commit.Position) == file(got[1].commit.Position) || !cs.Includes(got[1].begin.Position, got[0].commit.Position) {
		t.Fatalf("commits at %s and %s: want the second in a later file", got[0].commit.Position, got[1].commit.Position)
	}
	ctx := context.Background()
	if err := cs.Ack(ctx, start); err != nil {
		t.Fatal(err)
	}
	st, err := cs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if file(st.Current) == file(start) || st.LagBytes <= 0 {
		t.Fatalf("status %+v: want the lag from %s across files", st, start)
	}
	again := e.open(t)
	if err := again.Start(ctx, got[0].commit.Position); err != nil {
		t.Fatal(err)
	}
	if tx := readTxns(t, again, 1)[0]; tx.commit.Position != got[1].commit.Position {
		t.Fatalf("resumed in the old file: commit at %s, want %s", tx.commit.Position, got[1].commit.Position)
	}
}
