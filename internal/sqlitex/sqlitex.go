// Package sqlitex holds the few helpers every user of the SQLite driver in
// this module needs: binding a value of litepull's domain, and running a
// statement with arguments.
package sqlitex

import (
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

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
