package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// upsertSQL is INSERT … ON CONFLICT(pk) DO UPDATE SET every non-key
// column, of one row.
func upsertSQL(t *litepull.Target) string {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(t.Columns)), ", ")
	return UpsertSQL(t, []string{"(" + marks + ")"})
}

// UpsertSQL is INSERT … VALUES rows … ON CONFLICT(pk) DO UPDATE SET every
// non-key column; each of rows is a parenthesized list of t.Columns'
// values.
func UpsertSQL(t *litepull.Target, rows []string) string {
	return upsertInto(t, "VALUES "+strings.Join(rows, ", "))
}

// UpsertSelectSQL is UpsertSQL with the row from a SELECT (which must have
// a WHERE clause, for SQLite to read ON CONFLICT as the upsert's).
func UpsertSelectSQL(t *litepull.Target, sel string) string { return upsertInto(t, sel) }

func upsertInto(t *litepull.Target, values string) string {
	cols := make([]string, len(t.Columns))
	var sets []string
	for i, c := range t.Columns {
		cols[i] = quote(c.Name)
		isPK := false
		for _, k := range t.PrimaryKey {
			isPK = isPK || k == c.Name
		}
		if !isPK {
			sets = append(sets, cols[i]+" = excluded."+cols[i])
		}
	}
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = quote(k)
	}
	action := "DO NOTHING"
	if len(sets) > 0 {
		action = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	return fmt.Sprintf("INSERT INTO %s (%s) %s ON CONFLICT (%s) %s",
		quote(t.Dest), strings.Join(cols, ", "), values, strings.Join(pk, ", "), action)
}

// prepared returns a statement prepared once per connection and kept.
func (r *Replica) prepared(c *sqlite3.Conn, q string) (*sqlite3.Stmt, error) {
	if s, ok := r.stmts[q]; ok {
		return s, nil
	}
	s, _, err := c.Prepare(q)
	if err != nil {
		return nil, err
	}
	r.stmts[q] = s
	return s, nil
}

// upsert returns the prepared upsert for t.
func (r *Replica) upsert(c *sqlite3.Conn, t *litepull.Target) (*sqlite3.Stmt, error) {
	return r.prepared(c, upsertSQL(t))
}

// deleteSQL deletes one row of t by primary key.
func deleteSQL(t *litepull.Target) string {
	return fmt.Sprintf("DELETE FROM %s WHERE %s", quote(t.Dest), keyWhere(t))
}

// keyWhere matches one row of t.Dest by its key, bound in t.PrimaryKey
// order.
func keyWhere(t *litepull.Target) string {
	conds := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		conds[i] = quote(k) + " = ?"
	}
	return strings.Join(conds, " AND ")
}

// deleter returns the prepared DELETE by primary key for t.
func (r *Replica) deleter(c *sqlite3.Conn, t *litepull.Target) (*sqlite3.Stmt, error) {
	return r.prepared(c, deleteSQL(t))
}

// deleteRow deletes the replica row with row's primary key.
func deleteRow(del *sqlite3.Stmt, t *litepull.Target, row []litepull.Value) error {
	if err := sqlitex.BindAll(del, keyValues(t, row)...); err != nil {
		return err
	}
	if err := del.Exec(); err != nil {
		return fmt.Errorf("delete from %s: %w", t.Dest, err)
	}
	return nil
}

// testHookAfterRow, when set by a test, runs after each row of a page is
// written and before the page commits: the crash test kills the process there.
var testHookAfterRow func()

// Apply writes a batch in one transaction: Begin, the batch, Commit. After
// a crash the replica has all of it or none.
func (r *Replica) Apply(ctx context.Context, b litepull.Batch) error {
	t, err := r.begin(ctx)
	if err != nil {
		return err
	}
	if err := t.Apply(ctx, b); err != nil {
		return errors.Join(err, t.Rollback())
	}
	return t.Commit()
}

// apply writes a batch inside the caller's transaction: its swaps, each
// table's truncate, upserts and deletes in turn, then the states and the
// stream's.
func (r *Replica) apply(c *sqlite3.Conn, b litepull.Batch) error {
	for _, sw := range b.Swaps {
		if err := r.swap(c, sw); err != nil {
			return fmt.Errorf("swap in the full copy of %s: %w", sw.Target.Dest, err)
		}
	}
	for _, ch := range b.Changes {
		if err := r.applyChanges(c, ch); err != nil {
			return err
		}
	}
	for _, st := range b.States {
		if err := r.saveState(c, st); err != nil {
			return err
		}
	}
	if b.Stream != nil {
		return r.saveStream(c, b.Stream)
	}
	return nil
}

func (r *Replica) applyChanges(c *sqlite3.Conn, ch litepull.TableChanges) error {
	if ch.Truncate {
		s, err := r.prepared(c, "DELETE FROM "+quote(ch.Target.Dest))
		if err != nil {
			return fmt.Errorf("truncate %s: %w", ch.Target.Dest, err)
		}
		if err := s.Exec(); err != nil {
			return fmt.Errorf("truncate %s: %w", ch.Target.Dest, err)
		}
	}
	if err := r.writeRows(c, ch.Target, ch.Upserts); err != nil {
		return err
	}
	return r.deleteKeys(c, ch.Target, ch.Deletes)
}

// writeRows upserts rows into t.Dest (deleting soft-deleted ones) inside
// the caller's transaction: rows with Keep values first, so that they read
// the values the others replace.
func (r *Replica) writeRows(c *sqlite3.Conn, t *litepull.Target, rows [][]litepull.Value) error {
	if len(rows) == 0 {
		return nil
	}
	w, err := r.rowWriter(c, t)
	if err != nil {
		return err
	}
	keeps := false
	for _, row := range rows {
		keeps = keeps || w.keeps(row)
	}
	if keeps {
		for _, row := range rows {
			if !w.keeps(row) {
				continue
			}
			full, err := r.kept(c, t, row)
			if err != nil {
				return err
			}
			if err := w.write(full); err != nil {
				return err
			}
		}
	}
	for _, row := range rows {
		if keeps && w.keeps(row) {
			continue
		}
		if err := w.write(row); err != nil {
			return err
		}
	}
	return nil
}

// rowWriter writes one table's rows with its prepared statements.
type rowWriter struct {
	t           *litepull.Target
	upsert, del *sqlite3.Stmt
	soft        int
}

func (r *Replica) rowWriter(c *sqlite3.Conn, t *litepull.Target) (*rowWriter, error) {
	stmt, err := r.upsert(c, t)
	if err != nil {
		return nil, err
	}
	w := &rowWriter{t: t, upsert: stmt, soft: t.SoftDeleteIndex()}
	if w.soft >= 0 {
		if w.del, err = r.deleter(c, t); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// keeps reports whether row needs values kept from the replica: it has a
// Keep value and is not soft-deleted (a deleted row is not in the replica,
// and needs none of its values).
func (w *rowWriter) keeps(row []litepull.Value) bool {
	if !hasKeep(row) {
		return false
	}
	if w.soft < 0 || w.soft >= len(row) {
		return true
	}
	_, kept := row[w.soft].(litepull.Keep)
	return kept || !litepull.SoftDeleted(row[w.soft])
}

// write upserts one row, or deletes it if the soft-delete column marks it.
func (w *rowWriter) write(row []litepull.Value) error {
	t := w.t
	if len(row) != len(t.Columns) {
		return fmt.Errorf("row has %d values, table %s has %d columns", len(row), t.Dest, len(t.Columns))
	}
	if w.soft >= 0 && litepull.SoftDeleted(row[w.soft]) {
		return deleteRow(w.del, t, row)
	}
	for i, v := range row {
		if err := sqlitex.Bind(w.upsert, i+1, v); err != nil {
			return fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	if err := w.upsert.Exec(); err != nil {
		if errors.Is(err, sqlite3.MISMATCH) {
			// A single INTEGER key column is SQLite's rowid: it takes
			// integers only, and a SQLite source may hold other values
			// in an INT key.
			return fmt.Errorf("upsert into %s: key %s = %v is not an integer, and the replica's INTEGER key takes integers only; set primaryKey to other columns, or give the key a non-integer type at the source: %w",
				t.Dest, strings.Join(t.PrimaryKey, ", "), keyOf(t, row), err)
		}
		return fmt.Errorf("upsert into %s: %w", t.Dest, err)
	}
	if testHookAfterRow != nil {
		testHookAfterRow()
	}
	return nil
}

// keyOf renders a row's key values, for messages.
func keyOf(t *litepull.Target, row []litepull.Value) string {
	return formatKey(keyValues(t, row))
}
