package litepull

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrBadIdentifier reports a table or column name that is not a plain SQL
	// identifier. Such names never reach SQL.
	ErrBadIdentifier = errors.New("bad identifier")

	// ErrUnknownColumn reports a configured column that the source table does
	// not have.
	ErrUnknownColumn = errors.New("unknown column")

	// ErrNoTable reports a configured table that the source does not have.
	ErrNoTable = errors.New("no such table")

	// ErrNoPrimaryKey reports a table whose primary key can be neither
	// discovered nor defaulted.
	ErrNoPrimaryKey = errors.New("no primary key")

	// ErrCursorChanged reports a table whose configured cursor column differs
	// from the one its stored watermark was taken on.
	ErrCursorChanged = errors.New("cursor column changed")

	// ErrSchemaConflict reports a destination table whose existing shape does
	// not fit the source (a different primary key, for example).
	ErrSchemaConflict = errors.New("destination schema conflict")

	// ErrNotReplica reports a replica path that holds a SQLite database
	// litepull did not create; litepull refuses to write into it.
	ErrNotReplica = errors.New("not a litepull replica")

	// ErrUnsupported reports an option the source cannot honour.
	ErrUnsupported = errors.New("unsupported")

	// ErrValueTooLarge reports a source value, or row, longer than SQLite
	// stores (MaxValueBytes).
	ErrValueTooLarge = errors.New("value too large")

	// ErrTimeout reports a source that stopped answering: no connection
	// within its connectTimeout, or no data for its readTimeout. Every
	// *TimeoutError matches it.
	ErrTimeout = errors.New("timed out")

	// ErrStreamLost reports a change stream that can no longer stream: the
	// source removed WAL its slot still needed (a Postgres slot that
	// max_slot_wal_keep_size invalidated). The stream must be made anew and
	// every table copied again (ErrSnapshotNeeded, unless resnapshot: auto).
	ErrStreamLost = errors.New("change stream lost")

	// ErrSnapshotNeeded reports a change stream that cannot resume where
	// the replica stands (a purged binlog, a lost slot): the replica
	// misses changes only a new snapshot brings, which a run with Full
	// takes (or resnapshot: auto, on its own).
	ErrSnapshotNeeded = errors.New("a new snapshot is needed")

	// ErrMissingRow reports a change stream's update that leaves a value
	// unchanged (a Postgres TOAST value) in a row the replica does not
	// have, so the value cannot be kept: the table must be copied again.
	ErrMissingRow = errors.New("replica lacks the row")

	// ErrStreamChanged reports a change stream whose tables changed under
	// it at the source: a table dropped, re-created, or taken out of the
	// publication no longer streams. The session ends; the next one makes
	// the publication whole again and copies the tables it lacked.
	ErrStreamChanged = errors.New("change stream's tables changed at the source")

	// ErrStreaming reports a run of a source whose change stream is
	// already open in this process (the daemon follows it): its tables are
	// kept up to date continuously, so there is nothing to run.
	ErrStreaming = errors.New("already streaming")
)

// TimeoutOp is what a source was doing when its time ran out.
type TimeoutOp int

const (
	// OpRead is a wait for the source's answer: a statement's first row
	// (behind a lock, say) or the next bytes of its answer.
	OpRead TimeoutOp = iota
	// OpConnect is making a connection: TCP, TLS and the protocol's
	// handshake.
	OpConnect
)

// TimeoutError is a source that stopped answering. Sources return it,
// wrapped as they wrap any error; the engine names the table (WithTable)
// and reports it as it is, without the wrapping.
type TimeoutError struct {
	Op    TimeoutOp
	After time.Duration // the timeout that ran out
	Addr  string        // the server, when known (connect)
	Table string        // the table read, when known (read)
}

func (e *TimeoutError) Error() string {
	if e.Op == OpConnect {
		to := "the source"
		if e.Addr != "" {
			to = e.Addr
		}
		return fmt.Sprintf("connect to %s timed out after %s; a server that is down or overloaded, a firewall "+
			"that drops packets, or a proxy that accepts and never answers (connectTimeout sets the limit)", to, e.After)
	}
	what := "read"
	if e.Table != "" {
		what = "read of " + e.Table
	}
	return fmt.Sprintf("%s timed out after %s; a lock on the table (a migration?) or a stalled network "+
		"(readTimeout sets the limit)", what, e.After)
}

// Is makes every TimeoutError match ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// WithTable returns the timeout in err, if any, naming table; else err.
// The error it returns is the timeout alone: the layers of wrapping around
// it only repeat the table's name.
func WithTable(err error, table string) error {
	var te *TimeoutError
	if !errors.As(err, &te) {
		return err
	}
	named := *te
	if named.Op == OpRead {
		named.Table = table
	}
	return &named
}

// ConfigError is a configuration mistake, with the place it was found and a
// hint that tells the user what to do.
type ConfigError struct {
	Path string // where in the config: "sources[0].tables[2].cursorColumn"
	Msg  string // what is wrong
	Hint string // what to do about it; may be empty
	Err  error  // an underlying sentinel, if any
}

func (e *ConfigError) Error() string {
	s := "config"
	if e.Path != "" {
		s += " " + e.Path
	}
	s += ": " + e.Msg
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *ConfigError) Unwrap() error { return e.Err }

// TableError ties an error to the source and table it happened on.
type TableError struct {
	SourceID string
	Table    string
	Err      error
}

func (e *TableError) Error() string {
	return fmt.Sprintf("%s/%s: %v", e.SourceID, e.Table, e.Err)
}

func (e *TableError) Unwrap() error { return e.Err }

// StreamLost marks err, its message unchanged, as a verdict that a change
// stream cannot resume where the replica stands (errors.Is(err,
// ErrStreamLost)): ChangeStream.Resumable says so apart from failing to
// check. Nil stays nil.
func StreamLost(err error) error {
	if err == nil {
		return nil
	}
	return streamLost{err}
}

type streamLost struct{ error }

func (e streamLost) Unwrap() []error { return []error{e.error, ErrStreamLost} }
