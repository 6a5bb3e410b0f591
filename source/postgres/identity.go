package postgres

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/litepull/litepull"
)

// sysIdent is the Postgres cluster a stream reads and the timeline it is
// on, as IDENTIFY_SYSTEM gives them. Positions carry it, written
// "16/B374D848@7301234567890123456:1": an LSN means something only in the
// cluster (system identifier) and on the timeline it was read from.
type sysIdent struct {
	system   string
	timeline int32
}

func (id sysIdent) String() string {
	return id.system + ":" + strconv.FormatInt(int64(id.timeline), 10)
}

// tag writes lsn as a position of this cluster and timeline.
func (id sysIdent) tag(lsn pglogrepl.LSN) litepull.Position {
	return litepull.Position(lsn.String() + "@" + id.String())
}

// splitPosition reads a position as sysIdent.tag writes it; a position
// written before positions carried the cluster (an LSN alone) has ok
// false.
func splitPosition(p litepull.Position) (lsn pglogrepl.LSN, id sysIdent, ok bool, err error) {
	s, ident, tagged := strings.Cut(string(p), "@")
	lsn, err = parseLSN(litepull.Position(s))
	if err != nil || !tagged {
		return lsn, sysIdent{}, false, err
	}
	system, tli, ok2 := strings.Cut(ident, ":")
	n, terr := strconv.ParseInt(tli, 10, 32)
	if !ok2 || system == "" || terr != nil {
		return 0, sysIdent{}, false, fmt.Errorf("position %q is not a Postgres position such as 16/B374D848@7301234567890123456:1", p)
	}
	return lsn, sysIdent{system: system, timeline: int32(n)}, true, nil
}

// identify reads the cluster's system identifier and current timeline.
func (s *Source) identify(ctx context.Context) (sysIdent, error) {
	conn, err := s.dialReplication(ctx)
	if err != nil {
		return sysIdent{}, err
	}
	defer closeConn(conn)
	res, err := pglogrepl.IdentifySystem(ctx, conn)
	if err != nil {
		return sysIdent{}, fmt.Errorf("identify the source's cluster: %w", s.timeout(ctx, err))
	}
	return sysIdent{system: res.SystemID, timeline: res.Timeline}, nil
}

// sameSystem checks, on the connection a stream is about to start on,
// that the source is still the cluster and timeline OpenChanges found (a
// failover during a long copy changes them): the stream's positions carry
// those. The next session sorts out whether the replica can carry on.
func (st *stream) sameSystem(ctx context.Context, conn *pgconn.PgConn) error {
	res, err := pglogrepl.IdentifySystem(ctx, conn)
	if err != nil {
		return fmt.Errorf("identify the source's cluster: %w", st.src.timeout(ctx, err))
	}
	if now := (sysIdent{system: res.SystemID, timeline: res.Timeline}); now != st.ident {
		return fmt.Errorf("the source is now cluster %s, no longer %s as the stream opened (a failover?): streaming it anew: %w",
			now, st.ident, litepull.ErrStreamChanged)
	}
	return nil
}

// switchPoint is where timeline from ended in the history of timeline to
// (TIMELINE_HISTORY): the WAL before it is the same on both. ok is false
// when from is not in to's history.
func (s *Source) switchPoint(ctx context.Context, to, from int32) (pglogrepl.LSN, bool, error) {
	conn, err := s.dialReplication(ctx)
	if err != nil {
		return 0, false, err
	}
	defer closeConn(conn)
	res, err := pglogrepl.TimelineHistory(ctx, conn, to)
	if err != nil {
		return 0, false, fmt.Errorf("read the history of timeline %d: %w", to, s.timeout(ctx, err))
	}
	return historySwitch(res.Content, from)
}

// historySwitch finds, in a timeline history file ("1\t0/3000000\treason"
// per line: a parent timeline and where it ended), where timeline from
// ended.
func historySwitch(content []byte, from int32) (pglogrepl.LSN, bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		tli, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil || int32(tli) != from {
			continue
		}
		lsn, err := pglogrepl.ParseLSN(f[1])
		if err != nil {
			return 0, false, fmt.Errorf("timeline history line %q: %w", sc.Text(), err)
		}
		return lsn, true, nil
	}
	return 0, false, sc.Err()
}

// notSameHistory says why the stream cannot carry on after lsn, read from
// cluster and timeline rec, on the cluster and timeline now, if it
// cannot. Another cluster (a restored backup, a new server at the same
// dsn) has other WAL under the same LSNs. Another timeline of the same
// cluster (a standby promoted, a point-in-time recovery) shares the WAL
// before the point where rec ended: a position at or before it carries
// on; one past it holds changes the new timeline never had (lost in the
// failover), or names other WAL.
func (s *Source) notSameHistory(ctx context.Context, lsn pglogrepl.LSN, rec, now sysIdent) error {
	const lost = "the changes made since are lost to the replica"
	at := rec.tag(lsn)
	switch {
	case rec.system != now.system:
		return litepull.StreamLost(fmt.Errorf("the replica's position %s was read from Postgres cluster %s, and the source is now cluster %s "+
			"(a restored backup, or another server at the same dsn): %s", at, rec.system, now.system, lost))
	case rec.timeline == now.timeline:
		return nil
	case rec.timeline > now.timeline:
		return litepull.StreamLost(fmt.Errorf("the replica's position %s was read on timeline %d, and the source is now on the earlier "+
			"timeline %d (restored from a backup?): %s", at, rec.timeline, now.timeline, lost))
	}
	sw, ok, err := s.switchPoint(ctx, now.timeline, rec.timeline)
	if err != nil {
		return err
	}
	return pastSwitch(lsn, rec, now, sw, ok)
}

// pastSwitch says why a position lsn read on timeline rec cannot carry on
// on the later timeline now, whose history has rec end at sw (ok false:
// rec is not in its history), if it cannot.
func pastSwitch(lsn pglogrepl.LSN, rec, now sysIdent, sw pglogrepl.LSN, ok bool) error {
	const lost = "the changes made since are lost to the replica"
	at := rec.tag(lsn)
	switch {
	case !ok:
		return litepull.StreamLost(fmt.Errorf("the replica's position %s was read on timeline %d, which is not in the history of the "+
			"source's timeline %d: %s", at, rec.timeline, now.timeline, lost))
	case lsn > sw:
		return litepull.StreamLost(fmt.Errorf("the replica's position %s lies past %s, where timeline %d ended and the source's history "+
			"went on as timeline %d (a failover): the replica holds changes the source no longer has, or lacks others: %s",
			at, sw, rec.timeline, now.timeline, lost))
	}
	return nil
}
