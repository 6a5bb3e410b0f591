package litepull

import (
	"context"
	"log/slog"
	"time"
)

// ChangeMode is how a source's changes are found: SourceConfig.Changes.
type ChangeMode string

// Change modes; "" is ChangesCursor.
const (
	// ChangesCursor polls each table by its cursor column.
	ChangesCursor ChangeMode = "cursor"
	// ChangesLogical streams a Postgres source's write-ahead log through
	// a logical replication slot and a publication.
	ChangesLogical ChangeMode = "logical"
	// ChangesBinlog streams a MySQL or MariaDB source's row binlog.
	ChangesBinlog ChangeMode = "binlog"
)

// ChangeSource is implemented by sources that can stream their changes:
// every insert, update, delete and truncate of a set of tables, grouped in
// the source's transactions, in commit order.
type ChangeSource interface {
	// OpenChanges checks that the server can stream changes (wal_level,
	// privileges, each table's primary key or replica identity), each
	// failure saying how to fix it; creates the slot and publication if
	// absent; and makes the publication hold exactly opts.Tables.
	OpenChanges(ctx context.Context, opts ChangeOptions) (ChangeStream, error)
	// DropChanges removes the slot and publication OpenChanges made (a
	// forgotten slot keeps WAL on the source's disk forever). Absent ones
	// are not an error.
	DropChanges(ctx context.Context, opts ChangeOptions) error
}

// ChangeChecker is implemented by change sources that can check, changing
// nothing, what OpenChanges checks before it creates anything: the
// server's settings, the privileges, each table's key or replica identity,
// and that the slot, if it exists, can stream. validate uses it.
type ChangeChecker interface {
	CheckChanges(ctx context.Context, opts ChangeOptions) error
}

// PositionSampler is a ChangeStream that reads its source's current
// position more cheaply than Current, for the stream's lag samples (every
// second): a MariaDB source's Current also reads the GTID state there,
// which makes the server scan its binlog file up to that offset. Sampled
// positions are compared with the stream's own on the same server only.
type PositionSampler interface {
	SamplePosition(ctx context.Context) (Position, error)
}

// ChangeOptions name a source's change stream and its tables.
type ChangeOptions struct {
	Slot        string
	Publication string
	// ServerID is the server id a binlog reader connects with.
	ServerID uint32
	// Tables are the source tables to stream, as configured (they may be
	// schema-qualified); events name them the same way.
	Tables []string
	// Logger, if set, hears what OpenChanges waits for (a slot that a
	// stopped process's connection still holds).
	Logger *slog.Logger
	// Joining, if set, hears which tables the stream is about to carry
	// that it did not carry until now (Joined), before the source starts
	// carrying them (a table put in the publication), or before OpenChanges
	// fails saying that someone must do so by hand: the engine records
	// durably that they need a copy, so that a session that ends at once
	// (killed, an error) or a publication changed by hand does not leave
	// them streaming on from their old positions, their changes meanwhile
	// missed. An error stops OpenChanges before it changes anything.
	Joining func(ctx context.Context, tables []string) error
}

// Position is a place in a source's change stream, as the source writes
// it: a Postgres LSN and the cluster and timeline it was read on,
// "16/B374D848@7301234567890123456:1"; a binlog file and offset and the
// server, "mariadb-bin.000012:4567@1". Only the source compares positions:
// ChangeStream.Includes.
type Position string

// ChangeStream is one open change stream. Its methods are called from one
// goroutine.
type ChangeStream interface {
	// Snapshot exports a snapshot of the source, consistent with a
	// position of the stream: a copy of a table read from it holds exactly
	// the transactions the snapshot Includes. Its reader reads pages
	// (ReadPage, StreamPages) and counts (CountNullCursor) inside it.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Current is the source's current position: a drain applies changes
	// until the stream has passed it.
	Current(ctx context.Context) (Position, error)
	// Confirmed is where a stream starts when the replica has no record
	// of it: the position the source says was last acknowledged (a
	// Postgres slot's confirmed_flush_lsn), or, for a source that keeps
	// no position for its readers, its current one.
	Confirmed(ctx context.Context) (Position, error)
	// Resumable says why the stream cannot carry on after pos, the
	// position the replica recorded, if it cannot: the slot moved past it
	// (another consumer, a slot dropped and made again), or the source no
	// longer has the log from there (a purged binlog), or is another
	// server. Such a verdict wraps ErrStreamLost (StreamLost), and the
	// engine then needs a new snapshot of every table
	// (SourceConfig.Resnapshot); any other error is a failure to check,
	// which fails the session alone.
	Resumable(ctx context.Context, pos Position) error
	// Start begins streaming the transactions committed after from (or
	// after Confirmed, whichever is later). It is called once.
	Start(ctx context.Context, from Position) error
	// Next returns the next event, waiting as long as ctx allows. While
	// no transaction is open it returns a ChangeKeepalive at least every
	// few seconds, so a caller never waits long to learn the stream is
	// alive and where the source stands.
	Next(ctx context.Context) (ChangeEvent, error)
	// Ack tells the source that everything through pos is durable in the
	// replica: it may recycle the WAL before it.
	Ack(ctx context.Context, pos Position) error
	// Joined lists the tables (as in ChangeOptions.Tables) that the
	// stream did not carry until OpenChanges made it carry them: a new
	// table, one dropped and made again under its name, or one taken out
	// of the config or of the publication (by someone else) for a while.
	// Their changes
	// until now were never streamed, so each must be copied, whatever the
	// replica holds of it.
	Joined() []string
	// Includes reports whether the state at position at already holds
	// the transaction that committed at commit: a table copied from a
	// snapshot at at, or a stream applied through at, must skip it.
	Includes(at, commit Position) bool
	// Status describes the slot, for status and metrics.
	Status(ctx context.Context) (StreamStatus, error)
	// Close ends the stream. Close twice is safe.
	Close() error
}

// Snapshot is a consistent read of the source at Position.
type Snapshot struct {
	Position Position
	// Reader reads tables as of Position.
	Reader Source
	// Close ends the snapshot; it must be called.
	Close func() error
}

// ChangeKind says what a ChangeEvent is.
type ChangeKind int

// The kinds of change events.
const (
	// ChangeBegin opens a source transaction; its changes follow, then a
	// ChangeCommit.
	ChangeBegin ChangeKind = iota + 1
	ChangeInsert
	ChangeUpdate
	ChangeDelete
	// ChangeTruncate empties the tables in Tables.
	ChangeTruncate
	// ChangeCommit ends the transaction that committed at Position.
	ChangeCommit
	// ChangeRelation says which columns a table's rows now carry, in
	// order: Columns (names) and Schema (described by the source from the
	// stream's own message). It precedes the first row of a table and
	// follows every change of its shape.
	ChangeRelation
	// ChangeKeepalive, outside a transaction, says the source is at
	// Position with nothing more to send: the stream may be acknowledged
	// up to it once it is recorded.
	ChangeKeepalive
)

// ChangeEvent is one message of a change stream.
type ChangeEvent struct {
	Kind ChangeKind
	// Table is the source table (as in ChangeOptions.Tables) of a row
	// change or a relation.
	Table string
	// Columns are the column names of Table's rows, as the last
	// ChangeRelation gave them (set on every row change too).
	Columns []string
	// Row is the new row of an insert or update, in Columns order. A
	// value the source did not send (an unchanged TOASTed value) is Keep{}.
	Row []Value
	// Old is the old row of an update that changed its key, or of a
	// delete, in Columns order: the key columns are set, others may be
	// nil. Nil, or the old row, for an update that kept its key.
	Old []Value
	// Tables are the tables a ChangeTruncate empties.
	Tables []string
	// Position is where a commit or keepalive stands; for a begin, the
	// position its transaction commits at.
	Position Position
	// Time is the source's commit time (begin, commit) or clock
	// (keepalive).
	Time time.Time
	// Schema is a relation's description: columns as Describe gives them.
	Schema *TableSchema
	// Err, on a row change, says the source could not decode its row (a
	// type the stream cannot carry): the change fails Table alone, which
	// is copied again, unless a copy already holds it.
	Err error
}

// Keep is a value a change stream did not send because the source did not
// change it (a Postgres TOAST value an update left alone): the replica
// keeps its own value for the column, read from the row with key From (a
// key that the same batch moves the row away from), or, when From is nil,
// from the row's own key. A row the replica lacks is an error, never a
// NULL.
type Keep struct{ From []Value }

// StreamStatus describes a change stream's slot at the source.
type StreamStatus struct {
	Slot      string   `json:"slot"`
	Confirmed Position `json:"confirmedPosition"`
	Current   Position `json:"currentPosition"`
	// LagBytes is how much WAL the source has written past Confirmed;
	// RetainedBytes how much it keeps for the slot (from its restart
	// point).
	LagBytes      int64 `json:"lagBytes"`
	RetainedBytes int64 `json:"retainedBytes"`
	// Active says a process is streaming from the slot; ActivePID is its
	// backend's process id at the source.
	Active    bool `json:"active"`
	ActivePID int  `json:"activePid,omitempty"`
}

// StreamState is where a source's change stream stands in the replica:
// the last source transaction applied, recorded in the same transaction as
// its rows.
type StreamState struct {
	SourceID string    `json:"sourceId"`
	Slot     string    `json:"slot"`
	Position Position  `json:"position"`
	Commit   time.Time `json:"commitTs"`  // the source's commit time of Position
	Applied  time.Time `json:"appliedTs"` // when it was applied here
}
