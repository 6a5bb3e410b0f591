package sourcetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/sqlitetest"
)

// HTTPHarness is a harness whose source talks to a local test server.
type HTTPHarness interface {
	Harness
	// Faults is the test server's fault queue.
	Faults() *sqlitetest.Faults
	// WrongTypes answers a page request in the right shape with values of
	// the wrong type.
	WrongTypes() func(http.ResponseWriter)
}

// TypesOptions says what a protocol can carry.
type TypesOptions struct {
	// Infinity: ±Infinity REALs (Hrana's JSON floats cannot carry them).
	Infinity bool
}

// RunSQLiteTypes checks that every SQLite storage class survives a source
// that reads SQLite, remote or not: integers at both ends of int64 and
// past 2^53, REALs, text, BLOBs (empty and binary), NULLs; and that pages
// on an integer cursor near 2^63 and on a REAL cursor with ties are exact.
func RunSQLiteTypes(t *testing.T, newHarness func(tb testing.TB) Harness, opts TypesOptions) {
	h := newHarness(t)
	h.Exec(t, "CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC)")
	big := bytes.Repeat([]byte{0, 1, 2, 127, 128, 255}, 5000)
	rows := [][]any{
		{int64(1), int64(math.MaxInt64), 0.1, "héllo 🌍 中文", []byte{0, 1, 2, 255}, "1.10"},
		{int64(2), int64(math.MinInt64), 2.0, "", []byte{}, int64(7)},
		{int64(3), int64(1<<53 + 1), 1e308, strings.Repeat("x", 10000), big, 2.5},
		{int64(4), nil, nil, nil, nil, nil},
		{int64(5), int64(-1), -0.5, "quote ' and \" and \\", []byte("text-like"), "abc"},
	}
	h.Insert(t, "v", []string{"id", "i", "r", "t", "b", "n"}, rows)
	want := [][]any{
		{int64(1), int64(math.MaxInt64), 0.1, "héllo 🌍 中文", []byte{0, 1, 2, 255}, 1.1},
		{int64(2), int64(math.MinInt64), 2.0, "", []byte{}, int64(7)},
		{int64(3), int64(1<<53 + 1), 1e308, strings.Repeat("x", 10000), big, 2.5},
		{int64(4), nil, nil, nil, nil, nil},
		{int64(5), int64(-1), -0.5, "quote ' and \" and \\", []byte("text-like"), "abc"},
	}
	if opts.Infinity {
		h.Exec(t, "INSERT INTO v (id, r) VALUES (6, 9e999), (7, -9e999)")
		want = append(want, []any{int64(6), nil, math.Inf(1), nil, nil, nil}, []any{int64(7), nil, math.Inf(-1), nil, nil, nil})
	}
	// Integer cursor across 2^63-1 territory and a REAL cursor with ties.
	h.Exec(t, "CREATE TABLE big (id INTEGER PRIMARY KEY, cur INTEGER)")
	h.Exec(t, "CREATE TABLE real (id INTEGER PRIMARY KEY, cur REAL)")
	var bigRows, realRows [][]any
	for i := int64(0); i < 50; i++ {
		bigRows = append(bigRows, []any{i + 1, int64(math.MaxInt64) - 100 + i*2})
		realRows = append(realRows, []any{i + 1, float64(i/3) / 7})
	}
	h.Insert(t, "big", []string{"id", "cur"}, bigRows)
	h.Insert(t, "real", []string{"id", "cur"}, realRows)

	cfg := h.Config()
	cfg.ID, cfg.PageSize = "src", 3
	cfg.Tables = []litepull.TableConfig{{Table: "v", CursorColumn: "id"}, {Table: "big", CursorColumn: "cur"}, {Table: "real", CursorColumn: "cur"}}
	src := h.Open(t, cfg)
	defer src.Close()
	r := Replicate(t, cfg, src)
	_, got, err := r.Query(context.Background(), "SELECT id, i, r, t, b, n FROM v ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		for j := range got[i] {
			if b, ok := got[i][j].([]byte); ok && b == nil {
				got[i][j] = []byte{}
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("replica has %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("row %d:\n got %#v\nwant %#v", i+1, got[i], want[i])
		}
	}
	for _, tbl := range []string{"big", "real"} {
		_, n, err := r.Query(context.Background(), "SELECT count(*), count(DISTINCT id), sum(cur IS NOT NULL) FROM "+tbl)
		if err != nil || !reflect.DeepEqual(n[0], []any{int64(50), int64(50), int64(50)}) {
			t.Errorf("%s: replica (rows, ids, cursors) = %v, %v; want 50 each", tbl, n, err)
		}
	}
	_, exact, _ := r.Query(context.Background(), "SELECT cur FROM big WHERE id = 50")
	if exact[0][0] != int64(math.MaxInt64)-2 {
		t.Errorf("big cursor of row 50 = %v, want %d", exact[0][0], int64(math.MaxInt64)-2)
	}
	t.Run("StorageClassesOtherThanDeclared", func(t *testing.T) { testStorageClasses(t, newHarness(t), opts) })
}

// testStorageClasses: SQLite lets a value of any storage class into a
// column of any declared type (but for the conversions its affinity
// makes). Each comes back as it is: a source may read a value the way its
// column's declared type suggests, but never take one for another.
func testStorageClasses(t *testing.T, h Harness, opts TypesOptions) {
	h.Exec(t, "CREATE TABLE mixed (id INTEGER PRIMARY KEY, i INTEGER, t TEXT, r REAL, n NUMERIC, x BLOB)")
	const safe = int64(1<<53 - 1)
	rows := [][]any{
		{int64(1), safe, "text", 1.5, int64(7), safe},
		{int64(2), safe + 1, []byte{1, 2}, "abc", 2.5, -safe - 1},
		{int64(3), "abc", nil, []byte{0}, "xyz", 0.5},
		{int64(4), 2.5, "", nil, int64(math.MinInt64), ""},
		{int64(5), []byte{}, "12", -2.0, 1e20, []byte{}},
		{int64(6), -safe, "Ω", 1e300, nil, 2.0},
		{int64(7), int64(math.MaxInt64), "9007199254740993", 0.1, "1e300x", "0x10"},
	}
	if opts.Infinity {
		// Text that reads as a REAL becomes one in a NUMERIC column.
		rows = append(rows, []any{int64(8), math.Inf(-1), "inf", math.Inf(1), "1e400", math.Inf(-1)})
	}
	cols := []string{"id", "i", "t", "r", "n", "x"}
	h.Insert(t, "mixed", cols, rows)
	cfg := h.Config()
	cfg.ID, cfg.PageSize = "src", 3
	cfg.Tables = []litepull.TableConfig{{Table: "mixed", CursorColumn: "id"}}
	src := h.Open(t, cfg)
	defer src.Close()
	r := Replicate(t, cfg, src)
	sel := "id"
	for _, c := range cols[1:] {
		sel += fmt.Sprintf(", typeof(%[1]s), %[1]s", c)
	}
	_, got, err := r.Query(context.Background(), "SELECT "+sel+" FROM mixed ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("replica has %d rows, want %d", len(got), len(rows))
	}
	class := map[string]string{"int64": "integer", "float64": "real", "string": "text", "[]uint8": "blob", "<nil>": "null"}
	for i, want := range rows {
		for c := 1; c < len(cols); c++ {
			v := got[i][2*c]
			if b, ok := v.([]byte); ok && b == nil {
				v = []byte{}
			}
			w := want[c]
			if w == "1e400" {
				w = math.Inf(1)
			}
			if typ := class[fmt.Sprintf("%T", w)]; got[i][2*c-1] != typ || !reflect.DeepEqual(v, w) {
				t.Errorf("row %d, column %s: replica has %v %#v, want %s %#v", i+1, cols[c], got[i][2*c-1], v, typ, w)
			}
		}
	}
}

// RunHTTPErrors checks the HTTP behaviour every remote source shares:
// retries on 429, 5xx and broken bodies, none on other 4xx, clear
// authentication errors without the token, bounded responses, and values
// of the wrong type refused with the table and column named.
func RunHTTPErrors(t *testing.T, newHarness func(tb testing.TB) HTTPHarness) {
	ctx := context.Background()
	setup := func(t *testing.T) (HTTPHarness, litepull.Source, *litepull.TableSchema) {
		h := newHarness(t)
		h.Exec(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
		h.Insert(t, "t", []string{"id", "v"}, [][]any{{int64(1), strings.Repeat("a", 1000)}, {int64(2), "b"}})
		src := h.Open(t, h.Config())
		t.Cleanup(func() { src.Close() })
		ts, err := src.Describe(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		return h, src, ts
	}
	page := func(src litepull.Source, ts *litepull.TableSchema) (*litepull.Page, error) {
		return src.ReadPage(ctx, litepull.PageRequest{Schema: ts, Columns: []string{"id", "v"}, Cursor: "id", PrimaryKey: []string{"id"}, Limit: 10})
	}

	t.Run("ErrUnauthorizedNotRetried", func(t *testing.T) {
		h := newHarness(t)
		cfg := h.Config()
		secret := cfg.Token
		cfg.Token = "wrong-" + secret
		src := h.Open(t, cfg)
		defer src.Close()
		before := h.Faults().Requests()
		err := src.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "authentication") {
			t.Fatalf("wrong token: %v, want an authentication error", err)
		}
		if strings.Contains(err.Error(), cfg.Token) || strings.Contains(err.Error(), secret) {
			t.Fatalf("error shows the token: %v", err)
		}
		if n := h.Faults().Requests() - before; n > 2 { // one try (plus a version probe)
			t.Fatalf("%d requests for a 401, want no retries", n)
		}
	})
	t.Run("RetriesThenSucceeds", func(t *testing.T) {
		h, src, ts := setup(t)
		h.Faults().Add(sqlitetest.Status(http.StatusTooManyRequests, `{"error": "slow down"}`),
			sqlitetest.Status(http.StatusInternalServerError, `{"error": "boom"}`),
			sqlitetest.Status(http.StatusBadGateway, `bad gateway`),
			sqlitetest.Truncated())
		before := h.Faults().Requests()
		p, err := page(src, ts)
		if err != nil || len(p.Rows) != 2 {
			t.Fatalf("after 429, 500, 502 and a truncated body: %v, %v; want the page", p, err)
		}
		if n := h.Faults().Requests() - before; n != 5 {
			t.Fatalf("%d requests, want 5 (four failures, one success)", n)
		}
	})
	t.Run("GivesUpAfterAttempts", func(t *testing.T) {
		h, src, ts := setup(t)
		for i := 0; i < remote.DefaultAttempts; i++ {
			h.Faults().Add(sqlitetest.Status(http.StatusServiceUnavailable, `{"error": "down"}`))
		}
		if _, err := page(src, ts); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("five 503s: %v, want an error naming HTTP 503", err)
		}
	})
	t.Run("ErrBadRequestNotRetried", func(t *testing.T) {
		h, src, ts := setup(t)
		h.Faults().Add(sqlitetest.Status(http.StatusBadRequest, `{"error": "nope"}`))
		before := h.Faults().Requests()
		if _, err := page(src, ts); err == nil {
			t.Fatal("a 400 was taken for an answer")
		}
		if n := h.Faults().Requests() - before; n != 1 {
			t.Fatalf("%d requests for a 400, want 1", n)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		h, src, ts := setup(t)
		h.Faults().Add(sqlitetest.Malformed())
		if _, err := page(src, ts); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("malformed body: %v, want a malformed-response error", err)
		}
	})
	t.Run("ErrWrongTypes", func(t *testing.T) {
		h, src, ts := setup(t)
		h.Faults().Add(h.WrongTypes())
		if _, err := page(src, ts); err == nil || !strings.Contains(err.Error(), "column") {
			t.Fatalf("wrong value types: %v, want an error naming the column", err)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		_, src, ts := setup(t)
		src.(interface{ Client() *remote.Client }).Client().MaxBytes = 512
		if _, err := page(src, ts); !errors.Is(err, remote.ErrTooLarge) {
			t.Fatalf("a response over the limit: %v, want ErrTooLarge", err)
		}
	})
}

// RunReconcileAtScale checks reconciliation of a table of more than 50,000
// rows through a source whose service limits each statement (bound
// parameters, terms of a compound SELECT, expression depth): the first
// drain reconciles it, then a delete in each of 60 ranges of 1000 keys
// makes 60 ranges be counted at once and 60 leaves, 6000 keys, be looked
// up. The harness's database is SQLite.
func RunReconcileAtScale(t *testing.T, newHarness func(tb testing.TB) Harness) {
	if raceEnabled {
		// SQLite, compiled to Go, hashes 60,000 keys ten times slower under
		// the race detector; the suite's reconcile tests send the same
		// statements, split to the same limits.
		t.Skip("too slow under the race detector")
	}
	h := newHarness(t)
	const n = 60000
	create(t, h, "big", "id INTEGER PRIMARY KEY")
	h.Exec(t, fmt.Sprintf(`INSERT INTO big (id) WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
		SELECT i FROM s`, n))
	f := newFixture(t, h, litepull.TableConfig{Table: "big", Deletes: litepull.DeletesReconcile, PageSize: 20000})
	if r := result(t, f.runWith(t, litepull.RunOptions{Drain: true}), "big"); !r.Reconciled || r.RowsPulled != n || r.RowsDeleted != 0 {
		t.Fatalf("first drain: %d rows pulled, reconciled %v, %d deleted; want %d rows and a reconcile that finds nothing", r.RowsPulled, r.Reconciled, r.RowsDeleted, n)
	}
	h.Exec(t, "DELETE FROM big WHERE id % 1000 = 500")
	const deleted = n / 1000
	r := result(t, f.runWith(t, litepull.RunOptions{Drain: true, Reconcile: true}), "big")
	if r.RowsDeleted != deleted {
		t.Fatalf("reconcile deleted %d rows, want %d", r.RowsDeleted, deleted)
	}
	got := f.rows(t, "SELECT count(*), sum(id % 1000 = 500) FROM big")
	if !reflect.DeepEqual(got[0], []any{int64(n - deleted), int64(0)}) {
		t.Fatalf("replica (rows, rows deleted at the source) = %v, want [%d 0]", got[0], n-deleted)
	}
}
