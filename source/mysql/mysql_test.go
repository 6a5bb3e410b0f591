package mysql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/mysql"
)

type harness struct{ my *testdb.My }

func newHarness(tb testing.TB) sourcetest.Harness { return &harness{testdb.MySQL(tb)} }

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: h.my.DSN}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	tb.Helper()
	s, err := mysql.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// mysqlValue turns the suite's ISO-8601 UTC strings into MySQL literals.
func mysqlValue(v any) any {
	if s, ok := v.(string); ok && len(s) == 27 && s[10] == 'T' && strings.HasSuffix(s, "Z") {
		return strings.Replace(strings.TrimSuffix(s, "Z"), "T", " ", 1)
	}
	return v
}

func (h *harness) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	for i := range args {
		args[i] = mysqlValue(args[i])
	}
	h.my.Exec(tb, q, args...)
}

func (h *harness) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	for len(rows) > 0 {
		n := min(len(rows), 1000)
		var vals []string
		var args []any
		for _, r := range rows[:n] {
			vals = append(vals, "("+strings.TrimSuffix(strings.Repeat("?, ", len(r)), ", ")+")")
			for _, v := range r {
				args = append(args, mysqlValue(v))
			}
		}
		h.my.Exec(tb, fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "), strings.Join(vals, ", ")), args...)
		rows = rows[n:]
	}
}

func (h *harness) Type(kind string) string {
	return map[string]string{"int": "BIGINT", "text": "TEXT", "key": "VARCHAR(64)", "ts": "TIMESTAMP(6) NULL"}[kind]
}

func (h *harness) Arg(int) string           { return "?" }
func (h *harness) Quote(name string) string { return "`" + name + "`" }
func (h *harness) Now(d time.Duration) string {
	return time.Now().UTC().Add(d).Format("2006-01-02 15:04:05.000000")
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, newHarness)
}

func TestParseDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"root:p@ss@tcp(db:3306)/app?parseTime=true":   "root p@ss db:3306 app",
		"mysql://u:s3cr%3At@host/app?charset=utf8mb4": "u s3cr:t host:3306 app",
		"mariadb://u@host:3307/app":                   "u  host:3307 app",
	} {
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("ParseDSN(%q): %v", dsn, err)
		}
		if got := strings.Join([]string{c.User, c.Passwd, c.Addr, c.DBName}, " "); got != want {
			t.Errorf("ParseDSN(%q) = %q, want %q", dsn, got, want)
		}
		if c.ParseTime || c.Params["time_zone"] != "'+00:00'" || c.Params["net_write_timeout"] == "" {
			t.Errorf("ParseDSN(%q) did not fix the session: parseTime %v, params %v", dsn, c.ParseTime, c.Params)
		}
	}
}

// TestDeadServerKeepsPasswordSecret: a dead source fails with an error that
// names neither the password nor a stack trace.
func TestDeadServerKeepsPasswordSecret(t *testing.T) {
	src, err := mysql.New(litepull.SourceConfig{ID: "dead", DSN: "mysql://u:hunter2@127.0.0.1:1/db?timeout=1s"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Describe(context.Background(), "users")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Describe on a dead server = %v", err)
	}
	if _, err := src.Describe(context.Background(), "users; DROP TABLE x"); err == nil || !strings.Contains(err.Error(), "bad identifier") {
		t.Fatalf("bad name: %v", err)
	}
}

func (h *harness) RetypeText(tb testing.TB, table, column string) {
	h.Exec(tb, fmt.Sprintf("ALTER TABLE %s MODIFY %s VARCHAR(200)", table, column))
}

func (h *harness) NaiveType() string { return "DATETIME(6)" }

func (h *harness) WholeSecondType() string { return "DATETIME" }
