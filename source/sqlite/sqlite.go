// Package sqlite is the litepull source for a SQLite database file, opened
// read-only.
package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/catalog"
	"github.com/litepull/litepull/internal/keyhash"
	"github.com/litepull/litepull/internal/sqlitedialect"
	"github.com/litepull/litepull/internal/sqlitex"
)

var _ litepull.Source = (*Source)(nil)

// Source reads a SQLite file. One connection, serialized.
type Source struct {
	path   string
	schema string

	mu   sync.Mutex
	conn *sqlite3.Conn
}

// New opens the file at cfg.DSN read-only. A missing file is an error: a
// source that does not exist is never created.
func New(cfg litepull.SourceConfig) (*Source, error) {
	if cfg.DSN == "" {
		return nil, fmt.Errorf("sqlite source %s: dsn (the database file path) is missing", cfg.ID)
	}
	conn, err := sqlitex.OpenReadOnly(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite source %s: %w", cfg.ID, err)
	}
	if err := conn.BusyTimeout(5e9); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.CreateFunction(keyhash.FuncName, -1, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, keyHash); err != nil {
		conn.Close()
		return nil, err
	}
	schema := cfg.Schema
	if schema == "" {
		schema = "main"
	}
	return &Source{path: cfg.DSN, schema: schema, conn: conn}, nil
}

// Close closes the file. Close twice is safe.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// query runs q with args and calls row for every result row. A driver
// panic (SQLite out of memory on a huge row) is an error.
func (s *Source) query(ctx context.Context, q string, args []any, row func(*sqlite3.Stmt) error) (err error) {
	defer sqlitex.Recover(&err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return fmt.Errorf("sqlite source %s is closed", s.path)
	}
	old := s.conn.SetInterrupt(ctx)
	defer s.conn.SetInterrupt(old)
	stmt, _, err := s.conn.Prepare(q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	if err := sqlitex.BindAll(stmt, args...); err != nil {
		return err
	}
	for stmt.Step() {
		if err := row(stmt); err != nil {
			return err
		}
	}
	return stmt.Err()
}

// Ping checks that the file reads.
func (s *Source) Ping(ctx context.Context) error {
	return s.query(ctx, "SELECT count(*) FROM sqlite_schema", nil, func(*sqlite3.Stmt) error { return nil })
}

// Describe reads the table's columns and primary key from pragma_table_info.
func (s *Source) Describe(ctx context.Context, table string) (*litepull.TableSchema, error) {
	q, err := sqlitedialect.Describe(table, s.schema)
	if err != nil {
		return nil, err
	}
	ts := &litepull.TableSchema{Name: table}
	pk := catalog.Key{}
	err = s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		col, decl := st.ColumnText(0), st.ColumnText(1)
		ts.Columns = append(ts.Columns, litepull.Column{Name: col, SourceType: decl, Affinity: sqlitedialect.Affinity(decl),
			Temporal: sqlitedialect.Temporal(decl), Position: len(ts.Columns) + 1})
		pk.Add(st.ColumnInt64(2), col)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s in %s", litepull.ErrNoTable, table, s.path)
	}
	ts.PrimaryKey = pk.Columns()
	return ts, nil
}

// ReadPage reads one keyset page.
func (s *Source) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	q, err := sqlitedialect.PageQuery(req, s.schema, sqlitedialect.PageOptions{})
	if err != nil {
		return nil, err
	}
	cut := litepull.NewPageCut(req)
	page := &litepull.Page{Rows: make([][]litepull.Value, 0, cut.Capacity())}
	n := len(req.Columns)
	err = s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		row := make([]litepull.Value, n)
		if err := st.Columns(row...); err != nil {
			return err
		}
		if cut.Add(page, row) {
			return errPageDone
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageDone) {
		return nil, fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	return page, nil
}

// errPageDone stops reading rows once the page is complete.
var errPageDone = errors.New("page done")

// CountNullCursor counts rows the cursor cannot reach.
func (s *Source) CountNullCursor(ctx context.Context, table, cursor string) (int64, error) {
	q, err := sqlitedialect.CountNull(table, cursor, s.schema)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.query(ctx, q.Text, nil, func(st *sqlite3.Stmt) error { n = st.ColumnInt64(0); return nil })
	return n, err
}

// Tables lists the schema's tables with their primary keys.
func (s *Source) Tables(ctx context.Context) ([]litepull.TableInfo, error) {
	var out []litepull.TableInfo
	q := sqlitedialect.Tables(s.schema)
	err := s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		out = catalog.AddKeyColumn(out, st.ColumnText(0), st.ColumnText(1), st.ColumnType(1) != sqlite3.NULL)
		return nil
	})
	return out, err
}

var _ litepull.Reconciler = (*Source)(nil)

// KeyHash is the core-SQL hash every SQLite-speaking source computes.
func (s *Source) KeyHash(*litepull.TableSchema, []string) litepull.KeyHash {
	return litepull.HashSQLite
}

// CountRanges counts and checksums key ranges.
func (s *Source) CountRanges(ctx context.Context, schema *litepull.TableSchema, pk []string, ranges []litepull.KeyRange) ([]litepull.RangeStat, error) {
	q, err := sqlitedialect.RangeCounts(schema, pk, ranges, s.schema, sqlitedialect.PageOptions{HashFunc: true})
	if err != nil {
		return nil, err
	}
	out := make([]litepull.RangeStat, len(ranges))
	err = s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		i := st.ColumnInt(0)
		if i < 0 || i >= len(out) {
			return fmt.Errorf("range index %d out of bounds", i)
		}
		out[i] = litepull.RangeStat{Count: st.ColumnInt64(1), Checksum: st.ColumnInt64(2)}
		return nil
	})
	return out, err
}

// keyHash is keyhash.FuncName: keyhash.Hash of the key
// whose values, then their quote(), are the arguments. The same Go code
// hashes the replica's keys, so the numbers agree by construction, and
// hashing runs as Go rather than as SQL interpreted in WebAssembly (about
// three times faster).
func keyHash(ctx sqlite3.Context, arg ...sqlite3.Value) {
	n := len(arg) / 2
	key := make([]litepull.Value, n)
	quoted := make([]string, n)
	for i := range n {
		if arg[i].Type() == sqlite3.INTEGER {
			key[i] = arg[i].Int64()
		} else {
			quoted[i] = arg[n+i].Text()
		}
	}
	ctx.ResultInt64(keyhash.Hash(key, quoted))
}

// ExistingKeys returns the keys, of those given, that the table has.
func (s *Source) ExistingKeys(ctx context.Context, schema *litepull.TableSchema, pk []string, keys [][]litepull.Value) ([][]litepull.Value, error) {
	q, err := sqlitedialect.KeysIn(schema, pk, keys, s.schema, sqlitedialect.PageOptions{})
	if err != nil {
		return nil, err
	}
	var out [][]litepull.Value
	err = s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		row := make([]litepull.Value, len(pk))
		if err := st.Columns(row...); err != nil {
			return err
		}
		out = append(out, row)
		return nil
	})
	return out, err
}

var _ litepull.Clock = (*Source)(nil)

// Now reads SQLite's clock (UTC), placed in zone.
func (s *Source) Now(ctx context.Context, zone string) (time.Time, error) {
	var v any
	err := s.query(ctx, sqlitedialect.Clock, nil, func(st *sqlite3.Stmt) error { v = st.ColumnText(0); return nil })
	if err != nil {
		return time.Time{}, fmt.Errorf("read the clock: %w", err)
	}
	return sqlitedialect.ParseClock(v, zone)
}

var _ litepull.UniqueKeyer = (*Source)(nil)

// UniqueKeys lists the columns of the table's unique indexes.
func (s *Source) UniqueKeys(ctx context.Context, table string) ([][]string, error) {
	q, err := sqlitedialect.UniqueKeys(table, s.schema)
	if err != nil {
		return nil, err
	}
	var rows [][2]any
	err = s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		var col any
		if st.ColumnType(1) != sqlite3.NULL {
			col = st.ColumnText(1)
		}
		rows = append(rows, [2]any{st.ColumnText(0), col})
		return nil
	})
	return sqlitedialect.GroupKeys(rows), err
}
