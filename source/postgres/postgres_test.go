package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/postgres"
)

type harness struct{ pg *testdb.PG }

func newHarness(tb testing.TB) sourcetest.Harness { return &harness{testdb.Postgres(tb)} }

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: h.pg.DSN, Schema: h.pg.Schema}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := postgres.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (h *harness) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	h.pg.Exec(tb, q, args...)
}

// Insert sends rows in multi-row INSERTs of up to 1000 rows.
func (h *harness) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	for len(rows) > 0 {
		n := min(len(rows), 1000)
		var vals []string
		var args []any
		for _, r := range rows[:n] {
			marks := make([]string, len(r))
			for i, v := range r {
				args = append(args, v)
				marks[i] = fmt.Sprintf("$%d", len(args))
			}
			vals = append(vals, "("+strings.Join(marks, ", ")+")")
		}
		h.pg.Exec(tb, fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "), strings.Join(vals, ", ")), args...)
		rows = rows[n:]
	}
}

func (h *harness) Type(kind string) string {
	return map[string]string{"int": "bigint", "text": "text", "key": "text", "ts": "timestamptz"}[kind]
}

func (h *harness) Arg(n int) string         { return fmt.Sprintf("$%d", n) }
func (h *harness) Quote(name string) string { return `"` + name + `"` }
func (h *harness) Now(d time.Duration) string {
	return time.Now().UTC().Add(d).Format(litepull.LayoutTimestampTZ)
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, newHarness)
}

// TestBadIdentifierSendsNoSQL points the source at a port nothing listens
// on: a bad name must be refused before any connection is attempted.
func TestBadIdentifierSendsNoSQL(t *testing.T) {
	src, err := postgres.New(litepull.SourceConfig{ID: "dead", DSN: "postgres://u:secret@127.0.0.1:1/db?connect_timeout=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Describe(context.Background(), "users; DROP TABLE users")
	if err == nil || !strings.Contains(err.Error(), "bad identifier") {
		t.Fatalf("Describe(bad name) = %v, want a bad identifier error", err)
	}
	_, err = src.Describe(context.Background(), "users")
	if err == nil {
		t.Fatal("Describe on a dead server succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// TestPoolerMode reads pages without named prepared statements, as needed
// behind a transaction-mode pooler.
func TestPoolerMode(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE p (id bigint PRIMARY KEY, v text)")
	pg.Exec(t, "INSERT INTO p SELECT g, 'v' || g FROM generate_series(1, 100) g")
	dsn := pg.DSN + "&default_query_exec_mode=exec"
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: dsn, Schema: pg.Schema, PageSize: 7,
		Tables: []litepull.TableConfig{{Table: "p"}}}
	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	_, rows, err := r.Query(context.Background(), "SELECT count(*) FROM p")
	if err != nil || rows[0][0] != int64(100) {
		t.Fatalf("replica rows = %v, %v", rows, err)
	}
}
