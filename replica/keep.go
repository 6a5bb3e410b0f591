package replica

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// hasKeep reports whether a row has a value the replica keeps
// (litepull.Keep).
func hasKeep(row []litepull.Value) bool {
	for _, v := range row {
		if _, ok := v.(litepull.Keep); ok {
			return true
		}
	}
	return false
}

// kept returns row with each Keep value replaced by the replica's value of
// that column, read inside the caller's transaction from the row with key
// Keep.From, or row's own key. A row the replica lacks is an error: the
// value is never guessed, nor written as NULL.
func (r *Replica) kept(c *sqlite3.Conn, t *litepull.Target, row []litepull.Value) ([]litepull.Value, error) {
	if len(row) != len(t.Columns) {
		return nil, fmt.Errorf("row has %d values, table %s has %d columns", len(row), t.Dest, len(t.Columns))
	}
	cols, from, err := keepsOf(t, row)
	if err != nil {
		return nil, err
	}
	s, err := r.prepared(c, keepSQL(t, cols))
	if err != nil {
		return nil, fmt.Errorf("read kept values of %s: %w", t.Dest, err)
	}
	defer func() { _ = s.Reset() }() // Reset repeats the last step's error, which is returned already
	if err := sqlitex.BindAll(s, from...); err != nil {
		return nil, fmt.Errorf("read kept values of %s: key: %w", t.Dest, err)
	}
	if !s.Step() {
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("read kept values of %s: %w", t.Dest, err)
		}
		names := make([]string, len(cols))
		for i, j := range cols {
			names[i] = t.Columns[j].Name
		}
		err := fmt.Errorf("%w: keep %s of %s: the replica has no row with key (%s) = (%s) to keep it from, "+
			"so it is missing a row the source has (a soft-deleted row undeleted, say); the table is copied again",
			litepull.ErrMissingRow, strings.Join(names, ", "), t.Dest, strings.Join(t.PrimaryKey, ", "), formatKey(from))
		return nil, &litepull.TableError{SourceID: t.SourceID, Table: t.SourceTable, Err: err}
	}
	vals := make([]any, len(cols))
	if err := s.Columns(vals...); err != nil {
		return nil, fmt.Errorf("read kept values of %s: %w", t.Dest, err)
	}
	out := slices.Clone(row)
	for i, j := range cols {
		out[j] = vals[i]
	}
	return out, nil
}

// keepsOf returns the columns of row's Keep values and the key to read
// them from, in t.PrimaryKey order.
func keepsOf(t *litepull.Target, row []litepull.Value) (cols []int, from []litepull.Value, err error) {
	var first *litepull.Keep
	for i, v := range row {
		k, ok := v.(litepull.Keep)
		if !ok {
			continue
		}
		if first != nil && !reflect.DeepEqual(first.From, k.From) {
			return nil, nil, fmt.Errorf("row (%s) of %s keeps values from two rows, (%s) and (%s); a row keeps them from one",
				keyOf(t, row), t.Dest, formatKey(first.From), formatKey(k.From))
		}
		first = &k
		cols = append(cols, i)
	}
	from = first.From
	if from == nil {
		from = keyValues(t, row)
	}
	if len(from) != len(t.PrimaryKey) {
		return nil, nil, fmt.Errorf("row of %s keeps values from key (%s), which has %d values; the key (%s) has %d",
			t.Dest, formatKey(from), len(from), strings.Join(t.PrimaryKey, ", "), len(t.PrimaryKey))
	}
	for i, v := range from {
		if _, ok := v.(litepull.Keep); ok {
			return nil, nil, fmt.Errorf("row of %s keeps values from its own key, but has no value for key column %s",
				t.Dest, t.PrimaryKey[i])
		}
	}
	return cols, from, nil
}

// keyValues are row's key values, in t.PrimaryKey order.
func keyValues(t *litepull.Target, row []litepull.Value) []litepull.Value {
	key := make([]litepull.Value, 0, len(t.PrimaryKey))
	for _, k := range t.PrimaryKey {
		for j, c := range t.Columns {
			if c.Name == k {
				key = append(key, row[j])
			}
		}
	}
	return key
}

// keepSQL selects the columns cols of t.Dest's row with a key.
func keepSQL(t *litepull.Target, cols []int) string {
	sel := make([]string, len(cols))
	for i, j := range cols {
		sel[i] = quote(t.Columns[j].Name)
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(sel, ", "), quote(t.Dest), keyWhere(t))
}

func formatKey(key []litepull.Value) string {
	parts := make([]string, len(key))
	for i, v := range key {
		parts[i] = litepull.FormatValue(v)
	}
	return strings.Join(parts, ", ")
}
