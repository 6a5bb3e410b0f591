package remote

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/catalog"
	"github.com/litepull/litepull/internal/sqlitedialect"
)

// Executor runs one SQL statement on a remote SQLite database and returns
// its rows. A typed protocol (Hrana) returns replica values (nil, int64,
// float64, string, []byte); a plain-JSON one returns what json.Decoder with
// UseNumber gives (nil, json.Number, string, bool, []any, map[string]any).
type Executor interface {
	Query(ctx context.Context, sql string, args []any) (rows [][]any, err error)
}

// Options describe how a service carries values.
type Options struct {
	// Name is the source kind, for messages ("d1").
	Name string
	// JSON means values and parameters travel as plain JSON, which loses
	// integers above 2^53 and BLOBs. Pages then select what JSON carries
	// exactly (see jsonSelect) and bind parameters in a form that survives
	// (integers as text cast back to INTEGER, BLOBs as hex).
	JSON bool
	// Limits are the service's (ServiceLimits): statements are sized to
	// them.
	Limits Limits
	// Skip lists table-name prefixes of the service's own tables, which
	// discovery leaves out.
	Skip []string
}

// Source is a litepull.Source over an Executor, which posts through a
// Client.
type Source struct {
	exec   Executor
	client *Client
	opts   Options
}

var (
	_ litepull.Source = (*Source)(nil)
)

// NewSource returns a source over exec, which posts through client.
func NewSource(exec Executor, client *Client, opts Options) *Source {
	return &Source{exec: exec, client: client, opts: opts}
}

// Client is the HTTP client, for tuning retries and limits.
func (s *Source) Client() *Client { return s.client }

// Close does nothing: HTTP sources hold no connection of their own.
func (s *Source) Close() error { return nil }

// Ping runs SELECT 1.
func (s *Source) Ping(ctx context.Context) error {
	_, err := s.exec.Query(ctx, "SELECT "+sqlitedialect.As("1"), nil)
	return err
}

// Describe reads the table's columns and primary key through pragma_table_info.
func (s *Source) Describe(ctx context.Context, table string) (*litepull.TableSchema, error) {
	q, err := sqlitedialect.Describe(table, "")
	if err != nil {
		return nil, err
	}
	rows, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	ts := &litepull.TableSchema{Name: table}
	pk := catalog.Key{}
	for _, r := range rows {
		if len(r) != 3 {
			return nil, fmt.Errorf("describe %s: %s answered %d columns, want 3", table, s.opts.Name, len(r))
		}
		name, err1 := asString(r[0])
		decl, err2 := asString(r[1])
		n, err3 := asInt(r[2])
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("describe %s: %w", table, err)
		}
		ts.Columns = append(ts.Columns, litepull.Column{Name: name, SourceType: decl,
			Affinity: sqlitedialect.Affinity(decl), Temporal: sqlitedialect.Temporal(decl), Position: len(ts.Columns) + 1})
		pk.Add(n, name)
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s", litepull.ErrNoTable, table)
	}
	ts.PrimaryKey = pk.Columns()
	return ts, nil
}

// JSONBind is jsonBind for a replica writing through a plain-JSON
// service: the parameter in a form that survives, and the SQL expression
// that binds it (?, CAST(? AS INTEGER), unhex(?)).
func JSONBind(v any) (any, string) { return jsonBind(v) }

// jsonBind turns a parameter into a form that survives plain JSON.
func jsonBind(v any) (any, string) {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10), "CAST(? AS INTEGER)"
	case float64:
		// A JSON number is exact (shortest round-trip form both ways); text
		// cast to REAL by SQLite might not be. JSON has no infinities, and
		// 9e999 overflows to exactly one.
		switch {
		case math.IsInf(v, 1):
			return "9e999", "CAST(? AS REAL)"
		case math.IsInf(v, -1):
			return "-9e999", "CAST(? AS REAL)"
		}
		return v, "?"
	case []byte:
		return hex.EncodeToString(v), "unhex(?)"
	}
	return v, "?"
}

// ReadPage reads one keyset page.
func (s *Source) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	q, err := sqlitedialect.PageQuery(req, "", s.pageOptions())
	if err != nil {
		return nil, err
	}
	rows, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return nil, fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	if len(rows) > req.Limit {
		return nil, fmt.Errorf("read page of %s: %s answered %d rows for LIMIT %d", req.Schema.Name, s.opts.Name, len(rows), req.Limit)
	}
	page := &litepull.Page{Rows: make([][]litepull.Value, 0, len(rows))}
	cut := litepull.NewPageCut(req)
	aff := affinities(req.Schema, req.Columns)
	for _, r := range rows {
		row, err := s.decodeRow(req, aff, r)
		if err != nil {
			return nil, err
		}
		if cut.Add(page, row) {
			break // the rest was read for nothing: the next page reads it again
		}
	}
	return page, nil
}

// decodeRow checks the width of a row of the answer and, for a JSON
// service, rebuilds its values (see jsonSelect) from the columns'
// affinities.
func (s *Source) decodeRow(req litepull.PageRequest, aff []litepull.Affinity, r []any) ([]litepull.Value, error) {
	if !s.opts.JSON {
		if n := len(req.Columns); len(r) != n {
			return nil, fmt.Errorf("read page of %s: row of %d values, want %d", req.Schema.Name, len(r), n)
		}
		return r, nil
	}
	row, err := decodeJSONRow(r, aff)
	if err != nil {
		return nil, fmt.Errorf("read page of %s: %w", req.Schema.Name, named(err, req.Columns))
	}
	return row, nil
}

// affinities are the affinities of columns of schema.
func affinities(schema *litepull.TableSchema, columns []string) []litepull.Affinity {
	out := make([]litepull.Affinity, len(columns))
	for i, c := range columns {
		out[i] = litepull.AffNone
		if col, ok := schema.Column(c); ok {
			out[i] = col.Affinity
		}
	}
	return out
}

// named puts the column's name on a value that could not be decoded.
func named(err error, columns []string) error {
	var ce *columnError
	if errors.As(err, &ce) && ce.col < len(columns) {
		return fmt.Errorf("column %s: %w", columns[ce.col], ce.err)
	}
	return err
}

// CountNullCursor counts the rows the cursor cannot reach.
func (s *Source) CountNullCursor(ctx context.Context, table, cursor string) (int64, error) {
	q, err := sqlitedialect.CountNull(table, cursor, "")
	if err != nil {
		return 0, err
	}
	rows, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("count NULL cursors of %s: unexpected answer", table)
	}
	return asInt(rows[0][0])
}

// Tables lists the tables and their primary keys, leaving out the
// service's own.
func (s *Source) Tables(ctx context.Context) ([]litepull.TableInfo, error) {
	q := sqlitedialect.Tables("", s.opts.Skip...)
	if s.opts.JSON {
		q.Args = bindAll(q.Args)
	}
	rows, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return nil, err
	}
	var out []litepull.TableInfo
	for _, r := range rows {
		if len(r) != 2 {
			return nil, fmt.Errorf("list tables: unexpected answer")
		}
		name, err := asString(r[0])
		if err != nil {
			return nil, err
		}
		var col string
		if r[1] != nil {
			if col, err = asString(r[1]); err != nil {
				return nil, err
			}
		}
		out = catalog.AddKeyColumn(out, name, col, r[1] != nil)
	}
	return out, nil
}

// bindAll passes integers as JSON numbers: small ones (lengths) are exact
// even where numbers are bound as REAL.
func bindAll(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if n, ok := a.(int64); ok {
			out[i] = json.Number(strconv.FormatInt(n, 10))
			continue
		}
		out[i] = a
	}
	return out
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("got %T where text was expected", v)
	}
	return s, nil
}

func asInt(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case json.Number:
		return v.Int64()
	case float64:
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("got %v where an integer was expected", v)
		}
		return int64(v), nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("got %T where an integer was expected", v)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

var _ litepull.Reconciler = (*Source)(nil)

func (s *Source) pageOptions() sqlitedialect.PageOptions {
	if s.opts.JSON {
		return sqlitedialect.PageOptions{Select: jsonSelect, Bind: jsonBind}
	}
	return sqlitedialect.PageOptions{}
}

// KeyHash is the core-SQL hash: the service runs no custom function.
func (s *Source) KeyHash(*litepull.TableSchema, []string) litepull.KeyHash {
	return litepull.HashSQLite
}

// CountRanges counts and checksums key ranges on the server, in as many
// statements as the service's limits ask for.
func (s *Source) CountRanges(ctx context.Context, schema *litepull.TableSchema, pk []string, ranges []litepull.KeyRange) ([]litepull.RangeStat, error) {
	out := make([]litepull.RangeStat, 0, len(ranges))
	for len(ranges) > 0 {
		n := s.rangesPerStatement(ranges)
		stats, err := s.countRanges(ctx, schema, pk, ranges[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, stats...)
		ranges = ranges[n:]
	}
	return out, nil
}

// rangesPerStatement is how many of ranges, from the first, one statement
// can count: their bounds are bound parameters, and each is a row of a
// VALUES clause (at least one range, whatever the limits).
func (s *Source) rangesPerStatement(ranges []litepull.KeyRange) int {
	params := 0
	for i, r := range ranges {
		params += len(r.After) + len(r.Through)
		if i > 0 && (params > s.opts.Limits.params() || i+1 > s.opts.Limits.valuesRows()) {
			return i
		}
	}
	return len(ranges)
}

func (s *Source) countRanges(ctx context.Context, schema *litepull.TableSchema, pk []string, ranges []litepull.KeyRange) ([]litepull.RangeStat, error) {
	opts := s.pageOptions()
	opts.Select = nil // counts and sums (below 2^53 for ranges under 4M rows) survive plain JSON
	q, err := sqlitedialect.RangeCounts(schema, pk, ranges, "", opts)
	if err != nil {
		return nil, err
	}
	rows, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return nil, fmt.Errorf("count key ranges of %s: %w", schema.Name, err)
	}
	out := make([]litepull.RangeStat, len(ranges))
	for _, r := range rows {
		if len(r) != 3 {
			return nil, fmt.Errorf("count key ranges of %s: %d columns, want 3", schema.Name, len(r))
		}
		i, err1 := asInt(r[0])
		n, err2 := asInt(r[1])
		c, err3 := asInt(r[2])
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("count key ranges of %s: %w", schema.Name, err)
		}
		if i < 0 || i >= int64(len(out)) {
			return nil, fmt.Errorf("count key ranges of %s: range index %d out of bounds", schema.Name, i)
		}
		out[i] = litepull.RangeStat{Count: n, Checksum: c}
	}
	return out, nil
}

// ExistingKeys returns the keys, of those given, that the table has, in as
// many statements as the service's limits ask for: a key's values are
// bound parameters.
func (s *Source) ExistingKeys(ctx context.Context, schema *litepull.TableSchema, pk []string, keys [][]litepull.Value) ([][]litepull.Value, error) {
	per := max(1, s.opts.Limits.params()/max(1, len(pk)))
	var out [][]litepull.Value
	for lo := 0; lo < len(keys); lo += per {
		found, err := s.existingKeys(ctx, schema, pk, keys[lo:min(lo+per, len(keys))])
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func (s *Source) existingKeys(ctx context.Context, schema *litepull.TableSchema, pk []string, keys [][]litepull.Value) ([][]litepull.Value, error) {
	q, err := sqlitedialect.KeysIn(schema, pk, keys, "", s.pageOptions())
	if err != nil {
		return nil, err
	}
	rows, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return nil, fmt.Errorf("look up keys of %s: %w", schema.Name, err)
	}
	if !s.opts.JSON {
		return rows, nil
	}
	aff := affinities(schema, pk)
	out := make([][]litepull.Value, len(rows))
	for i, r := range rows {
		if out[i], err = decodeJSONRow(r, aff); err != nil {
			return nil, fmt.Errorf("look up keys of %s: %w", schema.Name, named(err, pk))
		}
	}
	return out, nil
}

var _ litepull.Clock = (*Source)(nil)

// Now reads the server's SQLite clock (UTC), placed in zone.
func (s *Source) Now(ctx context.Context, zone string) (time.Time, error) {
	rows, err := s.exec.Query(ctx, sqlitedialect.Clock, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the clock: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return time.Time{}, fmt.Errorf("read the clock: %s answered %d rows", s.opts.Name, len(rows))
	}
	return sqlitedialect.ParseClock(rows[0][0], zone)
}

var _ litepull.UniqueKeyer = (*Source)(nil)

// UniqueKeys lists the columns of the table's unique indexes.
func (s *Source) UniqueKeys(ctx context.Context, table string) ([][]string, error) {
	q, err := sqlitedialect.UniqueKeys(table, "")
	if err != nil {
		return nil, err
	}
	if s.opts.JSON {
		q.Args = bindAll(q.Args)
	}
	res, err := s.exec.Query(ctx, q.Text, q.Args)
	if err != nil {
		return nil, err
	}
	rows := make([][2]any, len(res))
	for i, r := range res {
		if len(r) != 2 {
			return nil, fmt.Errorf("list unique keys of %s: %s answered %d columns, want 2", table, s.opts.Name, len(r))
		}
		rows[i] = [2]any{r[0], r[1]}
	}
	return sqlitedialect.GroupKeys(rows), nil
}
