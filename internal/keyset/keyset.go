// Package keyset builds the tie-safe keyset page query every SQL source uses:
// rows after a (cursor, pk) position, ordered on (cursor, pk), limited.
package keyset

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
)

// Dialect is what differs between SQL databases.
type Dialect struct {
	// Quote is the identifier quote character: " or `.
	Quote byte
	// Placeholder renders the n-th (1-based) bind parameter: ? or $n.
	Placeholder func(n int) string
	// RowValues reports whether (a, b) > (x, y) is supported and uses an
	// index range; when false the comparison is expanded into ORs.
	RowValues bool
}

// Question is the ? placeholder of SQLite and MySQL.
func Question(int) string { return "?" }

// Dollar is the $n placeholder of Postgres.
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// CountNull is the query that counts the rows of from (a quoted table)
// whose cursor column is NULL: the rows no keyset page reaches.
func (d Dialect) CountNull(from, cursor string) (string, error) {
	if err := litepull.CheckIdent("cursor column", cursor); err != nil {
		return "", err
	}
	return fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL", from, litepull.QuoteIdent(cursor, d.Quote)), nil
}

// Query is a page query under construction: SQL text and its bind values.
type Query struct {
	d     Dialect
	where []string
	Args  []any
	// Cast, if set, wraps the placeholder of a value compared with column
	// (MySQL compares a string with a DECIMAL as a float unless told).
	Cast func(column, placeholder string) string
	// LimitArg binds the LIMIT as a parameter instead of writing it into the
	// text (MySQL: a statement with parameters uses the binary protocol).
	LimitArg bool
	// Bind, if set, rewrites each value before it is bound and returns the
	// SQL to put in place of the placeholder, with ? standing for it
	// ("CAST(? AS INTEGER)"): for protocols that carry parameters as plain
	// JSON, where a large integer or a BLOB would not survive.
	Bind func(v any) (bound any, sql string)
}

// New starts a query in a dialect.
func New(d Dialect) *Query { return &Query{d: d} }

// Arg binds a value and returns its placeholder.
func (q *Query) Arg(v any) string {
	tmpl := "?"
	if q.Bind != nil {
		v, tmpl = q.Bind(v)
	}
	q.Args = append(q.Args, v)
	return strings.Replace(tmpl, "?", q.d.Placeholder(len(q.Args)), 1)
}

// colArg binds a value compared with column.
func (q *Query) colArg(column string, v any) string {
	ph := q.Arg(v)
	if q.Cast != nil {
		return q.Cast(column, ph)
	}
	return ph
}

// Where adds a condition, ANDed with the others.
func (q *Query) Where(cond string) { q.where = append(q.where, cond) }

// Q quotes an identifier.
func (q *Query) Q(name string) string { return litepull.QuoteIdent(name, q.d.Quote) }

// Keyset adds the conditions of a page request: cursor not NULL, after the
// lower bound, through the upper bound.
func (q *Query) Keyset(req litepull.PageRequest) {
	q.where = append(q.where, q.conditions(req)...)
}

func (q *Query) conditions(req litepull.PageRequest) []string {
	conds := []string{q.Q(req.Cursor) + " IS NOT NULL"}
	if req.After != nil {
		conds = append(conds, q.compare(req, req.After, ">"))
	}
	if req.Through != nil {
		conds = append(conds, q.compare(req, req.Through, "<="))
	}
	return conds
}

// KeyOrder is the request that orders rows by primary key alone: the
// first key column as the cursor, the others as its tie-breakers.
func KeyOrder(schema *litepull.TableSchema, pk []string) litepull.PageRequest {
	return litepull.PageRequest{Schema: schema, Cursor: pk[0], PrimaryKey: pk[1:], Columns: pk}
}

// bounds turns a key range into the request's After and Through.
func bounds(req litepull.PageRequest, r litepull.KeyRange) litepull.PageRequest {
	req.After, req.Through = nil, nil
	if r.After != nil {
		req.After = &litepull.Watermark{Cursor: r.After[0], PK: r.After[1:]}
	}
	if r.Through != nil {
		req.Through = &litepull.Watermark{Cursor: r.Through[0], PK: r.Through[1:]}
	}
	return req
}

// RangeCounts renders one query that counts the rows of each key range
// and computes checksum, an aggregate SQL expression (or 0): columns
// (range index, count, checksum), one row per range, in any order.
func (q *Query) RangeCounts(from string, req litepull.PageRequest, ranges []litepull.KeyRange, checksum string) string {
	if checksum == "" {
		checksum = "0"
	}
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		conds := q.conditions(bounds(req, r))
		parts[i] = fmt.Sprintf("SELECT %d, COUNT(*), %s FROM %s WHERE (%s)", i, checksum, from, strings.Join(conds, ") AND ("))
	}
	return strings.Join(parts, " UNION ALL ")
}

// KeysIn renders SELECT pk... FROM from WHERE (k1 = ? AND k2 = ?) OR ...,
// for the given keys. The ORs are nested as a balanced tree: a chain is as
// deep as it is long, and services cap expression depth (StarbaseDB: 100).
func (q *Query) KeysIn(selects []string, from string, pk []string, keys [][]any) string {
	ors := make([]string, len(keys))
	for i, k := range keys {
		ands := make([]string, len(pk))
		for j, col := range pk {
			ands[j] = q.Q(col) + " = " + q.colArg(col, k[j])
		}
		ors[i] = "(" + strings.Join(ands, " AND ") + ")"
	}
	return "SELECT " + strings.Join(selects, ", ") + " FROM " + from + " WHERE " + Balanced(ors, "OR")
}

// Balanced joins terms with a binary operator as a balanced tree,
// parenthesized: its depth grows with the logarithm of their number.
func Balanced(terms []string, op string) string {
	if len(terms) == 0 {
		return ""
	}
	for len(terms) > 1 {
		next := make([]string, 0, (len(terms)+1)/2)
		for i := 0; i < len(terms); i += 2 {
			if i+1 < len(terms) {
				next = append(next, "("+terms[i]+" "+op+" "+terms[i+1]+")")
			} else {
				next = append(next, terms[i])
			}
		}
		terms = next
	}
	return terms[0]
}

// compare renders (cursor, pk…) op (w.Cursor, w.PK…). A watermark without
// PK values compares the cursor alone. op is ">" or "<=".
func (q *Query) compare(req litepull.PageRequest, w *litepull.Watermark, op string) string {
	cols := []string{req.Cursor}
	vals := []any{w.Cursor}
	if len(w.PK) == len(req.PrimaryKey) {
		cols = append(cols, req.PrimaryKey...)
		vals = append(vals, w.PK...)
	}
	if len(cols) == 1 {
		return q.Q(cols[0]) + " " + op + " " + q.colArg(cols[0], vals[0])
	}
	if q.d.RowValues {
		l := make([]string, len(cols))
		r := make([]string, len(cols))
		for i := range cols {
			l[i] = q.Q(cols[i])
			r[i] = q.colArg(cols[i], vals[i])
		}
		return "(" + strings.Join(l, ", ") + ") " + op + " (" + strings.Join(r, ", ") + ")"
	}
	// Expanded lexicographic form, led by a plain range on the cursor so that
	// an index on the cursor bounds the scan:
	//   c >= ? AND (c > ? OR (c = ? AND (k > ? OR (k = ? AND …))))
	lead := q.Q(cols[0]) + " " + map[string]string{">": ">=", "<=": "<="}[op] + " " + q.colArg(cols[0], vals[0])
	return lead + " AND (" + q.lex(cols, vals, op) + ")"
}

// lex renders the lexicographic comparison, binding values in text order (a
// ? placeholder is positional).
func (q *Query) lex(cols []string, vals []any, op string) string {
	c := q.Q(cols[0])
	if len(cols) == 1 {
		return c + " " + op + " " + q.colArg(cols[0], vals[0])
	}
	strict := map[string]string{">": ">", "<=": "<"}[op]
	s := c + " " + strict + " " + q.colArg(cols[0], vals[0])
	s += " OR (" + c + " = " + q.colArg(cols[0], vals[0])
	return s + " AND (" + q.lex(cols[1:], vals[1:], op) + "))"
}

// SQL renders SELECT selects FROM from WHERE … ORDER BY cursor, pk LIMIT n.
func (q *Query) SQL(selects []string, from string, req litepull.PageRequest) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(selects, ", "))
	b.WriteString(" FROM ")
	b.WriteString(from)
	if len(q.where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString("(" + strings.Join(q.where, ") AND (") + ")")
	}
	b.WriteString(" ORDER BY ")
	dir := ""
	if req.Descending {
		dir = " DESC"
	}
	b.WriteString(q.Q(req.Cursor) + dir)
	for _, k := range req.PrimaryKey {
		b.WriteString(", " + q.Q(k) + dir)
	}
	b.WriteString(" LIMIT ")
	if q.LimitArg {
		b.WriteString(q.Arg(int64(req.Limit)))
	} else {
		b.WriteString(strconv.Itoa(req.Limit))
	}
	return b.String()
}
