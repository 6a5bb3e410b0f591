package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull/internal/testdb"
)

// daemon is a running `litepull serve`.
type daemon struct {
	url  string
	stop func() int // cancels and returns the exit code
}

func startDaemon(t *testing.T, cfgPath string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr strings.Builder
	var mu sync.Mutex
	go func() {
		code := Main(ctx, []string{"serve", "-config", cfgPath, "-addr", "127.0.0.1:0"}, pw, lockedWriter{&mu, &stderr})
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		mu.Lock()
		t.Fatalf("daemon did not start: %v\n%s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(strings.TrimPrefix(line, "litepull serving "))[0]
	d := &daemon{url: url}
	d.stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("daemon did not stop within 20s of SIGTERM")
			return -1
		}
	}
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// call makes a request and decodes a JSON answer into out (if not nil).
func (d *daemon) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, d.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// eventually polls cond every 50ms for up to 15s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

type queryAnswer struct {
	Result []map[string]any `json:"result"`
	Error  any              `json:"error"`
}

func TestServe(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE users (id bigint PRIMARY KEY, name text, updated_at timestamptz NOT NULL)")
	pg.Exec(t, "INSERT INTO users SELECT g, 'user ' || g, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 300) g")
	pg.Exec(t, "CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
	const admin, reader = "admin-secret-token", "reader-token"
	t.Setenv("LITEPULL_ADMIN_TOKEN", admin)
	t.Setenv("LITEPULL_QUERY_TOKEN", reader)
	t.Setenv("PG_DSN", pg.DSN)
	cfg := writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: pg
    kind: postgres
    dsn: ${PG_DSN}
    schema: %s
    pageSize: 50
    schedule: every 200ms
    tables:
      - table: users
        cursorColumn: updated_at
      - table: events
`, filepath.Join(t.TempDir(), "replica.db"), pg.Schema))
	d := startDaemon(t, cfg)

	// Auth.
	if code := d.call(t, "GET", "/healthz", "", "", nil); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	var errBody map[string]any
	for tok, want := range map[string]int{"": 401, "wrong": 401, reader: 403} {
		if code := d.call(t, "GET", "/replicate/status", tok, "", &errBody); code != want || errBody["error"] == nil {
			t.Errorf("status with token %q = %d %v, want %d with a JSON error", tok, code, errBody, want)
		}
	}
	if code := d.call(t, "POST", "/replicate/run", reader, "", nil); code != 403 {
		t.Errorf("run with the read-only token = %d, want 403", code)
	}

	// The scheduler catches up on its own.
	countUsers := func() int {
		var q queryAnswer
		d.call(t, "POST", "/query", reader, `{"sql": "SELECT count(*) AS n FROM users"}`, &q)
		if q.Error != nil || len(q.Result) != 1 {
			return -1
		}
		return int(q.Result[0]["n"].(float64))
	}
	eventually(t, "300 users replicated by the scheduler", func() bool { return countUsers() == 300 })

	// It follows inserts and updates made while it runs.
	pg.Exec(t, "INSERT INTO users SELECT g, 'user ' || g, now() FROM generate_series(301, 320) g")
	pg.Exec(t, "UPDATE users SET name = 'renamed', updated_at = now() + interval '1 second' WHERE id = 7")
	eventually(t, "inserts and an update followed", func() bool {
		var q queryAnswer
		d.call(t, "POST", "/query", reader, `{"sql": "SELECT name FROM users WHERE id = ?", "params": [7]}`, &q)
		return countUsers() == 320 && len(q.Result) == 1 && q.Result[0]["name"] == "renamed"
	})

	// Concurrent manual runs never apply a page twice: rows_total counts
	// every row pulled, and events only ever gets inserts.
	pg.Exec(t, "INSERT INTO events SELECT g, 'k' FROM generate_series(1, 1000) g")
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct {
				Results []struct {
					Table string `json:"table"`
					Error any    `json:"error"`
				} `json:"results"`
			}
			if code := d.call(t, "POST", "/replicate/run?source=pg&table=events&drain=1", admin, "", &out); code != 200 {
				t.Errorf("manual run = %d", code)
			}
			for _, r := range out.Results {
				if r.Error != nil {
					t.Errorf("manual run of %s: %v", r.Table, r.Error)
				}
			}
		}()
	}
	wg.Wait()
	var status struct {
		Sources []struct {
			ID     string `json:"id"`
			Tables []struct {
				Table     string  `json:"table"`
				RowsTotal int64   `json:"rowsTotal"`
				NextRun   *string `json:"nextRunTs"`
				Schedule  string  `json:"schedule"`
				Backlog   *int64  `json:"backlogEstimate"`
			} `json:"tables"`
		} `json:"sources"`
	}
	if code := d.call(t, "GET", "/replicate/status", admin, "", &status); code != 200 {
		t.Fatalf("status = %d", code)
	}
	totals := map[string]int64{}
	for _, tb := range status.Sources[0].Tables {
		totals[tb.Table] = tb.RowsTotal
		if tb.NextRun == nil || tb.Schedule != "every 200ms" {
			t.Errorf("status of %s lacks its schedule: %+v", tb.Table, tb)
		}
	}
	if totals["events"] != 1000 {
		t.Errorf("events rows_total = %d after concurrent runs, want exactly 1000", totals["events"])
	}

	// Query endpoints.
	var raw struct {
		Result struct {
			Columns []string `json:"columns"`
			Rows    [][]any  `json:"rows"`
		} `json:"result"`
	}
	d.call(t, "POST", "/query/raw", admin, `{"sql": "SELECT id, name FROM users ORDER BY id LIMIT 2"}`, &raw)
	if len(raw.Result.Columns) != 2 || len(raw.Result.Rows) != 2 || raw.Result.Rows[1][1] != "user 2" {
		t.Errorf("/query/raw = %+v", raw.Result)
	}
	var denied queryAnswer
	if code := d.call(t, "POST", "/query", admin, `{"sql": "DELETE FROM users"}`, &denied); code != 400 || denied.Error == nil || countUsers() != 320 {
		t.Errorf("DELETE through /query = %d %v", code, denied.Error)
	}

	// Metrics.
	req, _ := http.NewRequest("GET", d.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+reader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`litepull_rows_pulled_total{source="pg",table="users"}`, `litepull_run_duration_seconds_bucket`, `litepull_table_lag_seconds{source="pg",table="events"}`} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// Reset forgets the watermark; the next run reads the table again. A
	// change that did not move the cursor shows only if the table really is
	// read again from the start.
	pg.Exec(t, "UPDATE events SET kind = 'changed' WHERE id = 5")
	if code := d.call(t, "POST", "/replicate/reset?source=pg&table=events", admin, "", nil); code != 200 {
		t.Fatalf("reset = %d", code)
	}
	eventually(t, "events re-read after reset", func() bool {
		var st struct {
			Sources []struct {
				Tables []struct {
					Table     string `json:"table"`
					RowsTotal int64  `json:"rowsTotal"`
				} `json:"tables"`
			} `json:"sources"`
		}
		d.call(t, "GET", "/replicate/status", admin, "", &st)
		for _, tb := range st.Sources[0].Tables {
			if tb.Table == "events" && tb.RowsTotal == 1000 {
				var q struct {
					Result []struct {
						Kind string `json:"kind"`
					} `json:"result"`
				}
				d.call(t, "POST", "/query", admin, `{"sql": "SELECT kind FROM events WHERE id = 5"}`, &q)
				return len(q.Result) == 1 && q.Result[0].Kind == "changed"
			}
		}
		return false
	})

	if code := d.stop(); code != 0 {
		t.Fatalf("daemon exited %d after a graceful stop", code)
	}
}

func TestServeRefusesOpenNetworkWithoutToken(t *testing.T) {
	t.Setenv("LITEPULL_ADMIN_TOKEN", "")
	cfg := writeConfig(t, "replica: "+filepath.Join(t.TempDir(), "r.db")+"\nsources:\n- id: s\n  kind: sqlite\n  dsn: x.db\n")
	code, _, errOut := runMain(t, "serve", "-config", cfg, "-addr", "0.0.0.0:0")
	if code == 0 || !strings.Contains(errOut, "LITEPULL_ADMIN_TOKEN") {
		t.Fatalf("exit %d, %q; want a refusal naming LITEPULL_ADMIN_TOKEN", code, errOut)
	}
}
