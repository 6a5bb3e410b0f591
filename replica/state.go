package replica

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

const timeLayout = time.RFC3339Nano

func stateColumnList() string {
	names := make([]string, len(stateColumns))
	for i, c := range stateColumns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func (r *Replica) saveState(c *sqlite3.Conn, st litepull.State) error {
	if r.state == nil {
		marks := make([]string, len(stateColumns))
		for i := range marks {
			marks[i] = "?"
		}
		s, _, err := c.Prepare(StateUpsertSQL(marks))
		if err != nil {
			return err
		}
		r.state = s
	}
	vals, err := StateValues(st)
	if err != nil {
		return err
	}
	s := r.state
	for i, v := range vals {
		if err := sqlitex.Bind(s, i+1, v); err != nil {
			return err
		}
	}
	if err := s.Exec(); err != nil {
		return fmt.Errorf("save state of %s/%s: %w", st.SourceID, st.Table, err)
	}
	return nil
}

func nullIfEmpty(s string) any { return nullIfEmptyOr(s, false) }

func nullIfEmptyOr(s string, null bool) any {
	if s == "" || null {
		return nil
	}
	return s
}

func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// State returns the state of one table; a table never run has a zero State
// with NullCursorRows -1.
func (r *Replica) State(ctx context.Context, sourceID, table string) (litepull.State, error) {
	var out []litepull.State
	err := r.locked(ctx, func(c *sqlite3.Conn) (err error) {
		out, err = readStates(c, "WHERE source_id = ? AND table_name = ?", sourceID, table)
		return err
	})
	if err != nil || len(out) == 0 {
		return litepull.State{SourceID: sourceID, Table: table, NullCursorRows: -1}, err
	}
	return out[0], nil
}

// States lists every table's state, by source and table.
func (r *Replica) States(ctx context.Context) ([]litepull.State, error) {
	var out []litepull.State
	err := r.locked(ctx, func(c *sqlite3.Conn) (err error) {
		out, err = readStates(c, "ORDER BY source_id, table_name")
		return err
	})
	return out, err
}

// ResetState forgets a table's watermark and counters, so the next run
// re-reads it from the start. Replicated rows stay.
func (r *Replica) ResetState(ctx context.Context, sourceID, table string) error {
	return r.locked(ctx, func(c *sqlite3.Conn) error {
		s, _, err := c.Prepare("DELETE FROM " + StateTable + " WHERE source_id = ? AND table_name = ?")
		if err != nil {
			return err
		}
		defer s.Close()
		if err := sqlitex.BindAll(s, sourceID, table); err != nil {
			return err
		}
		return s.Exec()
	})
}

func readStates(c *sqlite3.Conn, where string, args ...string) ([]litepull.State, error) {
	s, _, err := c.Prepare("SELECT " + stateColumnList() + " FROM " + StateTable + " " + where)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for i, a := range args {
		if err := s.BindText(i+1, a); err != nil {
			return nil, err
		}
	}
	var out []litepull.State
	for s.Step() {
		st := litepull.State{
			SourceID:       s.ColumnText(0),
			Table:          s.ColumnText(1),
			CursorColumn:   s.ColumnText(2),
			CursorValue:    s.ColumnText(3),
			LastRun:        parseTime(s.ColumnText(4)),
			LastRowsPulled: s.ColumnInt64(5),
			LastError:      s.ColumnText(6),
			Dest:           s.ColumnText(7),
			RowsTotal:      s.ColumnInt64(9),
			NullCursorRows: s.ColumnInt64(10),
			LastSuccess:    parseTime(s.ColumnText(11)),
			ErrorCount:     s.ColumnInt64(12),

			LastFullRefresh: parseTime(s.ColumnText(13)),
			LastReconcile:   parseTime(s.ColumnText(14)),
			RowsDeleted:     s.ColumnInt64(15),
			CursorAhead:     s.ColumnText(16),
		}
		if err := decodeWatermark(&st, s.ColumnText(8)); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, s.Err()
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}
