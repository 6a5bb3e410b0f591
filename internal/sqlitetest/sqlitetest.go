// Package sqlitetest is a real SQLite database for the tests of the sources
// that read SQLite: the file source reads it directly, the HTTP sources
// through test servers that execute their requests on it. It provides the
// database half of a sourcetest.Harness.
package sqlitetest

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/sqlitex"
)

// DB is a SQLite file with one read-write connection, safe for concurrent
// use (test servers answer from several goroutines).
type DB struct {
	Path   string
	mu     sync.Mutex
	conn   *sqlite3.Conn
	limits remote.Limits
}

// New creates an empty database in tb's temporary directory.
func New(tb testing.TB) *DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "source.db")
	conn, err := sqlite3.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	// WAL, as application databases run: the source under test reads while
	// a test writes.
	if err := conn.BusyTimeout(10 * time.Second); err != nil {
		tb.Fatal(err)
	}
	if err := conn.Exec("PRAGMA journal_mode=WAL"); err != nil {
		tb.Fatal(err)
	}
	return &DB{Path: path, conn: conn}
}

// Exec runs q with args (int64, float64, string, []byte or nil), failing tb.
func (d *DB) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := sqlitex.Exec(d.conn, q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// Insert inserts rows in one transaction.
func (d *DB) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	d.Exec(tb, "BEGIN")
	for _, r := range rows {
		d.Exec(tb, q, r...)
	}
	d.Exec(tb, "COMMIT")
}

// Result is what a statement returned: column names, declared types, rows
// (nil, int64, float64, string or []byte).
type Result struct {
	Columns  []string
	DeclType []string
	Rows     [][]any
}

// Query runs one statement for a test server.
func (d *DB) Query(q string, args []any) (*Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.query(q, args)
}

// Atomic runs f's statements in one transaction, for a test server whose
// service commits a request all or nothing: committed if f succeeds,
// rolled back if it fails.
func (d *DB) Atomic(f func(query func(q string, args []any) (*Result, error)) error) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.conn.Exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.conn.Exec("ROLLBACK")
			return
		}
		err = d.conn.Exec("COMMIT")
	}()
	return f(d.query)
}

// Session runs f's statements with the connection to itself, as one
// stream of a server would (its own BEGIN, COMMIT or ROLLBACK included).
// A transaction f leaves open is rolled back.
func (d *DB) Session(f func(query func(q string, args []any) (*Result, error)) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer func() {
		if !d.conn.GetAutocommit() {
			d.conn.Exec("ROLLBACK")
		}
	}()
	return f(d.query)
}

func (d *DB) query(q string, args []any) (*Result, error) {
	s, _, err := d.conn.Prepare(q)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := sqlitex.BindAll(s, args...); err != nil {
		return nil, err
	}
	res := &Result{}
	for i := 0; i < s.ColumnCount(); i++ {
		res.Columns = append(res.Columns, s.ColumnName(i))
		res.DeclType = append(res.DeclType, s.ColumnDeclType(i))
	}
	for s.Step() {
		row := make([]any, s.ColumnCount())
		if err := s.Columns(row...); err != nil {
			return nil, err
		}
		for i, v := range row {
			if b, ok := v.([]byte); ok && b == nil {
				row[i] = []byte{}
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, s.Err()
}

// Type names the suite's column kinds.
func (d *DB) Type(kind string) string {
	return map[string]string{"int": "INTEGER", "text": "TEXT", "key": "TEXT", "ts": "TIMESTAMP"}[kind]
}

// Arg is SQLite's placeholder.
func (d *DB) Arg(int) string { return "?" }

// Quote quotes an identifier.
func (d *DB) Quote(name string) string { return `"` + name + `"` }

// Now is the clock plus d, as ISO-8601 UTC.
// NaiveType is a declared type that names a time: its values are text
// without a zone.
func (d *DB) NaiveType() string { return "DATETIME" }

func (d *DB) Now(delta time.Duration) string {
	return time.Now().UTC().Add(delta).Format(litepull.LayoutTimestampTZ)
}

// JSRows renders rows as a JavaScript service's JSON would carry them:
// integers as numbers (float64: exact only to 2^53), ±Infinity as null
// (JSON.stringify's answer), BLOBs as blob renders them.
func JSRows(rows [][]any, blob func([]byte) any) [][]any {
	out := make([][]any, len(rows))
	for i, row := range rows {
		out[i] = make([]any, len(row))
		for j, v := range row {
			switch v := v.(type) {
			case int64:
				out[i][j] = float64(v)
			case float64:
				if math.IsInf(v, 0) {
					out[i][j] = nil
				} else {
					out[i][j] = v
				}
			case []byte:
				out[i][j] = blob(v)
			default:
				out[i][j] = v
			}
		}
	}
	return out
}
