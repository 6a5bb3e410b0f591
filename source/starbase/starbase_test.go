package starbase_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/starbase"
)

const token = "starbase-admin-token"

// server follows StarbaseDB's POST /query/raw over a real SQLite database,
// with its quirks: integers become JavaScript numbers, BLOBs arrive as {},
// REAL 2.0 as 2, numeric parameters are bound as REAL, an empty result has
// "columns": [], a missing token is 401 and a wrong one 400. Each row passes
// through a JavaScript object (see asObjects), and the Durable Object's
// SQLite limits are enforced (remote.ServiceLimits), counting the rows of a
// VALUES clause as terms of a compound SELECT, as the service was seen to.
type server struct {
	db     *sqlitetest.DB
	faults sqlitetest.Faults

	mu       sync.Mutex
	last     map[string]any // the last request's body
	requests int
	rpcBytes int // the largest answer of a statement (remotetest.StarbaseRPCBytes if 0)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.URL.Path != "/query/raw" {
		sqlitetest.Status(http.StatusNotFound, `{"error": "Not found"}`)(w)
		return
	}
	if s.faults.Take(w) {
		return
	}
	switch r.Header.Get("Authorization") {
	case "Bearer " + token:
	case "":
		sqlitetest.Status(http.StatusUnauthorized, `{"error": "Unauthorized request"}`)(w)
		return
	default:
		sqlitetest.Status(http.StatusBadRequest, `{"error": "Unauthorized request"}`)(w)
		return
	}
	if !strings.Contains(r.Header.Get("Content-Type"), "application/json") {
		sqlitetest.Status(http.StatusBadRequest, `{"error": "Content-Type must be application/json."}`)(w)
		return
	}
	var body struct {
		SQL    string `json:"sql"`
		Params []any  `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		// StarbaseDB answers with JSON.parse's message, as a 500.
		sqlitetest.Status(http.StatusInternalServerError, `{"error": "Unexpected end of JSON input"}`)(w)
		return
	}
	s.mu.Lock()
	s.last = map[string]any{"sql": body.SQL, "params": body.Params}
	s.requests++
	rpcBytes := cmp.Or(s.rpcBytes, remotetest.StarbaseRPCBytes)
	s.mu.Unlock()
	res, err := s.db.Query(body.SQL, body.Params) // JSON numbers are float64: bound as REAL
	if lim := s.db.Limits(); lim.CompoundTerms > 0 && sqlitetest.ValuesRows(body.SQL) >= lim.CompoundTerms {
		res, err = nil, errors.New("too many terms in compound SELECT: SQLITE_ERROR")
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"error": err.Error()})
		return
	}
	cols, rows := asObjects(res.Columns, sqlitetest.JSRows(res.Rows, func([]byte) any { return map[string]any{} })) // a BLOB arrives as {}
	if len(rows) == 0 {
		cols = []string{}
	}
	result, _ := json.Marshal(map[string]any{"columns": cols, "rows": rows, "meta": map[string]any{"rows_read": len(rows), "rows_written": 0}})
	w.Header().Set("Content-Type", "application/json")
	if len(result) > rpcBytes { // the Durable Object's RPC refuses it
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"error": fmt.Sprintf("Serialized RPC arguments or return values are limited to 32MiB, but the size of this value was: %d bytes.", len(result))})
		return
	}
	fmt.Fprintf(w, `{"result": %s}`, result)
}

// asObjects passes each row through a JavaScript object, as StarbaseDB's
// /query/raw does (row to {column: value}, then Object.keys and the values
// back): a later column of the same name overwrites an earlier one, in the
// earlier one's place, and names that are array indexes ("0", "1", ...)
// move first, in numeric order.
func asObjects(cols []string, rows [][]any) ([]string, [][]any) {
	var keys []string
	last := map[string]int{}
	for i, c := range cols {
		if _, ok := last[c]; !ok {
			keys = append(keys, c)
		}
		last[c] = i
	}
	sort.SliceStable(keys, func(a, b int) bool {
		na, ia := arrayIndex(keys[a])
		nb, ib := arrayIndex(keys[b])
		if ia && ib {
			return na < nb
		}
		return ia && !ib
	})
	out := make([][]any, len(rows))
	for r, row := range rows {
		out[r] = make([]any, len(keys))
		for k, name := range keys {
			out[r][k] = row[last[name]]
		}
	}
	return keys, out
}

// arrayIndex reports whether JavaScript takes name for an array index: the
// canonical decimal form of an integer below 2^32-1.
func arrayIndex(name string) (uint64, bool) {
	n, err := strconv.ParseUint(name, 10, 32)
	return n, err == nil && n < 1<<32-1 && strconv.FormatUint(n, 10) == name
}

type harness struct {
	*sqlitetest.DB
	srv *server
	url string
}

func newHarness(tb testing.TB) *harness {
	db := sqlitetest.New(tb)
	db.SetLimits(remote.ServiceLimits["starbase"])
	srv := &server{db: db}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return &harness{DB: db, srv: srv, url: ts.URL}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "starbase", Kind: "starbase", URL: h.url, Token: token}
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

func (h *harness) Faults() *sqlitetest.Faults { return &h.srv.faults }

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
	exact := h.srv.last
	star := map[string]any{"sql": fmt.Sprintf("SELECT * FROM t ORDER BY id LIMIT %d", page), "params": []any{}}
	for name, body := range map[string]any{"ServiceExact": exact, "ServiceSelectStar": star} {
		b.Run(name, func(b *testing.B) {
			client := remote.NewClient(token)
			read := 0
			for b.Loop() {
				data, err := client.PostJSON(b.Context(), h.url+"/query/raw", body)
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
	h.srv.rpcBytes = 4000
	h.Exec(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	h.Exec(t, "INSERT INTO t WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) SELECT i, printf('%050d', i) FROM s")
	src := h.Open(t, h.Config()).(*starbase.Source)
	ts, err := src.Describe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	h.srv.mu.Lock()
	h.srv.requests = 0
	h.srv.mu.Unlock()
	_, err = src.ReadPage(t.Context(), litepull.PageRequest{Schema: ts, Columns: []string{"id", "v"}, Cursor: "id", Limit: 200})
	if !errors.Is(err, remote.ErrTooLarge) || !strings.Contains(err.Error(), "pageSize") {
		t.Fatalf("page over the RPC limit: %v, want remote.ErrTooLarge naming pageSize", err)
	}
	if h.srv.requests != 1 {
		t.Errorf("the page was sent %d times, want once (it would fail again)", h.srv.requests)
	}
	if _, err := src.ReadPage(t.Context(), litepull.PageRequest{Schema: ts, Columns: []string{"id", "v"}, Cursor: "id", Limit: 20}); err != nil {
		t.Errorf("a smaller page: %v", err)
	}
}
