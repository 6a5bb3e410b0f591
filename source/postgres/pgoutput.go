package postgres

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pglogrepl"

	"github.com/litepull/litepull"
)

// decode turns one pgoutput message into an event, if it makes one: Type,
// Origin and Message messages do not.
func (st *stream) decode(ctx context.Context, wal []byte) (ev litepull.ChangeEvent, ok bool, err error) {
	defer func() {
		// pglogrepl's decoders index the message without bounds checks: a
		// malformed one is an error, not a crash.
		if r := recover(); r != nil {
			ev, ok, err = litepull.ChangeEvent{}, false, fmt.Errorf("change stream: malformed pgoutput message: %v", r)
		}
	}()
	msg, err := pglogrepl.Parse(wal)
	if err != nil {
		return ev, false, fmt.Errorf("change stream: pgoutput message %q: %w", wal[0], err)
	}
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		st.inTxn = true
		return litepull.ChangeEvent{Kind: litepull.ChangeBegin, Position: position(m.FinalLSN), Time: m.CommitTime}, true, nil
	case *pglogrepl.CommitMessage:
		st.inTxn = false
		st.pos = max(st.pos, m.TransactionEndLSN)
		return litepull.ChangeEvent{Kind: litepull.ChangeCommit, Position: position(m.TransactionEndLSN), Time: m.CommitTime}, true, nil
	case *pglogrepl.RelationMessage:
		return st.relation(ctx, m)
	case *pglogrepl.InsertMessage:
		return st.row(litepull.ChangeInsert, m.RelationID, m.Tuple, nil, 0)
	case *pglogrepl.UpdateMessage:
		return st.row(litepull.ChangeUpdate, m.RelationID, m.NewTuple, m.OldTuple, m.OldTupleType)
	case *pglogrepl.DeleteMessage:
		if m.OldTuple == nil {
			return ev, false, fmt.Errorf("change stream: a delete without its row's key (relation %d)", m.RelationID)
		}
		return st.row(litepull.ChangeDelete, m.RelationID, nil, m.OldTuple, m.OldTupleType)
	case *pglogrepl.TruncateMessage:
		return st.truncate(m)
	}
	return ev, false, nil
}

// relation is a table as the stream's last Relation message describes it.
type relation struct {
	ignored bool     // a table the stream does not follow
	table   string   // as configured
	columns []string // in the stream's order
	codecs  []codec
	key     []int // the key's columns, as indexes into columns
	schema  *litepull.TableSchema
}

// relation records a table's columns and returns a ChangeRelation, unless
// they are what the stream last said (pgoutput repeats a Relation after
// any invalidation of the table's cache entry: a VACUUM, say). Tables are
// known by oid, so a table renamed at the source streams on. A table the
// stream does not follow (the publication held it when the change was
// made: a table taken out of the config since, or dropped) is ignored,
// its rows with it.
func (st *stream) relation(ctx context.Context, m *pglogrepl.RelationMessage) (litepull.ChangeEvent, bool, error) {
	table, ok := st.tables[m.RelationID]
	if !ok {
		st.rels[m.RelationID] = &relation{ignored: true}
		return litepull.ChangeEvent{}, false, nil
	}
	rel, err := st.src.describeRelation(ctx, table, m)
	if err != nil {
		return litepull.ChangeEvent{}, false, fmt.Errorf("change stream: describe %s: %w", table, err)
	}
	old := st.rels[m.RelationID]
	st.rels[m.RelationID] = rel
	if old != nil && old.table == rel.table && sameShape(old.schema, rel.schema) {
		return litepull.ChangeEvent{}, false, nil
	}
	return litepull.ChangeEvent{Kind: litepull.ChangeRelation, Table: table, Columns: rel.columns, Schema: rel.schema}, true, nil
}

func sameShape(a, b *litepull.TableSchema) bool {
	return slices.Equal(a.Columns, b.Columns) && slices.Equal(a.PrimaryKey, b.PrimaryKey)
}

// row makes a row change's event from its tuples, decoded by the
// relation's codecs. oldType is 'K' for an old key, 'O' for an old row.
func (st *stream) row(kind litepull.ChangeKind, id uint32, newT, oldT *pglogrepl.TupleData, oldType uint8) (litepull.ChangeEvent, bool, error) {
	rel := st.rels[id]
	if rel == nil {
		return litepull.ChangeEvent{}, false, fmt.Errorf("change stream: a row of relation %d before its description", id)
	}
	if rel.ignored {
		return litepull.ChangeEvent{}, false, nil
	}
	// A value that cannot be decoded fails its table alone: the stream,
	// which holds the change until the slot moves past it, goes on.
	row, err := rel.values(newT)
	if err != nil {
		return litepull.ChangeEvent{Kind: kind, Table: rel.table, Columns: rel.columns, Err: err}, true, nil
	}
	old, err := rel.values(oldT)
	if err != nil {
		return litepull.ChangeEvent{Kind: kind, Table: rel.table, Columns: rel.columns, Err: err}, true, nil
	}
	if kind == litepull.ChangeUpdate {
		rel.fillUnchanged(row, old, oldType == pglogrepl.UpdateMessageTupleTypeOld)
	}
	return litepull.ChangeEvent{Kind: kind, Table: rel.table, Columns: rel.columns, Row: row, Old: old}, true, nil
}

// values decodes a tuple: a NULL is nil, an unchanged TOAST value Keep{}.
func (r *relation) values(t *pglogrepl.TupleData) ([]litepull.Value, error) {
	if t == nil {
		return nil, nil
	}
	if len(t.Columns) != len(r.codecs) {
		return nil, fmt.Errorf("change stream: a row of %s with %d values for %d columns", r.table, len(t.Columns), len(r.codecs))
	}
	row := make([]litepull.Value, len(t.Columns))
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
		case pglogrepl.TupleDataTypeToast:
			row[i] = litepull.Keep{}
		case pglogrepl.TupleDataTypeText:
			v, err := r.codecs[i].textValue(c.Data)
			if err != nil {
				return nil, fmt.Errorf("change stream: column %s of %s: %w", r.columns[i], r.table, err)
			}
			row[i] = v
		default:
			return nil, fmt.Errorf("change stream: column %s of %s: value of kind %q, want text", r.columns[i], r.table, c.DataType)
		}
	}
	return row, nil
}

// fillUnchanged resolves the values an update did not send (TOAST values
// it left alone): from the old row when the source sent it whole; else
// Keep, reading the replica's row at the old key when the update moved
// the row to a new key.
func (r *relation) fillUnchanged(row, old []litepull.Value, whole bool) {
	var from []litepull.Value
	if old != nil && r.keyMoved(old, row) {
		from = make([]litepull.Value, len(r.key))
		for i, k := range r.key {
			from[i] = old[k]
		}
	}
	for i, v := range row {
		if _, ok := v.(litepull.Keep); !ok {
			continue
		}
		if whole {
			if _, kept := old[i].(litepull.Keep); !kept {
				row[i] = old[i]
				continue
			}
		}
		row[i] = litepull.Keep{From: from}
	}
}

// keyMoved reports whether an update's old and new rows differ in a key
// column. A key value either row does not carry is unchanged.
func (r *relation) keyMoved(old, row []litepull.Value) bool {
	for _, k := range r.key {
		_, newKept := row[k].(litepull.Keep)
		_, oldKept := old[k].(litepull.Keep)
		if !newKept && !oldKept && !sameValue(old[k], row[k]) {
			return true
		}
	}
	return false
}

// sameValue compares two decoded values: []byte by content, others (nil,
// int64, float64, string) by ==.
func sameValue(a, b litepull.Value) bool {
	x, aBytes := a.([]byte)
	y, bBytes := b.([]byte)
	if aBytes || bBytes {
		return aBytes && bBytes && bytes.Equal(x, y)
	}
	return a == b
}

// truncate names the tables a Truncate message empties.
func (st *stream) truncate(m *pglogrepl.TruncateMessage) (litepull.ChangeEvent, bool, error) {
	tables := make([]string, 0, len(m.RelationIDs))
	for _, id := range m.RelationIDs {
		rel := st.rels[id]
		if rel == nil {
			return litepull.ChangeEvent{}, false, fmt.Errorf("change stream: a truncate of relation %d before its description", id)
		}
		if !rel.ignored {
			tables = append(tables, rel.table)
		}
	}
	return litepull.ChangeEvent{Kind: litepull.ChangeTruncate, Tables: tables}, len(tables) > 0, nil
}
