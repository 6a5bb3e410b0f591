package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// columnsOf returns a table's columns with their position in its primary
// key (0: not in it). An absent table has none.
func (r *Replica) columnsOf(ctx context.Context, table string) (map[string]int, error) {
	rows, err := r.query(ctx, "SELECT name AS c0, CAST(pk AS TEXT) AS c1 FROM pragma_table_info(?)", []any{table})
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	cols := map[string]int{}
	for _, row := range rows {
		pk, _ := strconv.Atoi(text(row[1]))
		cols[text(row[0])] = pk
	}
	return cols, nil
}

// checkOwner refuses to let two source tables fill one replica table, and
// to write into a table of the database that litepull did not make, as
// the file replica does.
func (r *Replica) checkOwner(ctx context.Context, t *litepull.Target) error {
	rows, err := r.query(ctx, "SELECT source_id AS c0, source_table AS c1 FROM "+replica.ColumnsTable+" WHERE dest_table = ? COLLATE NOCASE LIMIT 1", []any{t.Dest})
	if err != nil {
		return fmt.Errorf("read the owner of %s: %w", t.Dest, err)
	}
	if len(rows) == 1 {
		src, tbl := text(rows[0][0]), text(rows[0][1])
		if src != t.SourceID || tbl != t.SourceTable {
			return fmt.Errorf("%w: replica table %q is filled by %s/%s already; give %s/%s another dest",
				litepull.ErrSchemaConflict, t.Dest, src, tbl, t.SourceID, t.SourceTable)
		}
		return nil
	}
	have, err := r.columnsOf(ctx, t.Dest)
	if err != nil || len(have) == 0 {
		return err
	}
	// A table the seed's plugin filled, recorded in its state table, is
	// adopted as the seed's state is.
	seed, err := r.query(ctx, "SELECT 1 AS c0 FROM "+replica.StateTable+" WHERE source_id = ? AND table_name = ? AND dest_table IS NULL", []any{t.SourceID, t.SourceTable})
	if err != nil || len(seed) > 0 {
		return err
	}
	return fmt.Errorf("%w: the replica %s has a table %q that litepull did not make; give %s/%s another dest (or drop that table)",
		litepull.ErrSchemaConflict, r.Name(), t.Dest, t.SourceID, t.SourceTable)
}

// CheckTarget reports why t cannot be written, changing nothing.
func (r *Replica) CheckTarget(ctx context.Context, t *litepull.Target) error {
	if err := replica.CheckName(t); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkOwner(ctx, t)
}

// SchemaChange compares t with the shape recorded for its replica table.
func (r *Replica) SchemaChange(ctx context.Context, t *litepull.Target) (litepull.SchemaChange, error) {
	var ch litepull.SchemaChange
	if err := replica.CheckName(t); err != nil {
		return ch, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ensured[t.Dest] == replica.Signature(t) {
		return ch, nil
	}
	if err := r.finishSwap(ctx, t.Dest); err != nil {
		return ch, err
	}
	if err := r.checkOwner(ctx, t); err != nil {
		return ch, err
	}
	have, err := r.columnsOf(ctx, t.Dest)
	if err != nil || len(have) == 0 {
		return ch, err
	}
	rows, err := r.query(ctx, "SELECT column_name AS c0, source_type AS c1, sqlite_type AS c2, CAST(is_pk AS TEXT) AS c3, CAST(coalesce(source_position, 0) AS TEXT) AS c4 FROM "+
		replica.ColumnsTable+" WHERE dest_table = ? COLLATE NOCASE ORDER BY ordinal", []any{t.Dest})
	if err != nil {
		return ch, fmt.Errorf("read the recorded columns of %s: %w", t.Dest, err)
	}
	var rec []replica.RecordedColumn
	for _, row := range rows {
		c := texts(row)
		pos, _ := strconv.Atoi(c[4])
		rec = append(rec, replica.RecordedColumn{Name: c[0], SourceType: c[1], SQLiteType: c[2], IsPK: c[3] != "0", Position: pos})
	}
	return replica.DiffColumns(rec, t), nil
}

// EnsureTable creates t.Dest if needed, adds the columns the source has
// grown since, and records the column metadata, in one request.
func (r *Replica) EnsureTable(ctx context.Context, t *litepull.Target) error {
	if err := replica.CheckName(t); err != nil {
		return err
	}
	if per := r.rowsPerStatement(len(t.Columns)); per < 1 {
		return fmt.Errorf("%w: table %s has %d columns, and %s binds at most %d parameters per statement; project fewer columns (columns:)",
			litepull.ErrUnsupported, t.Dest, len(t.Columns), r.cfg.Kind, r.lim.MaxParams())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sig := replica.Signature(t)
	if r.ensured[t.Dest] == sig {
		return nil
	}
	if err := r.finishSwap(ctx, t.Dest); err != nil {
		return err
	}
	if err := r.checkOwner(ctx, t); err != nil {
		return err
	}
	have, err := r.columnsOf(ctx, t.Dest)
	if err != nil {
		return err
	}
	// The column metadata first: on StarbaseDB, which may run part of the
	// request, a table is never left without the record that litepull
	// made it (which would refuse it as the user's at the next run).
	stmts := r.columnStmts(t)
	// A full refresh killed before its swap leaves its shadow behind.
	stmts = append(stmts, plain("DROP TABLE IF EXISTS "+replica.Quote(replica.ShadowPrefix+t.Dest)))
	if len(have) == 0 {
		// IF NOT EXISTS: a request StarbaseDB cut short may have made it.
		stmts = append(stmts, plain(strings.Replace(replica.CreateTableSQL(t), "CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)))
	} else {
		alters, err := replica.AddColumnSQL(t, have)
		if err != nil {
			return err
		}
		for _, q := range alters {
			stmts = append(stmts, plain(q))
		}
	}
	if err := r.commitDDL(ctx, stmts); err != nil {
		return fmt.Errorf("create replica table %s: %w", t.Dest, err)
	}
	r.ensured[t.Dest] = sig
	return nil
}

func plain(sql string) stmt { return stmt{SQL: sql, Args: []any{}} }

// BeginFull (re)creates an empty shadow of t.Dest for a full refresh.
func (r *Replica) BeginFull(ctx context.Context, t *litepull.Target) (*litepull.Target, error) {
	shadow := *t
	shadow.Dest = replica.ShadowPrefix + t.Dest
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.finishSwap(ctx, t.Dest); err != nil {
		return nil, err
	}
	err := r.commitDDL(ctx, []stmt{plain("DROP TABLE IF EXISTS " + replica.Quote(shadow.Dest)), plain(replica.CreateTableSQL(&shadow))})
	if err != nil {
		return nil, fmt.Errorf("create shadow table for %s: %w", t.Dest, err)
	}
	return &shadow, nil
}

// SwapFull replaces t.Dest with its filled shadow, remakes the user's
// indexes and triggers on it, records t's columns and writes st, in one
// request. On StarbaseDB, which runs it statement by statement, the swap
// is recorded first (litepull_swaps): a request cut short between
// dropping the old table and renaming the shadow is finished by the next
// call on that table (finishSwap), so the table is never left missing.
func (r *Replica) SwapFull(ctx context.Context, t, shadow *litepull.Target, st litepull.State) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkOwner(ctx, t); err != nil {
		return err
	}
	idx, err := r.query(ctx, "SELECT sql AS c0 FROM sqlite_schema WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL ORDER BY type = 'trigger'", []any{t.Dest})
	if err != nil {
		return fmt.Errorf("read the indexes of %s: %w", t.Dest, err)
	}
	// The swap is recorded first, and the new columns before the tables
	// move: a request StarbaseDB cuts short anywhere after the record is
	// finished by finishSwap, with the new shape recorded.
	a := r.args()
	stmts := []stmt{a.stmt("INSERT INTO " + SwapTable + " (dest_table, shadow_table) VALUES (" + a.val(t.Dest) + ", " + a.val(shadow.Dest) + ")" +
		" ON CONFLICT (dest_table) DO UPDATE SET shadow_table = excluded.shadow_table")}
	stmts = append(stmts, r.columnStmts(t)...)
	stmts = append(stmts, renameShadow(t.Dest, shadow.Dest)...)
	for _, row := range idx {
		stmts = append(stmts, plain(text(row[0])))
	}
	s, err := r.stateStmt(st)
	if err != nil {
		return err
	}
	stmts = append(stmts, s, a.stmt("DELETE FROM "+SwapTable+" WHERE dest_table = "+a.val(t.Dest)))
	if err := r.commitDDL(ctx, stmts); err != nil {
		return fmt.Errorf("swap the full copy of %s in: %w", t.Dest, err)
	}
	r.ensured[t.Dest] = replica.Signature(t)
	return nil
}

func renameShadow(dest, shadow string) []stmt {
	return []stmt{plain("DROP TABLE IF EXISTS " + replica.Quote(dest)),
		plain(fmt.Sprintf("ALTER TABLE %s RENAME TO %s", replica.Quote(shadow), replica.Quote(dest)))}
}

// finishSwap completes a swap of dest that a request cut short left
// recorded: the shadow, complete, replaces the table. Its state and
// column metadata may be the old ones: the table is then read again from
// the old watermark, or rebuilt, which upserts make safe.
func (r *Replica) finishSwap(ctx context.Context, dest string) error {
	rows, err := r.query(ctx, "SELECT shadow_table AS c0 FROM "+SwapTable+" WHERE dest_table = ?", []any{dest})
	if err != nil {
		return fmt.Errorf("read swaps in progress: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	shadow := text(rows[0][0])
	cols, err := r.columnsOf(ctx, shadow)
	if err != nil {
		return err
	}
	var stmts []stmt
	if len(cols) > 0 {
		stmts = renameShadow(dest, shadow)
	}
	a := r.args()
	stmts = append(stmts, a.stmt("DELETE FROM "+SwapTable+" WHERE dest_table = "+a.val(dest)))
	if err := r.commitDDL(ctx, stmts); err != nil {
		return fmt.Errorf("finish the interrupted swap of %s: %w", dest, err)
	}
	delete(r.ensured, dest)
	return nil
}

// DropShadow removes a shadow table left by a failed full refresh. A
// swap recorded as begun is finished instead: its old table may be gone
// already, and the shadow is then the only copy.
func (r *Replica) DropShadow(ctx context.Context, shadow *litepull.Target) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.finishSwap(ctx, strings.TrimPrefix(shadow.Dest, replica.ShadowPrefix)); err != nil {
		return err
	}
	return r.commitDDL(ctx, []stmt{plain("DROP TABLE IF EXISTS " + replica.Quote(shadow.Dest))})
}

// ResetState forgets a table's watermark and counters.
func (r *Replica) ResetState(ctx context.Context, sourceID, table string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.args()
	return r.commit(ctx, []stmt{a.stmt("DELETE FROM " + replica.StateTable + " WHERE source_id = " + a.val(sourceID) + " AND table_name = " + a.val(table))})
}
