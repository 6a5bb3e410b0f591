package mysql

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"reflect"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/litepull/litepull"
)

func TestBinlogPositions(t *testing.T) {
	for _, s := range []string{"mariadb-bin.000012:4567@1", "a:b.000001:4@3E11FA47-71CA-11E1-9E33-C80AA9429562", "x@y.000001:0@7",
		"mariadb-bin.000012:4567@1;gtid=0-1-57,1-2-9", "bin.000001:4@3E11FA47-71CA-11E1-9E33-C80AA9429562;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57",
		"bin.000001:4@1;gtid="} {
		p, err := parsePos(litepull.Position(s))
		if err != nil || string(p.position()) != s {
			t.Errorf("parsePos(%q) = %+v, %v; writes back as %q", s, p, err, p.position())
		}
	}
	for _, s := range []string{"", "16/B374D848", "bin.000001:4", "bin.000001@1", ":4@1", "bin.000001:-4@1", "bin.000001:x@1",
		"bin.000001:4@1;gtid=0-1", "bin.000001:4@1;gtid=x:1-2"} {
		if p, err := parsePos(litepull.Position(s)); err == nil {
			t.Errorf("parsePos(%q) = %+v, want an error", s, p)
		}
	}
	// One server's positions by file and offset (whatever their GTIDs
	// say); then another server's, by GTID.
	ordered := []string{"bin.000009:4@1", "bin.000009:120@1", "bin.000010:4@1;gtid=0-1-5", "bin.999999:4@1;gtid=0-1-4",
		"bin.1000000:4@1;gtid=0-1-6", "bin.000001:5@2;gtid=0-2-7", "bin.000001:9@2;gtid=0-2-7,1-2-1", "bin.000001:2@3;gtid=0-2-9,1-2-1"}
	st := &binlogStream{}
	for i, a := range ordered {
		for j, b := range ordered {
			pa, _ := parsePos(litepull.Position(a))
			pb, _ := parsePos(litepull.Position(b))
			// Another server's position without a GTID state: not ordered.
			want := i < j && (pa.server == pb.server || pa.hasGTID && pb.hasGTID)
			if got := st.Includes(litepull.Position(b), litepull.Position(a)); got != want {
				t.Errorf("Includes(%s, %s) = %v", b, a, got)
			}
		}
	}
	if st.Includes("bin.000001:4@1", "") || st.Includes("", "bin.000001:4@1") {
		t.Error("an empty position includes or is included")
	}
}

func TestBinlogBytes(t *testing.T) {
	files := []binlogFile{{"bin.000001", 1000}, {"bin.000002", 500}, {"bin.000003", 300}}
	at := func(file string, off uint64) binlogPos { return binlogPos{file: file, offset: off} }
	for _, c := range []struct {
		from, to binlogPos
		want     int64
	}{
		{at("bin.000001", 100), at("bin.000001", 400), 300},
		{at("bin.000001", 100), at("bin.000003", 50), 900 + 500 + 50},
		{at("bin.000002", 100), at("bin.000003", 300), 400 + 300},
		{at("bin.000003", 10), at("bin.000001", 100), 0},
		{at("bin.000000", 4), at("bin.000002", 4), 1000 + 4}, // a purged file counts for nothing
	} {
		if got := bytesBetween(files, c.from, c.to); got != c.want {
			t.Errorf("bytesBetween(%s, %s) = %d, want %d", c.from, c.to, got, c.want)
		}
	}
	if got := totalSize(files); got != 1800 {
		t.Errorf("totalSize = %d", got)
	}
}

func TestGTIDState(t *testing.T) {
	for _, c := range []struct{ set, gtid, want string }{
		{"", "0-1-1", "0-1-1"},
		{"0-1-5,1-2-3", "0-3-6", "0-3-6,1-2-3"},
		{"1-2-3", "0-1-9", "0-1-9,1-2-3"},
		{"", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1"},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "3e11fa47-71ca-11e1-9e33-c80aa9429562:6", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6"},
	} {
		got, err := gtidAdd(c.set, c.gtid)
		if err != nil || got != c.want {
			t.Errorf("gtidAdd(%q, %q) = %q, %v; want %q", c.set, c.gtid, got, err, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"0-1-5", "0-1-5", true},
		{"0-2-7", "0-1-5", true}, // another server's GTID in the same domain, later
		{"0-1-5", "0-1-6", false},
		{"0-1-5", "0-1-5,1-1-1", false},
		{"0-1-5,1-1-1", "", true},
		{"u:1-5", "", true},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10", "3e11fa47-71ca-11e1-9e33-c80aa9429562:3-4", true},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:5-10", "3e11fa47-71ca-11e1-9e33-c80aa9429562:3-4", false},
	} {
		got, err := gtidContains(c.a, c.b)
		if c.a == "u:1-5" {
			if err == nil && got {
				continue
			}
		}
		if err != nil || got != c.want {
			t.Errorf("gtidContains(%q, %q) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
	if got := mysqlGTID(make([]byte, 16), "", 5); got != "" {
		t.Errorf("an anonymous GTID reads as %q", got)
	}
}

func TestGTIDLost(t *testing.T) {
	p := binlogPos{file: "bin.000004", offset: 120, server: "1"}.withGTID("0-1-50")
	for _, c := range []struct{ executed, purged, want string }{
		{"0-1-50,0-2-60", "0-1-10", ""}, // a promoted replica: server 1's GTIDs, then its own
		{"0-1-50", "0-1-50", ""},
		{"0-1-49,0-2-60", "0-1-10", "lacks transactions the replica holds"}, // behind, then promoted
		{"0-2-60", "0-1-10", "lacks transactions the replica holds"},        // diverged: later numbers, none of server 1's
		{"0-1-70", "0-1-10", ""},
		{"0-1-50,0-2-60", "0-1-51", "purged binlog the replica still needs"},
		{"0-1-50,0-2-60,1-2-4", "0-1-10,1-2-1", "purged binlog the replica still needs"}, // a domain the replica never saw, purged
	} {
		err := gtidLostError(p, "2", c.executed, c.purged)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("gtidLostError(executed %q, purged %q) = %v, want %q", c.executed, c.purged, err, c.want)
		}
	}
}

func TestBinlogLost(t *testing.T) {
	files := []binlogFile{{"bin.000003", 1000}, {"bin.000004", 500}}
	for _, c := range []struct {
		pos  binlogPos
		want string // in the error; "" for none
	}{
		{binlogPos{file: "bin.000004", offset: 120, server: "1"}, ""},
		{binlogPos{file: "bin.000003", offset: 1000, server: "1"}, ""},
		{binlogPos{file: "bin.000002", offset: 120, server: "1"}, "binlog file bin.000002, where the replica's position bin.000002:120 lies, was purged at the source (its oldest is bin.000003)"},
		{binlogPos{file: "bin.000004", offset: 120, server: "2"}, "recorded against server 2, and the source is now server 1"},
		{binlogPos{file: "bin.000004", offset: 501, server: "1"}, "past the end of binlog file bin.000004 (500 bytes)"},
	} {
		err := lostError(c.pos, "1", files)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.pos, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "lost to the replica")):
			t.Errorf("%s: %v, want %q", c.pos, err, c.want)
		}
	}
}

func TestBinlogGrants(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  []string
	}{
		{[]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, nil},
		{[]string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`"}, nil},
		{[]string{"GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*AB'"}, nil},
		{[]string{"GRANT REPLICATION REPLICA, SUPER ON *.* TO `u`@`%`"}, nil},
		{[]string{"GRANT USAGE ON *.* TO `u`@`%`", "GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`"}, []string{"REPLICATION SLAVE", "REPLICATION CLIENT"}},
		{[]string{"GRANT REPLICATION SLAVE ADMIN ON *.* TO `u`@`%`"}, []string{"REPLICATION SLAVE", "REPLICATION CLIENT"}},
		{[]string{"GRANT REPLICATION CLIENT ON *.* TO `u`@`%`"}, []string{"REPLICATION SLAVE"}},
		{[]string{"GRANT USAGE ON *.* TO `u`@`%`", "GRANT `reader` TO `u`@`%`"}, nil}, // a role: not known here
	} {
		if got := missingGrants(c.lines); !reflect.DeepEqual(got, c.want) {
			t.Errorf("missingGrants(%q) = %q, want %q", c.lines, got, c.want)
		}
	}
	err := grantsError("app@10.0.%", []string{"REPLICATION SLAVE"})
	if err == nil || !strings.Contains(err.Error(), "lacks REPLICATION SLAVE;") || !strings.Contains(err.Error(), "TO 'app'@'10.0.%'") {
		t.Errorf("grantsError: %v", err)
	}
}

func TestBinlogSettings(t *testing.T) {
	good := serverInfo{logBin: true, format: "ROW", image: "FULL"}
	if err := good.settingsError("db"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		info       serverInfo
		host, want string
	}{
		{serverInfo{logBin: false}, "db.example.com", "log_bin = OFF"},
		{serverInfo{logBin: true, format: "STATEMENT", image: "FULL"}, "db", "binlog_format is STATEMENT, not ROW"},
		{serverInfo{logBin: true, format: "MIXED", image: "MINIMAL"}, "db", "binlog_row_image is MINIMAL, not FULL"},
		{serverInfo{logBin: true, format: "ROW", image: "FULL", valueOptions: "PARTIAL_JSON"}, "db", "PARTIAL_JSON"},
		{serverInfo{logBin: true, format: "ROW", image: "NOBLOB"}, "db.abc.eu-west-1.rds.amazonaws.com", "parameter group"},
	} {
		err := c.info.settingsError(c.host)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v on %s: %v, want %q", c.info, c.host, err, c.want)
		}
	}
	for host, want := range map[string]string{
		"db.example.com": "under [mysqld], set log_bin = mysql-bin, binlog_format = ROW, binlog_row_image = FULL",
		"x.cluster-abc.us-east-1.rds.amazonaws.com": "backup retention period above 0",
		"aws.connect.psdb.cloud":                    "PlanetScale gives no access to the binlog",
	} {
		if got := settingsFix(host); !strings.Contains(got, want) {
			t.Errorf("settingsFix(%s) = %q, want %q", host, got, want)
		}
	}
}

func TestBinlogStatements(t *testing.T) {
	for q, want := range map[string]statement{
		"BEGIN":                                    {kind: stmtBegin},
		"COMMIT":                                   {kind: stmtCommit},
		"ROLLBACK":                                 {kind: stmtCommit},
		"ROLLBACK TO `sp1`":                        {kind: stmtIgnore},
		"SAVEPOINT `sp1`":                          {kind: stmtIgnore},
		"XA START X'01',X'',1":                     {kind: stmtIgnore},
		"TRUNCATE items":                           {kind: stmtTruncate, names: [][2]string{{"", "items"}}},
		"truncate table `db`.`it``ems`":            {kind: stmtTruncate, names: [][2]string{{"db", "it`ems"}}},
		"DROP DATABASE IF EXISTS `shop`":           {kind: stmtDropDatabase, names: [][2]string{{"shop", ""}}},
		"/* c */ DROP SCHEMA shop":                 {kind: stmtDropDatabase, names: [][2]string{{"shop", ""}}},
		"ALTER TABLE t ADD c INT -- t2\n":          {kind: stmtOther, names: [][2]string{{"", "ALTER"}, {"", "TABLE"}, {"", "t"}, {"", "ADD"}, {"", "c"}, {"", "INT"}}},
		"RENAME TABLE a.b TO c.`d`":                {kind: stmtReplace, names: [][2]string{{"", "RENAME"}, {"", "TABLE"}, {"a", "b"}, {"", "TO"}, {"c", "d"}}},
		"DROP TABLE `x` /* generated by server */": {kind: stmtReplace, names: [][2]string{{"", "DROP"}, {"", "TABLE"}, {"", "x"}}},
		"ALTER TABLE t RENAME TO u":                {kind: stmtReplace, names: [][2]string{{"", "ALTER"}, {"", "TABLE"}, {"", "t"}, {"", "RENAME"}, {"", "TO"}, {"", "u"}}},
		"CREATE OR REPLACE TABLE r (id INT)":       {kind: stmtReplace, names: [][2]string{{"", "CREATE"}, {"", "OR"}, {"", "REPLACE"}, {"", "TABLE"}, {"", "r"}, {"", "id"}, {"", "INT"}}},
		"CREATE INDEX i ON t (a)":                  {kind: stmtOther, names: [][2]string{{"", "CREATE"}, {"", "INDEX"}, {"", "i"}, {"", "ON"}, {"", "t"}, {"", "a"}}},
		"INSERT INTO t VALUES ('a.b', \"c\")":      {kind: stmtRows, names: [][2]string{{"", "INSERT"}, {"", "INTO"}, {"", "t"}, {"", "VALUES"}}},
		"CREATE TABLE t (a INT) /*!50100 PARTITION BY HASH (p.q) */": {kind: stmtReplace, names: [][2]string{{"", "CREATE"}, {"", "TABLE"}, {"", "t"}, {"", "a"}, {"", "INT"}, {"", "PARTITION"}, {"", "BY"}, {"", "HASH"}, {"p", "q"}}},
	} {
		if got := parseStatement(q); !reflect.DeepEqual(got, want) {
			t.Errorf("parseStatement(%q) = %+v, want %+v", q, got, want)
		}
	}
}

func FuzzParseStatement(f *testing.F) {
	for _, q := range []string{"BEGIN", "TRUNCATE `a``b`", "ALTER TABLE t /*!5 x */ 'str\\'", "DROP DATABASE", "`", "'", "/*"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st := parseStatement(q) // must not panic
		if st.kind == stmtTruncate && len(st.names) != 1 {
			t.Fatalf("a truncate of %d tables", len(st.names))
		}
	})
}

func TestBinlogLoggedAs(t *testing.T) {
	for _, c := range []struct {
		columnType string
		tp         byte
		want       bool
	}{
		{"bigint(20) unsigned", gomysql.MYSQL_TYPE_LONGLONG, true},
		{"int(11)", gomysql.MYSQL_TYPE_LONGLONG, false},
		{"enum('a','b')", gomysql.MYSQL_TYPE_STRING, true},
		{"varchar(10)", gomysql.MYSQL_TYPE_VARCHAR, true},
		{"varchar(10)", gomysql.MYSQL_TYPE_BLOB, false},
		{"longtext", gomysql.MYSQL_TYPE_BLOB, true},
		{"json", gomysql.MYSQL_TYPE_JSON, true},
		{"datetime(6)", gomysql.MYSQL_TYPE_DATETIME2, true},
		{"inet6", gomysql.MYSQL_TYPE_STRING, true}, // unknown to litepull: fits anything
	} {
		if got := loggedAs(c.columnType, c.tp); got != c.want {
			t.Errorf("loggedAs(%q, %d) = %v", c.columnType, c.tp, got)
		}
	}
}

// eventStream is a stream over one table, items, fed events by hand.
func eventStream() *binlogStream {
	st := &binlogStream{server: serverInfo{identity: "1"}, tables: map[[2]string]*binlogTable{}, pos: binlogPos{file: "bin.000001", offset: 100, server: "1"}}
	st.tables[tableKey("db", "items", false)] = &binlogTable{name: "items", schema: "db", table: "items"}
	return st
}

// feed hands events to the stream and renders what it queues.
func feed(t *testing.T, st *binlogStream, evs ...*replication.BinlogEvent) []string {
	t.Helper()
	for _, ev := range evs {
		if err := st.handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, ev := range st.queue {
		switch ev.Kind {
		case litepull.ChangeBegin:
			out = append(out, "begin "+string(ev.Position))
		case litepull.ChangeCommit:
			out = append(out, "commit "+string(ev.Position))
		case litepull.ChangeKeepalive:
			out = append(out, "keepalive "+string(ev.Position))
		case litepull.ChangeTruncate:
			out = append(out, fmt.Sprint("truncate ", ev.Tables))
		case litepull.ChangeRelation:
			out = append(out, fmt.Sprintf("relation %s of %d columns", ev.Table, len(ev.Schema.Columns)))
		default:
			out = append(out, fmt.Sprint("change ", ev.Kind))
		}
	}
	st.queue = nil
	return out
}

func event(tp replication.EventType, end, size uint32, e replication.Event) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: tp, LogPos: end, EventSize: size, Timestamp: 1}, Event: e}
}

func query(end, size uint32, db, q string) *replication.BinlogEvent {
	return event(replication.QUERY_EVENT, end, size, &replication.QueryEvent{Schema: []byte(db), Query: []byte(q)})
}

func gtid(end uint32) *replication.BinlogEvent {
	return event(replication.GTID_EVENT, end, 20, &replication.GTIDEvent{})
}

func xid(end uint32) *replication.BinlogEvent {
	return event(replication.XID_EVENT, end, 30, &replication.XIDEvent{})
}

// TestBinlogEventGroups feeds MySQL-style event groups (GTID, BEGIN ...
// XID; GTID and a statement; a compressed transaction), heartbeats,
// rotations and events outside groups, in one stream.
func TestBinlogEventGroups(t *testing.T) {
	st := eventStream()
	for _, c := range []struct {
		name string
		evs  []*replication.BinlogEvent
		want []string
	}{
		{"OtherTablesTransaction", []*replication.BinlogEvent{gtid(120), query(170, 50, "db", "BEGIN"), xid(200)},
			[]string{"keepalive bin.000001:200@1"}},
		{"Truncate", []*replication.BinlogEvent{gtid(220), query(280, 60, "db", "TRUNCATE items")},
			[]string{"begin bin.000001:200@1", "truncate [items]", "commit bin.000001:280@1"}},
		{"TruncateOfAnotherDatabase", []*replication.BinlogEvent{gtid(300), query(360, 60, "other", "TRUNCATE items")},
			[]string{"keepalive bin.000001:360@1"}},
		{"RowsByStatement", []*replication.BinlogEvent{gtid(380), query(420, 40, "", "BEGIN"), query(480, 60, "", "INSERT INTO db.items VALUES (1)"), query(500, 20, "", "COMMIT")},
			[]string{"begin bin.000001:360@1", "relation items of 0 columns", "commit bin.000001:500@1"}},
		{"CompressedTransaction", []*replication.BinlogEvent{gtid(520), event(replication.TRANSACTION_PAYLOAD_EVENT, 600, 80, &replication.TransactionPayloadEvent{
			Events: []*replication.BinlogEvent{query(0, 40, "db", "BEGIN"), query(0, 40, "db", "TRUNCATE TABLE items"), xid(0)}})},
			[]string{"begin bin.000001:500@1", "truncate [items]", "commit bin.000001:600@1"}},
		{"OtherEvents", []*replication.BinlogEvent{event(replication.PREVIOUS_GTIDS_EVENT, 650, 50, &replication.GenericEvent{})},
			[]string{"keepalive bin.000001:650@1"}},
		{"Heartbeat", []*replication.BinlogEvent{event(replication.HEARTBEAT_EVENT, 700, 0, &replication.GenericEvent{Data: []byte("bin.000001")})},
			[]string{"keepalive bin.000001:700@1"}},
		{"HeartbeatOfAnotherFile", []*replication.BinlogEvent{event(replication.HEARTBEAT_EVENT, 900, 0, &replication.GenericEvent{Data: []byte("bin.000000")})},
			[]string{"keepalive bin.000001:700@1"}},
		{"HeartbeatInAGroup", []*replication.BinlogEvent{gtid(720), event(replication.HEARTBEAT_EVENT, 720, 0, &replication.GenericEvent{Data: []byte("bin.000001")}), xid(750)},
			[]string{"keepalive bin.000001:750@1"}},
		{"Rotate", []*replication.BinlogEvent{event(replication.ROTATE_EVENT, 0, 0, &replication.RotateEvent{NextLogName: []byte("bin.000002"), Position: 4})},
			[]string{"keepalive bin.000002:4@1"}},
		{"MariaDBTransaction", []*replication.BinlogEvent{event(replication.MARIADB_GTID_EVENT, 150, 42, &replication.MariadbGTIDEvent{Flags: 0x0c}),
			query(200, 50, "db", "TRUNCATE items"), xid(230)},
			[]string{"begin bin.000002:108@1", "truncate [items]", "commit bin.000002:230@1"}},
	} {
		if got := feed(t, st, c.evs...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	err := st.handle(context.Background(), gtid(1000))
	if err == nil {
		err = st.handle(context.Background(), gtid(1100))
	}
	if err == nil || !strings.Contains(err.Error(), "XA") {
		t.Errorf("a group inside a group: %v", err)
	}
}

// TestBinlogIncident: an incident event stops the stream.
func TestBinlogIncident(t *testing.T) {
	err := eventStream().handle(context.Background(), event(replication.INCIDENT_EVENT, 200, 30, &replication.GenericEvent{}))
	if err == nil || !strings.Contains(err.Error(), "incident") {
		t.Fatalf("an incident: %v", err)
	}
}

// TestBinlogGTIDStateThroughTaggedGTID: a MySQL transaction whose GTID
// the state's text cannot carry (a tagged GTID, MySQL 8.4) leaves the
// positions after it without a GTID state: one that left it out would
// say the replica lacks it, and a resume by GTID on another server would
// apply it again, out of order.
func TestBinlogGTIDStateThroughTaggedGTID(t *testing.T) {
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	sid, _ := uuid.Parse(u)
	st := eventStream()
	st.server.gtid = true
	st.pos = st.pos.withGTID(u + ":1-5")
	gtidOf := func(gno int64, tag string, end uint32) *replication.BinlogEvent {
		return event(replication.GTID_EVENT, end, 20, &replication.GTIDEvent{SID: sid[:], GNO: gno, Tag: tag})
	}
	got := feed(t, st, gtidOf(6, "", 120), query(180, 60, "db", "TRUNCATE items"))
	if want := "commit bin.000001:180@1;gtid=" + u + ":1-6"; got[len(got)-1] != want {
		t.Fatalf("after an untagged GTID: %q, want %q", got, want)
	}
	got = feed(t, st, gtidOf(1, "tag", 200), query(260, 60, "db", "TRUNCATE items"))
	if last := got[len(got)-1]; strings.Contains(last, ";gtid=") {
		t.Fatalf("after a tagged GTID the position still claims a GTID state: %q", last)
	}
}
