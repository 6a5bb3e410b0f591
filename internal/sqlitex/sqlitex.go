// Package sqlitex holds the few helpers every user of the SQLite driver in
// this module needs: binding a value of litepull's domain, and running a
// statement with arguments.
package sqlitex

import (
	"context"
	"fmt"
	"math/bits"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// MaxMemory is the most memory one connection's SQLite may use: all that
// 32-bit WebAssembly can address. The driver's default, 256 MiB, is less
// than SQLite needs to write one row of a few 100 MB values, and running
// out panics inside the driver. It is address space reserved up front;
// memory is committed only as SQLite grows into it.
const MaxMemory = 4 << 30

// WithMaxMemory returns ctx configured so that a connection opened with it
// may use MaxMemory (on 64-bit platforms; elsewhere the driver's default).
func WithMaxMemory(ctx context.Context) context.Context {
	if bits.UintSize < 64 {
		return ctx
	}
	return sqlite3.WithMaxMemory(ctx, MaxMemory)
}

// OpenReadOnly opens the database file at path (or a file: URI) read-only,
// with MaxMemory. A missing file is an error, never created.
func OpenReadOnly(path string) (*sqlite3.Conn, error) {
	return sqlite3.OpenContext(WithMaxMemory(context.Background()), readOnlyURI(path))
}

// readOnlyURI turns a path into a file: URI that opens it read-only: the
// driver takes a memory limit only with the flags that accept URIs.
func readOnlyURI(path string) string {
	if strings.HasPrefix(path, "file:") {
		if strings.Contains(path, "?") {
			return path + "&mode=ro"
		}
		return path + "?mode=ro"
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	if strings.HasPrefix(esc, "//") {
		esc = "//" + esc // an empty authority, then the path
	}
	return "file:" + esc + "?mode=ro"
}

// Recover, deferred, turns a panic of the driver into *err: the driver
// panics when SQLite runs out of memory, which a value near SQLite's length
// limit can make it do. It must fail the call, not end the process.
func Recover(err *error) {
	p := recover()
	if p == nil {
		return
	}
	if e, ok := p.(error); ok {
		*err = e
		return
	}
	*err = fmt.Errorf("sqlite3: %v", p)
}

// Bind binds v (nil, int64, int, float64, string, []byte or bool) to the
// i-th (1-based) parameter. A nil []byte binds an empty blob, not NULL.
func Bind(s *sqlite3.Stmt, i int, v any) error {
	switch v := v.(type) {
	case nil:
		return s.BindNull(i)
	case int64:
		return s.BindInt64(i, v)
	case int:
		return s.BindInt64(i, int64(v))
	case float64:
		return s.BindFloat(i, v)
	case string:
		return s.BindText(i, v)
	case []byte:
		if v == nil {
			v = []byte{}
		}
		return s.BindBlob(i, v)
	case bool:
		return s.BindBool(i, v)
	default:
		return fmt.Errorf("cannot store a %T", v)
	}
}

// BindAll binds args to parameters 1..n.
func BindAll(s *sqlite3.Stmt, args ...any) error {
	for i, a := range args {
		if err := Bind(s, i+1, a); err != nil {
			return err
		}
	}
	return nil
}

// Exec prepares q, binds args and runs it to completion.
func Exec(c *sqlite3.Conn, q string, args ...any) error {
	if len(args) == 0 {
		return c.Exec(q)
	}
	s, _, err := c.Prepare(q)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := BindAll(s, args...); err != nil {
		return err
	}
	return s.Exec()
}

// QueryAll runs q with args and returns every row.
func QueryAll(c *sqlite3.Conn, q string, args ...any) (cols []string, rows [][]any, err error) {
	s, _, err := c.Prepare(q)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	if err := BindAll(s, args...); err != nil {
		return nil, nil, err
	}
	n := s.ColumnCount()
	for i := 0; i < n; i++ {
		cols = append(cols, s.ColumnName(i))
	}
	for s.Step() {
		row := make([]any, n)
		if err := s.Columns(row...); err != nil {
			return nil, nil, err
		}
		rows = append(rows, row)
	}
	return cols, rows, s.Err()
}
