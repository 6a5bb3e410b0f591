package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

func newPool(t *testing.T) (*queryPool, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.db")
	c, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(`PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, f REAL, b BLOB); CREATE INDEX t_v ON t (v);
		INSERT INTO t VALUES (1, 'a', 1e999, x'00ff'), (2, 'b', -1e999, NULL), (3, 'c', 0.5, x'');`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	p, err := newQueryPool(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, path
}

// TestQueryCannotWrite tries every way to write through the query endpoint.
func TestQueryCannotWrite(t *testing.T) {
	p, path := newPool(t)
	dir := filepath.Dir(path)
	for _, q := range []string{
		"INSERT INTO t (v) VALUES ('x')",
		"UPDATE t SET v = 'x'",
		"DELETE FROM t",
		"DROP TABLE t",
		"CREATE TABLE u (x)",
		"CREATE TEMP TABLE u (x)",
		"CREATE TEMP VIEW w AS SELECT 1",
		"ALTER TABLE t ADD COLUMN z",
		"ATTACH DATABASE '" + filepath.Join(dir, "other.db") + "' AS o",
		"ATTACH DATABASE ':memory:' AS m",
		"PRAGMA writable_schema = 1",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA user_version = 7",
		"VACUUM",
		"VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'",
		"REINDEX",
		"ANALYZE",
		"BEGIN IMMEDIATE",
		"SAVEPOINT s",
		"SELECT 1; DELETE FROM t",
		"WITH x AS (SELECT 1) DELETE FROM t",
		"INSERT INTO t SELECT * FROM t RETURNING id",
	} {
		_, err := p.query(context.Background(), q, nil, 100)
		if err == nil {
			t.Errorf("%s: succeeded", q)
		}
	}
	for _, f := range []string{"other.db", "copy.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a query created %s", f)
		}
	}
	res, err := p.query(context.Background(), "SELECT count(*) FROM t", nil, 100)
	if err != nil || res.Rows[0][0] != int64(3) {
		t.Fatalf("after the attempts: %v, %v; want 3 rows untouched", res, err)
	}
}

func TestQueryReads(t *testing.T) {
	p, _ := newPool(t)
	res, err := p.query(context.Background(), "SELECT id, v, f, b FROM t WHERE id >= ? ORDER BY id", []any{float64(1)}, 100)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := res.objects()
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":1,"v":"a","f":"Infinity","b":"AP8="},{"id":2,"v":"b","f":"-Infinity","b":null},{"id":3,"v":"c","f":0.5,"b":""}]`
	if string(objs) != want {
		t.Fatalf("objects = %s\nwant      %s", objs, want)
	}
	if _, err := p.query(context.Background(), "SELECT * FROM t", nil, 2); !errors.Is(err, errTooManyRows) {
		t.Fatalf("3 rows with a limit of 2: %v, want errTooManyRows", err)
	}
	if _, err := p.query(context.Background(), "SELECT * FROM pragma_table_info('t')", nil, 100); err != nil {
		t.Fatalf("pragma_table_info: %v", err)
	}
	if _, err := p.query(context.Background(), "SELECT ?", nil, 100); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Fatalf("missing parameter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.query(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", nil, 100); err == nil {
		t.Fatal("a cancelled endless query succeeded")
	}
}
