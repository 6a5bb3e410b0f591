// Package sqlite is the litepull source for a SQLite database file, opened
// read-only.
package sqlite

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyset"
	"github.com/litepull/litepull/internal/sqlitex"
)

var _ litepull.Source = (*Source)(nil)

// Dialect is SQLite's: double-quoted identifiers, ? placeholders, row values.
// The HTTP sources that speak SQLite share it.
var Dialect = keyset.Dialect{Quote: '"', Placeholder: keyset.Question, RowValues: true}

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
	conn, err := sqlite3.OpenFlags(cfg.DSN, sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, fmt.Errorf("open sqlite source %s: %w", cfg.ID, err)
	}
	if err := conn.BusyTimeout(5e9); err != nil {
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

// query runs q with args and calls row for every result row.
func (s *Source) query(ctx context.Context, q string, args []any, row func(*sqlite3.Stmt) error) error {
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

// split checks a configured table name and returns schema and table.
func (s *Source) split(table string) (schema, name string, err error) {
	parts, err := litepull.SplitQualified(table)
	if err != nil {
		return "", "", err
	}
	if len(parts) == 2 {
		return parts[0], parts[1], nil
	}
	return s.schema, parts[0], nil
}

// Ping checks that the file reads.
func (s *Source) Ping(ctx context.Context) error {
	return s.query(ctx, "SELECT count(*) FROM sqlite_schema", nil, func(*sqlite3.Stmt) error { return nil })
}

// Affinity applies SQLite's affinity rules (https://sqlite.org/datatype3.html
// §3.1) to a declared type, so the replica column keeps the source's behaviour.
func Affinity(decl string) litepull.Affinity {
	d := strings.ToUpper(decl)
	switch {
	case strings.Contains(d, "INT"):
		return litepull.AffInteger
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return litepull.AffText
	case strings.Contains(d, "BLOB"), d == "":
		return litepull.AffNone
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return litepull.AffReal
	}
	return litepull.AffNumeric
}

// Temporal reports a declared type that names a date or time.
func Temporal(decl string) bool {
	d := strings.ToUpper(decl)
	return strings.Contains(d, "DATE") || strings.Contains(d, "TIME")
}

// Describe reads the table's columns and primary key from pragma_table_info.
func (s *Source) Describe(ctx context.Context, table string) (*litepull.TableSchema, error) {
	schema, name, err := s.split(table)
	if err != nil {
		return nil, err
	}
	ts := &litepull.TableSchema{Name: table}
	pk := map[int]string{}
	err = s.query(ctx, "SELECT name, type, pk FROM pragma_table_info(?, ?) ORDER BY cid", []any{name, schema}, func(st *sqlite3.Stmt) error {
		col, decl := st.ColumnText(0), st.ColumnText(1)
		ts.Columns = append(ts.Columns, litepull.Column{Name: col, SourceType: decl, Affinity: Affinity(decl), Temporal: Temporal(decl)})
		if n := st.ColumnInt(2); n > 0 {
			pk[n] = col
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s in %s", litepull.ErrNoTable, table, s.path)
	}
	for i := 1; i <= len(pk); i++ {
		ts.PrimaryKey = append(ts.PrimaryKey, pk[i])
	}
	return ts, nil
}

// ReadPage reads one keyset page.
func (s *Source) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	q, err := PageQuery(req, s.schema)
	if err != nil {
		return nil, err
	}
	page := &litepull.Page{Rows: make([][]litepull.Value, 0, req.Limit)}
	n := len(req.Columns)
	err = s.query(ctx, q.Text, q.Args, func(st *sqlite3.Stmt) error {
		row := make([]litepull.Value, n)
		if err := st.Columns(row...); err != nil {
			return err
		}
		page.Rows = append(page.Rows, row)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	return page, nil
}

// Statement is SQL text with its arguments.
type Statement struct {
	Text string
	Args []any
}

// PageQuery renders a keyset page request in SQLite's dialect. Settle
// compares the cursor as a time: ISO-8601 text, or numbers as Unix seconds.
func PageQuery(req litepull.PageRequest, defaultSchema string) (Statement, error) {
	parts, err := litepull.SplitQualified(req.Schema.Name)
	if err != nil {
		return Statement{}, err
	}
	if len(parts) == 1 && defaultSchema != "" && defaultSchema != "main" {
		parts = []string{defaultSchema, parts[0]}
	}
	q := keyset.New(Dialect)
	sel := make([]string, len(req.Columns))
	for i, c := range req.Columns {
		if err := litepull.CheckIdent("column", c); err != nil {
			return Statement{}, err
		}
		sel[i] = q.Q(c)
	}
	q.Keyset(req)
	if req.Settle > 0 {
		c := q.Q(req.Cursor)
		q.Where(fmt.Sprintf("(CASE WHEN typeof(%s) IN ('integer', 'real') THEN %s ELSE unixepoch(%s, 'subsec') END) <= unixepoch('now', 'subsec') - %s",
			c, c, c, q.Arg(req.Settle.Seconds())))
	}
	return Statement{Text: q.SQL(sel, litepull.QuoteQualified(parts, '"'), req), Args: q.Args}, nil
}

// CountNullCursor counts rows the cursor cannot reach.
func (s *Source) CountNullCursor(ctx context.Context, table, cursor string) (int64, error) {
	schema, name, err := s.split(table)
	if err != nil {
		return 0, err
	}
	if err := litepull.CheckIdent("cursor column", cursor); err != nil {
		return 0, err
	}
	var n int64
	q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL", litepull.QuoteQualified([]string{schema, name}, '"'), litepull.QuoteIdent(cursor, '"'))
	err = s.query(ctx, q, nil, func(st *sqlite3.Stmt) error { n = st.ColumnInt64(0); return nil })
	return n, err
}

// Tables lists the schema's tables with their primary keys.
func (s *Source) Tables(ctx context.Context) ([]litepull.TableInfo, error) {
	var out []litepull.TableInfo
	q := fmt.Sprintf(`SELECT m.name, p.name FROM %s.sqlite_schema AS m LEFT JOIN pragma_table_info(m.name, ?) AS p ON p.pk > 0
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%%' ESCAPE '\' ORDER BY m.name, p.pk`, litepull.QuoteIdent(s.schema, '"'))
	err := s.query(ctx, q, []any{s.schema}, func(st *sqlite3.Stmt) error {
		name := st.ColumnText(0)
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, litepull.TableInfo{Name: name})
		}
		if st.ColumnType(1) != sqlite3.NULL {
			t := &out[len(out)-1]
			t.PrimaryKey = append(t.PrimaryKey, st.ColumnText(1))
		}
		return nil
	})
	return out, err
}
