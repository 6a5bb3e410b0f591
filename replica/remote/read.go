package remote

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
	"github.com/litepull/litepull/internal/keyset"
	svc "github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/sqlitedialect"
	"github.com/litepull/litepull/replica"
)

// textSelect selects cols as text under unique aliases (StarbaseDB
// collapses duplicate names and reorders integer-like ones).
func textSelect(cols []string) string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = fmt.Sprintf("CAST(%s AS TEXT) AS c%d", c, i)
	}
	return strings.Join(sel, ", ")
}

func texts(row []any) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = text(v)
	}
	return out
}

// State returns a table's state; a table never run has a zero State with
// NullCursorRows -1.
func (r *Replica) State(ctx context.Context, sourceID, table string) (litepull.State, error) {
	out, err := r.states(ctx, "WHERE source_id = ? AND table_name = ?", sourceID, table)
	if err != nil || len(out) == 0 {
		return litepull.State{SourceID: sourceID, Table: table, NullCursorRows: -1}, err
	}
	return out[0], nil
}

// States lists every state row, by source and table.
func (r *Replica) States(ctx context.Context) ([]litepull.State, error) {
	return r.states(ctx, "ORDER BY source_id, table_name")
}

func (r *Replica) states(ctx context.Context, where string, args ...any) ([]litepull.State, error) {
	rows, err := r.query(ctx, "SELECT "+textSelect(replica.StateColumns())+" FROM "+replica.StateTable+" "+where, args)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	out := make([]litepull.State, 0, len(rows))
	for _, row := range rows {
		st, err := replica.StateFromText(texts(row))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// StreamStates lists where each source's change stream stands.
func (r *Replica) StreamStates(ctx context.Context) ([]litepull.StreamState, error) {
	rows, err := r.query(ctx, "SELECT "+textSelect([]string{"source_id", "slot", "position", "commit_ts", "applied_ts"})+
		" FROM "+replica.StreamsTable+" ORDER BY source_id", nil)
	if err != nil {
		return nil, fmt.Errorf("read stream states: %w", err)
	}
	var out []litepull.StreamState
	for _, row := range rows {
		c := texts(row)
		out = append(out, litepull.StreamState{SourceID: c[0], Slot: c[1], Position: litepull.Position(c[2]),
			Commit: parseTime(c[3]), Applied: parseTime(c[4])})
	}
	return out, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// keysPerRead is how many keys one read of a key walk brings.
var keysPerRead = 5000

// keySelect is the select list of t's key (exact through plain JSON on a
// JSON service), then, when quoted, quote() of each key column; width is
// how many expressions the key takes, aff its columns' affinities.
func (r *Replica) keySelect(t *litepull.Target, quoted bool) (sel []string, width int, aff []litepull.Affinity) {
	aff = make([]litepull.Affinity, len(t.PrimaryKey))
	cols := make([]sqlitedialect.Selected, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		aff[i] = litepull.AffNone
		for _, c := range t.Columns {
			if c.Name == k {
				aff[i] = c.Affinity
			}
		}
		cols[i] = sqlitedialect.Selected{Quoted: replica.Quote(k), Affinity: aff[i]}
	}
	if r.kind.json {
		sel = svc.JSONSelect(cols)
	} else {
		for _, c := range cols {
			sel = append(sel, c.Quoted)
		}
	}
	width = len(sel)
	if quoted {
		for _, k := range t.PrimaryKey {
			sel = append(sel, keyhash.QuoteSQL(replica.Quote(k)))
		}
	}
	for i := range sel {
		sel[i] += fmt.Sprintf(" AS c%d", i)
	}
	return sel, width, aff
}

// walkKeys calls f with the keys of t.Dest within a range, in key order,
// a read at a time, each with the text SQLite's quote() gives its values
// when quoted is set.
func (r *Replica) walkKeys(ctx context.Context, t *litepull.Target, within *litepull.KeyRange, quoted bool, f func(key []litepull.Value, quotes []string)) error {
	sel, width, aff := r.keySelect(t, quoted)
	req := keyset.KeyOrder(&litepull.TableSchema{Name: t.Dest}, t.PrimaryKey)
	req.Limit = keysPerRead
	if within != nil && within.Through != nil {
		req.Through = &litepull.Watermark{Cursor: within.Through[0], PK: within.Through[1:]}
	}
	var after []litepull.Value
	if within != nil {
		after = within.After
	}
	for {
		q := keyset.New(sqlitedialect.Dialect)
		if r.kind.json {
			q.Bind = svc.JSONBind
		}
		req.After = nil
		if after != nil {
			req.After = &litepull.Watermark{Cursor: after[0], PK: after[1:]}
		}
		q.Keyset(req)
		rows, err := r.query(ctx, q.SQL(sel, replica.Quote(t.Dest), req), q.Args)
		if err != nil {
			return fmt.Errorf("walk keys of %s: %w", t.Dest, err)
		}
		for _, row := range rows {
			key, err := r.decodeKey(row, len(sel), width, aff)
			if err != nil {
				return fmt.Errorf("walk keys of %s: %w", t.Dest, err)
			}
			f(key, texts(row[width:]))
			after = key
		}
		if len(rows) < keysPerRead {
			return nil
		}
	}
}

// decodeKey is the key of a row of keySelect.
func (r *Replica) decodeKey(row []any, n, width int, aff []litepull.Affinity) ([]litepull.Value, error) {
	if len(row) != n {
		return nil, fmt.Errorf("row of %d values, want %d", len(row), n)
	}
	if r.kind.json {
		return svc.DecodeJSONRow(row[:width], aff)
	}
	return row[:width:width], nil
}

// KeyRanges cuts the keys of t.Dest (all, or within a range) into ranges
// of size keys, with their counts and checksums of hash, computed here
// from the replica's values as the file replica does.
func (r *Replica) KeyRanges(ctx context.Context, t *litepull.Target, size int, within *litepull.KeyRange, hash litepull.KeyHash) ([]litepull.KeyRange, []litepull.RangeStat, error) {
	cutter := replica.NewRangeCutter(size, within, hash)
	if err := r.walkKeys(ctx, t, within, hash == litepull.HashSQLite, cutter.Add); err != nil {
		return nil, nil, err
	}
	ranges, stats := cutter.Ranges()
	return ranges, stats, nil
}

// Keys returns the primary keys of t.Dest within a range, in key order.
func (r *Replica) Keys(ctx context.Context, t *litepull.Target, within litepull.KeyRange) ([][]litepull.Value, error) {
	var out [][]litepull.Value
	err := r.walkKeys(ctx, t, &within, false, func(key []litepull.Value, _ []string) { out = append(out, key) })
	return out, err
}
