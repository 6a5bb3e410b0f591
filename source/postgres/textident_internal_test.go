package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// identColumn is a column of the identity table: its type, edge values
// (SQL expressions) and, for some, a maker of random ones.
type identColumn struct {
	name, typ string
	edges     []string
	random    func(r *rand.Rand) string
}

// TestTextValueMatchesPage reads every row of a table of every type twice:
// through a page, and as logical replication sends it (pgoutput, protocol 1,
// text tuples, under textSessionParams) decoded with textValue. Each value
// must be the same Go type with the same bytes (floats: the same bits).
func TestTextValueMatchesPage(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TYPE mood AS ENUM ('sad', 'happy', 'a "q"', 'x,y', ' sp ')`)
	pg.Exec(t, `CREATE DOMAIN dint AS integer; CREATE DOMAIN dd2 AS dint; CREATE DOMAIN darr AS integer[]`)
	cols := identColumns()
	var defs []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.typ)
	}
	pg.Exec(t, "CREATE TABLE tx (id bigint PRIMARY KEY, "+strings.Join(defs, ", ")+")")
	stream := startPgoutput(t, pg, "tx")
	n := insertIdentRows(t, pg, cols)
	names, sent := stream.rows(t)

	src, err := New(litepull.SourceConfig{ID: "pg", DSN: pg.DSN, Schema: pg.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	schema, err := src.Describe(ctx, "tx")
	if err != nil {
		t.Fatal(err)
	}
	page, err := src.ReadPage(ctx, litepull.PageRequest{Schema: schema, Columns: names, Cursor: "id", PrimaryKey: []string{"id"}, Limit: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != n || len(sent) != n {
		t.Fatalf("%d rows inserted, %d read in a page, %d sent by pgoutput", n, len(page.Rows), len(sent))
	}
	codecs := schema.Handle.(*handle).codecs
	checked := map[string]int{}
	for _, row := range page.Rows {
		text := sent[strconv.FormatInt(row[0].(int64), 10)]
		for i, name := range names {
			got, err := decodeSent(codecs[name], text[i])
			if want := row[i]; err != nil || !identical(got, want) {
				t.Errorf("row %v column %s (%s): text %q decodes to %#v (error %v), the page holds %#v",
					row[0], name, schema.Columns[i].SourceType, text[i], got, err, want)
			}
			if text[i] != nil {
				checked[name]++
			}
		}
	}
	total := 0
	for _, name := range names {
		total += checked[name]
		if checked[name] == 0 {
			t.Errorf("column %s: no value compared", name)
		}
	}
	t.Logf("%d values compared in %d rows of %d columns", total, n, len(names))
}

// decodeSent decodes a value as sent, nil for NULL.
func decodeSent(c codec, raw []byte) (litepull.Value, error) {
	if raw == nil {
		return nil, nil
	}
	return c.textValue(raw)
}

// identical reports the same Go type with the same bytes; floats by bits.
func identical(a, b litepull.Value) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b) && (a == nil) == (b == nil)
	}
	return a == b
}

// insertIdentRows inserts a row per edge value (each column cycling through
// its edges), then random rows; it returns the number of rows.
func insertIdentRows(tb testing.TB, pg *testdb.PG, cols []identColumn) int {
	tb.Helper()
	edges := 0
	for _, c := range cols {
		edges = max(edges, len(c.edges))
	}
	r := rand.New(rand.NewPCG(7, 7))
	const randomRows = 300
	var rows []string
	for k := 0; k < edges+randomRows; k++ {
		vals := []string{strconv.Itoa(k)}
		for _, c := range cols {
			switch {
			case k < edges && len(c.edges) > 0:
				vals = append(vals, c.edges[k%len(c.edges)])
			case k >= edges && c.random != nil && r.IntN(10) > 0:
				vals = append(vals, c.random(r))
			default:
				vals = append(vals, "NULL")
			}
		}
		rows = append(rows, "("+strings.Join(vals, ", ")+")")
	}
	for i := 0; i < len(rows); i += 50 {
		pg.Exec(tb, "INSERT INTO tx VALUES "+strings.Join(rows[i:min(i+50, len(rows))], ", "))
	}
	return len(rows)
}

// pgoutputStream is a temporary logical replication slot with a
// publication of one table, read through SQL on the test's connection.
type pgoutputStream struct {
	pg         *testdb.PG
	slot, publ string
}

// startPgoutput sets the session to textSessionParams and starts a slot:
// later inserts into table are sent.
func startPgoutput(tb testing.TB, pg *testdb.PG, table string) *pgoutputStream {
	tb.Helper()
	for k, v := range textSessionParams {
		pg.Exec(tb, fmt.Sprintf("SET %s = '%s'", k, v))
	}
	s := &pgoutputStream{pg: pg, slot: testdb.UniqueName("lptest_"), publ: testdb.UniqueName("lptest_")}
	pg.Exec(tb, fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s.%s", s.publ, pg.Schema, table))
	tb.Cleanup(func() { pg.Conn.Exec(context.Background(), "DROP PUBLICATION "+s.publ) })
	// A new slot waits for the transactions under way to end.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pg.Conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", s.slot); err != nil {
		tb.Fatalf("create a logical replication slot (the server needs wal_level = logical): %v", err)
	}
	tb.Cleanup(func() { pg.Conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", s.slot) })
	return s
}

// rows reads the inserts sent so far: the relation's column names, and
// each row's values as sent (nil for NULL) by its first value.
func (s *pgoutputStream) rows(tb testing.TB) (names []string, rows map[string][][]byte) {
	tb.Helper()
	res, err := s.pg.Conn.Query(context.Background(),
		"SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)", s.slot, s.publ)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Close()
	rows = map[string][][]byte{}
	for res.Next() {
		m := pgoutputMsg{b: append([]byte(nil), res.RawValues()[0]...)}
		switch m.byte() {
		case 'R':
			names = m.relation()
		case 'I':
			m.uint(4) // relation
			if m.byte() != 'N' {
				tb.Fatal("insert without a new tuple")
			}
			row := m.tuple(tb)
			rows[string(row[0])] = row
		}
	}
	if err := res.Err(); err != nil {
		tb.Fatal(err)
	}
	return names, rows
}

// pgoutputMsg reads a pgoutput message.
type pgoutputMsg struct{ b []byte }

func (m *pgoutputMsg) byte() byte {
	c := m.b[0]
	m.b = m.b[1:]
	return c
}

func (m *pgoutputMsg) uint(n int) uint64 {
	var v uint64
	for _, c := range m.b[:n] {
		v = v<<8 | uint64(c)
	}
	m.b = m.b[n:]
	return v
}

func (m *pgoutputMsg) cstring() string {
	i := bytes.IndexByte(m.b, 0)
	s := string(m.b[:i])
	m.b = m.b[i+1:]
	return s
}

// relation reads a relation message's column names.
func (m *pgoutputMsg) relation() []string {
	m.uint(4) // oid
	m.cstring()
	m.cstring()
	m.byte() // replica identity
	names := make([]string, m.uint(2))
	for i := range names {
		m.byte() // flags
		names[i] = m.cstring()
		m.uint(8) // type and modifier
	}
	return names
}

// tuple reads tuple data of text values.
func (m *pgoutputMsg) tuple(tb testing.TB) [][]byte {
	tb.Helper()
	vals := make([][]byte, m.uint(2))
	for i := range vals {
		switch kind := m.byte(); kind {
		case 'n':
		case 't':
			n := m.uint(4)
			vals[i] = m.b[:n:n]
			m.b = m.b[n:]
		default:
			tb.Fatalf("column %d sent as %q, want text or null", i, kind)
		}
	}
	return vals
}

// quote is a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// randText draws a string of characters that text formats treat specially.
func randText(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "\t", "\n", "\r", "\v", "\f", "\b", `"`, `\`, "'", "{", "}", ",", ";", "[", "]", ":", "=",
		"NULL", "null", "é", "🌍", "中", "\x01", "\x1f", "\x7f"}
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// randArray is an ARRAY constructor of up to 2 dimensions of elem's values
// (NULL among them), or an empty array.
func randArray(typ string, elem func(r *rand.Rand) string) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		one := func(n int) string {
			var v []string
			for range n {
				if r.IntN(8) == 0 {
					v = append(v, "NULL")
				} else {
					v = append(v, elem(r))
				}
			}
			return "ARRAY[" + strings.Join(v, ", ") + "]"
		}
		switch n := r.IntN(4); r.IntN(3) {
		case 0:
			return "'{}'::" + typ
		case 1:
			return "ARRAY[" + one(n+1) + ", " + one(n+1) + "]::" + typ
		default:
			return one(n+1) + "::" + typ
		}
	}
}

func randInt(bits int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string { return strconv.FormatInt(int64(r.Uint64())>>(64-bits), 10) }
}

// randFloat8 draws any float8 bit pattern: subnormals, huge, tiny, -0.
func randFloat8(r *rand.Rand) string {
	f := math.Float64frombits(r.Uint64())
	if r.IntN(4) == 0 {
		f = math.Float64frombits(r.Uint64() >> 12) // subnormal
	}
	return quote(strconv.FormatFloat(f, 'g', -1, 64)) + "::float8"
}

func randFloat4(r *rand.Rand) string {
	f := math.Float32frombits(r.Uint32())
	if r.IntN(4) == 0 {
		f = math.Float32frombits(r.Uint32() >> 9) // subnormal
	}
	return quote(strconv.FormatFloat(float64(f), 'g', -1, 32)) + "::float4"
}

func randNumeric(r *rand.Rand) string {
	s := strconv.FormatUint(r.Uint64()>>r.IntN(64), 10)
	if k := r.IntN(len(s) + 1); k < len(s) {
		s = s[:k] + "." + s[k:]
	}
	if r.IntN(2) == 0 {
		s = "-" + s
	}
	return quote(s+"e"+strconv.Itoa(r.IntN(80)-40)) + "::numeric"
}

// randStamp draws a timestamp from 4713 BC to 294276 AD.
func randStamp(typ string) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		day := r.Int64N(106_700_000+2_451_000) - 2_451_000
		return fmt.Sprintf("(%s '2000-01-01 00:00:00+00' + %d * interval '1 day' + %d * interval '1 microsecond')", typ, day, r.Int64N(86400e6))
	}
}

func randDate(r *rand.Rand) string {
	return fmt.Sprintf("(date '2000-01-01' + %d)", r.Int64N(2_140_000_000+2_451_000)-2_451_000)
}

func randTime(r *rand.Rand) string {
	return fmt.Sprintf("(time '00:00' + %d * interval '1 microsecond')", r.Int64N(86400e6))
}

func randTimeTZ(r *rand.Rand) string {
	us := r.Int64N(86400e6)
	return fmt.Sprintf("'%02d:%02d:%02d.%06d%+03d:%02d'::timetz", us/3600e6, us/60e6%60, us/1e6%60, us%1e6, r.IntN(31)-15, r.IntN(60))
}

func randBytes(r *rand.Rand) string {
	b := make([]byte, r.IntN(40))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return `'\x` + hex.EncodeToString(b) + "'::bytea"
}

func randUUID(r *rand.Rand) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	return "'" + decodeUUID(b[:]).(string) + "'::uuid"
}

func randJSONB(r *rand.Rand) string {
	return fmt.Sprintf(`jsonb_build_object(%s, %s, 'n', %s)`, quote(randText(r)), quote(randText(r)), strings.TrimSuffix(randNumeric(r), "::numeric")+"::numeric")
}

// TestTextValueRefusesWhatTextCannotTell: where to_json or a cast to text
// writes what the text output does not hold, textValue fails with
// errNoText instead of returning a different value.
func TestTextValueRefusesWhatTextCannotTell(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TYPE pair AS (a int, b text);
		CREATE TYPE tagged AS ENUM ('x');
		CREATE FUNCTION tagged_json(tagged) RETURNS json LANGUAGE sql AS $$SELECT json_build_object('tag', textin(enum_out($1)))$$;
		CREATE CAST (tagged AS json) WITH FUNCTION tagged_json(tagged);
		CREATE TYPE marked AS ENUM ('y');
		CREATE FUNCTION marked_text(marked) RETURNS text LANGUAGE sql AS $$SELECT 'mark:' || textin(enum_out($1))$$;
		CREATE CAST (marked AS text) WITH FUNCTION marked_text(marked);
		CREATE DOMAIN pairs AS pair[];
		CREATE TABLE odd (id int PRIMARY KEY, p pair[], dp pairs, tg tagged[], mk marked, vv int2vector[])`)
	src, err := New(litepull.SourceConfig{ID: "pg", DSN: pg.DSN, Schema: pg.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	schema, err := src.Describe(context.Background(), "odd")
	if err != nil {
		t.Fatal(err)
	}
	codecs := schema.Handle.(*handle).codecs
	for _, name := range []string{"p", "dp", "tg", "mk", "vv"} {
		if v, err := codecs[name].textValue([]byte(`{}`)); !errors.Is(err, errNoText) {
			t.Errorf("column %s: textValue = %#v, %v; want errNoText", name, v, err)
		}
	}
	if _, err := codecs["id"].textValue([]byte("1")); err != nil {
		t.Errorf("column id: %v", err)
	}
}
