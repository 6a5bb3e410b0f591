package remote

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyset"
	"github.com/litepull/litepull/internal/sqlitedialect"
)

// How rows travel in plain JSON, which carries numbers only as far as a
// JavaScript number does (integers to 2^53) and has no BLOBs and no
// infinities: each column is one value, and each row one tag more.
//
// A value travels as itself where JSON carries it exactly and the column's
// declared type says what it is: text as a string; an integer within
// ±(2^53-1) as a number, in a column of any affinity but REAL; a finite
// REAL as a number in a REAL column. Those are nearly all the values of a
// table, and they cost SQLite one typeof each, not a CAST to text, and the
// service half as many values to encode as a (type, value) pair per column.
//
// SQLite lets any value into any column, so a row may hold another (a
// BLOB, a larger integer, a REAL in an INTEGER column, an infinity). Its
// tag, NULL otherwise, is then the storage class of each of its values, a
// letter each (i, r, t, b, n), and its values travel in a form that JSON
// carries exactly: large integers as decimal text, BLOBs as hex, REALs as
// numbers (shortest round-trip form) or, if infinite, as the text "Inf".
const maxSafeInt = 1<<53 - 1

// jsonSelect renders the select list of cols: a value per column, then
// the row's tag.
func jsonSelect(cols []sqlitedialect.Selected) []string {
	sel := make([]string, 0, len(cols)+1)
	plain := make([]string, len(cols))
	letters := make([]string, len(cols))
	for i, c := range cols {
		sel = append(sel, jsonValue(c))
		plain[i] = plainSQL(c)
		letters[i] = fmt.Sprintf("substr(typeof(%s), 1, 1)", c.Quoted)
	}
	// Balanced, as services cap expression depth (StarbaseDB: 100).
	tag := fmt.Sprintf("CASE WHEN %s THEN NULL ELSE %s END", keyset.Balanced(plain, "AND"), keyset.Balanced(letters, "||"))
	return append(sel, tag)
}

// plainSQL is true when the column's value travels as itself.
func plainSQL(c sqlitedialect.Selected) string {
	if c.Affinity == litepull.AffReal {
		return fmt.Sprintf("CASE typeof(%[1]s) WHEN 'real' THEN abs(%[1]s) < 9e999 WHEN 'text' THEN 1 WHEN 'null' THEN 1 ELSE 0 END", c.Quoted)
	}
	integer := fmt.Sprintf("WHEN 'integer' THEN %s BETWEEN %d AND %d", c.Quoted, -maxSafeInt, maxSafeInt)
	if c.Affinity == litepull.AffText {
		return fmt.Sprintf("CASE typeof(%s) WHEN 'text' THEN 1 WHEN 'null' THEN 1 %s ELSE 0 END", c.Quoted, integer)
	}
	return fmt.Sprintf("CASE typeof(%s) %s WHEN 'text' THEN 1 WHEN 'null' THEN 1 ELSE 0 END", c.Quoted, integer)
}

// jsonValue is the column's value as it travels: itself when plain, else
// in a form JSON carries exactly.
func jsonValue(c sqlitedialect.Selected) string {
	q := c.Quoted
	integer := fmt.Sprintf("WHEN 'integer' THEN CASE WHEN %[1]s BETWEEN %[2]d AND %[3]d THEN %[1]s ELSE CAST(%[1]s AS TEXT) END", q, -maxSafeInt, maxSafeInt)
	real := fmt.Sprintf("WHEN 'real' THEN CASE WHEN abs(%[1]s) = 9e999 THEN CAST(%[1]s AS TEXT) ELSE %[1]s END", q)
	switch c.Affinity {
	case litepull.AffText:
		return fmt.Sprintf("CASE typeof(%[1]s) WHEN 'text' THEN %[1]s WHEN 'blob' THEN hex(%[1]s) %[2]s %[3]s ELSE %[1]s END", q, integer, real)
	case litepull.AffReal:
		return fmt.Sprintf("CASE typeof(%[1]s) %[3]s WHEN 'blob' THEN hex(%[1]s) %[2]s ELSE %[1]s END", q, integer, real)
	}
	return fmt.Sprintf("CASE typeof(%[1]s) %[2]s WHEN 'blob' THEN hex(%[1]s) %[3]s ELSE %[1]s END", q, integer, real)
}

// decodeJSONRow rebuilds the values of a row selected by jsonSelect; aff
// holds the affinity of each column.
func decodeJSONRow(r []any, aff []litepull.Affinity) ([]litepull.Value, error) {
	n := len(aff)
	if len(r) != n+1 {
		return nil, fmt.Errorf("row of %d values, want %d", len(r), n+1)
	}
	row := make([]litepull.Value, n)
	if r[n] == nil {
		for c := range row {
			v, err := decodePlain(r[c], aff[c] == litepull.AffReal)
			if err != nil {
				return nil, &columnError{c, err}
			}
			row[c] = v
		}
		return row, nil
	}
	tag, ok := r[n].(string)
	if !ok || len(tag) != n {
		return nil, fmt.Errorf("row tag %v: want a letter for each of %d columns", r[n], n)
	}
	for c := range row {
		v, err := decodeTagged(tag[c], r[c])
		if err != nil {
			return nil, &columnError{c, err}
		}
		row[c] = v
	}
	return row, nil
}

// columnError is a value that could not be decoded, by column index.
type columnError struct {
	col int
	err error
}

func (e *columnError) Error() string { return e.err.Error() }
func (e *columnError) Unwrap() error { return e.err }

// decodePlain reads a value that travelled as itself: a number is a REAL
// in a REAL column, else an integer.
func decodePlain(v any, real bool) (litepull.Value, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return v, nil
	case json.Number:
		if real {
			return strconv.ParseFloat(string(v), 64)
		}
		return safeInt(v)
	}
	return nil, fmt.Errorf("value sent as %T", v)
}

// safeInt reads an integer sent as a JSON number, which JSON carries
// exactly only within ±(2^53-1).
func safeInt(v json.Number) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %s: %w", v, err)
	}
	if n < -maxSafeInt || n > maxSafeInt {
		return 0, fmt.Errorf("integer %d sent as a JSON number, which may have rounded it", n)
	}
	return n, nil
}

// decodeTagged reads a value of a tagged row, its storage class named by
// the letter.
func decodeTagged(letter byte, v any) (litepull.Value, error) {
	name, ok := map[byte]string{'n': "null", 'i': "integer", 'r': "real", 't': "text", 'b': "blob"}[letter]
	if !ok {
		return nil, fmt.Errorf("unknown type letter %q", letter)
	}
	return decodePair(name, v)
}

// decodePair rebuilds a value from its storage class and JSON-safe form.
func decodePair(typ, val any) (litepull.Value, error) {
	t, ok := typ.(string)
	if !ok {
		return nil, fmt.Errorf("type tag %v is not a string", typ)
	}
	switch t {
	case "null":
		if val != nil {
			return nil, fmt.Errorf("NULL sent as %T", val)
		}
		return nil, nil
	case "integer":
		switch v := val.(type) {
		case string:
			return strconv.ParseInt(v, 10, 64)
		case json.Number:
			return safeInt(v)
		}
		return nil, fmt.Errorf("integer sent as %T, want decimal text", val)
	case "real":
		switch v := val.(type) {
		case json.Number:
			return strconv.ParseFloat(string(v), 64)
		case string: // ±Infinity, as text
			return strconv.ParseFloat(v, 64)
		}
		return nil, fmt.Errorf("real sent as %T", val)
	case "text":
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("text sent as %T", val)
		}
		return s, nil
	case "blob":
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("blob sent as %T, want hex", val)
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown type %q", strings.TrimSpace(t))
}

// JSONSelect is the select list that carries cols exactly through plain
// JSON (see jsonSelect); DecodeJSONRow rebuilds a row of it from the
// columns' affinities.
func JSONSelect(cols []sqlitedialect.Selected) []string { return jsonSelect(cols) }

// DecodeJSONRow rebuilds the values of a row selected by JSONSelect.
func DecodeJSONRow(r []any, aff []litepull.Affinity) ([]litepull.Value, error) {
	return decodeJSONRow(r, aff)
}
