package mysql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/litepull/litepull"
)

// shown is the shape of a table the stream last said (ChangeRelation).
type shown int

const (
	shownNothing   shown = iota
	shownDescribed       // the table as described
	shownBinlog          // the binlog's own shape, which the description does not fit
)

// binlogTable is a streamed table: its binlog rows are read by position
// (the binlog names no columns unless binlog_row_metadata = FULL) against
// its description.
type binlogTable struct {
	name   string // as configured
	schema string // as the server names it
	table  string
	ts     *litepull.TableSchema // nil when the table is gone
	names  []string
	cols   []column
	shown  shown
}

// describe describes t afresh: a table that is gone has no columns.
func (st *binlogStream) describe(ctx context.Context, t *binlogTable) error {
	ts, err := st.src.Describe(ctx, t.name)
	if errors.Is(err, litepull.ErrNoTable) {
		t.ts, t.names, t.cols, t.shown = nil, nil, nil, shownNothing
		return nil
	}
	if err != nil {
		return err
	}
	h := ts.Handle.(*handle)
	t.ts, t.names, t.cols, t.shown = ts, make([]string, len(ts.Columns)), make([]column, len(ts.Columns)), shownNothing
	for i, c := range ts.Columns {
		t.names[i], t.cols[i] = c.Name, h.columns[c.Name]
	}
	return nil
}

// relation says the table's shape as described (none, for a table gone).
func (t *binlogTable) relation() litepull.ChangeEvent {
	t.shown = shownDescribed
	schema := t.ts
	if schema == nil {
		schema = &litepull.TableSchema{Name: t.name}
	}
	return litepull.ChangeEvent{Kind: litepull.ChangeRelation, Table: t.name, Columns: t.names, Schema: schema}
}

// recopy says the table has a shape of no columns, which no replica table
// has: its copy is stale, and it is copied again.
func (t *binlogTable) recopy() litepull.ChangeEvent {
	t.shown = shownNothing
	return litepull.ChangeEvent{Kind: litepull.ChangeRelation, Table: t.name, Schema: &litepull.TableSchema{Name: t.name}}
}

// rows turns a row event of a streamed table into inserts, updates or
// deletes.
func (st *binlogStream) rows(e *replication.RowsEvent) error {
	t := st.tables[tableKey(string(e.Table.Schema), string(e.Table.Table), st.server.foldCase)]
	if t == nil {
		return nil
	}
	if !st.inGroup {
		return fmt.Errorf("rows of %s outside a transaction", t.name)
	}
	kind := map[replication.EnumRowsEventType]litepull.ChangeKind{replication.EnumRowsEventTypeInsert: litepull.ChangeInsert,
		replication.EnumRowsEventTypeUpdate: litepull.ChangeUpdate, replication.EnumRowsEventTypeDelete: litepull.ChangeDelete}[e.Type()]
	if kind == 0 {
		return fmt.Errorf("a row event of %s that is not an insert, update or delete (a partial JSON update? set binlog_row_value_options = '')", t.name)
	}
	if !t.fits(e.Table) {
		st.misfit(t, e, kind)
		return nil
	}
	if t.shown != shownDescribed {
		st.emit(t.relation())
	}
	step := 1
	if kind == litepull.ChangeUpdate {
		step = 2
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		ev := litepull.ChangeEvent{Kind: kind, Table: t.name, Columns: t.names}
		image, err := t.values(e.Rows[i], e.SkippedColumns[i], kind == litepull.ChangeInsert)
		if err != nil {
			return err
		}
		switch kind {
		case litepull.ChangeInsert:
			ev.Row = image
		case litepull.ChangeDelete:
			ev.Old = image
		default:
			// The whole old row, always: the engine tells a moved key by its
			// own key (primaryKey may be any columns that hold a unique key).
			ev.Old = image
			if ev.Row, err = t.values(e.Rows[i+1], e.SkippedColumns[i+1], true); err != nil {
				return err
			}
		}
		st.emit(ev)
	}
	return nil
}

// values converts one row image as the polling path converts its values.
// A column the image left out (a session with binlog_row_image other than
// FULL) is Keep in a new row, where the replica keeps its value, and
// unknown (nil) in an old one.
func (t *binlogTable) values(row []any, skipped []int, after bool) ([]litepull.Value, error) {
	out := make([]litepull.Value, len(t.cols))
	for i, v := range row {
		if v == nil {
			continue
		}
		x, err := t.cols[i].binlogValue(v)
		if err != nil {
			return nil, fmt.Errorf("column %s of %s: %w", t.names[i], t.name, err)
		}
		out[i] = x
	}
	for _, i := range skipped {
		out[i] = nil
		if after {
			out[i] = litepull.Keep{}
		}
	}
	return out, nil
}

// misfit passes on rows whose table map the description does not fit (a
// row logged before a change of the table's definition that the
// description already has): the stream says the binlog's shape, which
// makes the replica copy the table again, and sends the rows under
// columns no replica table has, @1, @2 ...: rows the copy holds already
// are skipped, and any other fails the table loudly instead of being
// applied to the wrong columns.
func (st *binlogStream) misfit(t *binlogTable, e *replication.RowsEvent, kind litepull.ChangeKind) {
	tm := e.Table
	names := make([]string, tm.ColumnCount)
	schema := &litepull.TableSchema{Name: t.name}
	for i := range names {
		names[i] = "@" + strconv.Itoa(i+1)
		schema.Columns = append(schema.Columns, litepull.Column{Name: names[i], SourceType: "binlog type " + strconv.Itoa(int(tm.ColumnType[i]))})
	}
	if t.shown != shownBinlog {
		warn("the binlog's rows of a streamed table do not fit its description (logged before a change of its definition): copying it again",
			litepull.LogKeyTable, t.name, "binlogColumns", len(names), "describedColumns", len(t.names))
		st.emit(litepull.ChangeEvent{Kind: litepull.ChangeRelation, Table: t.name, Columns: names, Schema: schema})
		t.shown = shownBinlog
	}
	n := len(e.Rows)
	if kind == litepull.ChangeUpdate {
		n /= 2
	}
	for range n {
		blank := make([]litepull.Value, len(names))
		ev := litepull.ChangeEvent{Kind: kind, Table: t.name, Columns: names, Row: blank}
		if kind != litepull.ChangeInsert {
			ev.Old = make([]litepull.Value, len(names))
		}
		if kind == litepull.ChangeDelete {
			ev.Row = nil
		}
		st.emit(ev)
	}
}

// fits reports whether a table map has the described table's columns: as
// many, of the types the described ones are logged as, and of the same
// names where the binlog names them (binlog_row_metadata = FULL).
func (t *binlogTable) fits(tm *replication.TableMapEvent) bool {
	if int(tm.ColumnCount) != len(t.cols) || len(tm.ColumnType) != len(t.cols) {
		return false
	}
	names := tm.ColumnNameString()
	for i, c := range t.cols {
		if len(names) == len(t.cols) && !strings.EqualFold(names[i], t.names[i]) {
			return false
		}
		if !loggedAs(c.columnType, tm.ColumnType[i]) {
			return false
		}
	}
	return true
}

// loggedAs reports whether a column of type columnType (COLUMN_TYPE) may
// be logged with binlog type tp. Types litepull does not know fit any.
func loggedAs(columnType string, tp byte) bool {
	base := columnType
	if i := strings.IndexAny(base, "( "); i >= 0 {
		base = base[:i]
	}
	var want []byte
	switch base {
	case "tinyint":
		want = []byte{gomysql.MYSQL_TYPE_TINY}
	case "smallint":
		want = []byte{gomysql.MYSQL_TYPE_SHORT}
	case "mediumint":
		want = []byte{gomysql.MYSQL_TYPE_INT24}
	case "int", "integer":
		want = []byte{gomysql.MYSQL_TYPE_LONG}
	case "bigint":
		want = []byte{gomysql.MYSQL_TYPE_LONGLONG}
	case "year":
		want = []byte{gomysql.MYSQL_TYPE_YEAR}
	case "float":
		want = []byte{gomysql.MYSQL_TYPE_FLOAT}
	case "double", "real":
		want = []byte{gomysql.MYSQL_TYPE_DOUBLE}
	case "decimal", "numeric":
		want = []byte{gomysql.MYSQL_TYPE_NEWDECIMAL, gomysql.MYSQL_TYPE_DECIMAL}
	case "bit":
		want = []byte{gomysql.MYSQL_TYPE_BIT}
	case "date":
		want = []byte{gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE}
	case "time":
		want = []byte{gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2}
	case "datetime":
		want = []byte{gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2}
	case "timestamp":
		want = []byte{gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2}
	case "char", "binary", "enum", "set":
		want = []byte{gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET}
	case "varchar", "varbinary":
		want = []byte{gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING}
	case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "json":
		want = []byte{gomysql.MYSQL_TYPE_BLOB, gomysql.MYSQL_TYPE_TINY_BLOB, gomysql.MYSQL_TYPE_MEDIUM_BLOB,
			gomysql.MYSQL_TYPE_LONG_BLOB, gomysql.MYSQL_TYPE_JSON}
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		want = []byte{gomysql.MYSQL_TYPE_GEOMETRY}
	default:
		return true
	}
	for _, w := range want {
		if tp == w {
			return true
		}
	}
	return false
}
