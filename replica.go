package litepull

import (
	"context"
	"strings"
	"time"
)

// Target is a destination table in the replica and what fills it.
type Target struct {
	SourceID    string
	SourceTable string
	Dest        string
	Columns     []Column // in the order rows carry their values
	PrimaryKey  []string
	// SoftDelete is the column whose value marks a deleted row, or "".
	SoftDelete string
}

// SoftDeleteIndex is the position of the soft-delete column in Columns, or -1.
func (t *Target) SoftDeleteIndex() int {
	for i, c := range t.Columns {
		if t.SoftDelete != "" && c.Name == t.SoftDelete {
			return i
		}
	}
	return -1
}

// SoftDeleted reports whether a soft-delete column's value marks the row
// deleted: anything but NULL, 0, false, "" and "0".
func SoftDeleted(v Value) bool {
	switch v := v.(type) {
	case nil:
		return false
	case int64:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != "" && v != "0" && v != "false" && v != "f"
	case []byte:
		return len(v) > 0
	}
	return true
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

	LastFullRefresh time.Time `json:"lastFullRefreshTs"`
	LastReconcile   time.Time `json:"lastReconcileTs"`
	RowsDeleted     int64     `json:"rowsDeleted"` // by soft deletes and reconciliation

	// CursorAhead, when set, says that the watermark is ahead of the
	// source's clock (a far-future or 'infinity' cursor value), so rows
	// with a later real timestamp are not replicated, and how to recover.
	CursorAhead string `json:"cursorAhead,omitempty"`
}

// Replica is the SQLite sink. It has one writer; implementations serialize
// calls.
type Replica interface {
	// SchemaChange compares t with the replica table's recorded shape; an
	// absent table has none. It fails, like EnsureTable, on a name the
	// replica keeps or a table another source table fills.
	SchemaChange(ctx context.Context, t *Target) (SchemaChange, error)
	// EnsureTable creates the destination table if it is absent and records
	// the column metadata.
	EnsureTable(ctx context.Context, t *Target) error
	// CheckTarget reports, changing nothing, why t cannot be written: a
	// name the replica keeps for itself, or a replica table that another
	// source table fills.
	CheckTarget(ctx context.Context, t *Target) error
	// State returns a table's state; a table never run has a zero State with
	// NullCursorRows -1.
	State(ctx context.Context, sourceID, table string) (State, error)
	// States lists every state row, ordered by source and table.
	States(ctx context.Context) ([]State, error)
	// Apply writes a batch in one transaction: after a crash the replica
	// has all of it or none. Every mode writes through it: a page with its
	// new watermark, a reconciliation's deletes, a shadow table's rows, a
	// state on its own.
	Apply(ctx context.Context, b Batch) error
	// Begin opens a transaction that several Applies write into, for a
	// change stream's source transaction too large to hold in memory:
	// readers see all of it, once committed, or none.
	Begin(ctx context.Context) (ReplicaTx, error)
	// StreamStates lists where each source's change stream stands.
	StreamStates(ctx context.Context) ([]StreamState, error)
	// ResetState forgets a table's watermark.
	ResetState(ctx context.Context, sourceID, table string) error

	// BeginFull creates an empty shadow of t for a full refresh and returns
	// the target to write into (with Apply); SwapFull replaces t with it,
	// records t's columns and writes st in one transaction; DropShadow
	// abandons it.
	BeginFull(ctx context.Context, t *Target) (*Target, error)
	SwapFull(ctx context.Context, t, shadow *Target, st State) error
	DropShadow(ctx context.Context, shadow *Target) error

	// KeyRanges cuts the replica's keys (all, or within a range) into ranges
	// of size keys with their counts and checksums of hash; Keys lists the
	// keys of a range.
	KeyRanges(ctx context.Context, t *Target, size int, within *KeyRange, hash KeyHash) ([]KeyRange, []RangeStat, error)
	Keys(ctx context.Context, t *Target, within KeyRange) ([][]Value, error)
}

// BatchLimiter is a Replica that takes a batch in one request of bounded
// size (a remote SQLite service): BatchLimits gives the most rows, and the
// most bytes of row values, one page of t may have; 0 is no limit. The
// engine reads pages no larger, so that each commits whole in one request.
type BatchLimiter interface {
	BatchLimits(t *Target) (rows int, bytes int64)
}

// Batch is what the replica applies in one transaction: rows to upsert and
// keys to delete in one or more tables, and the states that say how far
// each table has been read. A polling page is one table's upserts and its
// new watermark; a reconciliation, deletes and a state; a change stream's
// source transaction, the changes of every table it touched and its commit
// position.
type Batch struct {
	// Swaps put filled shadow tables in place of their tables, each with
	// its table's new state (as SwapFull does), before Changes apply.
	// Only a replica that is a BatchSwapper takes them.
	Swaps []Swap
	// Changes are applied in order, each one's upserts before its deletes;
	// a producer whose operations must keep another order (a change
	// stream's delete, then insert, of one key) puts them in successive
	// entries.
	Changes []TableChanges
	States  []State
	// Stream, when set, records where the source's change stream stands.
	Stream *StreamState
	// Sync makes the commit that holds the batch durable, and every commit
	// before it, before that commit returns (SQLite's synchronous=FULL):
	// a change stream tells its source a position only once it survives a
	// power cut, since the source then recycles the WAL before it.
	Sync bool
}

// Swap is a full copy waiting to replace its table: Shadow (BeginFull),
// filled, takes Target's place, and State is the table's state then.
type Swap struct {
	Target, Shadow *Target
	State          State
}

// BatchSwapper is a Replica that applies a batch's Swaps in the batch's
// transaction: a change stream swaps in the tables it copied from one
// snapshot together, with the source transactions up to the snapshot,
// so readers never see one table ahead of another. A replica that is not
// one (a remote SQLite service) gets each copy swapped in on its own.
type BatchSwapper interface {
	Replica
	SwapsInBatch()
}

// ReplicaTx is an open replica transaction (Replica.Begin). Rollback after
// Commit does nothing.
type ReplicaTx interface {
	Apply(ctx context.Context, b Batch) error
	Commit() error
	Rollback() error
}

// TableChanges are one table's part of a batch.
type TableChanges struct {
	Target *Target
	// Truncate empties the table first.
	Truncate bool
	// Upserts are rows in Target.Columns order; a row that Target's
	// soft-delete column marks is deleted instead. A Keep value keeps the
	// replica's value of its column (see Keep); rows with one are written
	// before the others, so that they read values the batch replaces.
	Upserts [][]Value
	// Deletes are primary keys, in Target.PrimaryKey order.
	Deletes [][]Value
}

// pageBatch is one table's rows and its state.
func pageBatch(t *Target, rows [][]Value, st State) Batch {
	return Batch{Changes: []TableChanges{{Target: t, Upserts: rows}}, States: []State{st}}
}

// stateBatch is a state on its own.
func stateBatch(st State) Batch { return Batch{States: []State{st}} }

// SchemaChange is how a source table's shape differs from its replica
// table's: columns added, dropped or retyped at the source (or by a new
// projection), or another primary key. A replica table whose shape changed
// is rebuilt from a full copy, so every row holds the source's values in
// the new shape: ALTER TABLE alone would leave old rows without the new
// column's default, and old values in a retyped column's old form.
type SchemaChange struct {
	Added   []string `json:"added,omitempty"`
	Dropped []string `json:"dropped,omitempty"`
	Retyped []string `json:"retyped,omitempty"` // "col: old type → new type"
	// Replaced columns kept their name and type but are other columns at
	// the source: dropped and added again, or swapped by renames.
	Replaced []string `json:"replaced,omitempty"`
	Key      string   `json:"key,omitempty"` // "(old) → (new)" when the primary key changed
}

// IsZero reports no change.
func (c SchemaChange) IsZero() bool {
	return len(c.Added) == 0 && len(c.Dropped) == 0 && len(c.Retyped) == 0 && len(c.Replaced) == 0 && c.Key == ""
}

func (c SchemaChange) String() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ", "))
		}
	}
	add("added", c.Added)
	add("dropped", c.Dropped)
	add("retyped", c.Retyped)
	add("re-created", c.Replaced)
	if c.Key != "" {
		parts = append(parts, "primary key "+c.Key)
	}
	return strings.Join(parts, "; ")
}
