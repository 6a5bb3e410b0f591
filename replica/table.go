package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// reserved reports names the replica keeps for itself: its own tables
// (StateTable, ColumnsTable, StreamsTable, shadows) and any it may add.
func reserved(name string) bool {
	l := strings.ToLower(name)
	return l == StateTable || l == ColumnsTable || l == StreamsTable || strings.HasPrefix(l, "sqlite_") || strings.HasPrefix(l, "litepull_")
}

// sqliteType is the declared type for an affinity; only these few words ever
// reach DDL.
func sqliteType(a litepull.Affinity) (string, error) {
	switch a {
	case litepull.AffInteger, litepull.AffReal, litepull.AffText, litepull.AffBlob, litepull.AffNumeric, litepull.AffNone:
		return string(a), nil
	}
	return "", fmt.Errorf("unknown affinity %q", a)
}

// EnsureTable creates t.Dest if needed, adds the columns the source has grown
// since, checks that the primary key still matches, and records the column
// metadata. It is cheap to call every run: an unchanged target is a map
// lookup.
func (r *Replica) EnsureTable(ctx context.Context, t *litepull.Target) error {
	if err := checkName(t); err != nil {
		return err
	}
	sig := signature(t)
	r.mu.Lock()
	done := r.ensured[t.Dest] == sig
	r.mu.Unlock()
	if done {
		return nil
	}
	err := r.inTx(ctx, func(c *sqlite3.Conn) error {
		if err := r.checkOwner(c, t); err != nil {
			return err
		}
		// A full refresh killed before its swap leaves its shadow behind.
		if err := c.Exec("DROP TABLE IF EXISTS " + quote(ShadowPrefix+t.Dest)); err != nil {
			return fmt.Errorf("drop stale shadow of %s: %w", t.Dest, err)
		}
		have, err := r.columnsOf(t.Dest)
		if err != nil {
			return err
		}
		if len(have) == 0 {
			err = c.Exec(createTable(t))
		} else {
			err = alterTable(c, t, have)
		}
		if err != nil {
			return err
		}
		return recordColumns(c, t)
	})
	if err == nil {
		r.mu.Lock()
		r.ensured[t.Dest] = sig
		r.mu.Unlock()
	}
	return err
}

// SchemaChange compares t with the shape recorded for its replica table.
// An absent table, or one EnsureTable made for this very shape, has none.
func (r *Replica) SchemaChange(ctx context.Context, t *litepull.Target) (litepull.SchemaChange, error) {
	var ch litepull.SchemaChange
	if err := checkName(t); err != nil {
		return ch, err
	}
	r.mu.Lock()
	same := r.ensured[t.Dest] == signature(t)
	r.mu.Unlock()
	if same {
		return ch, nil
	}
	err := r.locked(ctx, func(c *sqlite3.Conn) error {
		if err := r.checkOwner(c, t); err != nil {
			return err
		}
		have, err := r.columnsOf(t.Dest)
		if err != nil || len(have) == 0 {
			return err
		}
		recorded, err := recordedColumns(c, t.Dest)
		if err != nil {
			return err
		}
		ch = diffColumns(recorded, t)
		return nil
	})
	return ch, err
}

// recorded is a replica column as litepull_columns has it.
type recorded struct {
	sourceType, sqliteType string
	pkPos                  int
	position               int // the source's own column number; 0: not recorded
}

func recordedColumns(c *sqlite3.Conn, dest string) (map[string]recorded, error) {
	_, rows, err := sqlitex.QueryAll(c, "SELECT column_name, source_type, sqlite_type, is_pk, coalesce(source_position, 0) FROM "+ColumnsTable+" WHERE dest_table = ? COLLATE NOCASE ORDER BY ordinal", dest)
	if err != nil {
		return nil, err
	}
	out := map[string]recorded{}
	pos := 0
	for _, row := range rows {
		rc := recorded{sourceType: row[1].(string), sqliteType: row[2].(string), position: int(row[4].(int64))}
		if row[3].(int64) != 0 {
			pos++
			rc.pkPos = pos
		}
		out[row[0].(string)] = rc
	}
	return out, nil
}

func diffColumns(have map[string]recorded, t *litepull.Target) litepull.SchemaChange {
	var ch litepull.SchemaChange
	var oldPK []string
	for name, rc := range have {
		if rc.pkPos > 0 {
			for len(oldPK) < rc.pkPos {
				oldPK = append(oldPK, "")
			}
			oldPK[rc.pkPos-1] = name
		}
	}
	seen := map[string]bool{}
	for _, col := range t.Columns {
		seen[col.Name] = true
		rc, ok := have[col.Name]
		switch {
		case !ok:
			ch.Added = append(ch.Added, col.Name)
		case rc.sourceType != col.SourceType || rc.sqliteType != string(col.Affinity):
			ch.Retyped = append(ch.Retyped, fmt.Sprintf("%s: %s → %s", col.Name, rc.sourceType, col.SourceType))
		}
	}
	for name := range have {
		if !seen[name] {
			ch.Dropped = append(ch.Dropped, name)
		}
	}
	sort.Strings(ch.Dropped)
	if len(ch.Added)+len(ch.Dropped)+len(ch.Retyped) == 0 {
		// Same names and types: a column whose source number changed was
		// dropped and added again, or swapped with another by renames, and
		// its values are not the ones replicated. (Any other change moves
		// numbers too, and rebuilds anyway.)
		for _, col := range t.Columns {
			if rc := have[col.Name]; rc.position != 0 && col.Position != 0 && rc.position != col.Position {
				ch.Replaced = append(ch.Replaced, col.Name)
			}
		}
	}
	// The recorded key order is column order; compare as sets in that order.
	if newPK := inColumnOrder(t); strings.Join(oldPK, ",") != strings.Join(newPK, ",") {
		ch.Key = "(" + strings.Join(oldPK, ", ") + ") → (" + strings.Join(t.PrimaryKey, ", ") + ")"
	}
	return ch
}

// inColumnOrder lists t's key columns in the order of t's columns, as
// litepull_columns records them.
func inColumnOrder(t *litepull.Target) []string {
	var out []string
	for _, col := range t.Columns {
		for _, k := range t.PrimaryKey {
			if k == col.Name {
				out = append(out, k)
			}
		}
	}
	return out
}

// CheckTarget reports why t cannot be written, changing nothing: for
// validate, which makes the same checks as a run.
func (r *Replica) CheckTarget(ctx context.Context, t *litepull.Target) error {
	if err := checkName(t); err != nil {
		return err
	}
	return r.locked(ctx, func(c *sqlite3.Conn) error { return r.checkOwner(c, t) })
}

func checkName(t *litepull.Target) error {
	if err := litepull.CheckIdent("dest table", t.Dest); err != nil {
		return err
	}
	if reserved(t.Dest) {
		return fmt.Errorf("%w: %q is a name litepull keeps for itself; set dest to another name", litepull.ErrSchemaConflict, t.Dest)
	}
	return nil
}

func signature(t *litepull.Target) string {
	var b strings.Builder
	b.WriteString(t.SourceID + "\x00" + t.SourceTable + "\x00" + strings.Join(t.PrimaryKey, ","))
	for _, c := range t.Columns {
		b.WriteString(fmt.Sprintf("\x00%s\x01%s\x01%s\x01%d", c.Name, c.SourceType, c.Affinity, c.Position))
	}
	return b.String()
}

// checkOwner refuses to let two source tables fill one replica table, and
// to write into a table of the replica file that litepull did not make
// (one the user created there): a rebuild would drop it.
func (r *Replica) checkOwner(c *sqlite3.Conn, t *litepull.Target) error {
	// SQLite table names ignore case: "Users" and "users" are one table.
	_, rows, err := sqlitex.QueryAll(c, "SELECT source_id, source_table FROM "+ColumnsTable+" WHERE dest_table = ? COLLATE NOCASE LIMIT 1", t.Dest)
	if err != nil {
		return err
	}
	if len(rows) == 1 {
		src, tbl := rows[0][0].(string), rows[0][1].(string)
		if src != t.SourceID || tbl != t.SourceTable {
			return fmt.Errorf("%w: replica table %q is filled by %s/%s already; give %s/%s another dest",
				litepull.ErrSchemaConflict, t.Dest, src, tbl, t.SourceID, t.SourceTable)
		}
		return nil
	}
	have, err := r.columnsOf(t.Dest)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		return nil
	}
	// A table the seed's plugin filled, recorded in its state table, is
	// adopted as the seed's state is.
	_, seed, err := sqlitex.QueryAll(c, "SELECT 1 FROM "+StateTable+" WHERE source_id = ? AND table_name = ? AND dest_table IS NULL", t.SourceID, t.SourceTable)
	if err != nil || len(seed) > 0 {
		return err
	}
	return fmt.Errorf("%w: the replica file has a table %q that litepull did not make; give %s/%s another dest (or drop that table)",
		litepull.ErrSchemaConflict, t.Dest, t.SourceID, t.SourceTable)
}

func createTable(t *litepull.Target) string {
	var defs []string
	for _, col := range t.Columns {
		typ, _ := sqliteType(col.Affinity)
		defs = append(defs, strings.TrimSpace(quote(col.Name)+" "+typ))
	}
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = quote(k)
	}
	return fmt.Sprintf("CREATE TABLE %s (%s, PRIMARY KEY (%s))", quote(t.Dest), strings.Join(defs, ", "), strings.Join(pk, ", "))
}

func alterTable(c *sqlite3.Conn, t *litepull.Target, have map[string]int) error {
	alters, err := AddColumnSQL(t, have)
	if err != nil {
		return err
	}
	for _, q := range alters {
		if err := c.Exec(q); err != nil {
			return fmt.Errorf("add a column to %s: %w", t.Dest, err)
		}
	}
	return nil
}

func recordColumns(c *sqlite3.Conn, t *litepull.Target) error {
	stmt, _, err := c.Prepare(ColumnsUpsertSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	names := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		names[i] = col.Name
	}
	enc, err := json.Marshal(names)
	if err != nil {
		return err
	}
	// Columns the table no longer has (dropped at the source) go, and so do
	// rows recorded under another spelling of its name (Users, users).
	if err := sqlitex.Exec(c, StaleColumnsSQL, t.Dest, string(enc), t.Dest); err != nil {
		return err
	}
	for i := range t.Columns {
		if err := sqlitex.BindAll(stmt, ColumnValues(t, i)...); err != nil {
			return err
		}
		if err := stmt.Exec(); err != nil {
			return err
		}
	}
	return nil
}
