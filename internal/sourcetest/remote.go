package sourcetest

import (
	"bytes"
	"context"
	"errors"
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
