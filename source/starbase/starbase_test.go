package starbase_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/starbase"
)

const token = "starbase-admin-token"

// server follows StarbaseDB's POST /query/raw over a real SQLite database,
// with its quirks: integers become JavaScript numbers, BLOBs arrive as {},
// REAL 2.0 as 2, numeric parameters are bound as REAL, an empty result has
// "columns": [], a missing token is 401 and a wrong one 400.
type server struct {
	db     *sqlitetest.DB
	faults sqlitetest.Faults
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
	var body struct {
		SQL    string `json:"sql"`
		Params []any  `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		sqlitetest.Status(http.StatusBadRequest, `{"error": "Invalid JSON"}`)(w)
		return
	}
	res, err := s.db.Query(body.SQL, body.Params) // JSON numbers are float64: bound as REAL
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"error": err.Error()})
		return
	}
	cols := res.Columns
	rows := sqlitetest.JSRows(res.Rows, func([]byte) any { return map[string]any{} }) // a BLOB arrives as {}
	if len(rows) == 0 {
		cols = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"result": map[string]any{"columns": cols, "rows": rows,
		"meta": map[string]any{"rows_read": len(rows), "rows_written": 0}}})
}

type harness struct {
	*sqlitetest.DB
	srv *server
	url string
}

func newHarness(tb testing.TB) *harness {
	db := sqlitetest.New(tb)
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
	return sqlitetest.Status(http.StatusOK, `{"result": {"columns": ["a", "b", "c", "d"], "rows": [["blob", {}, "text", "a"]]}}`)
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
