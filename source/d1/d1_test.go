package d1_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/d1"
)

type harness struct {
	*sqlitetest.DB
	srv *remotetest.Server
}

// newHarness serves D1's REST API (remotetest.NewD1): D1's JSON, where
// integers become JavaScript numbers (exact only up to 2^53), BLOBs
// arrays of byte values, ±Infinity null; and D1's limits.
func newHarness(tb testing.TB) *harness {
	srv := remotetest.NewD1(tb)
	return &harness{DB: srv.DB, srv: srv}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "d1", Kind: "d1", URL: h.srv.URL, AccountID: remotetest.D1Account, DatabaseID: remotetest.D1Database,
		Token: remotetest.Token}
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

func (h *harness) Faults() *sqlitetest.Faults { return &h.srv.Faults }

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
