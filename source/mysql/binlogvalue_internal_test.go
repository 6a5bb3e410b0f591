package mysql

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// binlogRows reads the rows inserted into table of my's database from pos
// on, as go-mysql decodes them under binlogDecoding, until it has n.
func binlogRows(t *testing.T, my *testdb.My, pos gomysql.Position, table string, n int) [][]any {
	t.Helper()
	base, err := driver.ParseDSN(testdb.MySQLBase())
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(base.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	var version string
	if err := my.DB.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID: 100000 + rand.Uint32N(1<<30), Flavor: gomysql.MySQLFlavor,
		Host: host, Port: uint16(p), User: base.User, Password: base.Passwd,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if strings.Contains(version, "MariaDB") {
		cfg.Flavor = gomysql.MariaDBFlavor
	}
	binlogDecoding(&cfg)
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	stream, err := syncer.StartSync(pos)
	if err != nil {
		t.Fatalf("start binlog sync at %v: %v", pos, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rows [][]any
	for len(rows) < n {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			t.Fatalf("binlog: %d of %d rows: %v", len(rows), n, err)
		}
		re, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(re.Table.Schema) != my.Database || string(re.Table.Table) != table {
			continue
		}
		switch ev.Header.EventType {
		case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
			rows = append(rows, re.Rows...)
		}
	}
	return rows
}

// masterPosition is where the server's binlog ends now.
func masterPosition(t *testing.T, my *testdb.My) gomysql.Position {
	t.Helper()
	rows, err := my.DB.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Skip("the server has no binlog (log_bin off)")
	}
	vals := make([]any, len(cols))
	var name string
	var pos uint32
	vals[0], vals[1] = &name, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(any)
	}
	if err := rows.Scan(vals...); err != nil {
		t.Fatal(err)
	}
	return gomysql.Position{Name: name, Pos: pos}
}

// identityColumns are the columns of TestBinlogValueIdentity's table, each
// with its edge values as SQL expressions: row i takes each column's value
// i, NULL past the end of its list (and the last row is all NULL).
var identityColumns = []struct {
	name, typ string
	values    []string
}{
	{"ti", "TINYINT", []string{"-128", "127", "0", "-1"}},
	{"tu", "TINYINT UNSIGNED", []string{"0", "255", "128", "127"}},
	{"flag", "TINYINT(1)", []string{"1", "0"}},
	{"si", "SMALLINT", []string{"-32768", "32767", "-1"}},
	{"su", "SMALLINT UNSIGNED", []string{"65535", "32768", "0"}},
	{"mi", "MEDIUMINT", []string{"-8388608", "8388607", "-1"}},
	{"mu", "MEDIUMINT UNSIGNED", []string{"16777215", "8388608", "0"}},
	{"i", "INT", []string{"-2147483648", "2147483647", "-1"}},
	{"iu", "INT UNSIGNED", []string{"4294967295", "2147483648", "0"}},
	{"bi", "BIGINT", []string{"-9223372036854775808", "9223372036854775807", "-1", "0"}},
	{"bu", "BIGINT UNSIGNED", []string{"18446744073709551615", "9223372036854775808", "9223372036854775807", "0", "12345678901234567890"}},
	{"zf", "INT(6) ZEROFILL", []string{"42", "0", "4294967295"}},
	{"yr", "YEAR", []string{"1901", "2155", "0", "2000", "'0000'"}},
	{"b1", "BIT(1)", []string{"b'0'", "b'1'"}},
	{"b7", "BIT(7)", []string{"b'1111111'", "b'0'", "b'1000000'"}},
	{"b10", "BIT(10)", []string{"b'1010101010'", "0", "b'1111111111'"}},
	{"b63", "BIT(63)", []string{"~0 >> 1", "1", "0"}},
	{"b64", "BIT(64)", []string{"~0", "1 << 63", "(1 << 63) - 1", "0", "b'1'"}},
	{"f", "FLOAT", []string{"1.2345678", "-3.4028234e38", "3.4028234e38", "0", "1e-45", "0.1", "-0.0", "16777217", "1.17549435e-38"}},
	{"f73", "FLOAT(7,3)", []string{"1234.567", "-0.001", "0"}},
	{"fu", "FLOAT UNSIGNED", []string{"3.5", "0"}},
	{"d", "DOUBLE", []string{"0.1", "-1.7976931348623157e308", "5e-324", "0", "-0.0", "1e300", "2.2250738585072014e-308", "9007199254740993"}},
	{"d82", "DOUBLE(8,2)", []string{"123456.78", "-0.01"}},
	{"dc", "DECIMAL(65,30)", []string{"'-12345678901234567890123456789012345.123456789012345678901234567890'", "0",
		"'0.000000000000000000000000000001'", "'99999999999999999999999999999999999.999999999999999999999999999999'", "-1", "'-0.000000000000000000000000000001'"}},
	{"d52", "DECIMAL(5,2)", []string{"-0.5", "999.99", "-999.99", "0", "-0.0", "1", "0.01"}},
	{"d100", "DECIMAL(10,0)", []string{"1234567890", "-1", "0", "-9999999999"}},
	{"d55", "DECIMAL(5,5)", []string{"0.12345", "-0.00001", "0"}},
	{"d189", "DECIMAL(18,9)", []string{"'123456789.123456789'", "'-0.000000001'", "'100000000.000000000'", "'-999999999.999999999'"}},
	{"d2010", "DECIMAL(20,10) UNSIGNED", []string{"'1234567890.0123456789'", "0", "'0.1'"}},
	{"d1", "DECIMAL(1,0)", []string{"9", "-9", "0"}},
	{"dt", "DATE", []string{"'2026-03-04'", "'0000-00-00'", "'1000-01-01'", "'9999-12-31'", "'2026-00-00'", "'2026-02-31'", "'0001-01-01'"}},
	{"dt0", "DATETIME", []string{"'2026-03-04 05:06:07'", "'0000-00-00 00:00:00'", "'9999-12-31 23:59:59'", "'1000-01-01 00:00:00'",
		"'2026-02-31 00:00:00'", "'2026-00-00 12:00:00'", "'0001-01-01 00:00:00'"}},
	{"dt1", "DATETIME(1)", []string{"'2026-03-04 05:06:07.1'", "'0000-00-00 00:00:00'", "'2026-03-04 05:06:07'", "'9999-12-31 23:59:59.9'"}},
	{"dt2", "DATETIME(2)", []string{"'2026-03-04 05:06:07.12'", "'0000-00-00 00:00:00.00'", "'2026-03-04 05:06:07.09'"}},
	{"dt3", "DATETIME(3)", []string{"'2026-03-04 05:06:07.123'", "'0000-00-00 00:00:00'", "'2026-03-04 05:06:07.001'", "'2026-02-30 23:59:59.999'"}},
	{"dt4", "DATETIME(4)", []string{"'2026-03-04 05:06:07.1234'", "'2026-03-04 05:06:07.0001'"}},
	{"dt5", "DATETIME(5)", []string{"'2026-03-04 05:06:07.12345'", "'2026-03-04 05:06:07.00001'"}},
	{"dt6", "DATETIME(6)", []string{"'2026-03-04 05:06:07.123456'", "'0000-00-00 00:00:00.000000'", "'2026-03-04 05:06:07.000001'",
		"'9999-12-31 23:59:59.999999'", "'2026-03-04 05:06:07'", "'1970-01-01 00:00:00'"}},
	{"ts0", "TIMESTAMP NULL", []string{"'2026-03-04 05:06:07'", "'0000-00-00 00:00:00'", "'1970-01-01 03:00:01'", "'2038-01-19 06:14:07'"}},
	{"ts1", "TIMESTAMP(1) NULL", []string{"'2026-03-04 05:06:07.1'", "'0000-00-00 00:00:00'", "'2026-03-04 05:06:07'"}},
	{"ts2", "TIMESTAMP(2) NULL", []string{"'2026-03-04 05:06:07.12'", "'2026-03-04 05:06:07.01'"}},
	{"ts3", "TIMESTAMP(3) NULL", []string{"'2026-03-04 05:06:07.123'", "'0000-00-00 00:00:00'", "'2026-03-04 05:06:07.001'"}},
	{"ts4", "TIMESTAMP(4) NULL", []string{"'2026-03-04 05:06:07.1234'"}},
	{"ts5", "TIMESTAMP(5) NULL", []string{"'2026-03-04 05:06:07.12345'"}},
	{"ts6", "TIMESTAMP(6) NULL", []string{"'2026-03-04 05:06:07.123456'", "'0000-00-00 00:00:00'", "'1970-01-01 03:00:01.000001'",
		"'2038-01-19 06:14:07.999999'", "'2026-03-04 05:06:07'"}},
	{"tm0", "TIME", []string{"'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:01'", "'25:00:00'", "'99:59:59'", "'100:00:00'"}},
	{"tm1", "TIME(1)", []string{"'-00:00:00.5'", "'838:59:59.9'", "'12:00:00'", "'-12:00:00'", "'00:00:00'"}},
	{"tm2", "TIME(2)", []string{"'-00:00:00.01'", "'-00:00:01.99'", "'01:02:03.10'", "'-838:59:59.99'"}},
	{"tm3", "TIME(3)", []string{"'-00:00:01'", "'838:59:59.999'", "'-00:00:00.001'", "'01:00:00'", "'-01:00:00.5'"}},
	{"tm4", "TIME(4)", []string{"'-00:00:00.0001'", "'12:34:56.7891'", "'-12:34:56'"}},
	{"tm5", "TIME(5)", []string{"'-00:00:00.00001'", "'12:34:56.78901'"}},
	{"tm6", "TIME(6)", []string{"'-838:59:59.000000'", "'-12:00:00.000001'", "'01:00:00'", "'838:59:59.999999'", "'-00:00:00.999999'", "'00:00:00'"}},
	{"ch", "CHAR(4)", []string{"'ab  '", "''", "'😀'", "'a b'", "'  x'", "'😀😀😀😀'"}},
	{"ch255", "CHAR(255)", []string{"REPEAT('é', 255)", "'x'"}},
	{"vc", "VARCHAR(20)", []string{"'héllo 🌍'", "''", "'trail  '", "' '", "'a\\0b'"}},
	{"vc300", "VARCHAR(300)", []string{"REPEAT('ab😀', 100)", "''"}},
	{"tx", "TEXT", []string{"'中文 😀'", "''", "REPEAT('ab😀', 10000)", "'line\\nbreak\\ttab'"}},
	{"ttx", "TINYTEXT", []string{"'tiny'", "''"}},
	{"mtx", "MEDIUMTEXT", []string{"REPEAT('x😀', 30000)"}},
	{"ltx", "LONGTEXT", []string{"'long'", "''"}},
	{"u3", "VARCHAR(10) CHARACTER SET utf8mb3", []string{"'héllo'", "''"}},
	{"ascii", "VARCHAR(10) CHARACTER SET ascii", []string{"'abc~'", "''"}},
	{"l1", "VARCHAR(300) CHARACTER SET latin1", []string{allBytes, "'café'", "''"}},
	{"l1c", "CHAR(10) CHARACTER SET latin1", []string{"X'E9FF20'", "'café  '", "X'80818D8F909D9F'"}},
	{"l1t", "TEXT CHARACTER SET latin1", []string{allBytes, "''"}},
	{"bn", "BINARY(4)", []string{"X'0100'", "X'00000000'", "X''", "X'01020304'", "X'00000001'", "X'20'"}},
	{"bn1", "BINARY(1)", []string{"X'00'", "X'FF'"}},
	{"vb", "VARBINARY(16)", []string{"X'00FF00'", "X''", "X'0000'", "X'20'"}},
	{"vb300", "VARBINARY(300)", []string{"REPEAT(X'00FF', 150)"}},
	{"tb", "TINYBLOB", []string{"X'00'", "X''"}},
	{"bl", "BLOB", []string{"X''", "CONCAT(REPEAT(X'0001FEFF', 16000), X'0000')", "X'00'"}},
	{"mb", "MEDIUMBLOB", []string{"REPEAT(X'ABCD00', 40000)"}},
	{"lb", "LONGBLOB", []string{"X'DEADBEEF00'", "X''"}},
	{"js", "JSON", []string{`'{"a": [1, 2], "b": null}'`, "'[]'", `'"x"'`, `'{"k":1.50,  "é": "😀"}'`}},
	{"en", `ENUM('small','large','it''s','b\\c','x,y','new\nline','sp ','(p)','Upper')`, []string{"'small'", "'large'", `'it''s'`, `'b\\c'`, "'x,y'", "'new\\nline'", "'sp'", "'(p)'", "'Upper'", "'nope'", "2"}},
	{"st", `SET('a','b','c','it''s','x y','Ü')`, []string{"''", "'a,c'", `'a,b,c,it''s,x y,Ü'`, "'c,a'", "'Ü'", "0", "63"}},
	{"st64", "SET(" + setMembers(64) + ")", []string{"'m64'", "'m1,m64'", "''", "'m1'", "~0"}},
	{"g", "GEOMETRY", []string{"ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)', 4326)",
		"ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')"}},
	{"pt", "POINT", []string{"POINT(-1.5, 1e300)", "POINT(0, 0)"}},
	{"uu", "UUID", []string{"'6ccd780c-baba-1026-9564-5b8c656024db'", "'10000000-0000-0000-0000-000000000000'", "'00000000-0000-0000-0000-000000000000'",
		"'0190b5e2-7d4c-7abc-8def-0123456789ab'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'6ccd780c-baba-1026-1564-5b8c656024db'",
		"'6ccd780c-baba-4026-a564-5b8c65602400'", "'6CCD780C-BABA-4026-E564-5B8C656024DB'", "'00000000-0000-0000-0000-000000000001'"}},
	{"ip", "INET6", []string{"'2001:db8::'", "'::'", "'1:0:2:3:4:5:6:7'", "'::1.2.3.4'", "'::1'", "'1::'", "'::ffff:1.2.3.4'", "'::ffff:0.0.0.0'",
		"'1:0:0:2:0:0:0:3'", "'1:0:0:2:0:0:3:4'", "'fe80::1:0:0:0'", "'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789'", "'::0.0.0.1'", "'::ffff'",
		"'0:0:0:0:0:1:0:0'", "'::1:0:0:0:0'", "'1:2:3:4:5:6:7:8'", "'1:2:3:4:5:6:7::'", "'::2:3:4:5:6:7:8'", "'0:0:1::'", "'::ffff:1:2'",
		"'::fffe:1.2.3.4'", "'0:0:0:0:1:ffff:1.2.3.4'", "'::1.0.0.0'", "'::255.255.255.255'"}},
}

// allBytes is every byte value, 0 to 255, as a binary string.
var allBytes = func() string {
	var b [256]byte
	for i := range b {
		b[i] = byte(i)
	}
	return fmt.Sprintf("X'%X'", b[:])
}()

// setMembers is 'm1','m2',… for a SET of n members.
func setMembers(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("'m%d'", i+1)
	}
	return strings.Join(m, ",")
}

// TestBinlogValueIdentity writes every type's edge values and reads them
// back both ways, by the polling path (ReadPage) and from a real binlog
// (go-mysql under binlogDecoding, then binlogValue): the replica must get
// the same values, of the same Go type, to the bit.
func TestBinlogValueIdentity(t *testing.T) {
	my := testdb.MySQL(t)
	// Non-strict, to keep zero, invalid and partly zero dates, and an
	// invalid ENUM value (''); a writer's zone that is not UTC, which
	// neither path may see in TIMESTAMP values.
	my.Exec(t, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES', SESSION time_zone = '+03:00'")
	defs := []string{"id INT PRIMARY KEY"}
	rows := 0
	for _, c := range identityColumns {
		defs = append(defs, c.name+" "+c.typ)
		rows = max(rows, len(c.values)+1)
	}
	my.Exec(t, "CREATE TABLE v ("+strings.Join(defs, ", ")+") CHARACTER SET utf8mb4")
	pos := masterPosition(t, my)
	tuples := make([]string, rows)
	for r := range tuples {
		vals := []string{strconv.Itoa(r + 1)}
		for _, c := range identityColumns {
			v := "NULL"
			if r < len(c.values) {
				v = c.values[r]
			}
			vals = append(vals, v)
		}
		tuples[r] = "(" + strings.Join(vals, ", ") + ")"
	}
	my.Exec(t, "INSERT INTO v VALUES "+strings.Join(tuples, ",\n"))

	cols, polled := pollAll(t, my, "v")
	if len(polled) != rows {
		t.Fatalf("polled %d rows, want %d", len(polled), rows)
	}
	events := binlogRows(t, my, pos, "v", rows)
	for _, ev := range events {
		if len(ev) != len(cols) {
			t.Fatalf("binlog row of %d columns, want %d", len(ev), len(cols))
		}
		id, ok := ev[0].(int32)
		if !ok || polled[int64(id)] == nil {
			t.Fatalf("binlog row with id %#v, not a polled row", ev[0])
		}
		want := polled[int64(id)]
		for i, c := range cols {
			got, err := c.col.binlogValue(ev[i])
			if err != nil {
				t.Errorf("row %d %s (%s): binlogValue(%T %q): %v", id, c.name, c.col.columnType, ev[i], fmt.Sprint(ev[i]), err)
				continue
			}
			if !sameValue(got, want[i]) {
				t.Errorf("row %d %s (%s): binlog %T %q, polled %T %q (go-mysql gave %T %q)", id, c.name, c.col.columnType,
					got, printed(got), want[i], printed(want[i]), ev[i], printed(ev[i]))
			}
		}
	}
}

// namedColumn is a described column and its name.
type namedColumn struct {
	name string
	col  column
}

// pollAll reads the whole table through the polling path, rows by id, and
// the described columns in table order, failing t on a column whose binlog
// values are not supported.
func pollAll(t *testing.T, my *testdb.My, table string) ([]namedColumn, map[int64][]litepull.Value) {
	t.Helper()
	cols, rows := pollAllSupported(t, my, table)
	for _, c := range cols {
		if err := c.col.binlogSupported(); err != nil {
			t.Errorf("column %s: %v", c.name, err)
		}
	}
	return cols, rows
}

// pollAllSupported is pollAll, whatever the columns.
func pollAllSupported(t *testing.T, my *testdb.My, table string) ([]namedColumn, map[int64][]litepull.Value) {
	t.Helper()
	ctx := context.Background()
	src, err := New(litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ts, err := src.Describe(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	h := ts.Handle.(*handle)
	var cols []namedColumn
	var names []string
	for _, c := range ts.Columns {
		cols = append(cols, namedColumn{c.Name, h.columns[c.Name]})
		names = append(names, c.Name)
	}
	page, err := src.ReadPage(ctx, litepull.PageRequest{Schema: ts, Columns: names, Cursor: names[0], PrimaryKey: names[:1], Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64][]litepull.Value{}
	for _, r := range page.Rows {
		byID[r[0].(int64)] = r
	}
	return cols, byID
}

// sameValue reports whether two replica values are identical: the same Go
// type, floats to the bit, byte slices byte for byte and both nil or not.
func sameValue(a, b litepull.Value) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch a := a.(type) {
	case float64:
		return math.Float64bits(a) == math.Float64bits(b.(float64))
	case []byte:
		return bytes.Equal(a, b.([]byte)) && (a == nil) == (b.([]byte) == nil)
	}
	return a == b
}

// printed prints a value for a failure message, long ones cut.
func printed(v any) string {
	s := fmt.Sprintf("%v", v)
	if b, ok := v.([]byte); ok {
		s = fmt.Sprintf("%x", b)
	} else if f, ok := v.(float64); ok {
		s = strconv.FormatFloat(f, 'g', -1, 64) + fmt.Sprintf(" (bits %x)", math.Float64bits(f))
	}
	if len(s) > 80 {
		s = s[:80] + fmt.Sprintf("… (%d)", len(s))
	}
	return strconv.Quote(s)
}

// TestBinlogUnsupported checks that the columns whose binlog values have no
// exact conversion are refused up front, by Describe, rather than
// replicated wrong.
func TestBinlogUnsupported(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, `CREATE TABLE u (id INT PRIMARY KEY,
		emoji_enum ENUM('a','😀'), emoji_set SET('x','🌍'), cyrillic VARCHAR(10) CHARACTER SET cp1251, utf16 TEXT CHARACTER SET utf16)`)
	cols, _ := pollAllSupported(t, my, "u")
	for _, c := range cols {
		err := c.col.binlogSupported()
		if (err == nil) != (c.name == "id") {
			t.Errorf("column %s (%s): binlogSupported() = %v", c.name, c.col.columnType, err)
		}
		if _, verr := c.col.binlogValue(int64(1)); err != nil && verr == nil {
			t.Errorf("column %s: binlogValue converts a value of an unsupported column", c.name)
		}
	}
}

// TestBinlogValueErrors checks the values binlogValue refuses: a Go type
// the column's values never arrive as, and ENUM and SET members past the
// described ones (the table changed).
func TestBinlogValueErrors(t *testing.T) {
	intCol := column{columnType: "int", binlog: describeBinlog("int", "int", "", 0)}
	enum := column{columnType: "enum", binlog: describeBinlog("enum", "enum('a','b')", "utf8mb4", 0)}
	set := column{columnType: "set", binlog: describeBinlog("set", "set('a','b')", "utf8mb4", 0)}
	for _, tc := range []struct {
		name string
		col  column
		v    any
	}{
		{"StringForInt", intCol, "1"},
		{"FloatForInt", intCol, 1.5},
		{"EnumPastMembers", enum, int64(3)},
		{"NegativeEnum", enum, int64(-1)},
		{"SetPastMembers", set, int64(4)},
		{"MySQLJSON", column{binlog: describeBinlog("json", "json", "", 0)}, `{"a":1}`},
		{"UnknownType", column{binlog: describeBinlog("vector", "vector(3)", "", 0)}, []byte{1}},
		{"NotDescribed", column{columnType: "int"}, int32(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := tc.col.binlogValue(tc.v); err == nil {
				t.Fatalf("binlogValue(%#v) = %#v, want an error", tc.v, v)
			}
		})
	}
	if v, err := enum.binlogValue(nil); v != nil || err != nil {
		t.Errorf("binlogValue(nil) = %#v, %v; want NULL", v, err)
	}
}

// TestEnumMembers checks reading members from COLUMN_TYPE, malformed ones
// included (the identity test checks the well-formed against the server).
func TestEnumMembers(t *testing.T) {
	for _, tc := range []struct {
		columnType string
		want       []string // nil: an error
	}{
		{`enum('a','b')`, []string{"a", "b"}},
		{`set('it''s','a\\b','\0\n\r')`, []string{"it's", `a\b`, "\x00\n\r"}},
		{`enum('')`, []string{""}},
		{`enum('a'`, nil},
		{`enum('a)`, nil},
		{`enum(a)`, nil},
		{`enum`, nil},
	} {
		got, err := enumMembers(tc.columnType)
		if tc.want == nil {
			if err == nil {
				t.Errorf("enumMembers(%s) = %q, want an error", tc.columnType, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("enumMembers(%s) = %q, %v; want %q", tc.columnType, got, err, tc.want)
		}
	}
}

// FuzzEnumMembers checks that members escaped as MySQL writes them in
// COLUMN_TYPE (append_unescaped: \0 \n \r \\ and doubled quotes) read back
// as they were.
func FuzzEnumMembers(f *testing.F) {
	f.Add("a", "it's", `b\c`)
	f.Add("", "\x00\n\r", "x,y")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		quoted := make([]string, 3)
		for i, m := range []string{a, b, c} {
			r := strings.NewReplacer(`\`, `\\`, "'", "''", "\x00", `\0`, "\n", `\n`, "\r", `\r`)
			quoted[i] = "'" + r.Replace(m) + "'"
		}
		columnType := "set(" + strings.Join(quoted, ",") + ")"
		got, err := enumMembers(columnType)
		if err != nil || !reflect.DeepEqual(got, []string{a, b, c}) {
			t.Fatalf("enumMembers(%q) = %q, %v; want %q", columnType, got, err, []string{a, b, c})
		}
	})
}

// FuzzInet6Text checks that every INET6 text reads back as its address
// (the identity test checks the layout against the server).
func FuzzInet6Text(f *testing.F) {
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 15: 1})
	f.Add([]byte{10: 0xff, 11: 0xff, 12: 1, 13: 2, 14: 3, 15: 4})
	f.Add([]byte{1: 1, 5: 2, 15: 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		s := inet6Text(b)
		a, err := netip.ParseAddr(s)
		if err != nil || a.As16() != [16]byte(b) {
			t.Fatalf("inet6Text(%x) = %q, which reads as %v, %v", b, s, a, err)
		}
	})
}
