package streamtest_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

const typesTable = `CREATE TABLE types (
	id bigint PRIMARY KEY,
	i2 smallint, i4 integer, i8 bigint, o oid,
	num numeric(38,10), num_any numeric,
	f4 real, f8 double precision,
	b boolean,
	t text, vc varchar(10), ch char(3),
	ts timestamp, ts0 timestamp(0), tstz timestamptz, d date, tm time, tmtz timetz,
	u uuid,
	j json, jb jsonb,
	by bytea,
	arr integer[], tarr text[], farr float8[], narr numeric[], barr boolean[], tsarr timestamptz[],
	darr date[], jarr jsonb[], uarr uuid[], marr integer[][],
	iv interval, inet_ inet, money_ money, rng int4range,
	big text,
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`

// typeRows are rows of every type, edge values included; %d is the id.
var typeRows = []string{
	`(%d, -32768, -2147483648, -9223372036854775808, 4294967295,
	 '1234567890123456789012345678.0123456789', '3.14159265358979323846264338327950288419716939937510',
	 0.1, 0.1, true,
	 'héllo 🌍 中文', 'ten chars!', 'ab',
	 '2026-03-04 05:06:07.123456', '2026-03-04 05:06:07', '2026-03-04 05:06:07.123456+02', '2026-03-04', '23:59:59.999999', '12:00:00.5+05:30',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	 '{"b": 1,  "a": [1,2]}', '{"b": 1,  "a": [1,2]}',
	 '\xdeadbeef00',
	 '{1,2,NULL}', '{"a b","c\"d","NULL",NULL,"",","}', '{1.5,NaN,Infinity,-Infinity,-0,1e-300}', '{1.50,NaN}', '{t,f,NULL}',
	 '{"2026-03-04 05:06:07.5+00","infinity"}', '{2026-03-04,infinity}', '{"{\"a\": 1}","[]"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
	 '{{1,2},{3,4}}',
	 '1 day 02:03:04.5', '192.168.0.1/24', '12.34', '[1,5)',
	 NULL)`,
	`(%d, 32767, 2147483647, 9223372036854775807, 0,
	 '-0.0000000001', 'NaN', 'NaN', 'Infinity', false,
	 '', '', '',
	 'infinity', '-infinity', '-infinity', '1999-12-31', '00:00:00', '00:00:00+00',
	 '00000000-0000-0000-0000-000000000000',
	 '[]', 'null', '\x',
	 '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
	 '-1 mons', '::1', '-0.01', 'empty',
	 (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g))`,
	`(%d, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', '-0', NULL, NULL, NULL, NULL,
	 '0001-01-01 00:00:00', '1969-12-31 23:59:59', '9999-12-31 23:59:59.999999+00', '0001-01-01', NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL)`,
	`(%d, 1, 1, 1, 1, '1e-30', '-1234.5678', 1.17549435e-38, 4.9e-324, true, 'x', 'x', 'x',
	 '1900-02-28 12:00:00.000001', '2000-01-01 00:00:00', '0044-03-15 12:00:00+00 BC', '0044-03-15 BC', '12:00:00', '23:59:59.999999-12',
	 'ffffffff-ffff-ffff-ffff-ffffffffffff', '"s"', '"s"', '\x00',
	 '[0:1]={7,8}', '{"\\\\"}', '{3.4e38}', '{0.000}', '{f}', '{"1900-01-01 00:00:00+00"}', '{0001-01-01}', '{"null"}', '{NULL}', '{{NULL}}',
	 '1 year 2 mons 3 days 04:05:06.789', '10.0.0.0/8', '0', '(,)',
	 (SELECT string_agg(md5(g::text) || 'é', '') FROM generate_series(1, 200) g))`,
}

// TestPollingAndStreamingAgree replicates one table twice into one
// replica, by cursor and by the change stream, and requires the same
// values (type and bytes) in both: rows copied, then rows inserted and
// updated while the stream runs (unchanged TOAST values included).
func TestPollingAndStreamingAgree(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, typesTable)
	insert := func(first int) {
		for i, row := range typeRows {
			pg.Exec(t, "INSERT INTO types VALUES "+fmt.Sprintf(row, first+i)) // updated_at: its default
		}
	}
	insert(1)
	poll := litepull.SourceConfig{ID: "poll", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema,
		Tables: []litepull.TableConfig{{Table: "types", Dest: "types_poll", CursorColumn: "updated_at"}}}
	wal := streamConfig(t, pg, "wal", litepull.TableConfig{Table: "types", Dest: "types_wal"})
	file := replicaFile(t)
	e, _ := engine(t, file, poll, wal)
	drain(t, e)

	insert(101)                                                                                            // these reach types_wal through the stream
	pg.Exec(t, "UPDATE types SET t = 'changed', updated_at = clock_timestamp() WHERE id IN (2, 102, 104)") // big left alone
	pg.Exec(t, "UPDATE types SET id = id + 1000, updated_at = clock_timestamp() WHERE id = 104")           // moved, big kept
	pg.Exec(t, "DELETE FROM types WHERE id = 3")
	sum := drain(t, e)
	for _, r := range sum.Tables {
		if r.Table == "types" && r.SourceID == "wal" && r.RowsPulled == 0 {
			t.Fatalf("the stream applied nothing: %+v", r)
		}
	}
	// Polling sees no deletes: bring the polled copy level by a full copy.
	if s, err := e.Run(context.Background(), litepull.RunOptions{SourceID: "poll", Full: true, Drain: true}); err != nil || s.Failed() > 0 {
		t.Fatalf("full copy: %v %+v", err, s)
	}
	compareTables(t, file, "types_poll", "types_wal")
}

// compareTables requires two replica tables to hold the same rows, value
// for value: storage class, and bytes (floats by their bits).
func compareTables(t *testing.T, file, a, b string) {
	t.Helper()
	c, err := sqlite3.OpenFlags(file, sqlite3.OPEN_READONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ra, rb := tableValues(t, c, a), tableValues(t, c, b)
	if len(ra) != len(rb) || len(ra) == 0 {
		t.Fatalf("%s has %d rows, %s %d", a, len(ra), b, len(rb))
	}
	for i := range ra {
		for j := range ra[i] {
			if ra[i][j] != rb[i][j] {
				t.Errorf("row %d column %d: %s has %s, %s has %s", i, j, a, ra[i][j], b, rb[i][j])
			}
		}
	}
}

// tableValues renders every value as its storage class and exact bytes.
func tableValues(t *testing.T, c *sqlite3.Conn, table string) [][]string {
	s, _, err := c.Prepare("SELECT * FROM " + table + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out [][]string
	for s.Step() {
		var row []string
		for i := range s.ColumnCount() {
			if s.ColumnName(i) == "updated_at" {
				continue // written by the source's clock: the same in both, but not the point
			}
			var v string
			switch s.ColumnType(i) {
			case sqlite3.INTEGER:
				v = fmt.Sprint("int:", s.ColumnInt64(i))
			case sqlite3.FLOAT:
				v = fmt.Sprintf("real:%x", math.Float64bits(s.ColumnFloat(i)))
			case sqlite3.TEXT:
				v = fmt.Sprintf("text:%q", s.ColumnText(i))
			case sqlite3.BLOB:
				v = fmt.Sprintf("blob:%x", s.ColumnBlob(i, nil))
			default:
				v = "null"
			}
			row = append(row, s.ColumnName(i)+"="+v)
		}
		out = append(out, row)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
