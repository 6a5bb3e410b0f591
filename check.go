package litepull

import (
	"context"
	"errors"
)

// TableCheck is the outcome of checking one table without reading it.
type TableCheck struct {
	SourceID string   `json:"sourceId"`
	Table    string   `json:"table"`
	Dest     string   `json:"dest,omitempty"`
	Cursor   string   `json:"cursorColumn,omitempty"`
	PK       []string `json:"primaryKey,omitempty"`
	Columns  int      `json:"columns"`
	Full     bool     `json:"full,omitempty"` // copied whole each run
	Skipped  string   `json:"skipped,omitempty"`
	Note     string   `json:"note,omitempty"`
	Error    string   `json:"error,omitempty"`
	// Warnings are problems that do not stop the table but may cost rows.
	Warnings []string `json:"warnings,omitempty"`
}

// Check connects to every source, discovers or describes every table, and
// resolves its cursor, key and columns, reading no rows. It reports what a
// run would do and every problem found, per table.
func (e *Engine) Check(ctx context.Context) []TableCheck {
	var out []TableCheck
	dests := destClaims{}
	for _, bs := range e.sources {
		if err := bs.Source.Ping(ctx); err != nil {
			msg := "connect: " + err.Error()
			if errors.Is(err, ErrTimeout) {
				msg = WithTable(err, "").Error() // says what it was doing itself
			}
			// Listed tables are named, each with the error; a source left
			// to discovery has only "*" to show.
			names := []string{"*"}
			if len(bs.Config.Tables) > 0 {
				names = names[:0]
				for _, tc := range bs.Config.Tables {
					names = append(names, tc.Table)
				}
			}
			for _, n := range names {
				out = append(out, TableCheck{SourceID: bs.Config.ID, Table: n, Error: msg})
			}
			continue
		}
		tables, skipped, err := e.Tables(ctx, bs)
		if err != nil {
			out = append(out, TableCheck{SourceID: bs.Config.ID, Table: "*", Error: err.Error()})
			continue
		}
		for _, s := range skipped {
			out = append(out, TableCheck{SourceID: s.SourceID, Table: s.Table, Skipped: s.Skipped})
		}
		if c, ok := e.checkChanges(ctx, bs, tables); !ok {
			out = append(out, c)
		}
		for _, tc := range tables {
			c := TableCheck{SourceID: bs.Config.ID, Table: tc.Table, Dest: tc.DestName()}
			if err := dests.claim(bs.Config.ID, tc); err != nil {
				c.Error = err.Error()
			} else if p, err := e.plan(ctx, bs, tc); err != nil {
				c.Error = WithTable(err, tc.Table).Error()
			} else if err := e.replica.CheckTarget(ctx, p.target); err != nil {
				c.Error = err.Error()
			} else {
				c.Cursor, c.PK, c.Columns, c.Full, c.Note, c.Warnings = p.cursor, p.pk, len(p.columns), p.full, p.note, p.warnings
				if bs.Config.Streams() {
					c.Full, c.Note = false, "streamed (changes: "+string(bs.Config.Changes)+"): copied once from a snapshot, then every change"
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// checkChanges checks, for a source with changes: logical, that its
// server can stream the tables (ChangeChecker), creating nothing; a
// problem is reported against the whole source ("*").
func (e *Engine) checkChanges(ctx context.Context, bs BoundSource, tables []TableConfig) (TableCheck, bool) {
	cc, ok := bs.Source.(ChangeChecker)
	if !bs.Config.Streams() || !ok {
		return TableCheck{}, true
	}
	names := make([]string, len(tables))
	for i, tc := range tables {
		names[i] = tc.Table
	}
	if err := cc.CheckChanges(ctx, bs.Config.ChangeOptions(names)); err != nil {
		return TableCheck{SourceID: bs.Config.ID, Table: "*", Error: "change stream: " + err.Error()}, false
	}
	return TableCheck{}, true
}
