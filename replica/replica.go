// Package replica is the SQLite sink of litepull: the replica file, its
// state table, column metadata, and the atomic page commit.
package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

var (
	_ litepull.Replica      = (*Replica)(nil)
	_ litepull.BatchSwapper = (*Replica)(nil)
)

// StateTable is the seed-compatible state table.
const StateTable = "tmp_replication_state"

// ColumnsTable records, per replicated column, the source type and the SQLite
// type it was stored as.
const ColumnsTable = "litepull_columns"

// StreamsTable records where each source's change stream stands
// (litepull.StreamState), written in the transaction of the rows it covers.
const StreamsTable = "litepull_streams"

// Replica is an open replica file. It has one connection and serializes
// every call on it: SQLite has one writer anyway, and pages are written in
// whole transactions.
type Replica struct {
	path string

	mu      sync.Mutex
	conn    *sqlite3.Conn
	stmts   map[string]*sqlite3.Stmt // prepared upserts and deletes, by SQL
	ensured map[string]string        // dest -> signature of the last EnsureTable
	state   *sqlite3.Stmt
}

// Open opens (creating if needed) a replica file and brings its schema up to
// date. Use ":memory:" for a throwaway replica.
func Open(path string) (*Replica, error) {
	conn, err := sqlite3.OpenContext(sqlitex.WithMaxMemory(context.Background()), path)
	if err != nil {
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	r := &Replica{path: path, conn: conn, stmts: map[string]*sqlite3.Stmt{}, ensured: map[string]string{}}
	if err := r.init(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	return r, nil
}

// Path is the replica's file name.
func (r *Replica) Path() string { return r.path }

func (r *Replica) init() error {
	if err := r.conn.BusyTimeout(10e9); err != nil {
		return err
	}
	// Before anything that writes (even the journal mode): a file that is
	// not a replica must be left exactly as it was.
	if err := r.claim(); err != nil {
		return err
	}
	// WAL: readers (the daemon's query endpoint, other processes) never block
	// the writer. synchronous=NORMAL in WAL mode keeps every commit atomic; a
	// power loss may forget the last commits, never half of one.
	for _, pragma := range []string{
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=NORMAL",
		"PRAGMA cache_size=-16000",
		"PRAGMA temp_store=MEMORY",
	} {
		if err := r.conn.Exec(pragma); err != nil {
			return fmt.Errorf("%s: %w", pragma, err)
		}
	}
	return r.migrate()
}

// stateColumns are the state table's columns: the seed's seven first, then
// litepull's own, added by migration to a seed-created table.
var stateColumns = []struct{ name, decl string }{
	{"source_id", "TEXT NOT NULL"},
	{"table_name", "TEXT NOT NULL"},
	{"cursor_column", "TEXT"},
	{"cursor_value", "TEXT"},
	{"last_run_ts", "TEXT"},
	{"last_rows_pulled", "INTEGER DEFAULT 0"},
	{"last_error", "TEXT"},
	{"dest_table", "TEXT"},
	{"watermark", "TEXT"},
	{"rows_total", "INTEGER NOT NULL DEFAULT 0"},
	{"null_cursor_rows", "INTEGER NOT NULL DEFAULT -1"},
	{"last_success_ts", "TEXT"},
	{"error_count", "INTEGER NOT NULL DEFAULT 0"},
	{"last_full_refresh_ts", "TEXT"},
	{"last_reconcile_ts", "TEXT"},
	{"rows_deleted", "INTEGER NOT NULL DEFAULT 0"},
	{"cursor_ahead", "TEXT"},
}

func (r *Replica) migrate() error {
	ddl := SchemaDDL()
	for _, q := range ddl {
		if err := r.conn.Exec(q); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	// Column metadata from before source positions were recorded.
	cols, err := r.columnsOf(ColumnsTable)
	if err != nil {
		return err
	}
	if _, ok := cols["source_position"]; !ok {
		if err := r.conn.Exec("ALTER TABLE " + ColumnsTable + " ADD COLUMN source_position INTEGER"); err != nil {
			return fmt.Errorf("migrate %s: %w", ColumnsTable, err)
		}
	}
	// A state table created by the seed has only its seven columns.
	have, err := r.columnsOf(StateTable)
	if err != nil {
		return err
	}
	for _, c := range stateColumns {
		if _, ok := have[c.name]; !ok {
			decl := strings.TrimSuffix(c.decl, " NOT NULL")
			decl = strings.Replace(decl, "NOT NULL ", "", 1)
			if err := r.conn.Exec("ALTER TABLE " + StateTable + " ADD COLUMN " + c.name + " " + decl); err != nil {
				return fmt.Errorf("migrate state table: add %s: %w", c.name, err)
			}
		}
	}
	return nil
}

// columnsOf returns a table's columns with their position in its primary key
// (0: not in it). An absent table has none.
func (r *Replica) columnsOf(table string) (map[string]int, error) {
	stmt, _, err := r.conn.Prepare("SELECT name, pk FROM pragma_table_info(?)")
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	if err := stmt.BindText(1, table); err != nil {
		return nil, err
	}
	cols := map[string]int{}
	for stmt.Step() {
		cols[stmt.ColumnText(0)] = stmt.ColumnInt(1)
	}
	return cols, stmt.Err()
}

// Close finalizes statements and closes the file. Close twice is safe.
func (r *Replica) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil
	}
	for _, s := range r.stmts {
		s.Close()
	}
	if r.state != nil {
		r.state.Close()
	}
	err := r.conn.Close()
	r.conn = nil
	return err
}

var errClosed = errors.New("replica is closed")

// locked runs f with the connection, interruptible by ctx, once no other
// call (or open transaction, Begin) holds it. A panic in the driver (it
// panics when SQLite's memory runs out while it copies a value in) becomes
// an error: it fails the one call, not the process.
func (r *Replica) locked(ctx context.Context, f func(c *sqlite3.Conn) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return errClosed
	}
	return r.run(ctx, f)
}

// run is locked for a caller that holds r.mu already: an open transaction.
func (r *Replica) run(ctx context.Context, f func(c *sqlite3.Conn) error) (err error) {
	old := r.conn.SetInterrupt(ctx)
	defer r.conn.SetInterrupt(old)
	defer func() {
		if p := recover(); p != nil {
			err = r.recovered(p)
		}
	}()
	return f(r.conn)
}

// recovered turns a panic from the driver into an error. A transaction
// left open is rolled back (inTx has done so already) and the prepared
// statements, which may be half bound, are finalized.
func (r *Replica) recovered(p any) error {
	err, ok := p.(error)
	if !ok {
		err = fmt.Errorf("%v", p)
	}
	if !r.conn.GetAutocommit() {
		if rerr := r.conn.Exec("ROLLBACK"); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	for q, s := range r.stmts {
		s.Close()
		delete(r.stmts, q)
	}
	if r.state != nil {
		r.state.Close()
		r.state = nil
	}
	return fmt.Errorf("replica: %w", err)
}

// inTx runs f inside one immediate transaction on the locked connection:
// committed if f succeeds, rolled back whole if it fails.
func (r *Replica) inTx(ctx context.Context, f func(c *sqlite3.Conn) error) error {
	return r.locked(ctx, func(c *sqlite3.Conn) (err error) {
		tx, err := c.BeginImmediate()
		if err != nil {
			return err
		}
		defer tx.End(&err)
		return f(c)
	})
}

func quote(name string) string { return litepull.QuoteIdent(name, '"') }
