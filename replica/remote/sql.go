package remote

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/litepull/litepull"
	svc "github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/replica"
)

// args collects a statement's parameters, each in the form the service
// carries exactly.
type args struct {
	json    bool
	noUnhex bool // the service's SQLite has no unhex(): BLOBs go inline as X'…'
	vals    []any
}

// val binds v and returns the SQL that stands for it: NULL inline; on a
// plain-JSON service an integer as text cast back, a BLOB as hex.
func (a *args) val(v any) string {
	if v == nil {
		return "NULL"
	}
	if b, ok := v.(bool); ok {
		v = map[bool]int64{false: 0, true: 1}[b]
	}
	if i, ok := v.(int); ok {
		v = int64(i)
	}
	if b, ok := v.([]byte); ok && a.json && a.noUnhex {
		return "X'" + hex.EncodeToString(b) + "'"
	}
	if s, ok := v.(string); ok && !utf8.ValidString(s) {
		// JSON would replace the invalid bytes: they travel as a BLOB,
		// cast back to TEXT.
		return "CAST(" + a.val([]byte(s)) + " AS TEXT)"
	}
	expr := "?"
	if a.json {
		v, expr = svc.JSONBind(v)
	} else {
		v, expr = hranaBind(v)
	}
	a.vals = append(a.vals, v)
	return expr
}

func (a *args) list(vs []any) string {
	exprs := make([]string, len(vs))
	for i, v := range vs {
		exprs[i] = a.val(v)
	}
	return "(" + strings.Join(exprs, ", ") + ")"
}

func (a *args) stmt(sql string) stmt {
	if a.vals == nil {
		a.vals = []any{}
	}
	s := stmt{SQL: sql, Args: a.vals}
	a.vals = nil
	return s
}

func (r *Replica) args() *args { return &args{json: r.kind.json, noUnhex: r.noUnhex} }

// bind is one value's parameter and SQL.
func (r *Replica) bind(v any) (any, string) {
	a := r.args()
	expr := a.val(v)
	if len(a.vals) == 0 {
		return nil, expr
	}
	return a.vals[0], expr
}

// rowsPerStatement is how many rows of width values one statement takes
// under the service's limits.
func (r *Replica) rowsPerStatement(width int) int {
	n := r.lim.MaxParams() / max(width, 1)
	return max(min(n, r.lim.MaxValuesRows()), 0)
}

// built is a batch's statements, with what a failure needs to explain
// itself.
type built struct {
	stmts []stmt
	keeps []keepCheck
}

// keepCheck is a row whose kept values must come from a replica row.
type keepCheck struct {
	t    *litepull.Target
	from []litepull.Value
}

// batch renders b as statements: each table's truncate, kept rows, then
// its upserts and soft deletes in order, then its deletes; the states and
// the stream's position after every row.
func (r *Replica) batch(b litepull.Batch) (*built, error) {
	if len(b.Swaps) > 0 {
		// Not a BatchSwapper: the engine swaps each copy in with SwapFull.
		return nil, fmt.Errorf("%w: a remote replica swaps full copies in one at a time (SwapFull), not in a batch", litepull.ErrUnsupported)
	}
	out := &built{}
	for _, ch := range b.Changes {
		if err := r.changes(out, ch); err != nil {
			return nil, err
		}
	}
	for _, st := range b.States {
		s, err := r.stateStmt(st)
		if err != nil {
			return nil, err
		}
		out.stmts = append(out.stmts, s)
	}
	if b.Stream != nil {
		s, err := r.streamStmt(b.Stream)
		if err != nil {
			return nil, err
		}
		out.stmts = append(out.stmts, s)
	}
	return out, nil
}

func (r *Replica) changes(out *built, ch litepull.TableChanges) error {
	t := ch.Target
	if ch.Truncate {
		out.stmts = append(out.stmts, stmt{SQL: "DELETE FROM " + replica.Quote(t.Dest), Args: []any{}})
	}
	soft := t.SoftDeleteIndex()
	deleted := func(row []litepull.Value) bool { return soft >= 0 && litepull.SoftDeleted(row[soft]) }
	var rest [][]litepull.Value
	for _, row := range ch.Upserts {
		if len(row) != len(t.Columns) {
			return fmt.Errorf("row has %d values, table %s has %d columns", len(row), t.Dest, len(t.Columns))
		}
		if err := r.rowFits(t, row); err != nil {
			return err
		}
		if !replica.HasKeep(row) || (soft >= 0 && !isKeep(row[soft]) && deleted(row)) {
			rest = append(rest, row)
			continue
		}
		if err := r.keptRow(out, t, row); err != nil {
			return err
		}
	}
	// Runs of upserts and of soft deletes, in order: a key may be in both.
	for i := 0; i < len(rest); {
		del := deleted(rest[i])
		j := i + 1
		for j < len(rest) && deleted(rest[j]) == del {
			j++
		}
		if del {
			keys := make([][]litepull.Value, 0, j-i)
			for _, row := range rest[i:j] {
				keys = append(keys, replica.KeyValues(t, row))
			}
			out.stmts = append(out.stmts, r.deleteStmts(t, keys)...)
		} else {
			stmts, err := r.upsertStmts(t, rest[i:j])
			if err != nil {
				return err
			}
			out.stmts = append(out.stmts, stmts...)
		}
		i = j
	}
	out.stmts = append(out.stmts, r.deleteStmts(t, ch.Deletes)...)
	return nil
}

// rowFits refuses a row larger than the service stores (its strings and
// BLOBs together; a BLOB travels as hex, twice its size, where the
// service takes it through unhex()).
func (r *Replica) rowFits(t *litepull.Target, row []litepull.Value) error {
	most := r.lim.RowBytes
	if most <= 0 {
		return nil
	}
	size, widest := 0, 0
	for _, v := range row {
		n, sent := 0, 0
		switch v := v.(type) {
		case string:
			n, sent = len(v), len(v)
		case []byte:
			n, sent = len(v), len(v)
			if r.kind.json && !r.noUnhex {
				sent = 2 * len(v)
			}
		}
		size += n
		widest = max(widest, sent)
	}
	if size <= most && widest <= most {
		return nil
	}
	return fmt.Errorf("%w: the row of %s with key (%s) = (%s) holds %d bytes (its largest value %d as sent), and %s stores at most %d; "+
		"project the large column out (columns:) or replicate this table into a file",
		ErrRowTooLarge, t.Dest, strings.Join(t.PrimaryKey, ", "), replica.FormatKey(replica.KeyValues(t, row)), size, widest, r.cfg.Kind, most)
}

func isKeep(v litepull.Value) bool {
	_, ok := v.(litepull.Keep)
	return ok
}

// upsertStmts writes rows in multi-row upserts sized to the limits.
func (r *Replica) upsertStmts(t *litepull.Target, rows [][]litepull.Value) ([]stmt, error) {
	return r.multiRowStmts(t, rows, func(groups []string) string { return replica.UpsertSQL(t, groups) })
}

// multiRowStmts writes rows in statements of as many rows as the limits
// take, sql making each statement's text from its rows' "(?, ...)".
func (r *Replica) multiRowStmts(t *litepull.Target, rows [][]litepull.Value, sql func(groups []string) string) ([]stmt, error) {
	per := r.rowsPerStatement(len(t.Columns))
	if per < 1 {
		return nil, fmt.Errorf("%w: table %s has %d columns, and %s binds at most %d parameters per statement; project fewer columns (columns:)",
			litepull.ErrUnsupported, t.Dest, len(t.Columns), r.cfg.Kind, r.lim.MaxParams())
	}
	var out []stmt
	a := r.args()
	for len(rows) > 0 {
		n := min(per, len(rows))
		groups := make([]string, n)
		for i, row := range rows[:n] {
			groups[i] = a.list(row)
		}
		out = append(out, a.stmt(sql(groups)))
		rows = rows[n:]
	}
	return out, nil
}

// deleteStmts deletes rows by key, many keys a statement.
func (r *Replica) deleteStmts(t *litepull.Target, keys [][]litepull.Value) []stmt {
	var out []stmt
	a := r.args()
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = replica.Quote(k)
	}
	for len(keys) > 0 {
		var n int
		var sql string
		if len(pk) == 1 {
			n = min(r.lim.MaxParams(), len(keys))
			exprs := make([]string, n)
			for i, k := range keys[:n] {
				exprs[i] = a.val(k[0])
			}
			sql = fmt.Sprintf("DELETE FROM %s WHERE %s IN (%s)", replica.Quote(t.Dest), pk[0], strings.Join(exprs, ", "))
		} else {
			n = min(max(r.rowsPerStatement(len(pk)), 1), len(keys))
			groups := make([]string, n)
			for i, k := range keys[:n] {
				groups[i] = a.list(k)
			}
			sql = fmt.Sprintf("DELETE FROM %s WHERE (%s) IN (VALUES %s)", replica.Quote(t.Dest), strings.Join(pk, ", "), strings.Join(groups, ", "))
		}
		out = append(out, a.stmt(sql))
		keys = keys[n:]
	}
	return out
}

// keptRow writes a row with Keep values: the replica's values of those
// columns, read in the same request from the row they are kept from. A
// guard first fails the request if that row is missing: a value is never
// guessed, nor written as NULL.
func (r *Replica) keptRow(out *built, t *litepull.Target, row []litepull.Value) error {
	cols, from, err := replica.KeepsOf(t, row)
	if err != nil {
		return err
	}
	a := r.args()
	where := r.keyMatch(a, t, from)
	out.stmts = append(out.stmts, a.stmt("INSERT INTO "+GuardTable+" (missing) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM "+
		replica.Quote(t.Dest)+" WHERE "+where+")"))
	kept := map[int]bool{}
	for _, c := range cols {
		kept[c] = true
	}
	sel := make([]string, len(row))
	for i, v := range row {
		if kept[i] {
			sel[i] = replica.Quote(t.Columns[i].Name)
		} else {
			sel[i] = a.val(v)
		}
	}
	where = r.keyMatch(a, t, from)
	out.stmts = append(out.stmts, a.stmt(replica.UpsertSelectSQL(t, "SELECT "+strings.Join(sel, ", ")+" FROM "+replica.Quote(t.Dest)+" WHERE "+where)))
	out.keeps = append(out.keeps, keepCheck{t: t, from: from})
	return nil
}

// keyMatch is "k1 = ? AND k2 = ?" with key's values bound.
func (r *Replica) keyMatch(a *args, t *litepull.Target, key []litepull.Value) string {
	conds := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		conds[i] = replica.Quote(k) + " = " + a.val(key[i])
	}
	return strings.Join(conds, " AND ")
}

func (r *Replica) stateStmt(st litepull.State) (stmt, error) {
	vals, err := replica.StateValues(st)
	if err != nil {
		return stmt{}, err
	}
	a := r.args()
	marks := make([]string, len(vals))
	for i, v := range vals {
		marks[i] = a.val(v)
	}
	return a.stmt(replica.StateUpsertSQL(marks)), nil
}

func (r *Replica) streamStmt(st *litepull.StreamState) (stmt, error) {
	if st.SourceID == "" {
		return stmt{}, fmt.Errorf("save stream state: no source id")
	}
	applied := st.Applied
	if applied.IsZero() {
		applied = time.Now()
	}
	a := r.args()
	vals := a.list([]any{st.SourceID, st.Slot, string(st.Position), timeText(st.Commit), timeText(applied)})
	return a.stmt("INSERT INTO " + replica.StreamsTable + " (source_id, slot, position, commit_ts, applied_ts) VALUES " + vals +
		" ON CONFLICT (source_id) DO UPDATE SET slot = excluded.slot, position = excluded.position, commit_ts = excluded.commit_ts, applied_ts = excluded.applied_ts"), nil
}

func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// columnStmts record t's columns in litepull_columns, then drop those it
// no longer has: in that order, a request StarbaseDB cuts short leaves
// the table recorded.
func (r *Replica) columnStmts(t *litepull.Target) []stmt {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	enc, _ := json.Marshal(names) // strings always encode
	a := r.args()
	var out []stmt
	for i := range t.Columns {
		marks := a.list(replica.ColumnValues(t, i))
		out = append(out, a.stmt(strings.Replace(replica.ColumnsUpsertSQL, "(?, ?, ?, ?, ?, ?, ?, ?, ?)", marks, 1)))
	}
	return append(out, stmt{SQL: replica.StaleColumnsSQL, Args: []any{t.Dest, string(enc), t.Dest}})
}
