package libsql_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/source/libsql"
)

type harness struct {
	*sqlitetest.DB
	srv *remotetest.Server
}

// newHarness serves Hrana 2 and 3 (remotetest.NewLibSQL with HranaV3),
// over a SQLite that answers like libSQL's Hrana test server's, 3.40.1
// (no unhex(), no 'subsec' modifier).
func newHarness(tb testing.TB) sourcetest.Harness {
	srv := remotetest.NewLibSQL(tb)
	srv.HranaV3 = true
	return &harness{DB: srv.DB, srv: srv}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "turso", Kind: "libsql", URL: h.srv.URL, Token: remotetest.Token}
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

func (h *harness) Faults() *sqlitetest.Faults { return &h.srv.Faults }

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
		h.srv.HranaV3 = v3
		src := h.Open(t, h.Config())
		if err := src.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "/v2/pipeline", true: "/v3/pipeline"}[v3]
		if got, _ := h.srv.LastRequest(); got != want {
			t.Errorf("server with v3=%v got %s, want %s", v3, got, want)
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
