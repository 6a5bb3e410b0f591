package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/source/sqlite"
)

// harness is a SQLite file; the source under test opens it read-only.
type harness struct{ *sqlitetest.DB }

func newHarness(tb testing.TB) sourcetest.Harness { return harness{sqlitetest.New(tb)} }

func (h harness) Config() litepull.SourceConfig {
	return litepull.SourceConfig{ID: "sqlite", Kind: "sqlite", DSN: h.Path}
}

func (h harness) Open(tb testing.TB, cfg litepull.SourceConfig) litepull.Source {
	s, err := sqlite.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
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
