// Package catalog assembles primary keys from the rows of a database's
// catalog, the same way for every source.
package catalog

import "github.com/litepull/litepull"

// Key collects a primary key's columns by their 1-based position in it,
// in whatever order the catalog lists the columns.
type Key map[int64]string

// Add records col at position pos in the key; pos 0 or less means col is
// not in the key.
func (k Key) Add(pos int64, col string) {
	if pos > 0 {
		k[pos] = col
	}
}

// Columns is the key's columns in position order: the TableSchema's
// PrimaryKey, nil when there is no key.
func (k Key) Columns() []string {
	var out []string
	for i := int64(1); i <= int64(len(k)); i++ {
		out = append(out, k[i])
	}
	return out
}

// AddKeyColumn adds one row of a listing of tables with their primary keys,
// ordered by table then by position in the key: the table's name and, when
// hasCol, the next column of its key. A table without a key is one row
// without a column.
func AddKeyColumn(tables []litepull.TableInfo, name, col string, hasCol bool) []litepull.TableInfo {
	if len(tables) == 0 || tables[len(tables)-1].Name != name {
		tables = append(tables, litepull.TableInfo{Name: name})
	}
	if hasCol {
		t := &tables[len(tables)-1]
		t.PrimaryKey = append(t.PrimaryKey, col)
	}
	return tables
}
