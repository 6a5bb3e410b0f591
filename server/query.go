package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull/internal/sqlitex"
)

// Query limits. Defaults to DefaultMaxRows rows and DefaultQueryTimeout per
// query.
const (
	DefaultMaxRows      = 10000
	DefaultQueryTimeout = 5 * time.Second
	queryConns          = 2
)

// readPragmas are the pragmas a query may use: they only read.
var readPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "database_list": true, "collation_list": true,
}

// queryPool is a small pool of read-only connections to the replica. Writes
// are impossible three times over: the file is opened read-only, query_only
// is on, and an authorizer allows nothing but reading (no ATTACH, no
// writable pragmas, no temp tables); a statement that is not read-only is
// refused before it runs.
type queryPool struct {
	path  string
	conns chan *sqlite3.Conn
}

func newQueryPool(path string) (*queryPool, error) {
	p := &queryPool{path: path, conns: make(chan *sqlite3.Conn, queryConns)}
	for i := 0; i < queryConns; i++ {
		c, err := openReadOnly(path)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.conns <- c
	}
	return p, nil
}

func openReadOnly(path string) (*sqlite3.Conn, error) {
	c, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, fmt.Errorf("open replica read-only: %w", err)
	}
	err = errors.Join(c.BusyTimeout(time.Second), c.Exec("PRAGMA query_only = ON"),
		c.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, name3rd, _, _, _ string) sqlite3.AuthorizerReturnCode {
			switch action {
			case sqlite3.AUTH_SELECT, sqlite3.AUTH_READ, sqlite3.AUTH_FUNCTION, sqlite3.AUTH_RECURSIVE:
				return sqlite3.AUTH_OK
			case sqlite3.AUTH_PRAGMA:
				if readPragmas[strings.ToLower(name3rd)] {
					return sqlite3.AUTH_OK
				}
			}
			return sqlite3.AUTH_DENY
		}))
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the idle connections.
func (p *queryPool) Close() {
	for {
		select {
		case c := <-p.conns:
			c.Close()
		default:
			return
		}
	}
}

// queryResult is a read query's columns and rows.
type queryResult struct {
	Columns []string
	Rows    [][]any
}

// errTooManyRows reports a result above the row limit: better an error than
// silently cut data.
var errTooManyRows = errors.New("result has more rows than the limit")

// query runs one read-only statement with params, at most maxRows rows.
// A statement that needs more memory than SQLite may use is an error.
func (p *queryPool) query(ctx context.Context, q string, params []any, maxRows int) (_ *queryResult, err error) {
	defer sqlitex.Recover(&err)
	var c *sqlite3.Conn
	select {
	case c = <-p.conns:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { p.conns <- c }()
	old := c.SetInterrupt(ctx)
	defer c.SetInterrupt(old)
	stmt, tail, err := c.Prepare(q)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	if stmt == nil {
		return nil, errors.New("empty query")
	}
	if strings.TrimSpace(strings.TrimRight(strings.TrimSpace(tail), ";")) != "" {
		return nil, errors.New("one statement per query")
	}
	if !stmt.ReadOnly() {
		return nil, errors.New("only read-only statements are allowed")
	}
	if stmt.BindCount() != len(params) {
		return nil, fmt.Errorf("the statement has %d parameters, %d given", stmt.BindCount(), len(params))
	}
	for i, v := range params {
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			v = int64(f) // JSON numbers arrive as floats; whole ones bind as integers
		}
		if err := sqlitex.Bind(stmt, i+1, v); err != nil {
			return nil, fmt.Errorf("parameter %d: %w", i+1, err)
		}
	}
	res := &queryResult{Columns: make([]string, stmt.ColumnCount())}
	for i := range res.Columns {
		res.Columns[i] = stmt.ColumnName(i)
	}
	for stmt.Step() {
		if len(res.Rows) == maxRows {
			return nil, fmt.Errorf("%w (%d); add a LIMIT", errTooManyRows, maxRows)
		}
		row := make([]any, len(res.Columns))
		if err := stmt.Columns(row...); err != nil {
			return nil, err
		}
		for i, v := range row {
			if b, ok := v.([]byte); ok && b == nil {
				row[i] = []byte{} // an empty BLOB, not NULL
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, stmt.Err()
}

// jsonValue makes a SQLite value encodable: JSON has no infinities, and
// BLOBs go as base64 (encoding/json's form for bytes).
func jsonValue(v any) any {
	if f, ok := v.(float64); ok {
		switch {
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
	}
	return v
}

// objects renders rows as JSON objects with keys in column order.
func (r *queryResult) objects() (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, row := range r.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(r.Columns[j])
			val, err := json.Marshal(jsonValue(v))
			if err != nil {
				return nil, err
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(val)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// raw renders {"columns": [...], "rows": [[...]]}.
func (r *queryResult) raw() any {
	rows := make([][]any, len(r.Rows))
	for i, row := range r.Rows {
		rows[i] = make([]any, len(row))
		for j, v := range row {
			rows[i][j] = jsonValue(v)
		}
	}
	return map[string]any{"columns": r.Columns, "rows": rows}
}
