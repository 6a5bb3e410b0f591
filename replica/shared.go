package replica

import (
	"fmt"
	"strings"

	"github.com/litepull/litepull"
)

// The SQL of a replica, shared with the remote replicas (replica/remote),
// which run the same statements on a SQLite service over HTTP: one shape
// of tables, state and metadata wherever the replica lives.

// SchemaDDL creates the replica's own tables (state, column metadata,
// stream positions) where they are absent.
func SchemaDDL() []string {
	var defs []string
	for _, c := range stateColumns {
		defs = append(defs, c.name+" "+c.decl)
	}
	return []string{
		"CREATE TABLE IF NOT EXISTS " + StateTable + " (" + strings.Join(defs, ", ") + ", PRIMARY KEY (source_id, table_name))",
		`CREATE TABLE IF NOT EXISTS ` + ColumnsTable + ` (
			dest_table   TEXT NOT NULL,
			column_name  TEXT NOT NULL,
			source_id    TEXT NOT NULL,
			source_table TEXT NOT NULL,
			source_type  TEXT NOT NULL,
			sqlite_type  TEXT NOT NULL,
			ordinal      INTEGER NOT NULL,
			is_pk        INTEGER NOT NULL,
			source_position INTEGER,
			PRIMARY KEY (dest_table, column_name))`,
		`CREATE TABLE IF NOT EXISTS ` + StreamsTable + ` (
			source_id  TEXT NOT NULL PRIMARY KEY,
			slot       TEXT NOT NULL,
			position   TEXT NOT NULL,
			commit_ts  TEXT,
			applied_ts TEXT NOT NULL)`,
	}
}

// StateColumns lists the state table's columns in order: the seed's seven,
// then litepull's.
func StateColumns() []string {
	names := make([]string, len(stateColumns))
	for i, c := range stateColumns {
		names[i] = c.name
	}
	return names
}

// StateUpsertSQL writes one state row whose values are the expressions
// marks (one per StateColumns), replacing the row of its table.
func StateUpsertSQL(marks []string) string {
	var sets []string
	for _, col := range stateColumns[2:] {
		sets = append(sets, col.name+" = excluded."+col.name)
	}
	return "INSERT INTO " + StateTable + " (" + stateColumnList() + ") VALUES (" + strings.Join(marks, ", ") +
		") ON CONFLICT (source_id, table_name) DO UPDATE SET " + strings.Join(sets, ", ")
}

// StateValues are the values of st's row, in StateColumns order.
func StateValues(st litepull.State) ([]any, error) {
	var wm any
	if st.Watermark != nil {
		enc, err := litepull.EncodeValues(append([]litepull.Value{st.Watermark.Cursor}, st.Watermark.PK...))
		if err != nil {
			return nil, fmt.Errorf("encode watermark: %w", err)
		}
		wm = enc
	}
	return []any{st.SourceID, st.Table, nullIfEmpty(st.CursorColumn), nullIfEmptyOr(st.CursorValue, st.Watermark == nil && st.CursorColumn != ""),
		timeText(st.LastRun), st.LastRowsPulled, nullIfEmpty(st.LastError), nullIfEmpty(st.Dest), wm,
		st.RowsTotal, st.NullCursorRows, timeText(st.LastSuccess), st.ErrorCount,
		timeText(st.LastFullRefresh), timeText(st.LastReconcile), st.RowsDeleted, nullIfEmpty(st.CursorAhead)}, nil
}

// StateFromText rebuilds a state from its row, each column as text ("" for
// NULL), in StateColumns order.
func StateFromText(col []string) (litepull.State, error) {
	if len(col) != len(stateColumns) {
		return litepull.State{}, fmt.Errorf("state row of %d columns, want %d", len(col), len(stateColumns))
	}
	var n [17]int64
	for _, i := range []int{5, 9, 10, 12, 15} {
		if _, err := fmt.Sscan(col[i], &n[i]); err != nil && col[i] != "" {
			return litepull.State{}, fmt.Errorf("state of %s/%s: column %s: %q is not an integer", col[0], col[1], stateColumns[i].name, col[i])
		}
	}
	st := litepull.State{SourceID: col[0], Table: col[1], CursorColumn: col[2], CursorValue: col[3],
		LastRun: parseTime(col[4]), LastRowsPulled: n[5], LastError: col[6], Dest: col[7],
		RowsTotal: n[9], NullCursorRows: n[10], LastSuccess: parseTime(col[11]), ErrorCount: n[12],
		LastFullRefresh: parseTime(col[13]), LastReconcile: parseTime(col[14]), RowsDeleted: n[15], CursorAhead: col[16]}
	if col[10] == "" {
		st.NullCursorRows = -1
	}
	return st, decodeWatermark(&st, col[8])
}

// decodeWatermark sets st's watermark from its encoded form, or from a
// seed-written cursor value alone.
func decodeWatermark(st *litepull.State, enc string) error {
	if enc != "" {
		vals, err := litepull.DecodeValues(enc)
		if err != nil || len(vals) == 0 {
			return fmt.Errorf("state of %s/%s: bad watermark %q: %v", st.SourceID, st.Table, enc, err)
		}
		st.Watermark = &litepull.Watermark{Cursor: vals[0], PK: vals[1:]}
	} else if st.CursorValue != "" {
		st.Watermark = &litepull.Watermark{Cursor: st.CursorValue}
	}
	return nil
}

// CreateTableSQL creates t.Dest with t's columns and primary key.
func CreateTableSQL(t *litepull.Target) string { return createTable(t) }

// AddColumnSQL adds t's columns that the table, with columns have (and
// primary key positions), lacks; a primary key other than t's is an
// ErrSchemaConflict.
func AddColumnSQL(t *litepull.Target, have map[string]int) ([]string, error) {
	var havePK []string
	for name, pos := range have {
		if pos > 0 {
			for len(havePK) < pos {
				havePK = append(havePK, "")
			}
			havePK[pos-1] = name
		}
	}
	if strings.Join(havePK, ",") != strings.Join(t.PrimaryKey, ",") {
		return nil, fmt.Errorf("%w: replica table %q has primary key (%s), the source says (%s); drop the replica table or set dest to a new name",
			litepull.ErrSchemaConflict, t.Dest, strings.Join(havePK, ", "), strings.Join(t.PrimaryKey, ", "))
	}
	var out []string
	for _, col := range t.Columns {
		if _, ok := have[col.Name]; ok {
			continue
		}
		typ, err := sqliteType(col.Affinity)
		if err != nil {
			return nil, err
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quote(t.Dest), quote(col.Name), typ)))
	}
	return out, nil
}

// ColumnsUpsertSQL records one column of a table in ColumnsTable; its
// values are ColumnValues'.
const ColumnsUpsertSQL = `INSERT INTO ` + ColumnsTable + ` (dest_table, column_name, source_id, source_table, source_type, sqlite_type, ordinal, is_pk, source_position)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dest_table, column_name) DO UPDATE SET source_id = excluded.source_id, source_table = excluded.source_table,
			source_type = excluded.source_type, sqlite_type = excluded.sqlite_type, ordinal = excluded.ordinal, is_pk = excluded.is_pk,
			source_position = excluded.source_position`

// ColumnValues are the values of ColumnsUpsertSQL for t's column i.
func ColumnValues(t *litepull.Target, i int) []any {
	col := t.Columns[i]
	var isPK int64
	for _, k := range t.PrimaryKey {
		if k == col.Name {
			isPK = 1
		}
	}
	var position any // NULL: unknown
	if col.Position > 0 {
		position = int64(col.Position)
	}
	return []any{t.Dest, col.Name, t.SourceID, t.SourceTable, col.SourceType, string(col.Affinity), int64(i), isPK, position}
}

// StaleColumnsSQL deletes the metadata of t.Dest's columns that are not
// in the JSON array of names bound first (dropped at the source), and of
// other spellings of its name; bind the names, then t.Dest twice.
const StaleColumnsSQL = "DELETE FROM " + ColumnsTable + " WHERE dest_table = ? COLLATE NOCASE AND (column_name NOT IN (SELECT value FROM json_each(?)) OR dest_table <> ?)"

// RecordedColumn is a replica column as litepull_columns records it.
type RecordedColumn struct {
	Name, SourceType, SQLiteType string
	IsPK                         bool
	Position                     int
}

// DiffColumns is how t differs from the columns recorded for its table.
func DiffColumns(rows []RecordedColumn, t *litepull.Target) litepull.SchemaChange {
	have := map[string]recorded{}
	pos := 0
	for _, r := range rows {
		rc := recorded{sourceType: r.SourceType, sqliteType: r.SQLiteType, position: r.Position}
		if r.IsPK {
			pos++
			rc.pkPos = pos
		}
		have[r.Name] = rc
	}
	return diffColumns(have, t)
}

// CheckName refuses a dest that is not an identifier or is a name the
// replica keeps for itself.
func CheckName(t *litepull.Target) error { return checkName(t) }

// Signature identifies t's shape: a replica that made a table for one
// signature needs no work for it again.
func Signature(t *litepull.Target) string { return signature(t) }

// KeyValues are row's key values, in t.PrimaryKey order.
func KeyValues(t *litepull.Target, row []litepull.Value) []litepull.Value { return keyValues(t, row) }

// Quote quotes an identifier for SQLite.
func Quote(name string) string { return quote(name) }

// StateColumnDecls are the state table's columns with the declarations an
// ALTER TABLE ADD COLUMN gives them (no NOT NULL: a seed-made table has
// rows), for migrating a table the seed created.
func StateColumnDecls() [][2]string {
	out := make([][2]string, len(stateColumns))
	for i, c := range stateColumns {
		decl := strings.TrimSuffix(c.decl, " NOT NULL")
		decl = strings.Replace(decl, "NOT NULL ", "", 1)
		out[i] = [2]string{c.name, decl}
	}
	return out
}

// KeepsOf returns the columns of row's Keep values and the key to read
// them from, in t.PrimaryKey order.
func KeepsOf(t *litepull.Target, row []litepull.Value) ([]int, []litepull.Value, error) {
	return keepsOf(t, row)
}

// HasKeep reports whether row has a Keep value.
func HasKeep(row []litepull.Value) bool { return hasKeep(row) }

// FormatKey renders key values for messages.
func FormatKey(key []litepull.Value) string { return formatKey(key) }
