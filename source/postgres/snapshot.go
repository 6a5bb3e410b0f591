package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/litepull/litepull"
)

// Snapshot exports a snapshot from a temporary slot of its own, made on a
// second replication connection: the slot's consistent point is the
// snapshot's position. A connection of its own imports it in a read-only
// repeatable-read transaction, and the snapshot's reader runs every query
// there. Close ends the transaction, and with the replication connection
// the temporary slot.
func (st *stream) Snapshot(ctx context.Context) (*litepull.Snapshot, error) {
	st.refused = false // the tables are copied anew: the slot serves them
	s := st.src
	repl, err := s.dialReplication(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	temp := snapshotSlotName(st.opts.Slot)
	res, err := s.createSlot(ctx, repl, temp, true, "EXPORT_SNAPSHOT")
	var pos pglogrepl.LSN
	if err == nil {
		pos, err = pglogrepl.ParseLSN(res.ConsistentPoint)
	}
	var conn *pgx.Conn
	if err == nil {
		conn, err = s.importSnapshot(ctx, res.SnapshotName)
	}
	if err != nil {
		closeConn(repl)
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	reader := s.pinnedTo(conn)
	var once sync.Once
	var closeErr error
	end := func() error {
		once.Do(func() {
			closeErr = errors.Join(reader.pinned.close(), closeConn(repl))
			s.waitSlotGone(temp)
		})
		return closeErr
	}
	return &litepull.Snapshot{Position: st.ident.tag(pos), Reader: reader, Close: end}, nil
}

// waitSlotGone waits, up to releaseWait, for the server to drop a
// temporary slot whose connection was closed: it does so as its backend
// exits, a moment later, and until then the slot counts against
// max_replication_slots.
func (s *Source) waitSlotGone(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseWait)
	defer cancel()
	for {
		slot, err := s.slot(ctx, name)
		if err != nil || !slot.exists {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// snapshotName is what Postgres names exported snapshots: 00000003-0000001B-1.
var snapshotName = regexp.MustCompile(`^[0-9A-Fa-f-]+$`)

// importSnapshot opens a connection whose transaction reads the exported
// snapshot called name.
func (s *Source) importSnapshot(ctx context.Context, name string) (*pgx.Conn, error) {
	if !snapshotName.MatchString(name) {
		return nil, fmt.Errorf("unexpected snapshot name %q", name)
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, explainConnect(ctx, s.timeout(ctx, err))
	}
	q := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '" + name + "'"
	if _, err := conn.PgConn().Exec(ctx, q).ReadAll(); err != nil {
		closeConn(conn.PgConn())
		return nil, fmt.Errorf("import snapshot %s: %w", name, s.timeout(ctx, err))
	}
	return conn, nil
}

// pinnedConn is a snapshot's connection: its reader's queries take turns
// on it.
type pinnedConn struct {
	conn *pgx.Conn
	turn chan struct{}
}

// pinnedTo returns a reader of the source whose queries all run on conn.
func (s *Source) pinnedTo(conn *pgx.Conn) *Source {
	return &Source{id: s.id, schema: s.schema, pool: s.pool, prepare: s.prepare, streams: s.streams,
		dialer: s.dialer, connect: s.connect, addr: s.addr, probe: s.probe,
		pinned: &pinnedConn{conn: conn, turn: make(chan struct{}, 1)}}
}

// acquire returns the connection for one statement, and its release: a
// snapshot's own connection, once no other statement uses it, or one of
// the pool's.
func (s *Source) acquire(ctx context.Context) (*pgx.Conn, func(), error) {
	if p := s.pinned; p != nil {
		select {
		case p.turn <- struct{}{}:
			return p.conn, func() { <-p.turn }, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.Conn(), c.Release, nil
}

// close closes the connection, which ends its transaction. A statement
// still running on it gets closeWait to end; then the connection is
// closed under it, and it fails.
func (p *pinnedConn) close() error {
	select {
	case p.turn <- struct{}{}:
		defer func() { <-p.turn }()
		return closeConn(p.conn.PgConn())
	case <-time.After(closeWait):
		return p.conn.PgConn().Conn().Close()
	}
}
