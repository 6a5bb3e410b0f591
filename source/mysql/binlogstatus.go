package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
)

// masterStatus reads where the server's binlog ends, on q: SHOW MASTER
// STATUS, or SHOW BINARY LOG STATUS where that is gone (MySQL 8.4), with
// the GTID state there when the server has GTIDs and withGTID asks for
// it (MySQL: the status's Executed_Gtid_Set; MariaDB: BINLOG_GTID_POS).
func masterStatus(ctx context.Context, q querier, info serverInfo, withGTID bool) (binlogPos, error) {
	var pos binlogPos
	found := false
	read := func(v []string) error {
		off, err := strconv.ParseUint(v[1], 10, 64)
		pos, found = binlogPos{file: v[0], offset: off, server: info.identity}, true
		if withGTID && info.gtid && !info.mariadb && len(v) > 4 {
			if set := strings.Join(strings.Fields(v[4]), ""); validGTID(set) { // not MySQL's tagged GTIDs
				pos = pos.withGTID(set)
			}
		}
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
	if withGTID && info.gtid && info.mariadb {
		return mariaGTIDAt(ctx, q, pos)
	}
	return pos, nil
}

// mariaGTIDAt is p with the GTID state a MariaDB server gives for it
// (BINLOG_GTID_POS): p as it is if it gives none (p's file is purged).
func mariaGTIDAt(ctx context.Context, q querier, p binlogPos) (binlogPos, error) {
	var gtid sql.NullString
	err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.file, p.offset).Scan(&gtid)
	if err != nil {
		return p, fmt.Errorf("read the GTID position of %s (BINLOG_GTID_POS): %w", p, explainGrant(err))
	}
	if !gtid.Valid {
		return p, nil
	}
	return p.withGTID(gtid.String), nil
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

// current reads where the server's binlog ends, with its GTID state if
// withGTID asks for it.
func (st *binlogStream) current(ctx context.Context, withGTID bool) (binlogPos, error) {
	q, release, err := st.src.conn(ctx)
	if err != nil {
		return binlogPos{}, err
	}
	defer release()
	return masterStatus(ctx, q, st.server, withGTID)
}

// Current is where the server's binlog ends, with its GTID state.
func (st *binlogStream) Current(ctx context.Context) (litepull.Position, error) {
	p, err := st.current(ctx, true)
	if err != nil {
		return "", err
	}
	return p.position(), nil
}

// SamplePosition is where the server's binlog ends, without its GTID
// state (litepull.PositionSampler): the lag's samples need no more, and
// BINLOG_GTID_POS scans the binlog file up to the offset.
func (st *binlogStream) SamplePosition(ctx context.Context) (litepull.Position, error) {
	p, err := st.current(ctx, false)
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

// Resumable says why the stream cannot carry on after pos: the binlog
// file it lies in was purged, or the binlog was reset (resetError); or
// pos is another server's and carries no GTID state, or this server's
// binlog does not hold the transactions after that state (see
// gtidResumable).
func (st *binlogStream) Resumable(ctx context.Context, pos litepull.Position) error {
	p, err := parsePos(pos)
	if err != nil {
		return litepull.StreamLost(err)
	}
	if p.server != st.server.identity && p.hasGTID && st.server.gtid {
		return st.gtidResumable(ctx, p)
	}
	files, err := st.src.binlogFiles(ctx)
	if err != nil {
		return err // not a verdict: the check failed
	}
	if err := lostError(p, st.server.identity, files); err != nil {
		return litepull.StreamLost(err)
	}
	return st.resetError(ctx, p)
}

// resetError says whether the binlog was reset (RESET MASTER) since p was
// recorded, though p's file is there and reaches past p: p's file and
// offset then name a place in another binlog. MariaDB gives no GTID state
// at p's offset (not an event's end) or another than p's; MySQL's GTID
// state lacks p's.
func (st *binlogStream) resetError(ctx context.Context, p binlogPos) error {
	var at string
	if st.server.mariadb {
		q, release, err := st.src.conn(ctx)
		if err != nil {
			return err
		}
		defer release()
		var g sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.file, p.offset).Scan(&g); err != nil {
			return fmt.Errorf("read the GTID position of %s (BINLOG_GTID_POS): %w", p, explainGrant(err))
		}
		if g.Valid && (!p.hasGTID || sameMariaPos(g.String, p.gtid)) {
			return nil
		}
		at = "no event ends there"
		if g.Valid {
			at = "the binlog's GTID state there is " + strconv.Quote(g.String)
		}
	} else {
		if !p.hasGTID || !st.server.gtid {
			return nil
		}
		state, err := st.src.gtidState(ctx)
		if ok, cerr := gtidContains(state, p.gtid); err != nil || cerr != nil || ok {
			return err
		}
		at = "the server's GTID state " + strconv.Quote(state) + " lacks it"
	}
	return litepull.StreamLost(fmt.Errorf("the replica's position %s names a place in binlog file %s where %s: the binlog was reset since "+
		"(RESET MASTER, or a server made anew with the same server id), and the changes made since are lost to the replica "+
		"(or, rarely, the position was recorded just after a resume by GTID on this server, whose binlog orders the "+
		"replication domains differently)", p, p.file, at))
}

// Status describes the stream: the position the replica holds (as last
// acknowledged), where the binlog ends, the bytes of binlog between them,
// and how much binlog the server keeps (for every reader, not for litepull
// alone: a binlog reader holds nothing back).
func (st *binlogStream) Status(ctx context.Context) (litepull.StreamStatus, error) {
	cur, err := st.current(ctx, false)
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

// gtidResumable says why the stream cannot resume by GTID from p, a
// position of another server of the topology, if it cannot (gtidLostError).
func (st *binlogStream) gtidResumable(ctx context.Context, p binlogPos) error {
	executed, purged, err := st.src.gtidBounds(ctx, st.server.mariadb)
	if err != nil {
		return err
	}
	return litepull.StreamLost(gtidLostError(p, st.server.identity, executed, purged))
}

// gtidBounds reads the GTID state at the end of the server's binlog and
// at its beginning (what it purged): MySQL's gtid_executed and
// gtid_purged; MariaDB's gtid_binlog_state (the last GTID of each domain
// and server: gtid_binlog_pos, the last of each domain, cannot tell a
// diverged server's GTIDs from the replica's) and the GTID list that
// opens its oldest binlog file.
func (s *Source) gtidBounds(ctx context.Context, mariadb bool) (executed, purged string, err error) {
	if !mariadb {
		if err := s.queryRow(ctx, []any{&executed, &purged}, "SELECT @@GLOBAL.gtid_executed, @@GLOBAL.gtid_purged"); err != nil {
			return "", "", fmt.Errorf("read the server's GTID sets: %w", err)
		}
		return strings.Join(strings.Fields(executed), ""), strings.Join(strings.Fields(purged), ""), nil
	}
	if err := s.queryRow(ctx, []any{&executed}, "SELECT @@GLOBAL.gtid_binlog_state"); err != nil {
		return "", "", fmt.Errorf("read the server's GTID state: %w", err)
	}
	files, err := s.binlogFiles(ctx)
	if err != nil || len(files) == 0 {
		return executed, "", err
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return "", "", err
	}
	defer release()
	err = eachRow(ctx, q, "SHOW BINLOG EVENTS IN '"+strings.ReplaceAll(files[0].name, "'", "''")+"' LIMIT 4", func(v []string) error {
		if len(v) > 5 && v[2] == "Gtid_list" {
			purged = strings.Trim(strings.TrimSpace(v[5]), "[]")
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("read the GTID list of binlog file %s: %w", files[0].name, explainGrant(err))
	}
	return executed, purged, nil
}

// gtidState is MySQL's gtid_executed: the GTID state at the end of its
// binlog.
func (s *Source) gtidState(ctx context.Context) (string, error) {
	var state string
	if err := s.queryRow(ctx, []any{&state}, "SELECT @@GLOBAL.gtid_executed"); err != nil {
		return "", fmt.Errorf("read the server's GTID state: %w", err)
	}
	return strings.Join(strings.Fields(state), ""), nil
}
