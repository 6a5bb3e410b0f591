package mysql_test

import (
	"bytes"
	"context"
	"database/sql"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyset"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/mysql"
)

// TestTypesRoundTrip replicates every MySQL type litepull maps and checks
// each stored value.
func TestTypesRoundTrip(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "SET SESSION sql_mode = ''") // allow zero and invalid dates, as legacy data has them
	my.Exec(t, `CREATE TABLE types (
		id BIGINT PRIMARY KEY,
		flag TINYINT(1), ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT,
		tu TINYINT UNSIGNED, iu INT UNSIGNED, bu BIGINT UNSIGNED,
		dec65 DECIMAL(65,30), f FLOAT, d DOUBLE,
		dt DATE, dtm DATETIME(6), dt0 DATETIME, ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR,
		ch CHAR(4), vc VARCHAR(20), tx TEXT,
		bl LONGBLOB, vb VARBINARY(16),
		js JSON, en ENUM('small','large'), st SET('a','b','c'), bt BIT(10), b64 BIT(64),
		updated_at DATETIME(6) NOT NULL) CHARACTER SET utf8mb4`)
	big := bytes.Repeat([]byte{0, 1, 2, 254, 255}, 100000)
	my.Exec(t, `INSERT INTO types VALUES
		(1, 1, -128, -32768, -8388608, -2147483648, -9223372036854775808,
		 255, 4294967295, 18446744073709551615,
		 '-12345678901234567890123456789012345.123456789012345678901234567890', 1.2345678, 0.1,
		 '2026-03-04', '2026-03-04 05:06:07.123456', '2026-03-04 05:06:07', '2026-03-04 05:06:07.000001', '-838:59:59.000000', 2155,
		 'ab', 'héllo 🌍', '中文 😀',
		 ?, X'00FF',
		 '{"a": [1, 2], "b": null}', 'large', 'a,c', b'1010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
		 '2026-01-01 00:00:00'),
		(2, 0, 127, 32767, 8388607, 2147483647, 9223372036854775807,
		 0, 0, 9223372036854775807,
		 0, -3.4e38, -1.7976931348623157e308,
		 '0000-00-00', '0000-00-00 00:00:00', '2026-02-31 00:00:00', '1970-01-01 00:00:01', '00:00:00', 1901,
		 '', '', '',
		 X'', X'',
		 '[]', 'small', '', b'0', b'0',
		 '2026-01-02 00:00:00'),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2026-01-03 00:00:00')`, big)

	cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN,
		Tables: []litepull.TableConfig{{Table: "types", CursorColumn: "updated_at"}}}
	src := (&harness{my}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)

	want := map[int64]map[string]any{
		1: {
			"flag": int64(1), "ti": int64(-128), "si": int64(-32768), "mi": int64(-8388608), "i": int64(-2147483648), "bi": int64(math.MinInt64),
			"tu": int64(255), "iu": int64(4294967295), "bu": "18446744073709551615",
			"dec65": "-12345678901234567890123456789012345.123456789012345678901234567890",
			"f":     float64(float32(1.2345678)), "d": 0.1,
			"dt": "2026-03-04", "dtm": "2026-03-04T05:06:07.123456", "dt0": "2026-03-04T05:06:07.000000",
			"ts": "2026-03-04T05:06:07.000001Z", "tm": "-838:59:59.000000", "yr": int64(2155),
			"ch": "ab", "vc": "héllo 🌍", "tx": "中文 😀",
			"bl": big, "vb": []byte{0, 255},
			"js": `{"a": [1, 2], "b": null}`, "en": "large", "st": "a,c", "bt": int64(682), "b64": "18446744073709551615",
		},
		2: {
			"bi": int64(math.MaxInt64), "bu": int64(math.MaxInt64), "dec65": "0.000000000000000000000000000000",
			"f": float64(float32(-3.4e38)), "d": -1.7976931348623157e308,
			"dt": "0000-00-00", "dtm": "0000-00-00T00:00:00.000000", "dt0": "0000-00-00T00:00:00.000000",
			"ts": "1970-01-01T00:00:01.000000Z", "tm": "00:00:00.000000", "yr": int64(1901),
			"ch": "", "vc": "", "tx": "", "bl": []byte{}, "vb": []byte{}, "js": "[]", "st": "", "bt": int64(0), "b64": int64(0),
		},
		3: {"flag": nil, "bu": nil, "dec65": nil, "dtm": nil, "bl": nil, "js": nil, "bt": nil},
	}
	sourcetest.CheckValues(t, r, "types", 3, want)
	_, meta, _ := r.Query(context.Background(), "SELECT column_name, source_type, sqlite_type FROM litepull_columns WHERE dest_table = 'types' AND column_name IN ('bu', 'dec65', 'flag', 'ts') ORDER BY column_name")
	wantMeta := [][]any{{"bu", "bigint(20) unsigned", ""}, {"dec65", "decimal(65,30)", "TEXT"}, {"flag", "tinyint(1)", "INTEGER"}, {"ts", "timestamp(6)", "TEXT"}}
	if !reflect.DeepEqual(meta, wantMeta) {
		t.Errorf("column metadata = %v, want %v", meta, wantMeta)
	}
}

// TestCursorTypes pages on each cursor type, including the ones a naive
// bind gets wrong: BIGINT UNSIGNED above 2^63 and DECIMAL(65,30).
func TestCursorTypes(t *testing.T) {
	for _, tc := range []struct{ typ, expr string }{
		{"BIGINT UNSIGNED", "18446744073709551615 - 1000 + g"},
		{"BIGINT UNSIGNED", "CAST(9223372036854775807 AS UNSIGNED) - 100 + g"}, // crosses 2^63
		{"DECIMAL(65,30)", "CAST('12345678901234567890123456789012345' AS DECIMAL(65,30)) + g DIV 3 * 0.000000000000000000000000000001"},
		{"DATETIME(6)", "TIMESTAMP('2026-01-01') + INTERVAL (g DIV 4) MICROSECOND"},
		{"TIMESTAMP(6) NULL", "TIMESTAMP('2026-01-01') + INTERVAL (g DIV 4) SECOND"},
		{"DATE", "DATE('2026-01-01') + INTERVAL (g DIV 10) DAY"},
		{"VARCHAR(10)", "LPAD(g DIV 2, 5, '0')"},
		{"DOUBLE", "g / 3"},
		{"DATETIME(6) with zero dates", "IF(g <= 20, '0000-00-00 00:00:00', TIMESTAMP('2026-01-01') + INTERVAL (g DIV 4) SECOND)"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			my := testdb.MySQL(t)
			my.Exec(t, "SET SESSION sql_mode = ''")
			my.Exec(t, "CREATE TABLE c (id BIGINT PRIMARY KEY, cur "+strings.TrimSuffix(tc.typ, " with zero dates")+")")
			my.Exec(t, "CREATE TABLE d (n INT)")
			my.Exec(t, "INSERT INTO d VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)")
			my.Exec(t, "INSERT INTO c SELECT g, "+tc.expr+" FROM (SELECT 1 + a.n + 10 * b.n + 100 * e.n AS g FROM d a, d b, d e WHERE a.n + 10 * b.n + 100 * e.n < 500) AS s")
			cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN, PageSize: 9,
				Tables: []litepull.TableConfig{{Table: "c", CursorColumn: "cur"}}}
			src := (&harness{my}).Open(t, cfg)
			defer src.Close()
			r := sourcetest.Replicate(t, cfg, src)
			_, rows, err := r.Query(context.Background(), "SELECT count(*), count(DISTINCT id) FROM c")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows[0], []any{int64(500), int64(500)}) {
				t.Fatalf("replica (rows, distinct ids) = %v, want 500, 500", rows[0])
			}
		})
	}
}

// TestKeysetUsesIndexRange checks with EXPLAIN on a 1M-row table that the
// page query is an index range scan, not a full scan.
func TestKeysetUsesIndexRange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-row table")
	}
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE big (id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, v VARCHAR(20), KEY cursor_pk (updated_at, id))")
	my.Exec(t, "CREATE TABLE d (n INT)")
	my.Exec(t, "INSERT INTO d VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)")
	my.Exec(t, `INSERT INTO big SELECT g, TIMESTAMP('2026-01-01') + INTERVAL (g DIV 3) SECOND, 'x'
		FROM (SELECT 1 + a.n + 10*b.n + 100*c.n + 1000*e.n + 10000*f.n + 100000*h.n AS g FROM d a, d b, d c, d e, d f, d h) AS s`)
	my.Exec(t, "ANALYZE TABLE big")

	req := litepull.PageRequest{Schema: &litepull.TableSchema{Name: "big"}, Cursor: "updated_at", PrimaryKey: []string{"id"}, Limit: 5000,
		After: &litepull.Watermark{Cursor: "2026-01-02 00:00:00.000000", PK: []litepull.Value{int64(259200)}}}
	q := keyset.New(mysql.Dialect)
	q.Keyset(req)
	text := q.SQL([]string{"id", "updated_at", "v"}, "big", req)
	rows, err := my.DB.Query("EXPLAIN "+text, q.Args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatal("EXPLAIN returned no row")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	plan := map[string]string{}
	for i, c := range cols {
		plan[c] = vals[i].String
	}
	if plan["type"] != "range" || plan["key"] != "cursor_pk" {
		t.Fatalf("EXPLAIN %s\n= %v; want a range scan on cursor_pk", text, plan)
	}
}
