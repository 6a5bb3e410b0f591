package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litepull/litepull/internal/sqlitetest"
)

// TestCursorAheadIsShown: a cursor in the year 2999 does not fail the run,
// and run, status, GET /replicate/status and /metrics all show it.
func TestCursorAheadIsShown(t *testing.T) {
	src := sqlitetest.New(t)
	src.Exec(t, "CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at DATETIME)")
	src.Exec(t, "INSERT INTO orders VALUES (1, '2026-01-01 10:00:00'), (2, '2999-01-01 10:00:00')")
	replicaPath := filepath.Join(t.TempDir(), "replica.db")
	cfg := writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: shop
    kind: sqlite
    dsn: %s
    tables:
      - table: orders
        cursorColumn: updated_at
`, replicaPath, src.Path))
	const want = "cursor orders.updated_at is at 2999-01-01 10:00:00, 97"
	code, out, errOut := runMain(t, "run", "-config", cfg, "-drain")
	if code != 0 || !strings.Contains(out, "WARNING: "+want) || !strings.Contains(out, "1 table(s) with a WARNING") || !strings.Contains(out, "litepull reset -config FILE -source shop -table orders") {
		t.Fatalf("run exited %d, want 0 with the warning in its summary\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "cursor is ahead of the source's clock") {
		t.Errorf("run did not log the warning:\n%s", errOut)
	}
	code, out, _ = runMain(t, "status", "-config", cfg)
	if code != 0 || !strings.Contains(out, "WARNING shop/orders: "+want) {
		t.Fatalf("status exited %d, want the warning:\n%s", code, out)
	}

	d := startDaemon(t, cfg)
	defer d.stop()
	var status struct {
		Sources []struct {
			Tables []struct {
				CursorAhead string `json:"cursorAhead"`
			} `json:"tables"`
		} `json:"sources"`
	}
	d.call(t, "POST", "/replicate/run", "", "", nil)
	if d.call(t, "GET", "/replicate/status", "", "", &status); len(status.Sources) != 1 || len(status.Sources[0].Tables) != 1 ||
		!strings.Contains(status.Sources[0].Tables[0].CursorAhead, want) {
		t.Fatalf("GET /replicate/status = %+v, want cursorAhead", status)
	}
	resp, err := http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `litepull_cursor_ahead_seconds{source="shop",table="orders"} 3.0`) {
		t.Errorf("/metrics lacks litepull_cursor_ahead_seconds of about 3.07e10:\n%s", grepLines(string(metrics), "cursor_ahead"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
