package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// runMainLimit bounds one command run by runMain: a broken guard fails the
// test instead of hanging it.
const runMainLimit = 2 * time.Minute

// runMain runs the real command line and returns its exit code and output.
func runMain(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runMainLimit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, &stdout, &stderr)
	if ctx.Err() != nil {
		tb.Fatalf("litepull %v did not end within %s\n%s\n%s", args, runMainLimit, stdout.String(), stderr.String())
	}
	return code, stdout.String(), stderr.String()
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runMain(t, "demo", "-dir", dir)
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	// Again in the same folder: the demo's own files are replaced.
	if code, _, errOut := runMain(t, "demo", "-dir", dir); code != 0 {
		t.Fatalf("second demo in the same folder exited %d\n%s", code, errOut)
	}
	for _, want := range []string{"more=true", "1 NULL-cursor row(s) reported", "2200 rows x 6 columns identical",
		"deleted 22 rows", "2178 rows x 6 columns identical", "1550 rows x 5 columns identical", "replica matches source, row for row"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func writeConfig(tb testing.TB, yaml string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "litepull.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestRunStatusValidate drives run, status and validate against a real
// Postgres source and a dead one: the dead one fails its table only, and its
// password never shows.
func TestRunStatusValidate(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE users (id bigint PRIMARY KEY, email text, updated_at timestamptz)")
	pg.Exec(t, "INSERT INTO users SELECT g, 'u' || g || '@x', '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 25) g")
	t.Setenv("GOOD_DSN", pg.DSN)
	t.Setenv("DEAD_DSN", "postgres://admin:hunter2@127.0.0.1:1/db?connect_timeout=2")
	replicaPath := filepath.Join(t.TempDir(), "replica.db")
	cfg := writeConfig(t, `
replica: `+replicaPath+`
sources:
  - id: good
    kind: postgres
    dsn: ${GOOD_DSN}
    schema: `+pg.Schema+`
    pageSize: 10
    tables:
      - table: users
        cursorColumn: updated_at
  - id: dead
    kind: postgres
    dsn: ${DEAD_DSN}
    tables:
      - table: users
        dest: dead_users
`)
	code, out, errOut := runMain(t, "run", "-config", cfg)
	if code != 1 {
		t.Fatalf("run exited %d, want 1 (a table failed)\n%s\n%s", code, out, errOut)
	}
	var goodLine, deadLine string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "good "):
			goodLine = line
		case strings.HasPrefix(line, "dead "):
			deadLine = line
		}
	}
	if f := strings.Fields(goodLine); len(f) < 8 || f[3] != "10" || f[6] != "true" {
		t.Errorf("good table line %q: want 10 rows and more pages", goodLine)
	}
	if !strings.Contains(deadLine, "ERROR:") {
		t.Errorf("dead table line %q: want its error", deadLine)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("output leaks the password:\n%s", s)
		}
	}

	code, out, errOut = runMain(t, "run", "-config", cfg, "-source", "good", "-drain", "-json")
	if code != 0 {
		t.Fatalf("run -drain exited %d\n%s\n%s", code, out, errOut)
	}
	var sum litepull.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("run -json: %v\n%s", err, out)
	}
	if len(sum.Tables) != 1 || sum.Tables[0].RowsPulled != 15 || sum.Tables[0].MorePagesAvailable {
		t.Fatalf("drain summary = %+v, want 15 more rows and caught up", sum.Tables)
	}

	// Deletes at the source: found by -reconcile, or by -full.
	pg.Exec(t, "DELETE FROM users WHERE id IN (3, 4)")
	code, out, errOut = runMain(t, "run", "-config", cfg, "-source", "good", "-reconcile", "-json")
	if code != 0 {
		t.Fatalf("run -reconcile exited %d\n%s\n%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Tables[0].RowsDeleted != 2 {
		t.Fatalf("run -reconcile: %v %+v, want 2 rows deleted", err, sum.Tables)
	}
	pg.Exec(t, "DELETE FROM users WHERE id = 5")
	code, out, _ = runMain(t, "run", "-config", cfg, "-source", "good", "-full")
	if code != 0 || !strings.Contains(out, "full refresh") {
		t.Fatalf("run -full exited %d:\n%s", code, out)
	}

	code, out, _ = runMain(t, "status", "-config", cfg, "-json")
	if code != 0 {
		t.Fatalf("status exited %d", code)
	}
	var states []litepull.State
	if err := json.Unmarshal([]byte(out), &states); err != nil {
		t.Fatal(err)
	}
	byID := map[string]litepull.State{}
	for _, s := range states {
		byID[s.SourceID] = s
	}
	// The full refresh left 22 rows: rows_total counts from the last full copy.
	if g := byID["good"]; g.RowsTotal != 22 || g.CursorValue != "2026-01-01T00:00:25.000000Z" || g.LastError != "" || g.RowsDeleted != 2 || g.LastFullRefresh.IsZero() {
		t.Errorf("good state = %+v", g)
	}
	if d := byID["dead"]; d.LastError == "" || d.ErrorCount != 1 || strings.Contains(d.LastError, "hunter2") {
		t.Errorf("dead state = %+v, want its error recorded without the password", d)
	}
	code, out, _ = runMain(t, "status", "-config", cfg)
	if code != 0 || !strings.Contains(out, "good") || !strings.Contains(out, "dead") {
		t.Errorf("status exited %d:\n%s", code, out)
	}

	code, out, _ = runMain(t, "validate", "-config", cfg)
	if code != 1 || !strings.Contains(out, "ERROR: connect") || strings.Contains(out, "config ok") {
		t.Errorf("validate with a dead source exited %d:\n%s", code, out)
	}
	deadUsers := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		deadUsers = deadUsers || (len(f) > 2 && f[0] == "dead" && f[1] == "users" && strings.Contains(line, "ERROR"))
	}
	if !deadUsers {
		t.Errorf("validate does not name the dead source's listed table users:\n%s", out)
	}
}

func TestMalformedConfig(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"UnknownKind": {"sources:\n- id: a\n  kind: oracle\n  dsn: x\n", `unknown kind "oracle"`},
		"BadYAML":     {"sources: [\n", "parse YAML"},
		"BadTable":    {"sources:\n- id: a\n  kind: sqlite\n  dsn: x\n  tables:\n  - table: 'a;b'\n", "bad identifier"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runMain(t, "run", "-config", writeConfig(t, tc.yaml))
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want failure mentioning %q", code, errOut, tc.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "nope.db")
	if code, _, errOut := runMain(t, "status", "-replica", missing); code == 0 || !strings.Contains(errOut, "no replica") {
		t.Fatalf("status of a missing replica: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("status created the replica file")
	}
	if code, _, _ := runMain(t, "nonsense"); code != 2 {
		t.Fatalf("unknown command exited %d, want 2", code)
	}
}

// TestDemoKeepsOtherFiles: -dir naming a folder that holds someone's
// source.db is refused, and the file is left as it was.
func TestDemoKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "source.db")
	if err := os.WriteFile(mine, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runMain(t, "demo", "-dir", dir)
	if code == 0 || !strings.Contains(errOut, "did not make") {
		t.Fatalf("demo over another source.db exited %d: %s; want a refusal", code, errOut)
	}
	if data, _ := os.ReadFile(mine); string(data) != "precious" {
		t.Fatalf("the user's source.db changed: %q", data)
	}
}
