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
	if len(tables) == 0 || tables[ColumnsTable] {
		return nil // new, or made by a litepull that did not mark its files
	}
	if tables[StateTable] {
		have, err := r.columnsOf(StateTable)
		if err != nil {
			return err
		}
		if len(have) == len(seedColumns) && hasAll(have, seedColumns) {
			return nil // the seed's own state table: adopt it
		}
		return fmt.Errorf("%w: %s has a %s table that is not the seed's (it has columns %s); point replica: at a new file",
			litepull.ErrNotReplica, r.path, StateTable, sortedKeys(have))
	}
	return fmt.Errorf("%w: %s is a SQLite database that litepull did not create (tables: %s); point replica: at a new file",
		litepull.ErrNotReplica, r.path, sortedKeys(tables))
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
