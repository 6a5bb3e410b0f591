package sqlitex_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull/internal/sqlitex"
)

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"plain.db", "with space?and#hash%20.db"} {
		path := filepath.Join(dir, name)
		w, err := sqlite3.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Exec("CREATE TABLE t (v); INSERT INTO t VALUES (42)"); err != nil {
			t.Fatal(err)
		}
		w.Close()

		c, err := sqlitex.OpenReadOnly(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, rows, err := sqlitex.QueryAll(c, "SELECT v FROM t")
		if err != nil || len(rows) != 1 || rows[0][0] != int64(42) {
			t.Errorf("%s: read %v, %v; want 42", name, rows, err)
		}
		if err := c.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, sqlite3.READONLY) {
			t.Errorf("%s: a write = %v, want READONLY", name, err)
		}
		c.Close()
	}
	missing := filepath.Join(dir, "missing.db")
	if c, err := sqlitex.OpenReadOnly(missing); err == nil {
		c.Close()
		t.Error("a missing file opened")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("opening a missing file created it: %v", err)
	}
}

func TestRecover(t *testing.T) {
	oom := errors.New("sqlite3: out of memory")
	f := func() (err error) {
		defer sqlitex.Recover(&err)
		panic(oom)
	}
	if err := f(); !errors.Is(err, oom) {
		t.Fatalf("Recover = %v, want the panic's error", err)
	}
}
