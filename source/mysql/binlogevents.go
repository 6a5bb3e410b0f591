package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/litepull/litepull"
)

// handle reads one binlog event into the queue. An error on the caller's
// deadline leaves the stream as it was before the event, to be handled
// again.
func (st *binlogStream) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.pos = binlogPos{file: string(e.NextLogName), offset: e.Position, server: st.server.identity, gtid: st.pos.gtid, hasGTID: st.pos.hasGTID}
		st.keepalive(time.Now())
		return nil
	case *replication.GenericEvent:
		switch h.EventType {
		case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
			st.heartbeat(h, e.Data)
			return nil
		case replication.INCIDENT_EVENT:
			return errors.New("the binlog holds an incident event: the server lost changes from its binlog, so the stream cannot go on; " +
				"copy the tables again (litepull run -full)")
		}
	}
	start, end := st.span(h)
	if err := st.dispatch(ctx, ev, start, end); err != nil {
		return err
	}
	end.gtid, end.hasGTID = st.pos.gtid, st.pos.hasGTID // a group that closed moved them on
	st.pos = end
	return nil
}

// span is where the event starts and ends in the binlog. Events that
// stand nowhere in it (the artificial rotate and format description the
// server sends first) have no length.
func (st *binlogStream) span(h *replication.EventHeader) (start, end binlogPos) {
	start, end = st.pos, st.pos
	switch {
	case h.Flags&replication.LOG_EVENT_ARTIFICIAL_F != 0, h.EventType == replication.FORMAT_DESCRIPTION_EVENT && h.LogPos == 0:
	case h.LogPos > 0:
		end.offset = uint64(h.LogPos)
		start.offset = end.offset - min(uint64(h.EventSize), end.offset)
	default: // a server that leaves log_pos out: the event follows the last one
		end.offset += uint64(h.EventSize)
	}
	return start, end
}

// dispatch turns an event that spans start to end into change events.
func (st *binlogStream) dispatch(ctx context.Context, ev *replication.BinlogEvent, start, end binlogPos) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent:
		return st.openGroup(start, h, !e.IsStandalone(), e.GTID.String())
	case *replication.GTIDEvent:
		g := mysqlGTID(e.SID, e.Tag, e.GNO)
		if g == "" && e.Tag != "" {
			// A tagged GTID the state's text cannot carry: the positions
			// from here on carry no state rather than one that lacks it.
			st.pos.gtid, st.pos.hasGTID = "", false
		}
		return st.openGroup(start, h, false, g)
	case *replication.PreviousGTIDsEvent:
		// A MySQL binlog file opens with the GTID set before it: the state
		// of a stream that started from a position without one.
		set := strings.Join(strings.Fields(e.GTIDSets), "")
		if st.server.gtid && !st.pos.hasGTID && !st.inGroup && !st.inexact && validGTID(set) {
			st.pos = st.pos.withGTID(set)
		}
	case *replication.QueryEvent:
		return st.query(ctx, e, start, end, h)
	case *replication.RowsEvent:
		return st.rows(e)
	case *replication.XIDEvent:
		st.closeGroup(end, h)
	case *replication.TransactionPayloadEvent: // MySQL's compressed transaction
		for _, inner := range e.Events {
			if err := st.dispatch(ctx, inner, start, end); err != nil {
				return err
			}
		}
	case *replication.TableMapEvent, *replication.RowsQueryEvent, *replication.MariadbAnnotateRowsEvent, *replication.IntVarEvent:
		// Parts of an event group that carry no change of their own.
	default:
		if !st.inGroup && end != st.pos {
			st.pos = end
			st.keepalive(eventTime(h))
		}
	}
	return nil
}

// openGroup starts an event group at start: a transaction (tx), or a
// statement of its own, whose GTID is gtid ("" if it has none).
//
// A stream started by GTID learns here where it stands in this server's
// binlog: the server skipped every group the start state holds, so the
// first one it sends starts where that state lies.
func (st *binlogStream) openGroup(start binlogPos, h *replication.EventHeader, tx bool, gtid string) error {
	if st.inGroup {
		return fmt.Errorf("an event group began at %s before the one that began at %s ended (XA transactions are not supported)", start, st.start)
	}
	st.gtid = ""
	if gtid != "" && st.pos.hasGTID {
		next, err := gtidAdd(st.pos.gtid, gtid)
		if err != nil {
			return fmt.Errorf("the GTID state after transaction %s: %w", gtid, err)
		}
		st.gtid = next
	}
	if st.inexact {
		if start.file == "" || h.LogPos == 0 {
			return errors.New("the server sent a transaction before saying where in its binlog it stands")
		}
		st.inexact = false
	}
	st.inGroup, st.sawBegin, st.begun, st.start, st.began = true, tx, false, start, eventTime(h)
	return nil
}

// closeGroup ends the event group at end: its commit, or, if it changed
// no streamed table, a keepalive.
func (st *binlogStream) closeGroup(end binlogPos, h *replication.EventHeader) {
	begun := st.begun
	st.inGroup, st.sawBegin, st.begun = false, false, false
	if st.gtid != "" {
		st.pos.gtid, st.gtid = st.gtid, ""
	}
	end.gtid, end.hasGTID = st.pos.gtid, st.pos.hasGTID
	if begun {
		st.queue = append(st.queue, litepull.ChangeEvent{Kind: litepull.ChangeCommit, Position: end.position(), Time: eventTime(h)})
		return
	}
	st.pos = end
	st.keepalive(eventTime(h))
}

// emit queues events of the open group, after its ChangeBegin.
func (st *binlogStream) emit(evs ...litepull.ChangeEvent) {
	if len(evs) == 0 {
		return
	}
	if !st.begun {
		st.begun = true
		st.queue = append(st.queue, litepull.ChangeEvent{Kind: litepull.ChangeBegin, Position: st.start.position(), Time: st.began})
	}
	st.queue = append(st.queue, evs...)
}

// keepalive says, outside an event group, that the binlog stands at the
// stream's position; it replaces a keepalive still queued.
func (st *binlogStream) keepalive(t time.Time) {
	if st.inGroup {
		return
	}
	pos := st.pos
	if st.inexact {
		pos = st.from
	}
	ev := litepull.ChangeEvent{Kind: litepull.ChangeKeepalive, Position: pos.position(), Time: t}
	if n := len(st.queue); n > 0 && st.queue[n-1].Kind == litepull.ChangeKeepalive {
		st.queue[n-1] = ev
		return
	}
	st.queue = append(st.queue, ev)
}

// heartbeat is the server saying, with nothing to send, where its binlog
// stands: its file and offset, past any event it did not send.
func (st *binlogStream) heartbeat(h *replication.EventHeader, file []byte) {
	if st.inGroup {
		return
	}
	if !st.inexact && h.EventType == replication.HEARTBEAT_EVENT && string(file) == st.pos.file && uint64(h.LogPos) > st.pos.offset {
		st.pos.offset = uint64(h.LogPos)
	}
	st.keepalive(time.Now())
}

// eventTime is when the server wrote the event, or now for events that
// carry no time.
func eventTime(h *replication.EventHeader) time.Time {
	if h.Timestamp == 0 {
		return time.Now()
	}
	return time.Unix(int64(h.Timestamp), 0)
}

// query handles a statement: a transaction's BEGIN or COMMIT, or a change
// to tables' definitions (DDL), which is a group of its own unless a
// transaction holds it.
func (st *binlogStream) query(ctx context.Context, e *replication.QueryEvent, start, end binlogPos, h *replication.EventHeader) error {
	stmt := parseStatement(string(e.Query))
	switch stmt.kind {
	case stmtBegin:
		if !st.inGroup {
			return st.openGroup(start, h, true, "")
		}
		st.sawBegin = true
		return nil
	case stmtCommit:
		st.closeGroup(end, h)
		return nil
	case stmtIgnore:
		return nil
	}
	evs, err := st.statementEvents(ctx, stmt, string(e.Schema))
	if err != nil {
		return err
	}
	if st.inGroup && st.sawBegin {
		st.emit(evs...)
		return nil
	}
	if !st.inGroup {
		st.inGroup, st.start, st.began = true, start, eventTime(h)
	}
	st.emit(evs...)
	st.closeGroup(end, h)
	return nil
}

// statementEvents are what a statement does to the streamed tables: a
// TRUNCATE empties its table; a change to rows by statement makes the
// tables it names be copied again, and so does one that may put another
// table under a streamed table's name (DROP, CREATE, RENAME), whatever its
// shape; any other statement (ALTER ...) has the tables it names
// described again, and their new shape said.
func (st *binlogStream) statementEvents(ctx context.Context, stmt statement, db string) ([]litepull.ChangeEvent, error) {
	switch stmt.kind {
	case stmtTruncate:
		if t := st.lookup(stmt.names[0], db); t != nil {
			return []litepull.ChangeEvent{{Kind: litepull.ChangeTruncate, Tables: []string{t.name}}}, nil
		}
		return nil, nil
	case stmtRows:
		var out []litepull.ChangeEvent
		for _, t := range st.named(stmt, db) {
			warn("a statement changed the rows of a streamed table without logging them (binlog_format STATEMENT or MIXED in its session): copying the table again",
				litepull.LogKeyTable, t.name)
			out = append(out, t.recopy())
		}
		return out, nil
	}
	var out []litepull.ChangeEvent
	for _, t := range st.named(stmt, db) {
		if err := st.describe(ctx, t); err != nil {
			return nil, err
		}
		if stmt.kind == stmtReplace {
			// Another table under the name, maybe of the same shape:
			// its rows are not the ones the replica holds.
			out = append(out, t.recopy())
			continue
		}
		out = append(out, t.relation())
	}
	return out, nil
}

// named lists the streamed tables a statement names, each once.
func (st *binlogStream) named(stmt statement, db string) []*binlogTable {
	var out []*binlogTable
	seen := map[*binlogTable]bool{}
	add := func(t *binlogTable) {
		if t != nil && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if stmt.kind == stmtDropDatabase {
		for _, t := range st.tables {
			if tableKey(t.schema, "", st.server.foldCase) == tableKey(stmt.names[0][0], "", st.server.foldCase) {
				add(t)
			}
		}
		return out
	}
	for _, n := range stmt.names {
		add(st.lookup(n, db))
	}
	return out
}

// lookup finds the streamed table a name in a statement names, if any;
// an unqualified name is in db, the statement's default database.
func (st *binlogStream) lookup(name [2]string, db string) *binlogTable {
	if name[0] != "" {
		db = name[0]
	}
	return st.tables[tableKey(db, name[1], st.server.foldCase)]
}

// warn logs a warning of the stream where SetLogger says.
func warn(msg string, args ...any) {
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	l.Warn(msg, args...)
}
