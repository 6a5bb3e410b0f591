package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

func newPool(t *testing.T) (*queryPool, string) {
	t.Helper()
	return newPoolWith(t, openReadOnly)
}

// newPoolWith makes a pool over a small replica, opening connections with
// open.
func newPoolWith(t *testing.T, open func(string) (*sqlite3.Conn, error)) (*queryPool, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.db")
	c, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(`PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, f REAL, b BLOB); CREATE INDEX t_v ON t (v);
		INSERT INTO t VALUES (1, 'a', 1e999, x'00ff'), (2, 'b', -1e999, NULL), (3, 'c', 0.5, x'');`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	p, err := newQueryPoolWith(path, open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, path
}

// read is a query for up to 100 rows and 1 MiB of JSON.
func read(q string, params ...any) queryRequest {
	return queryRequest{SQL: q, Params: params, MaxRows: 100, MaxBytes: 1 << 20}
}

// TestQueryCannotWrite tries every way to write through the query endpoint.
func TestQueryCannotWrite(t *testing.T) {
	p, path := newPool(t)
	dir := filepath.Dir(path)
	for _, q := range []string{
		"INSERT INTO t (v) VALUES ('x')",
		"UPDATE t SET v = 'x'",
		"DELETE FROM t",
		"DROP TABLE t",
		"CREATE TABLE u (x)",
		"CREATE TEMP TABLE u (x)",
		"CREATE TEMP VIEW w AS SELECT 1",
		"ALTER TABLE t ADD COLUMN z",
		"ATTACH DATABASE '" + filepath.Join(dir, "other.db") + "' AS o",
		"ATTACH DATABASE ':memory:' AS m",
		"PRAGMA writable_schema = 1",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA user_version = 7",
		"VACUUM",
		"VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'",
		"REINDEX",
		"ANALYZE",
		"BEGIN IMMEDIATE",
		"SAVEPOINT s",
		"SELECT 1; DELETE FROM t",
		"WITH x AS (SELECT 1) DELETE FROM t",
		"INSERT INTO t SELECT * FROM t RETURNING id",
	} {
		_, err := p.query(context.Background(), read(q))
		if err == nil {
			t.Errorf("%s: succeeded", q)
		}
	}
	for _, f := range []string{"other.db", "copy.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a query created %s", f)
		}
	}
	res, err := p.query(context.Background(), read("SELECT count(*) AS n FROM t"))
	if err != nil || string(res) != `[{"n":3}]` {
		t.Fatalf("after the attempts: %s, %v; want 3 rows untouched", res, err)
	}
}

func TestQueryReads(t *testing.T) {
	p, _ := newPool(t)
	objs, err := p.query(context.Background(), read("SELECT id, v, f, b FROM t WHERE id >= ? ORDER BY id", json.Number("1")))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":1,"v":"a","f":"Infinity","b":"AP8="},{"id":2,"v":"b","f":"-Infinity","b":null},{"id":3,"v":"c","f":0.5,"b":""}]`
	if string(objs) != want {
		t.Fatalf("objects = %s\nwant      %s", objs, want)
	}
	raw := read("SELECT id, v, f, b FROM t ORDER BY id")
	raw.Raw = true
	if res, err := p.query(context.Background(), raw); err != nil ||
		string(res) != `{"columns":["id","v","f","b"],"rows":[[1,"a","Infinity","AP8="],[2,"b","-Infinity",null],[3,"c",0.5,""]]}` {
		t.Fatalf("raw = %s, %v", res, err)
	}
	two := read("SELECT * FROM t")
	two.MaxRows = 2
	if _, err := p.query(context.Background(), two); !errors.Is(err, errTooManyRows) {
		t.Fatalf("3 rows with a limit of 2: %v, want errTooManyRows", err)
	}
	if _, err := p.query(context.Background(), read("SELECT * FROM pragma_table_info('t')")); err != nil {
		t.Fatalf("pragma_table_info: %v", err)
	}
	if _, err := p.query(context.Background(), read("SELECT ?")); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Fatalf("missing parameter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.query(ctx, read("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")); err == nil {
		t.Fatal("a cancelled endless query succeeded")
	}
}

// TestQueryEndsAtItsDeadlineInsideOneFunctionCall: SQLite's interrupt
// cannot reach into one long SQL function call (instr() of two long strings
// ran 48s); the request still ends at its deadline, two such statements
// leave the endpoint usable, and when all slots are stuck the answer is
// errBusy, not a hang.
func TestQueryEndsAtItsDeadlineInsideOneFunctionCall(t *testing.T) {
	release := make(chan struct{})
	p, _ := newPoolWith(t, func(path string) (*sqlite3.Conn, error) {
		c, err := openReadOnly(path)
		if err == nil {
			// stuck() stands for a built-in that runs long in one call.
			err = c.CreateFunction("stuck", 0, 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) {
				<-release
				ctx.ResultInt(1)
			})
		}
		return c, err
	})
	t.Cleanup(func() {
		close(release)
		p.running.Wait()
	})
	stuck := func(n int) {
		t.Helper()
		errs := make(chan error, n)
		for range n {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				_, err := p.query(ctx, read("SELECT stuck()"))
				errs <- err
			}()
		}
		for range n {
			select {
			case err := <-errs:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("a statement stuck in one call: %v, want the deadline's error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a statement stuck in one function call held its request 5s past its 100ms deadline")
			}
		}
	}
	stuck(2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res, err := p.query(ctx, read("SELECT 1 AS one")); err != nil || string(res) != `[{"one":1}]` {
		t.Fatalf("with 2 statements stuck: %s, %v; want the endpoint to answer", res, err)
	}
	stuck(maxQueries - 2)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.query(ctx, read("SELECT 1")); !errors.Is(err, errBusy) {
		t.Fatalf("with every slot stuck: %v, want errBusy", err)
	}
}

// TestQueryMemoryStaysNearTheByteLimit: 200 MB of blobs against a 1 MiB
// limit fails after reading about 1 MiB, instead of holding every row.
func TestQueryMemoryStaysNearTheByteLimit(t *testing.T) {
	p, _ := newPool(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := p.query(context.Background(), read("SELECT zeroblob(1000000) FROM generate_series(1, 200)"))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("200 MB of blobs, 1 MiB limit: %v, want errTooLarge", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d MB for a 1 MiB limit", alloc>>20)
	}
}

// TestQueryParamsBindExactly: JSON integers bind as INTEGER exactly.
func TestQueryParamsBindExactly(t *testing.T) {
	p, _ := newPool(t)
	q := read("SELECT ? AS a, typeof(?) AS b, ? AS c, ? AS d",
		json.Number("9007199254740993"), json.Number("-9223372036854775808"), json.Number("1e3"), json.Number("18446744073709551616"))
	res, err := p.query(context.Background(), q)
	if want := `[{"a":9007199254740993,"b":"integer","c":1000,"d":18446744073709552000}]`; err != nil || string(res) != want {
		t.Fatalf("%s, %v; want %s", res, err, want)
	}
	if _, err := p.query(context.Background(), read("SELECT ?", json.Number("1e999"))); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("1e999: %v, want out of range", err)
	}
}

// TestPanicAnswersJSON: a handler that panics still answers the one error
// shape, not a dropped connection.
func TestPanicAnswersJSON(t *testing.T) {
	h := recoverJSON(slog.New(slog.DiscardHandler), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	for _, path := range []string{"/replicate/status", "/query"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 500 || body["error"] == nil || strings.Contains(w.Body.String(), "boom") {
			t.Errorf("%s: %d %s, want 500 and a JSON error that does not leak the panic", path, w.Code, w.Body)
		}
		if _, ok := body["result"]; ok != (path == "/query") {
			t.Errorf("%s: %s: want \"result\": null on /query only", path, w.Body)
		}
	}
}

// TestInstrIsFastAndExact: instr() of a megabyte needle in megabytes of
// text answers at once (SQLite's own ran 48 s), with SQLite's own answers
// for text (in characters), blobs (in bytes), numbers and NULL.
func TestInstrIsFastAndExact(t *testing.T) {
	p, _ := newPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := p.query(ctx, read("SELECT instr(printf('%.*c', 3200000, 'a'), printf('%.*c', 1000000, 'a') || 'b') AS i"))
	if err != nil || string(res) != `[{"i":0}]` {
		t.Fatalf("instr of a 1 MB needle in 3.2 MB: %s, %v; want 0 within the deadline", res, err)
	}
	builtin, err := sqlite3.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer builtin.Close()
	for _, args := range []string{"'héllo wörld', 'wö'", "'abc', ''", "'', 'a'", "x'00ff00ff', x'ff00'", "x'c3a9c3a9', 'é'", "12345, 34",
		"1.5, '.'", "NULL, 'a'", "'a', NULL", "'ü€x', 'x'", "'abc', 'abcd'"} {
		q := "SELECT instr(" + args + ")"
		s, _, err := builtin.Prepare(q)
		if err != nil {
			t.Fatal(err)
		}
		s.Step()
		want := "null"
		if s.ColumnType(0) != sqlite3.NULL {
			want = s.ColumnText(0)
		}
		s.Close()
		got, err := p.query(ctx, read(q+" AS i"))
		if err != nil || string(got) != `[{"i":`+want+`}]` {
			t.Errorf("%s = %s, %v; SQLite's own says %s", q, got, err, want)
		}
	}
}

// TestHeavyQueryConnectionIsClosed: a connection whose query failed or
// answered a lot is closed, not kept: SQLite's memory only grows, and the
// daemon would hold what one large query took until it exits.
func TestHeavyQueryConnectionIsClosed(t *testing.T) {
	p, _ := newPool(t)
	if _, err := p.query(context.Background(), read("SELECT 1")); err != nil {
		t.Fatal(err)
	}
	if n := len(p.idle); n != 1 {
		t.Fatalf("after a small query: %d idle connections, want 1 (kept)", n)
	}
	if _, err := p.query(context.Background(), read("SELECT zeroblob(2000000)")); !errors.Is(err, errTooLarge) {
		t.Fatalf("a 2 MB answer with a 1 MiB limit: %v, want errTooLarge", err)
	}
	if n := len(p.idle); n != 0 {
		t.Fatalf("after a query over the limit: %d idle connections, want 0 (closed)", n)
	}
}
