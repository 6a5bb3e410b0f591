package d1_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/d1"
)

const (
	token    = "cf-test-token"
	account  = "0123456789abcdef"
	database = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
)

// server follows D1's REST /raw endpoint over a real SQLite database, with
// D1's JSON: integers become JavaScript numbers (exact only up to 2^53),
// BLOBs arrays of byte values, ±Infinity null; and with D1's limits
// (remote.ServiceLimits).
type server struct {
	db     *sqlitetest.DB
	faults sqlitetest.Faults
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.URL.Path != "/client/v4/accounts/"+account+"/d1/database/"+database+"/raw" {
		sqlitetest.Status(http.StatusNotFound, `{"success": false, "errors": [{"code": 7404, "message": "not found"}]}`)(w)
		return
	}
	if s.faults.Take(w) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+token {
		sqlitetest.Status(http.StatusForbidden, `{"result": null, "success": false, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": []}`)(w)
		return
	}
	var body struct {
		SQL    string `json:"sql"`
		Params []any  `json:"params"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		sqlitetest.Status(http.StatusBadRequest, `{"success": false, "errors": [{"code": 7400, "message": "bad JSON"}]}`)(w)
		return
	}
	args := make([]any, len(body.Params))
	for i, p := range body.Params {
		if n, ok := p.(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				args[i] = v
			} else {
				args[i], _ = n.Float64()
			}
			continue
		}
		args[i] = p
	}
	res, err := s.db.Query(body.SQL, args)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"result": []any{}, "success": false, "messages": []any{},
			"errors": []any{map[string]any{"code": 7500, "message": err.Error() + ": SQLITE_ERROR"}}})
		return
	}
	rows := sqlitetest.JSRows(res.Rows, func(b []byte) any { // D1 sends a BLOB as an array of byte values
		arr := make([]int, len(b))
		for k, c := range b {
			arr[k] = int(c)
		}
		return arr
	})
	cols := res.Columns
	if cols == nil {
		cols = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"success": true, "errors": []any{}, "messages": []any{},
		"result": []any{map[string]any{"success": true, "results": map[string]any{"columns": cols, "rows": rows},
			"meta": map[string]any{"duration": 0.1, "rows_read": len(rows)}}}})
}

type harness struct {
	*sqlitetest.DB
	srv *server
	url string
}

func newHarness(tb testing.TB) *harness {
	db := sqlitetest.New(tb)
	db.SetLimits(remote.ServiceLimits["d1"])
	srv := &server{db: db}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return &harness{DB: db, srv: srv, url: ts.URL + "/client/v4"}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "d1", Kind: "d1", URL: h.url, AccountID: account, DatabaseID: database, Token: token}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := d1.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.Client().BackoffBase = time.Millisecond
	return s
}

func (h *harness) Faults() *sqlitetest.Faults { return &h.srv.faults }

func (h *harness) WrongTypes() func(http.ResponseWriter) {
	// An integer past 2^53 as a JSON number, which has rounded it, where
	// decimal text was asked for.
	return sqlitetest.Status(http.StatusOK, `{"success": true, "errors": [], "result": [{"success": true,
		"results": {"columns": ["c.0", "c.1", "c.2"], "rows": [[9007199254740993, "a", null]]}}]}`)
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

func TestSQLErrorNamesD1Message(t *testing.T) {
	h := newHarness(t)
	src := h.Open(t, h.Config())
	_, err := src.(*d1.Source).CountNullCursor(t.Context(), "missing", "id")
	if err == nil || !strings.Contains(err.Error(), "no such table") || !strings.Contains(err.Error(), "7500") {
		t.Fatalf("SQL error = %v, want D1's message and code", err)
	}
}

func TestConfigChecked(t *testing.T) {
	for _, c := range []litepull.SourceConfig{{ID: "x"}, {ID: "x", AccountID: "a/b", DatabaseID: "c"}, {ID: "x", AccountID: "a", DatabaseID: ""}} {
		if _, err := d1.New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestReconcileAtScale(t *testing.T) {
	sourcetest.RunReconcileAtScale(t, func(tb testing.TB) sourcetest.Harness { return newHarness(tb) })
}
