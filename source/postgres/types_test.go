package postgres_test

import (
	"context"
	"crypto/rand"
	"math"
	"reflect"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
)

// TestTypesRoundTrip replicates every Postgres type litepull maps and checks
// each stored value and its SQLite storage class.
func TestTypesRoundTrip(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE types (
		id bigint PRIMARY KEY,
		i2 smallint, i4 integer, i8 bigint,
		num numeric(38,10), num_any numeric,
		f4 real, f8 double precision,
		b boolean,
		t text, vc varchar(10), ch char(3),
		ts timestamp, tstz timestamptz, d date, tm time,
		u uuid,
		j json, jb jsonb,
		by bytea,
		arr integer[], tarr text[],
		iv interval,
		updated_at timestamptz)`)
	big := make([]byte, 1<<20)
	rand.Read(big)
	pg.Exec(t, `INSERT INTO types VALUES
		(1, -32768, -2147483648, -9223372036854775808,
		 '1234567890123456789012345678.0123456789', '3.14159265358979323846264338327950288419716939937510',
		 0.1, 0.1,
		 true,
		 'héllo 🌍 中文', 'ten chars!', 'ab',
		 '2026-03-04 05:06:07.123456', '2026-03-04 05:06:07.123456+02', '2026-03-04', '23:59:59.999999',
		 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		 '{"b": 1,  "a": [1,2]}', '{"b": 1,  "a": [1,2]}',
		 $1,
		 '{1,2,NULL}', '{"a b","c\"d"}',
		 '1 day 02:03:04.5',
		 '2026-01-01 00:00:00+00'),
		(2, 32767, 2147483647, 9223372036854775807,
		 '-0.0000000001', 'NaN',
		 'NaN', 'Infinity',
		 false,
		 '', '', '',
		 'infinity', '-infinity', '1999-12-31', '00:00:00',
		 '00000000-0000-0000-0000-000000000000',
		 '[]', 'null',
		 '\x',
		 '{}', '{}',
		 '-1 mons',
		 '2026-01-01 00:00:00+00'),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2026-01-01 00:00:00.000001+00')`, big)
	pg.Exec(t, `INSERT INTO types (id, ts, tstz, d, updated_at) VALUES
		(4, '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00', '0001-01-01', '2026-01-02 00:00:00+00'),
		(5, '1969-12-31 23:59:59.5', '1900-02-28 12:00:00-03:30', '2024-02-29', '2026-01-03 00:00:00+00')`)

	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema,
		Tables: []litepull.TableConfig{{Table: "types", CursorColumn: "updated_at"}}}
	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)

	want := map[int64]map[string]any{
		1: {
			"i2": int64(-32768), "i4": int64(-2147483648), "i8": int64(math.MinInt64),
			"num": "1234567890123456789012345678.0123456789", "num_any": "3.14159265358979323846264338327950288419716939937510",
			"f4": float64(float32(0.1)), "f8": 0.1, "b": int64(1),
			"t": "héllo 🌍 中文", "vc": "ten chars!", "ch": "ab ",
			"ts": "2026-03-04T05:06:07.123456", "tstz": "2026-03-04T03:06:07.123456Z", "d": "2026-03-04", "tm": "23:59:59.999999",
			"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
			"j": `{"b": 1,  "a": [1,2]}`, "jb": `{"a": [1, 2], "b": 1}`,
			"by": big, "arr": "[1,2,null]", "tarr": `["a b","c\"d"]`, "iv": "1 day 02:03:04.5",
		},
		2: {
			"i2": int64(32767), "i4": int64(2147483647), "i8": int64(math.MaxInt64),
			"num": "-0.0000000001", "num_any": "NaN", "f4": "NaN", "f8": math.Inf(1), "b": int64(0),
			"t": "", "vc": "", "ch": "   ",
			"ts": "infinity", "tstz": "-infinity", "d": "1999-12-31", "tm": "00:00:00.000000",
			"u": "00000000-0000-0000-0000-000000000000",
			"j": "[]", "jb": "null", "by": []byte{}, "arr": "[]", "tarr": "[]", "iv": "-1 mons",
		},
		3: {"f8": math.Inf(-1), "t": nil, "by": nil, "num": nil, "tstz": nil, "jb": nil},
		4: {"ts": "0001-01-01T00:00:00.000000", "tstz": "9999-12-31T23:59:59.999999Z", "d": "0001-01-01"},
		5: {"ts": "1969-12-31T23:59:59.500000", "tstz": "1900-02-28T15:30:00.000000Z", "d": "2024-02-29"},
	}
	sourcetest.CheckValues(t, r, "types", 5, want)

	// The column metadata says what was done.
	_, meta, err := r.Query(context.Background(), "SELECT column_name, source_type, sqlite_type FROM litepull_columns WHERE dest_table = 'types' AND column_name IN ('num', 'tstz', 'by', 'arr', 'f4') ORDER BY column_name")
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := [][]any{
		{"arr", "integer[]", "TEXT"}, {"by", "bytea", "BLOB"}, {"f4", "real", "REAL"},
		{"num", "numeric(38,10)", "TEXT"}, {"tstz", "timestamp with time zone", "TEXT"},
	}
	if !reflect.DeepEqual(meta, wantMeta) {
		t.Errorf("column metadata = %v, want %v", meta, wantMeta)
	}
}

// TestCursorTypes pages on each cursor type Postgres offers: the watermark is
// stored as replica text or numbers and must bind back in the column's type.
func TestCursorTypes(t *testing.T) {
	for _, tc := range []struct{ typ, expr string }{
		{"bigint", "g"},
		{"integer", "g / 3"},
		{"numeric(20,5)", "(g / 7)::numeric(20,5) + 0.00001"},
		{"double precision", "(g / 4)::float8 / 3"},
		{"timestamptz", "'2026-01-01'::timestamptz + (g / 5) * interval '1 microsecond'"},
		{"timestamp", "'2026-01-01'::timestamp + (g / 5) * interval '1 second'"},
		{"date", "'2026-01-01'::date + g / 10"},
		{"text", "lpad((g / 2)::text, 5, '0')"},
		{"uuid", "md5((g / 2)::text)::uuid"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			pg := testdb.Postgres(t)
			pg.Exec(t, "CREATE TABLE c (id bigint PRIMARY KEY, cur "+tc.typ+")")
			pg.Exec(t, "INSERT INTO c SELECT g, "+tc.expr+" FROM generate_series(1, 500) AS g")
			cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema, PageSize: 9,
				Tables: []litepull.TableConfig{{Table: "c", CursorColumn: "cur"}}}
			src := (&harness{pg}).Open(t, cfg)
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
