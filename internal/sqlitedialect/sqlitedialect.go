// Package sqlitedialect is the SQL every SQLite-speaking source sends: the
// local file source and the remote ones (libSQL, D1, StarbaseDB). It builds
// statements; running them is the source's business.
package sqlitedialect

import (
	"fmt"
	"strings"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
	"github.com/litepull/litepull/internal/keyset"
)

// Dialect is SQLite's: double-quoted identifiers, ? placeholders, row values.
var Dialect = keyset.Dialect{Quote: '"', Placeholder: keyset.Question, RowValues: true}

// Alias names the i-th column of an answer. Every column of every
// statement is aliased so, uniquely: StarbaseDB builds each row of an answer
// as a JavaScript object, where equal names collapse into one and names
// like "0" move first. The alias is no identifier CheckIdent accepts, so an
// ORDER BY term never takes it for a column of the table.
func Alias(i int) string { return fmt.Sprintf(`"c.%d"`, i) }

// As renders a select list of exprs, each with its Alias.
func As(exprs ...string) string { return strings.Join(aliased(exprs), ", ") }

// aliased gives each of exprs its Alias.
func aliased(exprs []string) []string {
	out := make([]string, len(exprs))
	for i, e := range exprs {
		out[i] = e + " AS " + Alias(i)
	}
	return out
}

// Statement is SQL text with its arguments.
type Statement struct {
	Text string
	Args []any
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

// Split checks a configured table name and returns its schema (or
// defaultSchema) and name.
func Split(table, defaultSchema string) (schema, name string, err error) {
	parts, err := litepull.SplitQualified(table)
	if err != nil {
		return "", "", err
	}
	if len(parts) == 2 {
		return parts[0], parts[1], nil
	}
	return defaultSchema, parts[0], nil
}

// from quotes a table for FROM; the main schema is left implicit, which
// also suits servers that hide it.
func from(schema, name string) string {
	if schema == "" || schema == "main" {
		return litepull.QuoteIdent(name, '"')
	}
	return litepull.QuoteQualified([]string{schema, name}, '"')
}

// Describe lists a table's columns as (name, declared type, position in the
// primary key or 0).
func Describe(table, defaultSchema string) (Statement, error) {
	schema, name, err := Split(table, defaultSchema)
	if err != nil {
		return Statement{}, err
	}
	if schema == "" {
		schema = "main"
	}
	return Statement{"SELECT " + As("name", "type", "pk") + " FROM pragma_table_info(?, ?) ORDER BY cid", []any{name, schema}}, nil
}

// UniqueKeys lists (index, column) for the columns of a table's unique
// indexes, in index order, leaving out partial ones; a column of an
// expression is NULL (such an index does not make columns unique). Every
// column has an alias of its own: some services build rows as objects.
func UniqueKeys(table, defaultSchema string) (Statement, error) {
	schema, name, err := Split(table, defaultSchema)
	if err != nil {
		return Statement{}, err
	}
	if schema == "" {
		schema = "main"
	}
	return Statement{`SELECT il.name AS index_name, ii.name AS column_name
		FROM pragma_index_list(?, ?) AS il JOIN pragma_index_info(il.name, ?) AS ii
		WHERE il."unique" = 1 AND il.partial = 0 ORDER BY il.name, ii.seqno`, []any{name, schema, schema}}, nil
}

// GroupKeys turns (index, column) rows into the columns of each index,
// dropping indexes with a NULL (expression) column.
func GroupKeys(rows [][2]any) [][]string {
	var out [][]string
	var last any
	bad := false
	for i, r := range rows {
		if i == 0 || r[0] != last {
			if i > 0 && bad {
				out = out[:len(out)-1]
			}
			out, last, bad = append(out, nil), r[0], false
		}
		col, ok := r[1].(string)
		if !ok {
			bad = true
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], col)
	}
	if bad {
		out = out[:len(out)-1]
	}
	return out
}

// Tables lists (table, primary key column or NULL) for every table of the
// schema, key columns in order, leaving out SQLite's own tables and any
// whose name starts with one of skip (a service's internal tables).
func Tables(schema string, skip ...string) Statement {
	if schema == "" {
		schema = "main"
	}
	var args []any
	cond := ""
	for _, p := range append([]string{"sqlite_"}, skip...) {
		cond += ` AND substr(m.name, 1, ?) != ?`
		args = append(args, int64(len(p)), p)
	}
	q := fmt.Sprintf(`SELECT %s FROM %s.sqlite_schema AS m LEFT JOIN pragma_table_info(m.name, ?) AS p ON p.pk > 0
		WHERE m.type = 'table'%s ORDER BY m.name, p.pk`, As("m.name", "p.name"), litepull.QuoteIdent(schema, '"'), cond)
	return Statement{q, append([]any{schema}, args...)}
}

// CountNull counts the rows whose cursor is NULL.
func CountNull(table, cursor, defaultSchema string) (Statement, error) {
	schema, name, err := Split(table, defaultSchema)
	if err != nil {
		return Statement{}, err
	}
	if err := litepull.CheckIdent("cursor column", cursor); err != nil {
		return Statement{}, err
	}
	return Statement{Text: fmt.Sprintf("SELECT %s FROM %s WHERE %s IS NULL", As("count(*)"), from(schema, name), litepull.QuoteIdent(cursor, '"'))}, nil
}

// Selected is a column a statement selects, quoted, with its affinity.
type Selected struct {
	Quoted   string
	Affinity litepull.Affinity
}

// PageOptions adapt the page query to how a source carries values.
type PageOptions struct {
	// Select renders the select list of the columns, any number of
	// expressions; nil selects each column as it is.
	Select func(cols []Selected) []string
	// Bind, if set, rewrites each bound value and the SQL around its
	// placeholder (see keyset.Query.Bind).
	Bind func(v any) (any, string)
	// Limit overrides req.Limit (several pages in one query).
	Limit int
	// HashFunc, if set, has RangeCounts call keyhash.FuncName, registered
	// on the connection, instead of computing the hash in SQL.
	HashFunc bool
}

// PageQuery renders a keyset page request. Settle compares the cursor as a
// time: ISO-8601 text, or numbers as Unix seconds.
func PageQuery(req litepull.PageRequest, defaultSchema string, opts PageOptions) (Statement, error) {
	schema, name, err := Split(req.Schema.Name, defaultSchema)
	if err != nil {
		return Statement{}, err
	}
	q := keyset.New(Dialect)
	q.Bind = opts.Bind
	sel, err := selectList(q, req.Schema, req.Columns, "column", opts)
	if err != nil {
		return Statement{}, err
	}
	q.Keyset(req)
	if req.Settle > 0 {
		c := q.Q(req.Cursor)
		naive := ""
		if req.SettleZone != "" {
			// Text without Z or an offset is a wall-clock time of the
			// zone: SQLite reads it as UTC, so shift it by the zone's
			// offset now (the rows settle is about are recent).
			off, err := litepull.ZoneOffset(req.SettleZone, time.Now())
			if err != nil {
				return Statement{}, err
			}
			naive = fmt.Sprintf("WHEN NOT %s THEN %s - %s ", hasOffset(c), epoch(c), q.Arg(int64(off)))
		}
		q.Where(fmt.Sprintf("(CASE WHEN typeof(%s) IN ('integer', 'real') THEN %s %sELSE %s END) <= %s - %s",
			c, c, naive, epoch(c), epoch("'now'"), q.Arg(req.Settle.Seconds())))
	}
	whole := req
	if opts.Limit > 0 {
		whole.Limit = opts.Limit
	}
	return Statement{Text: q.SQL(sel, from(schema, name), whole), Args: q.Args}, nil
}

// epoch is the SQL of a time value as Unix seconds with their fraction
// (to the millisecond, SQLite's precision), NULL if it is no time. It is
// julianday arithmetic, which every SQLite has: unixepoch(x, 'subsec')
// needs SQLite 3.42, and an older one (libSQL's, 3.40) answers NULL, so
// that no row would ever be settled. Like unixepoch, it keeps the order of
// the times it is given.
func epoch(x string) string {
	return fmt.Sprintf("(julianday(%s) - 2440587.5) * 86400.0", x)
}

// selectList checks and quotes columns of schema and renders them as
// opts.Select asks, each with its alias.
func selectList(q *keyset.Query, schema *litepull.TableSchema, columns []string, what string, opts PageOptions) ([]string, error) {
	cols := make([]Selected, len(columns))
	for i, c := range columns {
		if err := litepull.CheckIdent(what, c); err != nil {
			return nil, err
		}
		cols[i] = Selected{Quoted: q.Q(c), Affinity: litepull.AffNone}
		if col, ok := schema.Column(c); ok {
			cols[i].Affinity = col.Affinity
		}
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = c.Quoted
	}
	if opts.Select != nil {
		sel = opts.Select(cols)
	}
	return aliased(sel), nil
}

// hasOffset is the SQL test of a text time value that carries its zone: a
// trailing Z or [+-]HH:MM after the time.
func hasOffset(c string) string {
	return fmt.Sprintf("(length(%[1]s) > 10 AND (upper(substr(%[1]s, -1)) = 'Z' OR substr(%[1]s, -6, 1) IN ('+', '-')))", c)
}

// Clock reads SQLite's clock: 'now' is UTC, as ISO-8601 text.
const Clock = `SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS "c.0"`

// ParseClock reads the answer to Clock and places it in zone ("" is UTC:
// SQLite has no time zone of its own, and CURRENT_TIMESTAMP writes UTC).
func ParseClock(v any, zone string) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("read the clock: got %T, want text", v)
	}
	now, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the clock: %w", err)
	}
	if zone == "" {
		return now.UTC(), nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, err
	}
	return now.In(loc), nil
}

// hashedAlias names the table in RangeCounts.
const hashedAlias = "litepull_k"

// RangeCounts counts and checksums the rows of each key range in one
// statement: columns (range index, count, checksum), a row for each range
// that has rows. The checksum is the sum of keyhash.SQLite over the range's keys.
//
// The ranges are a VALUES table joined to the table on key bounds, so the
// hash subquery is compiled once per statement, not once per range (a
// hundred copies made compiling cost more than hashing), and each range is
// still one index range scan. Ranges without a lower or upper bound (the
// first, the last) go in a VALUES table of their own shape.
func RangeCounts(schema *litepull.TableSchema, pk []string, ranges []litepull.KeyRange, defaultSchema string, opts PageOptions) (Statement, error) {
	sch, name, err := Split(schema.Name, defaultSchema)
	if err != nil {
		return Statement{}, err
	}
	q := keyset.New(Dialect)
	q.Bind = opts.Bind
	cols := make([]string, len(pk))
	for i, c := range pk {
		if err := litepull.CheckIdent("primary key column", c); err != nil {
			return Statement{}, err
		}
		cols[i] = q.Q(hashedAlias) + "." + q.Q(c)
	}
	hash := keyhash.SQLite(hashedAlias, pk)
	if opts.HashFunc {
		hash = keyhash.FuncSQL(cols)
	}
	var terms []string
	for _, shape := range [][2]bool{{true, true}, {false, true}, {true, false}, {false, false}} {
		var rows []string
		for i, r := range ranges {
			if (r.After != nil) != shape[0] || (r.Through != nil) != shape[1] {
				continue
			}
			vals := []string{fmt.Sprint(i)}
			for _, bound := range [][]litepull.Value{r.After, r.Through} {
				if bound != nil && len(bound) != len(pk) {
					return Statement{}, fmt.Errorf("count key ranges of %s: a bound of %d values for a key of %d columns", schema.Name, len(bound), len(pk))
				}
				for _, v := range bound {
					vals = append(vals, q.Arg(v))
				}
			}
			rows = append(rows, "("+strings.Join(vals, ", ")+")")
		}
		if len(rows) == 0 {
			continue
		}
		conds := []string{cols[0] + " IS NOT NULL"}
		next := 2 // VALUES columns are column1 (the index), column2, ...
		for b, op := range []string{">", "<="} {
			if !shape[b] {
				continue
			}
			refs := make([]string, len(pk))
			for i := range refs {
				refs[i] = fmt.Sprintf("litepull_r.column%d", next)
				next++
			}
			conds = append(conds, "("+strings.Join(cols, ", ")+") "+op+" ("+strings.Join(refs, ", ")+")")
		}
		terms = append(terms, fmt.Sprintf("SELECT %s FROM (VALUES %s) AS litepull_r JOIN %s AS %s ON %s GROUP BY litepull_r.column1",
			As("litepull_r.column1", "count(*)", "COALESCE(SUM("+hash+"), 0)"), strings.Join(rows, ", "), from(sch, name), q.Q(hashedAlias), strings.Join(conds, " AND ")))
	}
	if len(terms) == 0 {
		return Statement{Text: "SELECT " + As("0", "0", "0") + " WHERE 0"}, nil
	}
	return Statement{Text: strings.Join(terms, " UNION ALL "), Args: q.Args}, nil
}

// KeysIn selects the primary keys, of those given, that the table has.
func KeysIn(schema *litepull.TableSchema, pk []string, keys [][]litepull.Value, defaultSchema string, opts PageOptions) (Statement, error) {
	sch, name, err := Split(schema.Name, defaultSchema)
	if err != nil {
		return Statement{}, err
	}
	q := keyset.New(Dialect)
	q.Bind = opts.Bind
	sel, err := selectList(q, schema, pk, "primary key column", opts)
	if err != nil {
		return Statement{}, err
	}
	return Statement{Text: q.KeysIn(sel, from(sch, name), pk, keys), Args: q.Args}, nil
}
