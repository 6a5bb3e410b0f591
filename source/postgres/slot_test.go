package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/postgres"
)

// TestAckResumesAfterAcked: a new stream starts after the last
// acknowledged transaction, or after Start's own position when later.
func TestAckResumesAfterAcked(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	ctx := context.Background()
	cs := e.open(t)
	for i := 1; i <= 4; i++ {
		pg.Exec(t, "INSERT INTO a VALUES ($1)", i)
	}
	if err := cs.Start(ctx, ""); err != nil {
		t.Fatal(err)
	}
	first := readTxn(t, cs)
	acked := first[len(first)-1].Position
	if err := cs.Ack(ctx, acked); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slot to confirm the ack", func() bool {
		pos, err := cs.Confirmed(ctx)
		return err == nil && pos == acked
	})
	checkStatus(t, e, cs, acked)
	readTxn(t, cs) // row 2, never acknowledged
	cs.Close()

	again := e.start(t, "")
	wantRow(t, readTxn(t, again), "insert a [2]", "after the ack of row 1's transaction")
	three := readTxn(t, again)
	wantRow(t, three, "insert a [3]", "next")
	again.Close()

	later := e.start(t, three[len(three)-1].Position)
	wantRow(t, readTxn(t, later), "insert a [4]", "started after row 3's transaction")
}

func wantRow(t *testing.T, txn []litepull.ChangeEvent, want, when string) {
	t.Helper()
	if got := traces(txn); !slices.Contains(got, want) {
		t.Fatalf("%s: the stream sent %v, want %q", when, got, want)
	}
}

// checkStatus checks the slot's status while cs streams, acknowledged
// through acked with more written since.
func checkStatus(t *testing.T, e *changeEnv, cs litepull.ChangeStream, acked litepull.Position) {
	t.Helper()
	st, err := cs.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Slot != e.opts.Slot || st.Confirmed != acked || !st.Active || st.Current == "" {
		t.Errorf("status %+v, want slot %s active, confirmed at %s", st, e.opts.Slot, acked)
	}
	if !cs.Includes(st.Current, acked) {
		t.Errorf("current position %s is not after the confirmed one %s", st.Current, acked)
	}
	if st.LagBytes <= 0 || st.RetainedBytes < st.LagBytes {
		t.Errorf("lag %d bytes, retained %d: want a lag (row 2 is not acknowledged), and at least as much retained", st.LagBytes, st.RetainedBytes)
	}
	var kind, app string
	e.pg.Conn.QueryRow(context.Background(), "SELECT backend_type, application_name FROM pg_stat_activity WHERE pid = $1", st.ActivePID).Scan(&kind, &app)
	if kind != "walsender" || app != "litepull" {
		t.Errorf("active pid %d is a %q of %q, want litepull's walsender", st.ActivePID, kind, app)
	}
}

// TestSlotInUse: one process at a time streams from a slot; the others are
// told which process holds it and what to do.
func TestSlotInUse(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	// A short read timeout: the live stream answers the server every
	// second, so that OpenChanges soon sees it is alive.
	e := newChangeEnvConfig(t, pg, litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema,
		ReadTimeout: litepull.Duration(3 * time.Second)}, "a")
	ctx := context.Background()
	first, second := e.open(t), e.open(t)
	if err := first.Start(ctx, ""); err != nil {
		t.Fatal(err)
	}
	st, err := first.Status(ctx)
	if err != nil || !st.Active || st.ActivePID == 0 {
		t.Fatalf("status %+v, %v: want active", st, err)
	}
	want := fmt.Sprintf("replication slot %s is in use by process %d at the source: is another litepull streaming from it?", e.opts.Slot, st.ActivePID)
	fix := fmt.Sprintf("SELECT pg_terminate_backend(%d)", st.ActivePID)
	err = second.Start(ctx, "")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fix) {
		t.Errorf("Start on an active slot: %v, want %q … %q", err, want, fix)
	}
	_, err = e.src.OpenChanges(ctx, e.opts)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("OpenChanges on an active slot: %v, want %q", err, want)
	}
	err = e.src.DropChanges(ctx, e.opts)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("DropChanges on an active slot: %v, want %q", err, want)
	}
	// Once the first stream is closed, the slot is free at once.
	first.Close()
	third := e.open(t)
	if err := third.Start(ctx, ""); err != nil {
		t.Errorf("Start after the other stream closed: %v", err)
	}
}

// TestOpenChangesRefuses tables whose changes cannot be streamed, before
// it makes anything.
func TestOpenChangesRefuses(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE ok (id int PRIMARY KEY)")
	pg.Exec(t, "CREATE TABLE nopk (a int, b text)")
	pg.Exec(t, "CREATE TABLE nothing (id int PRIMARY KEY)")
	pg.Exec(t, "ALTER TABLE nothing REPLICA IDENTITY NOTHING")
	fix := func(table string) string {
		return fmt.Sprintf(`ALTER TABLE "%s"."%s" REPLICA IDENTITY FULL`, pg.Schema, table)
	}
	cases := []struct {
		name   string
		tables []string
		is     error
		want   string
	}{
		{"NoPrimaryKey", []string{"ok", "nopk"}, litepull.ErrNoPrimaryKey, fix("nopk")},
		{"ReplicaIdentityNothing", []string{"nothing"}, nil, fix("nothing")},
		{"NoTable", []string{"ok", "missing"}, litepull.ErrNoTable, "missing"},
		{"SameTableTwice", []string{"ok", pg.Schema + ".ok"}, nil, "list it once"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newChangeEnv(t, pg, c.tables...)
			_, err := e.src.OpenChanges(context.Background(), e.opts)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("OpenChanges: %v, want %v with %q", err, c.is, c.want)
			}
			if slots, pubs := made(t, e); slots+pubs != 0 {
				t.Errorf("a refused OpenChanges left %d slots and %d publications", slots, pubs)
			}
		})
	}
	t.Run("BadSlotName", func(t *testing.T) {
		e := newChangeEnv(t, pg, "ok")
		opts := e.opts
		opts.Slot = "Bad-Name"
		_, err := e.src.OpenChanges(context.Background(), opts)
		if !errors.Is(err, litepull.ErrBadIdentifier) {
			t.Fatalf("OpenChanges: %v, want ErrBadIdentifier", err)
		}
	})
}

// made counts the env's slot and publication at the server.
func made(t *testing.T, e *changeEnv) (slots, pubs int) {
	t.Helper()
	ctx := context.Background()
	e.pg.Conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", e.opts.Slot).Scan(&slots)
	e.pg.Conn.QueryRow(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = $1", e.opts.Publication).Scan(&pubs)
	return slots, pubs
}

// TestDropChanges drops the slot and the publication; absent ones are
// not an error.
func TestDropChanges(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	ctx := context.Background()
	e.open(t).Close()
	if slots, pubs := made(t, e); slots != 1 || pubs != 1 {
		t.Fatalf("OpenChanges made %d slots and %d publications, want 1 and 1", slots, pubs)
	}
	if err := e.src.DropChanges(ctx, e.opts); err != nil {
		t.Fatal(err)
	}
	if slots, pubs := made(t, e); slots+pubs != 0 {
		t.Errorf("DropChanges left %d slots and %d publications", slots, pubs)
	}
	if err := e.src.DropChanges(ctx, e.opts); err != nil {
		t.Errorf("DropChanges again: %v", err)
	}
}

// TestPublicationHoldsExactlyTheTables: an existing publication is made to
// publish exactly the configured tables; one for all tables is refused.
func TestPublicationHoldsExactlyTheTables(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	pg.Exec(t, "CREATE TABLE b (id int PRIMARY KEY)")
	pg.Exec(t, "CREATE TABLE c (id int PRIMARY KEY)")
	ctx := context.Background()
	e := newChangeEnv(t, pg, "a", "b")
	pg.Exec(t, "CREATE PUBLICATION "+e.opts.Publication+" FOR TABLE a, c WITH (publish = 'insert')")
	e.open(t).Close()
	if got := published(t, e); got != "a,b" {
		t.Errorf("publication holds %s, want a,b", got)
	}
	e.opts.Tables = []string{"b"}
	e.open(t).Close()
	if got := published(t, e); got != "b" {
		t.Errorf("publication holds %s, want b", got)
	}
	var complete bool
	pg.Conn.QueryRow(ctx, "SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate AND pubviaroot FROM pg_publication WHERE pubname = $1", e.opts.Publication).Scan(&complete)
	if !complete {
		t.Error("the publication does not publish every kind of change")
	}

	// The right tables, but only some of their rows or columns.
	pg.Exec(t, "ALTER PUBLICATION "+e.opts.Publication+" SET TABLE b WHERE (id > 5)")
	e.open(t).Close()
	var filters int
	pg.Conn.QueryRow(ctx, "SELECT count(rowfilter) FROM pg_publication_tables WHERE pubname = $1", e.opts.Publication).Scan(&filters)
	if got := published(t, e); got != "b" || filters != 0 {
		t.Errorf("publication holds %s with %d row filters, want b without", got, filters)
	}

	all := newChangeEnv(t, pg, "a")
	pg.Exec(t, "CREATE PUBLICATION "+all.opts.Publication+" FOR ALL TABLES")
	_, err := all.src.OpenChanges(ctx, all.opts)
	if err == nil || !strings.Contains(err.Error(), "FOR ALL TABLES") {
		t.Errorf("OpenChanges with a publication for all tables: %v", err)
	}
}

func published(t *testing.T, e *changeEnv) string {
	t.Helper()
	var got string
	e.pg.Conn.QueryRow(context.Background(), "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = $1", e.opts.Publication).Scan(&got)
	return got
}

// TestSlotCreationWaitsForTransactions: a slot is made only once the
// transactions open at the source end; a wait that runs out says which
// process holds it up, and leaves no slot behind.
func TestSlotCreationWaitsForTransactions(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	ctx := context.Background()
	blocker, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(ctx)
	var pid int
	blocker.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
	if _, err := blocker.Exec(ctx, "BEGIN; INSERT INTO "+pg.Schema+".a VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	defer blocker.Exec(ctx, "ROLLBACK")

	wait, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = e.src.OpenChanges(wait, e.opts)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fmt.Sprintf("process %d (", pid)) {
		t.Fatalf("OpenChanges behind an open transaction: %v, want a deadline naming process %d", err, pid)
	}
	waitFor(t, "the abandoned slot to go", func() bool { slots, _ := made(t, e); return slots == 0 })
}

// TestRoleWithoutReplication: a role that may not stream is told how to
// get the right.
func TestRoleWithoutReplication(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	role := testdb.UniqueName("lp_role_")
	pg.Exec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() { pg.Exec(t, "DROP ROLE "+role) })
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: u.String(), Schema: pg.Schema}
	e := newChangeEnvConfig(t, pg, cfg, "a")
	_, err = e.src.OpenChanges(context.Background(), e.opts)
	want := fmt.Sprintf("role %s may not stream changes: it needs the REPLICATION attribute: ALTER ROLE %s REPLICATION", role, role)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "GRANT rds_replication TO "+role) {
		t.Fatalf("OpenChanges: %v, want %q", err, want)
	}
}

// TestPublicationNotOwned: a role that does not own the tables cannot
// make or change the publication; the error says who owns them, what to
// grant, and the statement that makes the publication by hand, which the
// role can then stream from as it is.
func TestPublicationNotOwned(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)")
	role := testdb.UniqueName("lp_role_")
	pg.Exec(t, "CREATE ROLE "+role+" LOGIN REPLICATION")
	pg.Exec(t, "GRANT USAGE ON SCHEMA "+pg.Schema+" TO "+role)
	t.Cleanup(func() { pg.Exec(t, "DROP OWNED BY "+role+"; DROP ROLE "+role) })
	e := newChangeEnv(t, pg, "a", "b") // the owner's: it drops what the test makes
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	src, err := postgres.New(litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: u.String(), Schema: pg.Schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	ctx := context.Background()

	var owner string
	if err := pg.Conn.QueryRow(ctx, "SELECT current_user").Scan(&owner); err != nil {
		t.Fatal(err)
	}
	create := fmt.Sprintf(`CREATE PUBLICATION "%s" FOR TABLE "%s"."a", "%s"."b" WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`,
		e.opts.Publication, pg.Schema, pg.Schema)
	_, err = src.OpenChanges(ctx, e.opts)
	for _, want := range []string{"permission denied for database", "role " + role + " may not create publication " + e.opts.Publication,
		"GRANT CREATE ON DATABASE", "owned by " + owner, "as " + owner + ": " + create} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenChanges without CREATE on the database: %v\nwant %q", err, want)
		}
	}
	var db string
	if err := pg.Conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "GRANT CREATE ON DATABASE "+db+" TO "+role)
	t.Cleanup(func() { pg.Exec(t, "REVOKE CREATE ON DATABASE "+db+" FROM "+role) })
	_, err = src.OpenChanges(ctx, e.opts)
	for _, want := range []string{"must be owner of table", "owned by " + owner, "as " + owner + ": " + create} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenChanges of tables the role does not own: %v\nwant %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "GRANT CREATE ON DATABASE") {
		t.Errorf("OpenChanges with CREATE on the database still asks for it: %v", err)
	}

	pg.Exec(t, create)
	cs, err := src.OpenChanges(ctx, e.opts)
	if err != nil {
		t.Fatalf("OpenChanges with the publication made by hand as the error says: %v", err)
	}
	cs.Close()
}
