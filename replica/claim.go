package replica

import (
	"fmt"
	"sort"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// ApplicationID marks a SQLite file as a litepull replica ("LPUL" in the
// database header's application_id field). litepull writes only into files
// that carry it, or that it may adopt.
const ApplicationID = 0x4c50554c

// claim checks that the file is one litepull may write into and marks it:
// a new or empty file, a file already marked, an unmarked replica made by
// an older litepull (it has litepull's column metadata table), or a file
// holding the seed's state table in exactly the seed's shape. Anything else
// is someone else's database: altering it would damage their data.
func (r *Replica) claim() error {
	_, rows, err := sqlitex.QueryAll(r.conn, "PRAGMA application_id")
	if err != nil {
		return err
	}
	switch id := rows[0][0].(int64); id {
	case ApplicationID:
		return nil
	case 0:
	default:
		return fmt.Errorf("%w: %s belongs to another application (application_id %#x); point replica: at a new file",
			litepull.ErrNotReplica, r.path, id)
	}
	_, rows, err = sqlitex.QueryAll(r.conn, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
	if err != nil {
		return err
	}
	tables := map[string]bool{}
	for _, row := range rows {
		tables[strings.ToLower(row[0].(string))] = true
	}
	if err := r.adoptable(tables); err != nil {
		return err
	}
	return r.conn.Exec(fmt.Sprintf("PRAGMA application_id = %d", ApplicationID))
}

// adoptable says why an unmarked file with these tables is not a replica.
func (r *Replica) adoptable(tables map[string]bool) error {
	if len(tables) == 0 {
		return nil // new
	}
	if tables[StreamsTable] {
		// Never made by a litepull that did not mark its files: a table of
		// that name is adopted only in exactly litepull's shape, or stream
		// states would be written into someone else's table.
		have, err := r.columnsOf(StreamsTable)
		if err != nil {
			return err
		}
		if len(have) != len(streamsColumns) || !hasAll(have, streamsColumns) || have["source_id"] != 1 {
			return fmt.Errorf("%w: %s has a %s table that litepull did not make (it has columns %s); point replica: at a new file",
				litepull.ErrNotReplica, r.path, StreamsTable, sortedKeys(have))
		}
	}
	if tables[ColumnsTable] {
		// Made by a litepull that did not mark its files: its two tables
		// have exactly litepull's columns.
		return r.ownTables(tables)
	}
	if tables[StateTable] {
		have, err := r.columnsOf(StateTable)
		if err != nil {
			return err
		}
		if len(have) == len(seedColumns) && hasAll(have, seedColumns) && have["source_id"] == 1 && have["table_name"] == 2 {
			return nil // the seed's own state table, keyed as the seed keys it: adopt it
		}
		return fmt.Errorf("%w: %s has a %s table that is not the seed's (it has columns %s); point replica: at a new file",
			litepull.ErrNotReplica, r.path, StateTable, sortedKeys(have))
	}
	return fmt.Errorf("%w: %s is a SQLite database that litepull did not create (tables: %s); point replica: at a new file",
		litepull.ErrNotReplica, r.path, sortedKeys(tables))
}

// ownTables checks that an unmarked file's litepull_columns and state
// table are litepull's own: a table of another application that happens
// to share a name is not adopted.
func (r *Replica) ownTables(tables map[string]bool) error {
	cols, err := r.columnsOf(ColumnsTable)
	if err != nil {
		return err
	}
	state, err := r.columnsOf(StateTable)
	if err != nil {
		return err
	}
	var stateNames []string
	for _, c := range stateColumns {
		stateNames = append(stateNames, c.name)
	}
	ok := tables[StateTable] && hasAll(cols, columnsColumns[:8]) && len(cols) <= len(columnsColumns) && hasAllOf(columnsColumns, cols) &&
		hasAll(state, seedColumns) && len(state) <= len(stateNames) && hasAllOf(stateNames, state)
	if !ok {
		return fmt.Errorf("%w: %s has tables named like litepull's (%s, %s) that litepull did not make; point replica: at a new file",
			litepull.ErrNotReplica, r.path, ColumnsTable, StateTable)
	}
	return nil
}

// columnsColumns are the columns of litepull_columns.
var columnsColumns = []string{"dest_table", "column_name", "source_id", "source_table", "source_type", "sqlite_type", "ordinal", "is_pk", "source_position"}

// streamsColumns are the columns of litepull_streams.
var streamsColumns = []string{"source_id", "slot", "position", "commit_ts", "applied_ts"}

// hasAllOf reports whether every key of m is one of names.
func hasAllOf[V any](names []string, m map[string]V) bool {
	for k := range m {
		found := false
		for _, n := range names {
			found = found || n == k
		}
		if !found {
			return false
		}
	}
	return true
}

// seedColumns are the columns of the seed's state table.
var seedColumns = func() []string {
	var names []string
	for _, c := range stateColumns[:7] {
		names = append(names, c.name)
	}
	return names
}()

func hasAll[V any](m map[string]V, names []string) bool {
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], "…")
	}
	return strings.Join(names, ", ")
}
