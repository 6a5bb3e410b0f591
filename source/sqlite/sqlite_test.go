package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitex"
	"github.com/litepull/litepull/source/sqlite"
)

// harness drives a SQLite file through a read-write connection of its own;
// the source under test opens the file read-only.
type harness struct {
	path string
	conn *sqlite3.Conn
}

func newHarness(tb testing.TB) sourcetest.Harness {
	path := filepath.Join(tb.TempDir(), "source.db")
	conn, err := sqlite3.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &harness{path: path, conn: conn}
}

func (h *harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "sqlite", Kind: "sqlite", DSN: h.path}
}

func (h *harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	s, err := sqlite.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (h *harness) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	if err := sqlitex.Exec(h.conn, q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

func (h *harness) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	h.Exec(tb, "BEGIN")
	for _, r := range rows {
		h.Exec(tb, q, r...)
	}
	h.Exec(tb, "COMMIT")
}

func (h *harness) Type(kind string) string {
	return map[string]string{"int": "INTEGER", "text": "TEXT", "ts": "TIMESTAMP"}[kind]
}

func (h *harness) Arg(int) string           { return "?" }
func (h *harness) Quote(name string) string { return `"` + name + `"` }
func (h *harness) Now(d time.Duration) string {
	return time.Now().UTC().Add(d).Format(litepull.LayoutTimestampTZ)
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, newHarness)
}

func TestMissingFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.db")
	_, err := sqlite.New(litepull.SourceConfig{ID: "x", DSN: path})
	if err == nil {
		t.Fatal("opening a missing file succeeded; a source must never be created")
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Fatalf("the missing source file was created: %v", statErr)
	}
}
