package litepull

import (
	"context"
	"time"
)

// Target is a destination table in the replica and what fills it.
type Target struct {
	SourceID    string
	SourceTable string
	Dest        string
	Columns     []Column // in the order rows carry their values
	PrimaryKey  []string
}

// State is one row of tmp_replication_state: where a table's replication
// stands. The first seven fields are the seed's columns.
type State struct {
	SourceID       string    `json:"sourceId"`
	Table          string    `json:"table"`
	CursorColumn   string    `json:"cursorColumn"`
	CursorValue    string    `json:"cursorValue"` // human-readable form of Watermark.Cursor
	LastRun        time.Time `json:"lastRunTs"`
	LastRowsPulled int64     `json:"lastRowsPulled"`
	LastError      string    `json:"lastError"`

	Dest           string     `json:"dest"`
	Watermark      *Watermark `json:"-"`
	RowsTotal      int64      `json:"rowsTotal"`
	NullCursorRows int64      `json:"nullCursorRows"` // -1: not counted yet
	LastSuccess    time.Time  `json:"lastSuccessTs"`
	ErrorCount     int64      `json:"errorCount"` // consecutive failed runs
}

// Replica is the SQLite sink. It has one writer; implementations serialize
// calls.
type Replica interface {
	// EnsureTable creates the destination table, adds columns the source has
	// grown, and records the column metadata.
	EnsureTable(ctx context.Context, t *Target) error
	// State returns a table's state; a table never run has a zero State with
	// NullCursorRows -1.
	State(ctx context.Context, sourceID, table string) (State, error)
	// States lists every state row, ordered by source and table.
	States(ctx context.Context) ([]State, error)
	// CommitPage upserts rows into t.Dest and writes st, in one transaction.
	CommitPage(ctx context.Context, t *Target, rows [][]Value, st State) error
	// SaveState writes st alone (errors, counts).
	SaveState(ctx context.Context, st State) error
	// ResetState forgets a table's watermark.
	ResetState(ctx context.Context, sourceID, table string) error
}
