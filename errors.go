package litepull

import (
	"errors"
	"fmt"
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
)

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
