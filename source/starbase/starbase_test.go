package starbase_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/starbase"
)

type harness struct {
	*sqlitetest.DB
	srv *remotetest.Server
}

// newHarness serves StarbaseDB's POST /query/raw (remotetest.NewStarbase)
// with its quirks: integers become JavaScript numbers, BLOBs arrive as {},
// REAL 2.0 as 2, numeric parameters are bound as REAL, rows pass through
// JavaScript objects, and the Durable Object's limits are enforced.
func newHarness(tb testing.TB) *harness {
	srv := remotetest.NewStarbase(tb)
	return &harness{DB: srv.DB, srv: srv}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "starbase", Kind: "starbase", URL: h.srv.URL, Token: remotetest.Token}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := starbase.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.Client().BackoffBase = time.Millisecond
	return s
}

func (h *harness) Faults() *sqlitetest.Faults { return &h.srv.Faults }

func (h *harness) WrongTypes() func(http.ResponseWriter) {
	// A BLOB as StarbaseDB renders it ({}) where hex text was asked for.
	return sqlitetest.Status(http.StatusOK, `{"result": {"columns": ["c.0", "c.1", "c.2"], "rows": [[{}, "a", "bt"]]}}`)
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, func(tb testing.TB) sourcetest.Harness { return newHarness(tb) })
}

func TestTypes(t *testing.T) {
	sourcetest.RunSQLiteTypes(t, func(tb testing.TB) sourcetest.Harness { return newHarness(tb) }, sourcetest.TypesOptions{Infinity: true})
}

func TestHTTPErrors(t *testing.T) {
	sourcetest.RunHTTPErrors(t, func(tb testing.TB) sourcetest.HTTPHarness { return newHarness(tb) })
}

func TestMissingTokenIs401(t *testing.T) {
	h := newHarness(t)
	cfg := h.Config()
	cfg.Token = ""
	err := h.Open(t, cfg).Ping(t.Context())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: %v, want HTTP 401", err)
	}
}

func TestReconcileAtScale(t *testing.T) {
	sourcetest.RunReconcileAtScale(t, func(tb testing.TB) sourcetest.Harness { return newHarness(tb) })
}

// BenchmarkReadPage reads pages of 5000 rows of a table of typical columns
// from the test server and reports rows/s; SelectStar is the same rows
// selected as they are (which JSON does not carry exactly), for scale.
func BenchmarkReadPage(b *testing.B) {
	h := newHarness(b)
	h.Exec(b, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, name TEXT, price REAL, updated_at TIMESTAMP)")
	const rows, page = 20000, 5000
	h.Exec(b, fmt.Sprintf(`INSERT INTO t WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
		SELECT i, i * 7, 'name ' || i, i / 4.0, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '-' || i || ' seconds') FROM s`, rows))
	src := h.Open(b, h.Config()).(*starbase.Source)
	ts, err := src.Describe(b.Context(), "t")
	if err != nil {
		b.Fatal(err)
	}
	cols := []string{"id", "n", "name", "price", "updated_at"}
	b.Run("Exact", func(b *testing.B) {
		read := 0
		for b.Loop() {
			var after *litepull.Watermark
			for {
				p, err := src.ReadPage(b.Context(), litepull.PageRequest{Schema: ts, Columns: cols, Cursor: "id", After: after, Limit: page})
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Rows) == 0 {
					break
				}
				read += len(p.Rows)
				after = &litepull.Watermark{Cursor: p.Rows[len(p.Rows)-1][0]}
			}
		}
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "rows/s")
	})
	// The service's part alone: the statement of the first page, sent and
	// its answer decoded as JSON, against a plain SELECT *.
	if _, err := src.ReadPage(b.Context(), litepull.PageRequest{Schema: ts, Columns: cols, Cursor: "id", Limit: page}); err != nil {
		b.Fatal(err)
	}
	_, last := h.srv.LastRequest()
	exact := json.RawMessage(last)
	star := map[string]any{"sql": fmt.Sprintf("SELECT * FROM t ORDER BY id LIMIT %d", page), "params": []any{}}
	for name, body := range map[string]any{"ServiceExact": exact, "ServiceSelectStar": star} {
		b.Run(name, func(b *testing.B) {
			client := remote.NewClient(remotetest.Token)
			read := 0
			for b.Loop() {
				data, err := client.PostJSON(b.Context(), h.srv.URL+"/query/raw", body)
				if err != nil {
					b.Fatal(err)
				}
				var answer struct{ Result remote.RawResult }
				if err := remote.DecodeJSON(data, &answer); err != nil {
					b.Fatal(err)
				}
				read += len(answer.Result.Rows)
			}
			b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// realHarness is the real StarbaseDB the environment names
// (LITEPULL_REAL_STARBASE_URL, LITEPULL_REAL_STARBASE_TOKEN). Its types,
// placeholders and clock are SQLite's.
type realHarness struct {
	*sqlitetest.DB // nil: only its dialect methods, which read nothing
	real           *remotetest.RealStarbase
}

func newRealHarness(tb testing.TB) *realHarness {
	return &realHarness{real: remotetest.NewRealStarbase(tb)}
}

func (h *realHarness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "starbase", Kind: "starbase", URL: h.real.URL, Token: h.real.Token}
}

func (h *realHarness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := starbase.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (h *realHarness) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	h.real.Exec(tb, sql, args...)
}

func (h *realHarness) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	h.real.Insert(tb, table, cols, rows)
}

// TestRealStarbase runs the source's conformance tests against a real
// StarbaseDB when the environment names one (skipped otherwise).
func TestRealStarbase(t *testing.T) {
	newRealHarness(t) // skips here, not in each subtest
	newH := func(tb testing.TB) sourcetest.Harness { return newRealHarness(tb) }
	t.Run("Conformance", func(t *testing.T) { sourcetest.Run(t, newH) })
	t.Run("Types", func(t *testing.T) { sourcetest.RunSQLiteTypes(t, newH, sourcetest.TypesOptions{Infinity: true}) })
}

// TestAnswerTooLargeForRPC: StarbaseDB fails a statement whose answer is
// over 32 MiB (its Durable Object's RPC limit) with a 500; the source says
// to lower pageSize and does not send the page again.
func TestAnswerTooLargeForRPC(t *testing.T) {
	h := newHarness(t)
	h.srv.RPCBytes = 4000
	h.Exec(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	h.Exec(t, "INSERT INTO t WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) SELECT i, printf('%050d', i) FROM s")
	src := h.Open(t, h.Config()).(*starbase.Source)
	ts, err := src.Describe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	before := h.srv.Faults.Requests()
	_, err = src.ReadPage(t.Context(), litepull.PageRequest{Schema: ts, Columns: []string{"id", "v"}, Cursor: "id", Limit: 200})
	if !errors.Is(err, remote.ErrTooLarge) || !strings.Contains(err.Error(), "pageSize") {
		t.Fatalf("page over the RPC limit: %v, want remote.ErrTooLarge naming pageSize", err)
	}
	if n := h.srv.Faults.Requests() - before; n != 1 {
		t.Errorf("the page was sent %d times, want once (it would fail again)", n)
	}
	if _, err := src.ReadPage(t.Context(), litepull.PageRequest{Schema: ts, Columns: []string{"id", "v"}, Cursor: "id", Limit: 20}); err != nil {
		t.Errorf("a smaller page: %v", err)
	}
}
