package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/litepull/litepull"
)

// snapshotLockWait bounds MySQL's wait for FLUSH TABLES WITH READ LOCK:
// while it waits for long statements to end, it blocks every write.
const snapshotLockWait = 10 // seconds

// Snapshot starts a consistent-snapshot transaction on a connection of its
// own and finds the binlog position it matches: a copy read from it holds
// exactly the transactions that began before that position. MariaDB says
// the position of the snapshot itself (binlog_snapshot_file and
// binlog_snapshot_position), without locks; MySQL takes the documented
// way: a global read lock held while the transaction starts and the
// position is read. The snapshot's reader runs every statement on that
// connection; Close rolls the transaction back.
func (st *binlogStream) Snapshot(ctx context.Context) (*litepull.Snapshot, error) {
	s := st.src
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	p := newPinned(conn)
	var pos binlogPos
	if st.lockSnapshot {
		pos, err = snapshotMySQL(ctx, conn, st.server)
	} else {
		pos, err = snapshotMariaDB(ctx, conn, st.server)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot: %w", err), p.discard(errors.New("snapshot failed")))
	}
	var once sync.Once
	var closeErr error
	end := func() error {
		once.Do(func() { closeErr = p.end() })
		return closeErr
	}
	return &litepull.Snapshot{Position: pos.position(), Reader: s.pinnedTo(p), Close: end}, nil
}

// startSnapshot starts a read-only transaction that sees a consistent
// snapshot of every InnoDB table.
func startSnapshot(ctx context.Context, conn *sql.Conn) error {
	for _, q := range []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// snapshotMariaDB reads the binlog position of the snapshot itself, and
// the GTID state there.
func snapshotMariaDB(ctx context.Context, conn *sql.Conn, info serverInfo) (binlogPos, error) {
	if err := startSnapshot(ctx, conn); err != nil {
		return binlogPos{}, err
	}
	vars := map[string]string{}
	err := eachRow(ctx, conn, "SHOW STATUS LIKE 'binlog_snapshot_%'", func(v []string) error {
		vars[strings.ToLower(v[0])] = v[1]
		return nil
	})
	if err != nil {
		return binlogPos{}, fmt.Errorf("read the snapshot's binlog position: %w", err)
	}
	file := vars["binlog_snapshot_file"]
	off, err := strconv.ParseUint(vars["binlog_snapshot_position"], 10, 64)
	if file == "" || err != nil {
		return binlogPos{}, fmt.Errorf("the server gives no binlog position for the snapshot (binlog_snapshot_file %q, binlog_snapshot_position %q): is its binlog on?",
			file, vars["binlog_snapshot_position"])
	}
	return mariaGTIDAt(ctx, conn, binlogPos{file: file, offset: off, server: info.identity})
}

// snapshotMySQL holds a global read lock while the snapshot starts and its
// position is read, so that no transaction commits in between. The lock
// waits at most snapshotLockWait for running statements.
func snapshotMySQL(ctx context.Context, conn *sql.Conn, info serverInfo) (_ binlogPos, err error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(snapshotLockWait)); err != nil {
		return binlogPos{}, err
	}
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return binlogPos{}, fmt.Errorf("FLUSH TABLES WITH READ LOCK (a consistent snapshot of MySQL needs it for a moment, "+
			"and the RELOAD privilege: GRANT RELOAD ON *.* TO the user; where it is refused, as on RDS, MariaDB or Percona Server need no lock): %w", err)
	}
	defer func() {
		_, uerr := conn.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES")
		_, rerr := conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION lock_wait_timeout = DEFAULT")
		err = errors.Join(err, uerr, rerr)
	}()
	if err := startSnapshot(ctx, conn); err != nil {
		return binlogPos{}, err
	}
	return masterStatus(ctx, conn, info, true)
}
