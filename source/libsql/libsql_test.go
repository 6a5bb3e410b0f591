package libsql_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/source/libsql"
)

const token = "turso-test-token"

// server speaks Hrana over HTTP (v2, and v3 when asked) over a real SQLite
// database, following the spec's request and response shapes. Its SQLite
// answers like libSQL's Hrana test server's, 3.40.1 (no unhex(), no
// 'subsec' modifier): see sqlitetest.DB.EmulateSQLite340.
type server struct {
	db     *sqlitetest.DB
	faults sqlitetest.Faults
	v3     bool
	// lastPipeline is the path of the last pipeline request.
	lastPipeline string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+token {
		sqlitetest.Status(http.StatusUnauthorized, `{"error": "Unauthorized"}`)(w)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/v2":
		w.WriteHeader(http.StatusOK)
		return
	case r.Method == "GET" && r.URL.Path == "/v3":
		if !s.v3 {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	case r.Method == "POST" && (r.URL.Path == "/v2/pipeline" || (s.v3 && r.URL.Path == "/v3/pipeline")):
	default:
		http.NotFound(w, r)
		return
	}
	if s.faults.Take(w) {
		return
	}
	s.lastPipeline = r.URL.Path
	var req struct {
		Baton    *string `json:"baton"`
		Requests []struct {
			Type string `json:"type"`
			Stmt *struct {
				SQL  string            `json:"sql"`
				Args []json.RawMessage `json:"args"`
			} `json:"stmt"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		sqlitetest.Status(http.StatusBadRequest, `{"error": "bad request"}`)(w)
		return
	}
	results := []any{}
	for _, rq := range req.Requests {
		switch rq.Type {
		case "close":
			results = append(results, map[string]any{"type": "ok", "response": map[string]any{"type": "close"}})
		case "execute":
			args, err := decodeArgs(rq.Stmt.Args)
			if err == nil {
				var res *sqlitetest.Result
				if res, err = s.db.Query(rq.Stmt.SQL, args); err == nil {
					results = append(results, map[string]any{"type": "ok", "response": map[string]any{"type": "execute", "result": encodeResult(res)}})
					continue
				}
			}
			results = append(results, map[string]any{"type": "error", "error": map[string]any{"message": err.Error(), "code": "SQLITE_ERROR"}})
		default:
			results = append(results, map[string]any{"type": "error", "error": map[string]any{"message": "unknown request " + rq.Type}})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"baton": nil, "base_url": nil, "results": results})
}

func decodeArgs(raw []json.RawMessage) ([]any, error) {
	out := make([]any, len(raw))
	for i, r := range raw {
		var v struct {
			Type   string          `json:"type"`
			Value  json.RawMessage `json:"value"`
			Base64 string          `json:"base64"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, err
		}
		var err error
		switch v.Type {
		case "null":
		case "integer":
			var s string
			if err = json.Unmarshal(v.Value, &s); err == nil {
				out[i], err = strconv.ParseInt(s, 10, 64)
			}
		case "float":
			var f float64
			err = json.Unmarshal(v.Value, &f)
			out[i] = f
		case "text":
			var s string
			err = json.Unmarshal(v.Value, &s)
			out[i] = s
		case "blob":
			out[i], err = base64.StdEncoding.DecodeString(v.Base64)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func encodeResult(res *sqlitetest.Result) map[string]any {
	cols := make([]map[string]any, len(res.Columns))
	for i, c := range res.Columns {
		cols[i] = map[string]any{"name": c, "decltype": res.DeclType[i]}
	}
	rows := make([][]map[string]any, len(res.Rows))
	for i, r := range res.Rows {
		rows[i] = make([]map[string]any, len(r))
		for j, v := range r {
			switch v := v.(type) {
			case nil:
				rows[i][j] = map[string]any{"type": "null"}
			case int64:
				rows[i][j] = map[string]any{"type": "integer", "value": strconv.FormatInt(v, 10)}
			case float64:
				rows[i][j] = map[string]any{"type": "float", "value": v}
			case string:
				rows[i][j] = map[string]any{"type": "text", "value": v}
			case []byte:
				rows[i][j] = map[string]any{"type": "blob", "base64": base64.StdEncoding.EncodeToString(v)}
			}
		}
	}
	return map[string]any{"cols": cols, "rows": rows, "affected_row_count": 0, "last_insert_rowid": nil}
}

type harness struct {
	*sqlitetest.DB
	srv *server
	url string
}

func newHarness(tb testing.TB) sourcetest.Harness {
	db := sqlitetest.New(tb)
	db.EmulateSQLite340(tb)
	srv := &server{db: db, v3: true}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return &harness{DB: db, srv: srv, url: ts.URL}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "turso", Kind: "libsql", URL: h.url, Token: token}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := libsql.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.Client().BackoffBase = time.Millisecond // tests need not wait
	return s
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, newHarness)
}

func (h *harness) Faults() *sqlitetest.Faults { return &h.srv.faults }

func (h *harness) WrongTypes() func(http.ResponseWriter) {
	// An integer sent as a JSON number instead of a decimal string.
	return sqlitetest.Status(http.StatusOK, `{"baton": null, "base_url": null, "results": [{"type": "ok", "response": {"type": "execute",
		"result": {"cols": [{"name": "id"}, {"name": "v"}], "rows": [[{"type": "integer", "value": 1}, {"type": "text", "value": "a"}]]}}},
		{"type": "ok", "response": {"type": "close"}}]}`)
}

func TestTypes(t *testing.T) {
	sourcetest.RunSQLiteTypes(t, newHarness, sourcetest.TypesOptions{})
}

func TestHTTPErrors(t *testing.T) {
	sourcetest.RunHTTPErrors(t, func(tb testing.TB) sourcetest.HTTPHarness { return newHarness(tb).(*harness) })
}

func TestPipelineVersion(t *testing.T) {
	for _, v3 := range []bool{false, true} {
		h := newHarness(t).(*harness)
		h.srv.v3 = v3
		src := h.Open(t, h.Config())
		if err := src.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "/v2/pipeline", true: "/v3/pipeline"}[v3]
		if h.srv.lastPipeline != want {
			t.Errorf("server with v3=%v got %s, want %s", v3, h.srv.lastPipeline, want)
		}
	}
}

func TestURL(t *testing.T) {
	for _, bad := range []string{"", "ftp://x", "libsql://", "not a url"} {
		if _, err := libsql.New(litepull.SourceConfig{ID: "x", URL: bad}); err == nil {
			t.Errorf("url %q accepted", bad)
		}
	}
	if _, err := libsql.New(litepull.SourceConfig{ID: "x", URL: "libsql://db.turso.io"}); err != nil {
		t.Errorf("libsql:// url: %v", err)
	}
}

// TestServerIsSQLite340 holds the test server to the SQLite of libSQL's
// Hrana test server, which the suite's settle tests run against.
func TestServerIsSQLite340(t *testing.T) {
	h := newHarness(t).(*harness)
	res, err := h.DB.Query(`SELECT sqlite_version(), unixepoch('now', 'subsec'), strftime('%f', 'now', 'SUBSEC'),
		julianday('2024-01-01T00:00:00.500Z'), unixepoch('2024-01-01T00:00:00Z')`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"3.40.1", nil, nil, 2460310.5 + 0.5/86400, int64(1704067200)}
	if !reflect.DeepEqual(res.Rows[0], want) {
		t.Fatalf("server's SQLite answers %v, want %v", res.Rows[0], want)
	}
	if _, err := h.DB.Query("SELECT unhex('00')", nil); err == nil {
		t.Fatal("unhex() answered: SQLite 3.40 has none")
	}
}

// TestSilentServerWaitsOnce: a libSQL server that accepts and never answers
// costs one readTimeout, not one for /v3 and another for /v2.
func TestSilentServerWaitsOnce(t *testing.T) {
	src, err := libsql.New(litepull.SourceConfig{ID: "l", Kind: "libsql", URL: "http://" + stalltest.Silent(t), Token: "t",
		ReadTimeout: litepull.Duration(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	var pingErr error
	stalltest.Within(t, 6*time.Second, func(ctx context.Context) { pingErr = src.Ping(ctx) })
	if !errors.Is(pingErr, litepull.ErrTimeout) {
		t.Fatalf("Ping = %v, want a timeout", pingErr)
	}
	if d := time.Since(start); d >= 3500*time.Millisecond {
		t.Fatalf("Ping took %s: it waited once per endpoint", d.Round(100*time.Millisecond))
	}
}
