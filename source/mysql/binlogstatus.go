package mysql

import (
	"context"
	"fmt"
	"strconv"

	"github.com/litepull/litepull"
)

// masterStatus reads where the server's binlog ends, on q: SHOW MASTER
// STATUS, or SHOW BINARY LOG STATUS where that is gone (MySQL 8.4).
func masterStatus(ctx context.Context, q querier, server string) (binlogPos, error) {
	var pos binlogPos
	found := false
	read := func(v []string) error {
		off, err := strconv.ParseUint(v[1], 10, 64)
		pos, found = binlogPos{file: v[0], offset: off, server: server}, true
		return err
	}
	err := eachRow(ctx, q, "SHOW MASTER STATUS", read)
	if isCode(err, 1064) { // a syntax error: MySQL 8.4 and later
		err = eachRow(ctx, q, "SHOW BINARY LOG STATUS", read)
	}
	if err != nil {
		return binlogPos{}, fmt.Errorf("read the binlog position (SHOW MASTER STATUS): %w", explainGrant(err))
	}
	if !found {
		return binlogPos{}, fmt.Errorf("the server shows no binlog position: its binlog is off: %s", settingsFix(""))
	}
	return pos, nil
}

// explainGrant adds the missing privilege's GRANT to an access denied
// error from a binlog statement.
func explainGrant(err error) error {
	if isCode(err, 1227) || isCode(err, 1045) || isCode(err, 1044) {
		return fmt.Errorf("%w (a binlog reader needs REPLICATION SLAVE and REPLICATION CLIENT: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the user)", err)
	}
	return err
}

// binlogFiles lists the binlog files the server keeps (SHOW BINARY LOGS),
// oldest first.
func (s *Source) binlogFiles(ctx context.Context) ([]binlogFile, error) {
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []binlogFile
	err = eachRow(ctx, q, "SHOW BINARY LOGS", func(v []string) error {
		size, err := strconv.ParseInt(v[1], 10, 64)
		out = append(out, binlogFile{name: v[0], size: size})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list binlog files (SHOW BINARY LOGS): %w", explainGrant(err))
	}
	return out, nil
}

// current reads where the server's binlog ends.
func (st *binlogStream) current(ctx context.Context) (binlogPos, error) {
	q, release, err := st.src.conn(ctx)
	if err != nil {
		return binlogPos{}, err
	}
	defer release()
	return masterStatus(ctx, q, st.server.identity)
}

// Current is where the server's binlog ends.
func (st *binlogStream) Current(ctx context.Context) (litepull.Position, error) {
	p, err := st.current(ctx)
	if err != nil {
		return "", err
	}
	return p.position(), nil
}

// Confirmed is the server's current position too: a MySQL server keeps no
// position for its binlog readers, so a stream with no record of its own
// starts where the binlog ends.
func (st *binlogStream) Confirmed(ctx context.Context) (litepull.Position, error) {
	return st.Current(ctx)
}

// Resumable says why the stream cannot carry on after pos: pos is another
// server's, or the binlog file it lies in was purged (or reset).
func (st *binlogStream) Resumable(ctx context.Context, pos litepull.Position) error {
	p, err := parsePos(pos)
	if err != nil {
		return err
	}
	files, err := st.src.binlogFiles(ctx)
	if err != nil {
		return err
	}
	return lostError(p, st.server.identity, files)
}

// Status describes the stream: the position the replica holds (as last
// acknowledged), where the binlog ends, the bytes of binlog between them,
// and how much binlog the server keeps (for every reader, not for litepull
// alone: a binlog reader holds nothing back).
func (st *binlogStream) Status(ctx context.Context) (litepull.StreamStatus, error) {
	cur, err := st.current(ctx)
	if err != nil {
		return litepull.StreamStatus{}, err
	}
	files, err := st.src.binlogFiles(ctx)
	if err != nil {
		return litepull.StreamStatus{}, err
	}
	out := litepull.StreamStatus{Current: cur.position(), RetainedBytes: totalSize(files), Active: st.syncer != nil && !st.closed}
	if st.acked.file != "" {
		out.Confirmed = st.acked.position()
		out.LagBytes = bytesBetween(files, st.acked, cur)
	}
	if out.Active {
		out.ActivePID = int(st.syncer.LastConnectionID())
	}
	return out, nil
}

// Ack records that the replica holds everything through pos, for Status.
// The server keeps no position for a binlog reader: there is nothing to
// tell it.
func (st *binlogStream) Ack(_ context.Context, pos litepull.Position) error {
	p, err := parsePos(pos)
	if err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	if st.acked.before(p) || st.acked.file == "" {
		st.acked = p
	}
	return nil
}

// Includes reports commit < at: a snapshot or stream at at holds every
// transaction that began before it. An unreadable position includes
// nothing.
func (st *binlogStream) Includes(at, commit litepull.Position) bool {
	a, err1 := parsePos(at)
	c, err2 := parsePos(commit)
	return err1 == nil && err2 == nil && c.before(a)
}

// Joined is empty: a binlog carries every table, and a table dropped and
// made again shows in it as DDL, which has the engine copy it again.
func (st *binlogStream) Joined() []string { return nil }
