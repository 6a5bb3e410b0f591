package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/litepull/litepull"
)

// Standby status updates: the stream tells the server where it stands
// every statusEvery, and asks for an answer once the server has said
// nothing for quietAfter, so that an idle stream still gets a keepalive
// every few seconds and a dead one is found within the read timeout.
const (
	statusEvery = 10 * time.Second
	quietAfter  = 5 * time.Second
)

// stream is a change stream from one slot and publication.
type stream struct {
	src    *Source
	opts   litepull.ChangeOptions
	ident  sysIdent          // the cluster and timeline: every position carries them
	suffix litepull.Position // "@" + ident, as positions end
	tables map[uint32]string // configured names, by the table's oid
	joined []string          // tables the publication did not hold before OpenChanges
	// made: OpenChanges made the slot, so it holds no change from before
	// this session, whatever the replica recorded (Resumable); refused:
	// Resumable said so, and no snapshot was taken since (Close drops
	// the slot then).
	made, refused bool
	rels          map[uint32]*relation

	conn   *pgconn.PgConn // streaming, after Start
	start  pglogrepl.LSN  // where streaming started: the later of from and the slot's confirmed position
	acked  pglogrepl.LSN  // the last position acknowledged (Ack), or the slot's confirmed one
	pos    pglogrepl.LSN  // the last commit or keepalive position returned
	inTxn  bool
	closed bool

	lastRecv time.Time // the server's last message
	lastSent time.Time // the last status update
	pinged   bool      // a status update asked for an answer since lastRecv
	pingedAt time.Time // when it did

	// mu makes the connection's users take turns: Next and Ack, and the
	// keeper that sends status updates while the caller is away.
	mu       sync.Mutex
	stopKeep chan struct{}
	kept     sync.WaitGroup
}

func newStream(s *Source, opts litepull.ChangeOptions, ident sysIdent, tables []streamTable, joined []string) *stream {
	st := &stream{src: s, opts: opts, ident: ident, suffix: litepull.Position("@" + ident.String()),
		tables: map[uint32]string{}, joined: joined, rels: map[uint32]*relation{}}
	for _, t := range tables {
		st.tables[t.oid] = t.name
	}
	return st
}

// Joined lists the tables the publication did not hold before
// OpenChanges: the stream carries their changes from the publication's
// change on, none before it.
func (st *stream) Joined() []string { return st.joined }

// position renders an LSN as the stream's positions are written.
func position(lsn pglogrepl.LSN) litepull.Position { return litepull.Position(lsn.String()) }

// parseLSN reads a position's LSN (what follows an @ is its cluster:
// splitPosition); "" is the start of the WAL. It runs for every row a
// stream applies (Includes), so it parses by hand: the fmt.Sscanf of
// pglogrepl.ParseLSN took a fifth of a stream's CPU.
func parseLSN(p litepull.Position) (pglogrepl.LSN, error) {
	if p == "" {
		return 0, nil
	}
	if at := strings.IndexByte(string(p), '@'); at >= 0 {
		p = p[:at]
	}
	hi, lo, ok := strings.Cut(string(p), "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("position %q is not a Postgres LSN such as 16/B374D848", p)
	}
	return pglogrepl.LSN(h<<32 | l), nil
}

// Includes reports commit < at: a snapshot or stream at at holds every
// transaction whose commit record comes before it. An unreadable position
// includes nothing.
func (st *stream) Includes(at, commit litepull.Position) bool {
	a, err1 := parseLSN(at)
	c, err2 := parseLSN(commit)
	return err1 == nil && err2 == nil && at != "" && commit != "" && c < a
}

// Start begins streaming after from, or after the slot's confirmed
// position when that is later.
func (st *stream) Start(ctx context.Context, from litepull.Position) error {
	if st.conn != nil || st.closed {
		return errors.New("start change stream: already started or closed")
	}
	lsn, err := parseLSN(from)
	if err != nil {
		return fmt.Errorf("start change stream: %w", err)
	}
	confirmed, err := st.confirmed(ctx)
	if err != nil {
		return err
	}
	conn, err := st.src.dialReplication(ctx)
	if err != nil {
		return err
	}
	if err := st.sameSystem(ctx, conn); err != nil {
		closeConn(conn)
		return err
	}
	args := []string{"proto_version '1'", "publication_names '" + litepull.QuoteIdent(st.opts.Publication, '"') + "'"}
	err = pglogrepl.StartReplication(ctx, conn, st.opts.Slot, lsn, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: args})
	if err != nil {
		closeConn(conn)
		return fmt.Errorf("stream from replication slot %s: %w", st.opts.Slot, st.src.explainSlot(ctx, st.opts.Slot, st.src.timeout(ctx, err), 0))
	}
	st.conn = conn
	st.start, st.acked = max(lsn, confirmed), max(st.acked, confirmed)
	st.pos = st.start
	st.lastRecv, st.lastSent = time.Now(), time.Now()
	st.stopKeep = make(chan struct{})
	st.kept.Add(1)
	go st.keep()
	return nil
}

// keep sends a status update every little while the caller is away from
// Next (copying a table from a snapshot, writing a large transaction): a
// walsender that hears nothing for wal_sender_timeout ends the stream.
// The server's messages wait in the connection meanwhile.
func (st *stream) keep() {
	defer st.kept.Done()
	tick := time.NewTicker(st.quiet())
	defer tick.Stop()
	for {
		select {
		case <-st.stopKeep:
			return
		case <-tick.C:
		}
		if !st.mu.TryLock() {
			continue // in Next, which sends its own
		}
		if time.Since(st.lastSent) >= st.quiet() {
			st.sendStatus(false) // a broken connection is Next's to report
		}
		st.mu.Unlock()
	}
}

// Next returns the next event. Between transactions, a keepalive of the
// server's says where it stands.
func (st *stream) Next(ctx context.Context) (litepull.ChangeEvent, error) {
	if st.conn == nil || st.closed {
		return litepull.ChangeEvent{}, errors.New("change stream: Next before Start, or after Close")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		data, err := st.receive(ctx)
		if err != nil {
			return litepull.ChangeEvent{}, err
		}
		if len(data) == 0 {
			continue
		}
		ev, ok, err := st.handle(ctx, data)
		if err != nil || ok {
			if ev.Position != "" {
				ev.Position += st.suffix
			}
			return ev, err
		}
	}
}

// handle turns one message of the replication protocol into an event, if
// it makes one.
func (st *stream) handle(ctx context.Context, data []byte) (litepull.ChangeEvent, bool, error) {
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return litepull.ChangeEvent{}, false, fmt.Errorf("change stream: %w", err)
		}
		if k.ReplyRequested {
			if err := st.sendStatus(false); err != nil {
				return litepull.ChangeEvent{}, false, err
			}
		}
		if st.inTxn {
			return litepull.ChangeEvent{}, false, nil
		}
		// The server's position is the end of the last WAL record it has
		// decoded in full: a transaction whose commit record it is still
		// decoding (and whose BEGIN it sends only with its first published
		// change) commits at or after it, so Includes does not skip it
		// (TestKeepaliveNeverPassesAPendingTransaction). While the server
		// decodes from the slot's restart point it says it stands before
		// where the stream started: never go back.
		st.pos = max(st.pos, k.ServerWALEnd)
		return litepull.ChangeEvent{Kind: litepull.ChangeKeepalive, Position: position(st.pos), Time: k.ServerTime}, true, nil
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return litepull.ChangeEvent{}, false, fmt.Errorf("change stream: %w", err)
		}
		return st.decode(ctx, x.WALData)
	}
	return litepull.ChangeEvent{}, false, nil
}

// receive waits for the server's next message and returns its data; none
// when a status update came due first. The connection's own deadline, not
// the stall dialer's idle time, bounds the wait: a stream is legitimately
// silent while the source writes nothing (or while the caller is away from
// Next), and dead only when it does not answer a status update that asks
// it to within the read timeout.
func (st *stream) receive(ctx context.Context) ([]byte, error) {
	if err := st.statusIfDue(); err != nil {
		return nil, err
	}
	idle := st.src.dialer.Idle
	wake := st.lastSent.Add(statusEvery)
	if st.pinged {
		wake = earliest(wake, st.pingedAt.Add(idle))
	} else {
		wake = earliest(wake, st.lastRecv.Add(st.quiet()))
	}
	if d, ok := ctx.Deadline(); ok {
		wake = earliest(wake, d)
	}
	nc := st.conn.Conn()
	if err := nc.SetReadDeadline(wake); err != nil {
		return nil, fmt.Errorf("change stream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) }) // fails only on a closed connection, which the read reports
	msg, err := st.conn.ReceiveMessage(context.Background())
	stop()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !pgconn.Timeout(err) && !errors.Is(err, os.ErrDeadlineExceeded):
			return nil, fmt.Errorf("change stream: %w", st.src.timeout(ctx, err))
		case st.pinged && time.Since(st.pingedAt) >= idle:
			return nil, &litepull.TimeoutError{Op: litepull.OpRead, After: idle}
		}
		return nil, nil
	}
	st.lastRecv, st.pinged = time.Now(), false
	switch msg := msg.(type) {
	case *pgproto3.CopyData:
		return msg.Data, nil
	case *pgproto3.ErrorResponse:
		err := pgconn.ErrorResponseToPgError(msg)
		return nil, fmt.Errorf("change stream: %w", st.src.explainSlot(ctx, st.opts.Slot, err, st.conn.PID()))
	case *pgproto3.CopyDone:
		return nil, errors.New("change stream: the server ended the stream (shutting down or restarting?): it resumes from the replica's position once the server is back")
	}
	return nil, nil
}

// quiet is how long a silent server is left alone before a status update
// asks it to answer: well within the read timeout.
func (st *stream) quiet() time.Duration { return min(quietAfter, st.src.dialer.Idle/3) }

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// statusIfDue sends a status update every statusEvery, and one that asks
// for an answer once the server has been quiet for a while.
func (st *stream) statusIfDue() error {
	now := time.Now()
	quiet := now.Sub(st.lastRecv) >= st.quiet()
	if now.Sub(st.lastSent) < statusEvery && (st.pinged || !quiet) {
		return nil
	}
	if quiet && !st.pinged {
		st.pinged, st.pingedAt = true, now
	}
	return st.sendStatus(quiet)
}

// sendStatus tells the server that everything through the acknowledged
// position is written, flushed and applied.
func (st *stream) sendStatus(reply bool) error {
	st.lastSent = time.Now()
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: st.acked, WALFlushPosition: st.acked, WALApplyPosition: st.acked, ReplyRequested: reply})
	if err != nil {
		return fmt.Errorf("change stream: send status: %w", st.src.timeout(context.Background(), err))
	}
	return nil
}

// Ack records that everything through pos is durable in the replica, and
// tells the server at once. A position before one already acknowledged
// changes nothing.
func (st *stream) Ack(ctx context.Context, pos litepull.Position) error {
	lsn, err := parseLSN(pos)
	if err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if lsn <= st.acked {
		return nil
	}
	st.acked = lsn
	if st.conn == nil {
		return nil // sent once streaming starts
	}
	return st.sendStatus(false)
}

// Close ends the stream, and waits a moment for the server to let go of
// the slot, so that a stream started right after (or DropChanges) finds
// it free. Close twice is safe.
func (st *stream) Close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	if st.conn == nil {
		if st.made && st.refused {
			return st.dropMade()
		}
		return nil
	}
	close(st.stopKeep)
	st.kept.Wait()
	pid := int(st.conn.PID())
	err := closeConn(st.conn)
	ctx, cancel := context.WithTimeout(context.Background(), releaseWait)
	defer cancel()
	for {
		slot, serr := st.src.slot(ctx, st.opts.Slot)
		if serr != nil || !slot.active || slot.pid != pid || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// releaseWait bounds Close's wait for the server to release the slot.
const releaseWait = 2 * time.Second

// dropMade drops the slot OpenChanges made for a replica it cannot
// resume: the next session makes it again and sees the same gap.
func (st *stream) dropMade() error {
	ctx, cancel := context.WithTimeout(context.Background(), releaseWait)
	defer cancel()
	err := st.src.exec(ctx, "SELECT pg_drop_replication_slot($1)", []any{st.opts.Slot}, nil, func([][]byte) error { return nil })
	if err != nil && !isCode(err, "42704") { // dropped meanwhile
		return fmt.Errorf("drop replication slot %s, made for a replica it cannot resume: %w", st.opts.Slot, err)
	}
	return nil
}
