package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

func TestWalLevelError(t *testing.T) {
	cases := []struct {
		level, host string
		want        string // "" for no error
	}{
		{"logical", "db.example.com", ""},
		{"logical", "abc.rds.amazonaws.com", ""},
		{"replica", "127.0.0.1", "ALTER SYSTEM SET wal_level = logical; then restart the server"},
		{"minimal", "db.example.com", `wal_level is "minimal"`},
		{"replica", "mydb.cluster-abc.eu-west-1.rds.amazonaws.com", "rds.logical_replication = 1 in the DB (cluster) parameter group and reboot"},
		{"replica", "ep-cool-name-123.us-east-2.aws.neon.tech", "on Neon, enable logical replication in the project's settings"},
		{"replica", "db.abcdefgh.supabase.co", "Supabase runs with wal_level = logical already"},
		{"replica", "DB.ABCDEFGH.SUPABASE.CO", "Supabase runs with wal_level = logical already"},
	}
	for _, c := range cases {
		err := walLevelError(c.level, c.host)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("walLevelError(%q, %q) = %v, want nil", c.level, c.host, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("walLevelError(%q, %q) = %v, want %q", c.level, c.host, err, c.want)
		}
	}
	// Elsewhere, every provider's fix is listed.
	err := walLevelError("replica", "10.0.0.7")
	for _, want := range []string{"ALTER SYSTEM", "Neon", "rds.logical_replication = 1", "Supabase"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSlotUsable(t *testing.T) {
	ok := slotState{exists: true, plugin: "pgoutput", kind: "logical", database: "app", here: "app", walStatus: "reserved"}
	cases := []struct {
		name   string
		change func(*slotState)
		is     error
		want   string // "" for usable
	}{
		{"Usable", func(*slotState) {}, nil, ""},
		{"Absent", func(s *slotState) { *s = slotState{} }, nil, ""},
		{"Unreserved", func(s *slotState) { s.walStatus = "unreserved" }, nil, ""},
		{"Lost", func(s *slotState) { s.walStatus = "lost" }, litepull.ErrStreamLost, "invalidated"},
		{"OtherPlugin", func(s *slotState) { s.plugin = "wal2json" }, nil, `of plugin "wal2json"`},
		{"Physical", func(s *slotState) { s.kind, s.plugin = "physical", "" }, nil, "a physical slot"},
		{"OtherDatabase", func(s *slotState) { s.database = "other" }, nil, "belongs to database other, not app"},
		{"Active", func(s *slotState) { s.active, s.pid = true, 4242 }, nil, "in use by process 4242"},
	}
	for _, c := range cases {
		s := ok
		c.change(&s)
		err := s.usable("lp")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want usable", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		case c.is != nil && !errors.Is(err, c.is):
			t.Errorf("%s: %v, want %v", c.name, err, c.is)
		}
	}
}

func TestIdentityError(t *testing.T) {
	fix := `ALTER TABLE "s"."t" REPLICA IDENTITY FULL`
	cases := []struct {
		identity string
		hasPK    bool
		want     string // "" for streamable
	}{
		{"d", true, ""},
		{"f", false, ""},
		{"f", true, ""},
		{"d", false, fix},
		{"n", true, fix},
		{"i", true, "USING INDEX"},
	}
	for _, c := range cases {
		err := identityError("t", `"s"."t"`, c.identity, c.hasPK)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("identity %s, key %v: %v, want nil", c.identity, c.hasPK, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("identity %s, key %v: %v, want %q", c.identity, c.hasPK, err, c.want)
		}
	}
	if err := identityError("t", `"s"."t"`, "d", false); !errors.Is(err, litepull.ErrNoPrimaryKey) {
		t.Errorf("no key: %v, want ErrNoPrimaryKey", err)
	}
}

func TestSnapshotSlotName(t *testing.T) {
	for _, slot := range []string{"lp", strings.Repeat("a", 63)} {
		a, b := snapshotSlotName(slot), snapshotSlotName(slot)
		if a == b || !slotName.MatchString(a) || !strings.HasPrefix(a, slot[:min(len(slot), 20)]) {
			t.Errorf("snapshotSlotName(%q) = %q, %q: want unique valid names derived from it", slot, a, b)
		}
	}
}

func TestRelationKey(t *testing.T) {
	rel := func(identity uint8, flagged ...string) *pglogrepl.RelationMessage {
		m := &pglogrepl.RelationMessage{ReplicaIdentity: identity}
		for _, c := range []string{"a", "b", "c"} {
			col := &pglogrepl.RelationMessageColumn{Name: c}
			if strings.Contains(strings.Join(flagged, ","), c) {
				col.Flags = 1
			}
			m.Columns = append(m.Columns, col)
		}
		return m
	}
	cases := []struct {
		m    *pglogrepl.RelationMessage
		pk   []string
		want string
	}{
		{rel('d', "a", "c"), []string{"c", "a"}, "c,a"},             // the key's own order
		{rel('f', "a", "b", "c"), []string{"b"}, "b"},               // FULL flags every column
		{rel('f', "a", "b", "c"), nil, ""},                          // FULL without a key: none, as Describe says
		{rel('d', "a"), []string{"b"}, "a"},                         // the catalog moved on: the message's key
		{rel('d', "a", "b"), []string{"a", "b", "c"}, "a,b"},        // likewise
		{rel('i', "b"), nil, "b"},                                   // an index's columns
		{rel('d', "b", "c"), []string{"b", "c"}, "b,c"},             // same order
		{rel('d', "a", "b", "c"), []string{"c", "b", "a"}, "c,b,a"}, // every column, in the key's order
	}
	for i, c := range cases {
		if got := strings.Join(relationKey(c.m, c.pk), ","); got != c.want {
			t.Errorf("case %d: key %s, want %s", i, got, c.want)
		}
	}
}

func TestFillUnchanged(t *testing.T) {
	kept := litepull.Keep{}
	r := &relation{columns: []string{"id", "v", "big"}, key: []int{0}}
	cases := []struct {
		name     string
		row, old []litepull.Value
		whole    bool
		want     string
	}{
		{"KeyKept", []litepull.Value{int64(1), "x", kept}, nil, false, "[1 x {[]}]"},
		{"KeyMoved", []litepull.Value{int64(2), "x", kept}, []litepull.Value{int64(1), nil, nil}, false, "[2 x {[1]}]"},
		{"OldKeyOnly", []litepull.Value{int64(1), "x", kept}, []litepull.Value{int64(1), nil, nil}, false, "[1 x {[]}]"},
		{"WholeOldRow", []litepull.Value{int64(2), "x", kept}, []litepull.Value{int64(1), "w", "big"}, true, "[2 x big]"},
		{"BytesKey", []litepull.Value{[]byte("k"), kept, "y"}, []litepull.Value{[]byte("k"), nil, nil}, false, "[[107] {[]} y]"},
	}
	for _, c := range cases {
		r.fillUnchanged(c.row, c.old, c.whole)
		if got := fmt.Sprint(c.row); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestReplicationSession: the walsender writes values in litepull's
// session settings, which the text decoders rely on.
func TestReplicationSession(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE s (id int PRIMARY KEY, at timestamptz, d interval, b bytea, f float8)")
	// Sessions default to other settings: the stream's own must win.
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c TimeZone=Asia/Kolkata -c DateStyle=SQL,DMY -c IntervalStyle=iso_8601 -c bytea_output=escape -c extra_float_digits=0")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	src, err := New(litepull.SourceConfig{ID: "pg", DSN: u.String(), Schema: pg.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	opts := litepull.ChangeOptions{Slot: testdb.UniqueName("lp_set_"), Publication: testdb.UniqueName("lp_set_"), Tables: []string{"s"}}
	ctx := context.Background()
	defer func() {
		if err := src.DropChanges(ctx, opts); err != nil {
			t.Error(err)
		}
	}()
	cs, err := src.OpenChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	pg.Exec(t, `INSERT INTO s VALUES (1, '2024-01-02 03:04:05.25+02', '1 day 2 hours', '\x0102', 0.1::float8 + 0.2::float8)`)
	if err := cs.Start(ctx, ""); err != nil {
		t.Fatal(err)
	}
	got := rawInsert(t, cs.(*stream))
	want := []string{"1", "2024-01-02 01:04:05.25+00", "1 day 02:00:00", `\x0102`, "0.30000000000000004"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values as the walsender wrote them: %q, want %q", got, want)
	}
}

// TestReplicationWalSenderTimeout: a replication session's
// wal_sender_timeout is the source's read timeout, unless the dsn sets
// one: the server answers a stream's status updates while it decodes a
// large transaction only every half of it.
func TestReplicationWalSenderTimeout(t *testing.T) {
	pg := testdb.Postgres(t)
	show := func(dsn string) string {
		t.Helper()
		src, err := New(litepull.SourceConfig{ID: "pg", DSN: dsn, ReadTimeout: litepull.Duration(7 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		conn, err := src.dialReplication(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer closeConn(conn)
		res, err := conn.Exec(context.Background(), "SHOW wal_sender_timeout").ReadAll()
		if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
			t.Fatalf("SHOW wal_sender_timeout: %v, %v", res, err)
		}
		return string(res[0].Rows[0][0])
	}
	if got := show(pg.DSN); got != "7s" {
		t.Errorf("wal_sender_timeout = %s, want the read timeout, 7s", got)
	}
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("wal_sender_timeout", "3s")
	u.RawQuery = q.Encode()
	if got := show(u.String()); got != "3s" {
		t.Errorf("wal_sender_timeout = %s, want the dsn's 3s", got)
	}
}

// rawInsert returns the text of the first inserted row's values, as the
// server sent them.
func rawInsert(t *testing.T, st *stream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		data, err := st.receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			t.Fatal(err)
		}
		msg, err := pglogrepl.Parse(x.WALData)
		if err != nil {
			t.Fatal(err)
		}
		if ins, ok := msg.(*pglogrepl.InsertMessage); ok {
			var out []string
			for _, c := range ins.Tuple.Columns {
				out = append(out, string(c.Data))
			}
			return out
		}
	}
}
